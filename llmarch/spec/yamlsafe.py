"""Safe YAML loading that remembers where every value came from.

PyYAML's safe constructor is used for scalars only; mappings and sequences are
built here so that each value's path (``("attention", "n_heads")``) maps to its
line and column, duplicate keys are rejected, only the plain YAML tags are
honoured, and alias expansion is bounded ("billion laughs" fails fast).

Scalars are read as YAML 1.2 reads them, not as PyYAML's YAML 1.1 rules would: a
plain `024`, `0x10`, `1_000`, `1:30` or `yes`/`on`/`off` is refused, naming the
1.1 reading, because it would silently become another number or a boolean; `1e6`
is the float it looks like.  The same reading serves spec files, `--set` values,
budgets files and GPU profiles.

Files are read only when they are regular files, and never more than the size
limit, counted in bytes actually read (a FIFO would block, a character device
reports size 0 and never ends).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError

# Limits, documented in README ("Bad input").  A real spec is a few KiB with a few hundred values;
# at these limits `show` of any accepted file stays under a few seconds and 500 MB.
MAX_FILE_BYTES = 1_000_000
MAX_SCALAR_CHARS = 10_000
MAX_NODES = 20_000  # counts values after alias expansion
MAX_DEPTH = 50  # nesting of mappings and sequences
MAX_INT_DIGITS = 64  # far above any count; Python refuses to parse more than 4,300 digits anyway

Path_ = tuple  # a field path: tuple of str keys and int indices

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}


@dataclass
class Located:
    """Parsed YAML data with the (file, line, column) of each path; lines and columns 1-based.

    After `extends:` merging, values of one document come from several files,
    so each mark carries its own file.
    """

    data: Any
    file: str
    marks: dict[tuple, tuple[str, int, int]] = field(default_factory=dict)
    sha256: str | None = None  # of the bytes parsed, for a file read whole (the build cache keys on it)

    def where(self, path: tuple) -> tuple[str, int | None, int | None]:
        """Position of `path`, or of its closest located ancestor."""
        path = tuple(path)
        while True:
            if path in self.marks:
                return self.marks[path]
            if not path:
                return (self.file, None, None)
            path = path[:-1]

    def error(self, path: tuple, message: str, suggestion: str | None = None) -> SpecError:
        file, line, column = self.where(path)
        return SpecError(
            message,
            file=file,
            line=line,
            column=column,
            field=format_path(path) or None,
            suggestion=suggestion,
        )


def format_path(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_BOOLEANS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_ADVICE = "write the number in plain decimal digits, or quote it for text"


def _yaml11_reading(text: str) -> str | None:
    """What PyYAML's YAML 1.1 resolver would make of a number spelled `text`, in words (None: not a number)."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    body = text.lstrip("+-").replace("_", "")
    sign = "-" if text.startswith("-") else ""
    if len(body) > MAX_INT_DIGITS:
        return f"`{shown}` would be read as a number of more than {MAX_INT_DIGITS} digits"
    try:
        if ":" in body:
            value = 0.0 if "." in body else 0
            for part in body.split(":"):
                value = value * 60 + (float(part) if "." in part else int(part))
            return f"`{shown}` would be read as sexagesimal (base 60) {sign}{value}"
        if "_" in text:
            return f"`{shown}` would be read as {sign}{float(body) if '.' in body else int(body)}"
        for prefix, base, words in (("0x", 16, "hexadecimal"), ("0b", 2, "binary")):
            if body.lower().startswith(prefix):
                return f"`{shown}` would be read as {words} {sign}{int(body[2:], base)}"
        if body.startswith("0") and len(body) > 1 and body.isdigit():
            return f"`{shown}` would be read as octal {sign}{int(body, 8)}"
    except ValueError:  # an explicit tag on text that is no number at all (`!!int "0xZZ"`)
        pass
    return None


def _not_a_number(text: str) -> str:
    reading = _yaml11_reading(text)
    if reading is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        return f"`{shown}` is not a number"
    return f"{reading} (YAML 1.1 rules); {_ADVICE}"


class _Builder:
    def __init__(self, file: str, text: str | None = None) -> None:
        self.file = file
        self.text = text
        self.marks: dict[tuple, tuple[str, int, int]] = {}
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, node: yaml.Node, message: str, path: tuple) -> SpecError:
        return SpecError(
            message,
            file=self.file,
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
            field=format_path(path) or None,
        )

    def build(self, node: yaml.Node, path: tuple, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            # name the top-level key whose value blew up, not a node deep inside an alias
            top = path[:1]
            file, line, column = self.marks.get(top, (self.file, node.start_mark.line + 1, None))
            raise SpecError(
                f"document is too large or too deeply nested after alias expansion "
                f"(more than {MAX_NODES:,} values or {MAX_DEPTH} levels)",
                file=file,
                line=line,
                column=column,
                field=format_path(top) or None,
            )
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(node, f"YAML tag `{node.tag}` is not allowed (only plain YAML values)", path)
        self.marks.setdefault(path, (self.file, node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.fail(key_node, "mapping keys must be plain scalars", path)
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise self.fail(key_node, "YAML merge keys (`<<`) are not supported; use `extends:`", path)
                key = self.build(key_node, path, depth + 1)
                if not isinstance(key, (str, int)):
                    raise self.fail(key_node, f"mapping key {key!r} must be a string", path)
                if key in out:
                    raise self.fail(key_node, f"duplicate key `{key}`", path + (key,))
                sub = path + (key,)
                self.marks[sub] = (self.file, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                out[key] = self.build(value_node, sub, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        if len(node.value) > MAX_SCALAR_CHARS:
            raise self.fail(node, f"value is longer than {MAX_SCALAR_CHARS:,} characters", path)
        return self.scalar(node, path)

    def scalar(self, node: yaml.ScalarNode, path: tuple) -> Any:
        """A scalar as YAML 1.2 reads it; a spelling that YAML 1.1 reads differently is refused."""
        text, tag = node.value, node.tag
        quoted = node.style not in (None, "")
        if tag == "tag:yaml.org,2002:bool":
            if text in _BOOLEANS:
                return _BOOLEANS[text]
            reading = self.constructor.bool_values.get(text.lower())
            if reading is None:  # `!!bool maybe`
                raise self.fail(node, f"`{text}` is not a boolean; booleans are `true` and `false`", path)
            raise self.fail(
                node,
                f"`{text}` would be read as the boolean {str(reading).lower()} (YAML 1.1 rules); "
                f'booleans are `true` and `false` (quote it, "{text}", for text)',
                path,
            )
        if tag == "tag:yaml.org,2002:int":
            if _INT.fullmatch(text):
                digits = len(text.lstrip("+-"))
                if digits > MAX_INT_DIGITS:
                    raise self.fail(
                        node,
                        f"a {digits:,}-digit integer is too long (at most {MAX_INT_DIGITS}; quote it for text)",
                        path,
                    )
                return int(text)
            raise self.fail(node, _not_a_number(text), path)
        if tag == "tag:yaml.org,2002:float":
            if _FLOAT.fullmatch(text):
                return float(text)
            if text.lower().lstrip("+-") in (".inf", ".nan"):
                return float(text.lower().replace(".", ""))
            raise self.fail(node, _not_a_number(text), path)
        if tag == "tag:yaml.org,2002:str" and not quoted and _FLOAT.fullmatch(text) and not self._tagged(node):
            return float(text)  # `1e6` and `5.3e12`: YAML 1.1 forgot them, YAML 1.2 reads floats
        if tag == "tag:yaml.org,2002:timestamp":
            return str(text)  # dates stay text: `release_date: 2025-04-29`
        # PyYAML's safe constructor returns a str scalar's text and None for a null (three calls each way:
        # most of a spec's scalars are keys and names)
        if tag == "tag:yaml.org,2002:str":
            return text
        if tag == "tag:yaml.org,2002:null":
            return None
        return self.constructor.construct_object(node)

    def _tagged(self, node: yaml.Node) -> bool:
        """Whether the scalar carries an explicit tag (`!!str 1e6` stays text)."""
        index = node.start_mark.index
        return self.text is not None and 0 <= index < len(self.text) and self.text[index] == "!"


def load_text(text: str, file: str) -> Located:
    """Parse one YAML document from `text`; `file` names it in errors."""
    if len(text) > MAX_FILE_BYTES:
        raise SpecError(f"file is larger than {MAX_FILE_BYTES:,} bytes; a spec is a few KiB", file=file)
    if "\t" in text:
        line = text[: text.index("\t")].count("\n") + 1
        col = text.index("\t") - (text.rfind("\n", 0, text.index("\t")) + 1) + 1
        # YAML forbids tabs in indentation; say so before PyYAML's cryptic scanner error.
        prefix = text.splitlines()[line - 1][: col - 1]
        if prefix.strip() == "":
            raise SpecError("tab character used for indentation; YAML needs spaces", file=file, line=line, column=col)
    node = _parse(text, file)
    if node is None:
        raise SpecError("file is empty (or holds only comments); a spec is a YAML mapping", file=file, line=1)
    builder = _Builder(file, text)
    data = builder.build(node, ())
    if not isinstance(data, dict):
        raise SpecError(f"the document is a {type(data).__name__}, not a mapping of keys to values", file=file, line=1)
    return Located(data=data, file=file, marks=builder.marks)


def load_value(text: str, file: str, path: tuple = ()) -> Any:
    """One YAML value (a `--set` value), read exactly as the same text inside a spec file would be."""
    if len(text) > MAX_SCALAR_CHARS:
        raise SpecError(f"value is longer than {MAX_SCALAR_CHARS:,} characters", file=file, field=format_path(path))
    node = _parse(text, file)
    return None if node is None else _Builder(file, text).build(node, path)


# Characters YAML forbids anywhere (tab, newline and carriage return are allowed; NEL U+0085 too).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


_RESOLVED: dict[tuple, str] = {}  # (scalar text, implicit flags) -> its tag, for every file parsed
_RESOLVED_MAX = 10_000
_RESOLVED_CHARS = 100  # keys, numbers and names; a longer scalar is resolved each time


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """The safe loader (libyaml's parser when installed, about 10x faster), with each plain scalar's tag
    resolved once per distinct text: the safe resolver has no path resolvers, so a scalar's tag depends
    on its text and its implicit flags alone, and specs repeat the same keys and values. The memo is
    cleared when full (bounded memory whatever is parsed)."""

    def resolve(self, kind, value, implicit):
        # long texts (notes, up to a whole file) are not kept: the memo's bound is in characters too
        if kind is not yaml.ScalarNode or len(value) > _RESOLVED_CHARS:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            if len(_RESOLVED) >= _RESOLVED_MAX:
                _RESOLVED.clear()
            tag = _RESOLVED[key] = super().resolve(kind, value, implicit)
        return tag


def _parse(text: str, file: str) -> yaml.Node | None:
    """The node tree of the single document in `text`, every syntax error located."""
    bad = _CONTROL.search(text)
    if bad:
        # PyYAML names the character but not where it is
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        raise SpecError(
            f"control character U+{ord(bad.group()):04X} is not allowed in YAML text",
            file=file,
            line=line,
            column=column,
        )
    try:
        loader = _Loader(text)  # the same safe node tree with libyaml or without
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.composer.ComposerError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "expected a single document" in str(exc):
            raise SpecError(
                "several YAML documents in one file; a spec file holds exactly one (remove the `---`)",
                file=file,
                line=mark.line + 1 if mark else None,
            ) from None
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, file) from None


def _yaml_error(exc: yaml.YAMLError, file: str) -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if "flow" in str(getattr(exc, "context", "") or "") and getattr(exc, "context_mark", None):
        mark = exc.context_mark  # an unclosed bracket: point at where it opened, not at the end of the file
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"malformed YAML: {problem}"
    if context:
        message += f" ({context})"
    return SpecError(
        message,
        file=file,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def load_file(path: Path) -> Located:
    """Read and parse a spec file, turning every I/O and decoding failure into a SpecError."""
    file = str(path)
    raw = read_bounded(path, MAX_FILE_BYTES, "a spec is a few KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"file is not UTF-8 text (byte {exc.start})", file=file, line=line) from None
    located = load_text(text, file)
    located.sha256 = hashlib.sha256(raw).hexdigest()
    return located


def read_bounded(path: Path, limit: int, typical: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is a SpecError naming the file.

    The limit counts bytes read, not the size the file system reports (a device reports 0), and the
    file is opened without blocking, so a FIFO swapped in after the check cannot hang the read.
    """
    file = str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise SpecError(describe_unreadable(path, exc), file=file) from None
    _regular(path, info)
    too_big = SpecError(f"file is larger than {limit:,} bytes; {typical}", file=file)
    if info.st_size > limit:
        raise too_big
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise SpecError(describe_unreadable(path, exc), file=file) from None
    with os.fdopen(fd, "rb") as f:
        _regular(path, os.fstat(fd))
        try:
            raw = f.read(limit + 1)
        except OSError as exc:
            raise SpecError(f"cannot read file: {exc.strerror}", file=file) from None
    if len(raw) > limit:
        raise too_big
    return raw


def _regular(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise SpecError(f"is {file_kind(path, info)}, not a regular file; only regular files are read", file=str(path))


def file_kind(path: Path, info: os.stat_result) -> str:
    """What a non-regular file is, in words ("a FIFO (named pipe)"), naming a symlink's target."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISREG, "a regular file"),
    )
    kind = next((words for test, words in kinds if test(info.st_mode)), "not a regular file")
    if os.path.islink(path):
        kind += f" (a symbolic link to {os.path.realpath(path)})"
    return kind


def describe_unreadable(path: Path, exc: OSError) -> str:
    """Why `path` cannot be opened: a missing file or folder, or a parent that is a file or a FIFO, not a folder.

    Used for files written too (`-o`): the same parents can be missing or not folders.
    """
    import errno

    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        for parent in reversed(Path(path).parents):
            if str(parent) in ("", "."):
                continue
            try:
                info = os.stat(parent)
            except OSError:
                return f"folder `{parent}` does not exist"
            if not stat.S_ISDIR(info.st_mode):
                return f"`{parent}` is {file_kind(parent, info)}, not a folder"
        if os.path.islink(path):
            return f"a broken symbolic link (to {os.readlink(path)})"
        return "no such file"
    return f"cannot read file: {exc.strerror}"
