"""A cache of the answers that need torch: the module walk of the meta-built model and the traced FLOP counts.

`show` and `compare` build every model on the meta device and count the built module, an independent check
of the closed form; that costs an `import torch` (about a second) for a count that cannot change while the
resolved IR, llmarch's own source and torch's version stay the same.  So the walk's result is stored,
keyed by a digest of all three, and a second run answers without importing torch.

- Where: `$LLMARCH_CACHE_DIR`, else `$XDG_CACHE_HOME/llmarch`, else `~/.cache/llmarch`.
- Off: `--no-cache` on a command, or `LLMARCH_NO_CACHE=1` (the test suite sets it, so every test runs the
  cross-check itself).
- Safe: entries are written to a temporary file and renamed (concurrent runs never see half an entry);
  each entry carries a digest of its payload, so a corrupt or edited entry is rebuilt, never trusted;
  the folder is bounded (`MAX_BYTES`, oldest entries dropped first); a missing, unwritable or unusable
  cache folder never fails a command (it is only slower).
- The key holds llmarch's source digest, not its version number: an editable install keeps one version
  across commits.  torch's and fvcore's versions are read from package metadata, without importing either.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

ENV_DIR = "LLMARCH_CACHE_DIR"
ENV_OFF = "LLMARCH_NO_CACHE"
FORMAT = 1  # bump when an entry's layout changes
MAX_BYTES = 32 * 1024 * 1024  # the folder is trimmed to this after each write
SUFFIX = ".json"


_bypassed = False  # `--no-cache` on this run's command


def bypass() -> None:
    """Neither read nor write the cache for the rest of this process (a command's `--no-cache`)."""
    global _bypassed
    _bypassed = True


def end_bypass() -> None:
    """The command that asked for `--no-cache` is over (the CLI calls this after each command)."""
    global _bypassed
    _bypassed = False


def enabled() -> bool:
    return not _bypassed and os.environ.get(ENV_OFF, "") in ("", "0")


def cache_dir() -> Path | None:
    """The cache folder (not created here); None when no home can be found."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "llmarch"
    try:
        return Path.home() / ".cache" / "llmarch"
    except (RuntimeError, KeyError):  # no HOME and no passwd entry
        return None


@lru_cache(maxsize=1)
def source_digest() -> str:
    """A digest of llmarch's own Python source and data files: any edit invalidates every entry."""
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml") and p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


@lru_cache(maxsize=1)
def counter_versions() -> str:
    """torch's version and fvcore's (the second traced counter), from package metadata: no import."""
    from importlib import metadata

    versions = []
    for package in ("torch", "fvcore"):
        try:
            versions.append(metadata.version(package))
        except metadata.PackageNotFoundError:
            versions.append("none")
    return " ".join(versions)


def ir_digest(ir: Any) -> str:
    """A digest of the resolved IR: every field, in a canonical JSON form."""
    text = json.dumps(dataclasses.asdict(ir), sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def key(kind: str, ir: Any, **params: Any) -> str:
    """The entry's name: what is cached, for which IR, with which parameters, by which code and torch."""
    parts = json.dumps(
        {
            "format": FORMAT,
            "kind": kind,
            "ir": ir_digest(ir),
            "params": params,
            "source": source_digest(),
            "counters": counter_versions(),
        },
        sort_keys=True,
    )
    return f"{kind}-{hashlib.sha256(parts.encode()).hexdigest()}"


def plain_key(kind: str, **params: Any) -> str:
    """The name of an entry that depends on no IR and no counter: what, for which inputs, by which code."""
    parts = json.dumps({"format": FORMAT, "kind": kind, "params": params, "source": source_digest()}, sort_keys=True)
    return f"{kind}-{hashlib.sha256(parts.encode()).hexdigest()}"


def _payload_digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def get(name: str) -> Any | None:
    """The cached value, or None when absent, unreadable or corrupt (a corrupt entry is removed)."""
    folder = cache_dir()
    if not enabled() or folder is None:
        return None
    path = folder / (name + SUFFIX)
    try:
        raw = _read_regular(path)
    except OSError:
        return None
    try:
        entry = json.loads(raw)
        if entry["format"] == FORMAT and entry["key"] == name and entry["digest"] == _payload_digest(entry["value"]):
            return entry["value"]
    except (ValueError, KeyError, TypeError, RecursionError):  # RecursionError: JSON nested too deep
        pass
    try:
        path.unlink()  # never trusted again; the caller rebuilds it
    except OSError:
        pass
    return None


def _read_regular(path: Path) -> bytes:
    """At most MAX_BYTES + 1 bytes of a regular file; OSError for anything else.  Opened without blocking:
    a FIFO in the entry's place would otherwise hang the command."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return f.read(MAX_BYTES + 1)


def put(name: str, value: Any) -> None:
    """Store a JSON-able value atomically; any failure leaves the cache as it was and is not an error."""
    folder = cache_dir()
    if not enabled() or folder is None:
        return
    entry = {"format": FORMAT, "key": name, "digest": _payload_digest(value), "value": value}
    tmp = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=SUFFIX)
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f)
        os.replace(tmp, folder / (name + SUFFIX))
        tmp = None
        _trim(folder)
    except (OSError, ValueError):
        pass
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _entries(folder: Path) -> list[tuple[float, int, Path]]:
    out = []
    for path in folder.glob("*" + SUFFIX):
        if path.name.startswith(".tmp-"):
            continue
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((st.st_mtime, st.st_size, path))
    return sorted(out)


def _trim(folder: Path) -> None:
    entries = _entries(folder)
    size = sum(s for _, s, _ in entries)
    for _, s, path in entries:  # oldest first
        if size <= MAX_BYTES:
            break
        try:
            path.unlink()
            size -= s
        except OSError:
            pass


def info() -> dict[str, Any]:
    folder = cache_dir()
    entries = _entries(folder) if folder is not None and folder.is_dir() else []
    return {
        "folder": str(folder) if folder is not None else None,
        "enabled": enabled(),
        "entries": len(entries),
        "bytes": sum(s for _, s, _ in entries),
        "max_bytes": MAX_BYTES,
    }


def clear() -> int:
    """Remove every entry (and stray temporary files); the number of entries removed."""
    folder = cache_dir()
    if folder is None or not folder.is_dir():
        return 0
    removed = 0
    for path in folder.glob("*" + SUFFIX):
        try:
            path.unlink()
            removed += not path.name.startswith(".tmp-")
        except OSError:
            pass
    return removed
