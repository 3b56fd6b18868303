"""Where answers go: files written atomically, stdout, and the terminal's quirks.

- `write_file` writes a temporary file beside the target and renames it over the target, so a full
  disk, a kill or an error mid-write leaves the previous file intact (and no temporary file behind,
  except after a kill -9).  Devices and FIFOs (`-o /dev/null`) are written in place: there is nothing
  to replace atomically.
- `-o -` means stdout (`is_stdout`).
- A stdout that cannot encode our symbols (`PYTHONIOENCODING=ascii`, a C locale without UTF-8 mode)
  gets ASCII stand-ins (`—` -> `-`, `≥` -> `>=`) instead of a UnicodeEncodeError (`use_ascii_fallback`).
- Terminal widths outside 40..10,000 columns, or an unreadable COLUMNS, fall back to 80 (`terminal_width`).
- Text printed to a terminal has its control characters made visible (`printable`): a spec's
  display_name or notes must not be able to move the cursor, recolour or rewrite the screen.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import stat
import sys
import tempfile

from ..errors import LlmarchError, shorten

MIN_COLUMNS, MAX_COLUMNS, DEFAULT_COLUMNS = 40, 10_000, 80
CHUNK = 1 << 16


def is_stdout(output: str | None) -> bool:
    """No -o, or `-o -`: the answer goes to stdout."""
    return output is None or output == "-"


def write_file(path: str, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` atomically; every failure is a LlmarchError naming the file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        _write_file(path, payload)
    except OSError as exc:
        why = exc.strerror or str(exc)
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            from pathlib import Path

            from ..spec.yamlsafe import describe_unreadable

            why = describe_unreadable(Path(path), exc)  # a parent that is a file or a FIFO is named as such
        raise LlmarchError(f"cannot write `{shorten(path)}`: {why}") from None


def _write_file(path: str, payload: bytes) -> None:
    # write through a symlink to the file it names, as `open(path, "w")` would, instead of replacing the link
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        # /dev/null, /dev/stdout, a FIFO: nothing to rename over
        with open(target, "wb") as f:
            f.write(payload)
        return
    folder = os.path.dirname(target) or "."
    # a short temporary name: a target name near the 255-byte limit must not fail for the temp file alone
    fd, tmp = tempfile.mkstemp(prefix=".llmarch-", suffix=".tmp", dir=folder)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view[:CHUNK])
            view = view[written:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        # mkstemp makes the file 0600; keep the mode the old file had, else what open() would have given
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------
# stdout that cannot encode Unicode

ASCII_STANDINS = {
    "—": "-",
    "–": "-",
    "−": "-",
    "…": "...",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "≈": "~",
    "→": "->",
    "←": "<-",
    "‹": "<",
    "·": ".",
    "³": "^3",
    "²": "^2",
    "‘": "'",
    "’": "'",
    "“": '"',
    "”": '"',
    "\u00a0": " ",
}
_ERRORS = "llmarch-ascii"


def _standin(exc: UnicodeError):
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(ASCII_STANDINS.get(ch, "?") for ch in bad), exc.end


codecs.register_error(_ERRORS, _standin)


def use_ascii_fallback() -> None:
    """Give stdout and stderr ASCII stand-ins for the symbols their encoding lacks."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        if stream is None or not encoding or not hasattr(stream, "reconfigure"):
            continue
        try:
            "—≥".encode(encoding)
        except UnicodeEncodeError:
            stream.reconfigure(errors=_ERRORS)
        except LookupError:
            pass


# ---------------------------------------------------------------------------
# terminals


def terminal_width(detected: int) -> int:
    """The width to render at: COLUMNS when it is a sensible number, else what rich `detected`, else 80."""
    columns = os.environ.get("COLUMNS")
    if columns is not None:
        try:
            detected = int(columns.strip())
        except ValueError:
            return DEFAULT_COLUMNS
    return detected if MIN_COLUMNS <= detected <= MAX_COLUMNS else DEFAULT_COLUMNS


# C0/C1 controls (ESC, CSI, BEL, CR, backspace...) and bidirectional overrides, which can reorder what a
# terminal shows; a newline stays (notes may span lines), a tab becomes a space
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with control characters shown as escapes (`\\x1b`), safe to print to a terminal."""
    if text.isprintable():
        return text
    text = text.replace("\t", " ")
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
