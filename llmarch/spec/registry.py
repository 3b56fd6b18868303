"""Finding specs by name, alias or path, and loading them with `extends:`.

Search order: folders given with `--spec-path`, then `LLMARCH_SPEC_PATH`
(os.pathsep-separated), then the specs shipped with the package.  A user spec
with a shipped spec's name overrides it (with a notice); two files of the same
name at the same precedence are an error.  Names never resolve by guessing:
anything that is neither a name, an alias nor a file gets "did you mean".

A bare word is always a name: a file is read only when the argument looks like a
path (`./x`, a `/`, or a `.yaml`/`.yml` suffix), so a file in the current folder
named like a model cannot replace it silently (a warning names both).  A spec
file that cannot be read or has no valid name is skipped with a warning while
scanning a folder, so one broken file does not break every other name; asking
for that name gives its error.  `extends:` chains are followed without
recursion, at most MAX_EXTENDS deep, and cycles are found by comparing files.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import LlmarchError, SpecError, did_you_mean, shorten
from .yamlsafe import MAX_FILE_BYTES, Located, file_kind, load_file, read_bounded

ENV_VAR = "LLMARCH_SPEC_PATH"
MAX_EXTENDS = 16  # parents in one `extends:` chain; real specs use one or two
NOT_INHERITED = ("name", "display_name", "aliases", "release_date", "reference", "notes")


def shipped_dir() -> Path:
    """The shipped specs: inside the installed wheel, or the repo's specs/ when run from source."""
    here = Path(__file__).resolve().parent.parent  # the llmarch package
    packaged = here / "_specs"
    if packaged.is_dir():
        return packaged
    return here.parent / "specs"


@dataclass
class Entry:
    name: str
    path: Path
    aliases: tuple[str, ...]
    level: int  # 0 = --spec-path, 1 = env, 2 = shipped
    _located: Optional[Located] = None  # parsed when first needed: the folder index gave name and aliases

    @property
    def located(self) -> Located:
        if self._located is None:
            self._located = _read(self.path)
        return self._located


@dataclass(frozen=True)
class Link:
    """One file of a spec's `extends:` chain, as the build cache checks it: the file, the digest of
    the bytes parsed, and how it names its parent (None for the root)."""

    file: str  # real path
    sha256: str
    extends: Optional[str]


@dataclass
class Registry:
    entries: dict[str, Entry] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    broken: dict[str, SpecError] = field(default_factory=dict)  # file stem -> why it was skipped
    # where notices found after discovery go (the CLI prints them to stderr); None: only kept in `notices`
    sink: Optional[Callable[[str], None]] = None

    @classmethod
    def discover(cls, spec_paths: list[str] | None = None, use_env: bool = True) -> "Registry":
        levels: list[tuple[int, Path]] = []
        for p in spec_paths or []:
            levels.append((0, Path(p)))
        if use_env and os.environ.get(ENV_VAR):
            for p in os.environ[ENV_VAR].split(os.pathsep):
                if p:
                    levels.append((1, Path(p)))
        levels.append((2, shipped_dir()))
        reg = cls()
        for level, folder in levels:
            if not os.path.isdir(folder):
                what = f"is {file_kind(folder, os.stat(folder))}" if os.path.exists(folder) else "does not exist"
                raise LlmarchError(f"spec folder `{folder}` {what}")
            index = _FolderIndex(folder)
            for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
                if path.stem.lower() in reg.broken:
                    # a broken file of higher or equal precedence claims this name: asking gives its error,
                    # never a silent fall-back to another file (a shipped spec the user meant to replace)
                    continue
                try:
                    known = index.lookup(path)
                    if known is not None:
                        reg._add(path, level, None, *known)
                        continue
                    located = _read(path)
                    reg._add(path, level, located, located.data["name"], located.data.get("aliases") or [])
                    index.record(path, located)
                except SpecError as exc:
                    # one broken file must not break every other name: skip it, say so, keep its error
                    reg._skip(path.stem.lower(), exc)
            index.save()
        # an alias that is another spec's name: the spec declaring it is skipped (which of the two is meant?)
        for entry in list(reg.entries.values()):
            clash = next((a for a in entry.aliases if a in reg.entries and a != entry.name), None)
            if clash:
                other = reg.entries[clash].path
                reg._skip(
                    entry.name,
                    entry.located.error(("aliases",), f"alias `{clash}` is already the name of the spec in {other}"),
                )
        # an alias two specs declare means neither
        owners: dict[str, list[Entry]] = {}
        for entry in reg.entries.values():
            for alias in entry.aliases:
                owners.setdefault(alias, []).append(entry)
        for alias, declared in owners.items():
            if len(declared) > 1:
                error = declared[1].located.error(
                    ("aliases",), f"alias `{alias}` is also declared by {declared[0].path}"
                )
                reg.broken.setdefault(alias, error)
                reg.notices.append(f"warning: alias `{alias}` is unusable: {error}")
            elif alias not in reg.broken:
                reg.aliases[alias] = declared[0].name
        return reg

    def _add(self, path: Path, level: int, located: Optional[Located], name: str, aliases: list[str]) -> None:
        if name in self.entries:
            prev = self.entries[name]
            if prev.level == level:
                raise SpecError(
                    f"spec `{name}` is defined twice at the same precedence, here and in {prev.path}",
                    file=str(path),
                    suggestion="rename one of them",
                )
            # a user folder (lower level number) wins over later ones
            self.notices.append(f"note: {prev.path} overrides the spec `{name}` in {path}")
            return
        self.entries[name] = Entry(name, path, tuple(aliases), level, located)

    def _skip(self, name: str, error: SpecError) -> None:
        self.entries.pop(name, None)
        self.broken.setdefault(name, error)
        self.notices.append(f"warning: skipped {error}")

    def names(self) -> list[str]:
        return sorted(self.entries)

    def knows(self, name: str) -> bool:
        """Whether `name` is a name or alias here (a broken file of that name counts: asking gives its error)."""
        key = name.strip().lower()
        return key in self.entries or key in self.aliases or key in self.broken

    def lookup(self, name: str) -> Entry:
        """The entry for a name or alias; unknown names get the closest names, never a guess."""
        key = name.strip().lower()
        if key in self.entries:
            return self.entries[key]
        if key in self.aliases:
            return self.entries[self.aliases[key]]
        if key in self.broken:
            raise self.broken[key]  # the file of that name was skipped: its own error says why
        hint = did_you_mean(key, list(self.entries) + list(self.aliases), n=3)
        message = (
            f"unknown model `{shorten(name)}`" + (f"; {hint}" if hint else "") + " (`llmarch list` shows every name)"
        )
        if os.path.lexists(name):
            message += f"; to read the file `{shorten(name)}` in the current folder, write `./{shorten(name)}`"
        raise LlmarchError(message)

    def load(self, name_or_path: str) -> Located:
        """The merged spec document for a name, alias or file path, with `extends:` applied."""
        return self.load_chain(self.spec_file(name_or_path))[0]

    def spec_file(self, name_or_path: str) -> Path | Entry:
        """The file a name, alias or path means: a path for a path, the registry's entry for a name
        (with a warning when a file of that name in the current folder is not the one read)."""
        if looks_like_path(name_or_path):
            return Path(name_or_path)
        entry = self.lookup(name_or_path)
        if os.path.lexists(name_or_path):
            what = "folder" if os.path.isdir(name_or_path) else "file"
            self.notify(
                f"warning: `{name_or_path}` is the spec {entry.path}, not the {what} `{name_or_path}` in the "
                f"current folder (write `./{name_or_path}` to read that {what})"
            )
        return entry

    def load_chain(self, spec: Path | Entry) -> tuple[Located, list[Link]]:
        """The merged document of `spec_file`'s answer, and the files of its `extends:` chain, child first."""
        located = load_file(spec) if isinstance(spec, Path) else spec.located
        return self._with_parents(located)

    def parent_path(self, child_path: str, parent_ref: str) -> Optional[str]:
        """The path a load reads for `extends: parent_ref` in the file read as `child_path` (a file relative
        to that path's folder, symlinks not resolved first: the loader does not resolve them; a name through
        this registry), or None when it names none."""
        if parent_ref.endswith((".yaml", ".yml")):
            return str(Path(child_path).parent / parent_ref)
        key = parent_ref.strip().lower()
        entry = self.entries.get(self.aliases.get(key, key))
        return str(entry.path) if entry is not None else None

    def notify(self, notice: str) -> None:
        """A notice found while loading: to the sink when there is one, else kept with the discovery notices."""
        if self.sink:
            self.sink(notice)
        elif notice not in self.notices:
            self.notices.append(notice)

    def _with_parents(self, located: Located) -> tuple[Located, list[Link]]:
        """`located` merged over its chain of parents, root first, and the chain's files (child first);
        a loop or an overlong chain is an error."""
        chain = [located]
        files = [_identity(located)]
        while (parent_ref := chain[-1].data.get("extends")) is not None:
            child = chain[-1]
            if not isinstance(parent_ref, str):
                raise child.error(("extends",), "extends must name a spec or a file")
            if len(chain) > MAX_EXTENDS:
                raise child.error(("extends",), f"extends chain is longer than {MAX_EXTENDS} specs")
            parent = self._parent(child, parent_ref)
            if _identity(parent) in files:
                names = [_label(c) for c in chain] + [_label(parent)]
                raise child.error(("extends",), "extends cycle: " + " -> ".join(names))
            chain.append(parent)
            files.append(_identity(parent))
        links = [Link(_identity(c), c.sha256 or "", c.data.get("extends")) for c in chain]
        merged = chain.pop()
        while chain:
            merged = merge(merged, chain.pop())
        return merged, links

    def _parent(self, child: Located, parent_ref: str) -> Located:
        if parent_ref.endswith((".yaml", ".yml")):
            parent_path = Path(self.parent_path(child.file, parent_ref))  # the build cache checks the same path
            if not os.path.lexists(parent_path):
                raise child.error(("extends",), f"parent file `{parent_ref}` does not exist")
            try:
                return load_file(parent_path)
            except SpecError as exc:
                if exc.line is None:  # the file could not be read: say so at the `extends:` line
                    raise child.error(("extends",), f"parent file `{parent_ref}`: {exc.message}") from None
                raise
        key = parent_ref.strip().lower()
        if key not in self.entries and key not in self.aliases and key not in self.broken:
            hint = did_you_mean(key, list(self.entries) + list(self.aliases))
            raise child.error(("extends",), f"parent spec `{parent_ref}` not found", hint)
        return self.lookup(parent_ref).located


class _FolderIndex:
    """The name and aliases of each valid spec file of a folder, kept in the build cache by the file's
    identity (size, times, inode, mode), so that naming a model parses one file instead of every one.
    A file whose identity changed is parsed again; a broken file is never kept (its error is re-found
    each run); with the cache off or unwritable this is an index of one run.

    An identity proves nothing about an edit made around when the file was read: file times are coarse
    (a clock tick; a whole second on ext3, HFS+ and some network mounts, two on FAT), so an in-place edit
    of the same size within one tick keeps every field.  Each row therefore also keeps the digest of the
    bytes and when they were read; a file whose times are within RACY_NS of that moment is checked by
    digest (read, not parsed), as git does with a racily clean index."""

    RACY_NS = 2_000_000_000  # at least the coarsest file-time granularity trusted here (FAT: 2 s)

    def __init__(self, folder: Path) -> None:
        from .. import cache as buildcache

        self._now = time.time_ns()  # before any file of the folder is read: when this run's rows were read
        self._cache = buildcache
        # with the cache off, no key (it digests llmarch's source files) and nothing read or saved
        self._key = (
            buildcache.plain_key("spec-folder-index", folder=os.path.realpath(folder)) if buildcache.enabled() else None
        )
        cached = buildcache.get(self._key) if self._key else None
        self._known: dict[str, list] = cached if isinstance(cached, dict) else {}
        self._seen: dict[str, list] = {}
        self._changed = cached is None

    @staticmethod
    def _identity(path: Path) -> Optional[list[int]]:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev, st.st_mode]

    def lookup(self, path: Path) -> Optional[tuple[str, list[str]]]:
        ident = self._identity(path)
        row = self._known.get(path.name)
        if ident is None or not isinstance(row, list) or len(row) != 5 or row[0] != ident:
            self._changed = True
            return None
        name, aliases, digest, read_ns = row[1:]
        if (
            name != path.stem
            or not isinstance(aliases, list)
            or not all(isinstance(a, str) for a in aliases)
            or not isinstance(digest, str)
            or not isinstance(read_ns, int)
        ):
            self._changed = True  # an entry that fails what `_read` checks is not trusted
            return None
        if max(ident[1], ident[2]) >= read_ns - self.RACY_NS:  # changed around when it was read?
            try:
                raw = read_bounded(path, MAX_FILE_BYTES, "a spec is a few KiB")
            except SpecError:
                raw = None
            self._changed = True
            if raw is None or hashlib.sha256(raw).hexdigest() != digest:
                return None
            row = [ident, name, aliases, digest, self._now]  # the same bytes, read again now
        self._seen[path.name] = row
        return name, aliases

    def record(self, path: Path, located: Located) -> None:
        ident = self._identity(path)  # taken after the read: an edit in between looks recent, so is checked
        if ident is not None and located.sha256:
            aliases = list(located.data.get("aliases") or [])
            self._seen[path.name] = [ident, located.data["name"], aliases, located.sha256, self._now]
            self._changed = True

    def save(self) -> None:
        if self._key and (self._changed or len(self._seen) != len(self._known)):
            self._cache.put(self._key, self._seen)


def _read(path: Path) -> Located:
    """A spec file of a folder, with a `name` matching its file name and a list of aliases."""
    located = load_file(path)
    name = located.data.get("name")
    if not isinstance(name, str):
        raise located.error(("name",), "every spec needs a `name` (a string)")
    if name != path.stem:
        raise located.error(("name",), f"name `{name}` must match the file name `{path.stem}`")
    aliases = located.data.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise located.error(("aliases",), "aliases must be a list of names")
    return located


def looks_like_path(text: str) -> bool:
    """A file argument, as opposed to a model name: `./x`, anything with a `/`, or a `.yaml`/`.yml` suffix."""
    return text.endswith((".yaml", ".yml")) or "/" in text or os.sep in text or text.startswith(".")


def _identity(located: Located) -> str:
    """The file a document came from, symlinks resolved: two names for one file are one spec."""
    return os.path.realpath(located.file)


def _label(located: Located) -> str:
    name = located.data.get("name")
    return f"{name} ({located.file})" if isinstance(name, str) else located.file


def is_file(path: Path) -> bool:
    """`path.is_file()`, false for a name the OS refuses (over 255 bytes: ENAMETOOLONG) instead of raising."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def merge(parent: Located, child: Located) -> Located:
    """Deep-merge `child` over `parent`: mappings merge, everything else is replaced."""
    parent_data = {k: v for k, v in parent.data.items() if k not in NOT_INHERITED}
    replaced: set[tuple] = set()  # paths whose parent value the child replaces, marks and all

    def over(base: Any, top: Any, path: tuple) -> Any:
        if isinstance(base, dict) and isinstance(top, dict):
            out = dict(base)
            for k, v in top.items():
                out[k] = over(base.get(k), v, path + (k,)) if k in base else v
                if k not in base or not (isinstance(base.get(k), dict) and isinstance(v, dict)):
                    replaced.add(path + (k,))
            return out
        return top

    data = over(parent_data, child.data, ())
    data.pop("extends", None)
    # one pass over the marks (checking each one's prefixes), not one pass per replaced key
    marks = {
        p: m
        for p, m in parent.marks.items()
        if not (p and p[0] in NOT_INHERITED) and not any(p[:i] in replaced for i in range(1, len(p) + 1))
    }
    marks.update(child.marks)
    return Located(data=data, file=child.file, marks=marks)


@dataclass(frozen=True)
class Edit:
    """One what-if edit, `key.path=value`, as the user wrote it: with `--set` (every model of the command;
    `model` None) or in brackets after one model's name (`qwen3-8b[n_layers=40]`; `model` that argument)."""

    text: str
    model: Optional[str] = None

    @property
    def label(self) -> str:
        """The edit as the user wrote it, for errors: `--set n_layers=40` or `qwen3-8b[n_layers=40]`."""
        text = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return f"--set {text}" if self.model is None else f"{shorten(self.model, 60)}[{text}]"


@dataclass(frozen=True)
class Applied:
    """What one edit did to a spec: the key path set, its value, and the block it had to create (None when
    every mapping on the path was already there)."""

    edit: Edit
    path: tuple[str, ...]
    value: Any
    created: Optional[tuple[str, ...]]


def split_edits(argument: str) -> tuple[str, tuple[str, ...]]:
    """A model argument and its bracketed edits: `qwen3-8b[attention.n_kv_heads=4,n_layers=40]` is
    (`qwen3-8b`, (`attention.n_kv_heads=4`, `n_layers=40`)).  Edits are separated by commas outside
    brackets, braces and quotes, so a value may be a YAML list (`[a, b]`).  No brackets: no edits."""
    opened = _edit_bracket(argument)
    if opened is None or "[" in argument[:opened] and not looks_like_path(argument[:opened]):
        if "[" in argument and not looks_like_path(argument):
            raise LlmarchError(
                f"`{shorten(argument)}`: edits go in brackets at the end of the name, closed with `]`, "
                "e.g. `qwen3-8b[n_layers=40,attention.n_kv_heads=4]`"
            )
        return argument, ()
    name, inside = argument[:opened], argument[opened + 1 : -1]
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(inside + ","):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(inside[start:i].strip())
            start = i + 1
    if not name or not all(items):
        raise LlmarchError(
            f"`{shorten(argument)}`: write the model's name, then its edits in brackets, comma-separated, "
            "e.g. `qwen3-8b[n_layers=40,attention.n_kv_heads=4]`"
        )
    return name, tuple(items)


def _edit_bracket(argument: str) -> Optional[int]:
    """Where the bracketed edit list that ends `argument` opens (None when it ends in no such list): the
    first `[` at whose matching `]` the argument ends (a path may hold brackets of its own)."""
    if not argument.endswith("]"):
        return None
    for opened, ch in enumerate(argument):
        if ch != "[":
            continue
        depth = 0
        for i in range(opened, len(argument)):
            depth += {"[": 1, "]": -1}.get(argument[i], 0)
            if depth == 0:
                break
        if depth == 0 and i == len(argument) - 1:
            return opened
    return None


def apply_sets(located: Located, edits: list[Edit]) -> tuple[Located, list[Applied]]:
    """What-if edits: `attention.n_kv_heads=4` sets that key (the value is parsed as YAML, safely).  Each
    edit's keys are marked with the edit as written, so that an error there names the edit."""
    import copy

    from .yamlsafe import load_value

    data = copy.deepcopy(located.data)
    marks = dict(located.marks)
    applied = []
    for edit in edits:
        item, label = edit.text, edit.label
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"`{item}` is not `key.path=value`", file=label)
        path = tuple(key.strip().split("."))
        if path[0] == "extends":
            # the parent is merged in when the spec is loaded, before any edit applies: an edit would be ignored
            raise SpecError(
                "an edit cannot change `extends`: the parent is read when the spec is loaded, before edits apply",
                file=label,
                field="extends",
                suggestion="write a spec file with `extends:` and pass its path",
            )
        # the value reads exactly as it would in a spec file: the same tags, numbers and booleans
        value = load_value(raw, label, path) if raw.strip() else None
        if isinstance(value, list) and not raw.strip().startswith("["):
            value = (
                raw.strip()
            )  # block-sequence syntax ("-", "- x") on a command line means the text (a pattern letter)
        node = data
        created = None
        for depth, part in enumerate(path[:-1], 1):
            if not isinstance(node.get(part), dict):
                created = created or path[:depth]
                node[part] = {}
                # a mapping this edit created is blamed on the edit, not on the spec's nearest block
                marks[path[:depth]] = (label, None, None)
            node = node[part]
        node[path[-1]] = value
        for p in [p for p in marks if p[: len(path)] == path]:
            del marks[p]
        marks[path] = (label, None, None)
        applied.append(Applied(edit, path, value, created))
    return Located(data=data, file=located.file, marks=marks), applied
