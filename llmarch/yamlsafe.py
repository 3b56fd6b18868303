"""Safe YAML loading that remembers where every value came from.

PyYAML's safe constructor is used for scalars only; mappings and sequences are
built here so that each value's path (``("attention", "n_heads")``) maps to its
line and column, duplicate keys are rejected, only the plain YAML tags are
honoured, and alias expansion is bounded ("billion laughs" fails fast).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import SpecError

MAX_FILE_BYTES = 1_000_000  # a real spec is a few KiB
MAX_SCALAR_CHARS = 10_000
MAX_NODES = 100_000  # counts nodes after alias expansion

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


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
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
        if self.nodes > MAX_NODES or depth > 50:
            # name the top-level key whose value blew up, not a node deep inside an alias
            top = path[:1]
            file, line, column = self.marks.get(top, (self.file, node.start_mark.line + 1, None))
            raise SpecError(
                f"document is too large or too deeply nested after alias expansion "
                f"(more than {MAX_NODES:,} values or 50 levels)",
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
        value = self.constructor.construct_object(node)
        if node.tag == "tag:yaml.org,2002:timestamp":
            value = str(node.value)  # dates stay text: `release_date: 2025-04-29`
        return value


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
    try:
        # libyaml's parser when installed (about 10x faster); the same safe node tree either way
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
        try:
            node = loader.get_single_node()
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
    if node is None:
        raise SpecError("file is empty (or holds only comments); a spec is a YAML mapping", file=file, line=1)
    builder = _Builder(file)
    data = builder.build(node, ())
    if not isinstance(data, dict):
        raise SpecError(f"the document is a {type(data).__name__}, not a mapping of keys to values", file=file, line=1)
    return Located(data=data, file=file, marks=builder.marks)


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
    if path.is_dir():
        raise SpecError("is a directory, not a spec file", file=file)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError(f"file is larger than {MAX_FILE_BYTES:,} bytes; a spec is a few KiB", file=file)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError("no such file", file=file) from None
    except OSError as exc:
        raise SpecError(f"cannot read file: {exc.strerror}", file=file) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"file is not UTF-8 text (byte {exc.start})", file=file, line=line) from None
    return load_text(text, file)
