"""Reading a config.json: bounded in size, depth and values before parsing, duplicate keys refused, and the
line and column of every key path kept for errors; the spec name a path suggests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

from ...errors import ParameterError, SpecError, shorten
from ...spec.yamlsafe import MAX_INT_DIGITS, format_path, read_bounded

# Limits, documented in README ("Bad input"): a real config.json is a few KiB with a few hundred values;
# at these limits import-hf of any accepted file stays within seconds and a few hundred MB.
MAX_CONFIG_BYTES = 1_000_000


MAX_CONFIG_VALUES = 50_000


MAX_CONFIG_DEPTH = 50


# strings, brackets and numbers of a JSON text: enough to measure nesting and count values without parsing
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]|-?[0-9][0-9.eE+-]*|true|false|null')


class _DuplicateKey(Exception):
    pass


def read_config(path: str) -> tuple[dict, dict]:
    """A config.json's object and the position of every key path; errors located by line and column."""
    raw = read_bounded(Path(path), MAX_CONFIG_BYTES, "a config.json is a few KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"file is not UTF-8 text (byte {exc.start})", file=path, line=line) from None
    _check_json_size(text, path)

    def no_duplicates(pairs: list) -> dict:
        out = dict(pairs)
        if len(out) < len(pairs):
            raise _DuplicateKey
        return out

    try:
        config = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise SpecError(f"malformed JSON: {exc.msg}", file=path, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey:
        duplicate = _json_marks(text, path)[1]
        raise duplicate or SpecError(
            "an object has the same key twice (JSON keeps the last value)", file=path
        ) from None
    if not isinstance(config, dict):
        raise SpecError(
            f"the document is a JSON {type(config).__name__}, not an object of keys to values", file=path, line=1
        )
    return config, _json_marks(text, path)[0]


def _check_json_size(text: str, file: str) -> None:
    """Refuse, located, JSON nested deeper than MAX_CONFIG_DEPTH, with more than MAX_CONFIG_VALUES values,
    or with an integer longer than MAX_INT_DIGITS digits, before parsing it (deep nesting ends in
    RecursionError, a 4,301-digit integer in ValueError, and a huge document in minutes of work)."""

    def where(index: int) -> dict:
        line = text.count("\n", 0, index) + 1
        return {"file": file, "line": line, "column": index - (text.rfind("\n", 0, index) + 1) + 1}

    depth = values = 0
    for token in _JSON_TOKEN.finditer(text):
        first = token.group()[0]
        if first in "]}":
            depth -= 1
            continue
        values += 1
        if values > MAX_CONFIG_VALUES:
            raise SpecError(
                f"more than {MAX_CONFIG_VALUES:,} keys and values; a config.json holds a few hundred",
                **where(token.start()),
            )
        if first in "[{":
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                raise SpecError(f"nested more than {MAX_CONFIG_DEPTH} levels deep", **where(token.start()))
        elif first in "-0123456789":
            digits = len(re.match(r"-?([0-9]*)", token.group()).group(1))
            if digits > MAX_INT_DIGITS:
                raise SpecError(
                    f"a {digits:,}-digit number is too long (at most {MAX_INT_DIGITS} digits)", **where(token.start())
                )


def default_name(path: str) -> str:
    """A spec name from the config's path: its folder for `config.json` (…/Qwen3-8B/config.json -> qwen3-8b)."""
    p = Path(path)
    return clean_name(p.parent.resolve().name if p.stem == "config" else p.stem)


def clean_name(text: str) -> str:
    """A spec name from a file or folder name: lowercase, runs of other characters as `-` (Qwen3_8B -> qwen3-8b)."""
    name = re.sub(r"[^a-z0-9.\-]+", "-", text.lower()).strip("-.")[:64]
    return name or "imported"


NAME_RULE = "a spec's name is lowercase letters, digits, `.` and `-` (at most 64), and equals its file name"


def spec_name(name: Optional[str], output: Optional[str]) -> Optional[str]:
    """The name of a spec to be written to the file `output` (None: stdout): `name` when given, else the file's
    stem.  A spec folder refuses a file whose `name:` differs from its file name, so the two must agree and be
    a spec name.  Errors name the parameters (`{name}`, `{output}`), which the CLI words as its flags."""
    if name is not None and clean_name(name) != name:
        raise ParameterError(
            "{name} `{given}` is not a spec name: {rule}; e.g. `{example}`",
            given=shorten(name),
            rule=NAME_RULE,
            example=clean_name(name),
        )
    if output is None:
        return name
    path = Path(output)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    suggestion = f"{name or clean_name(stem)}{path.suffix or '.yaml'}"
    if name is not None and name != stem:
        raise ParameterError(
            "{name} `{given}` and {output} `{file}` disagree: {rule}; use {output} {suggestion}",
            given=name,
            file=shorten(path.name),
            rule=NAME_RULE,
            suggestion=suggestion,
        )
    if clean_name(stem) != stem:
        raise ParameterError(
            "{output} `{file}`: the file name is not a spec name: {rule}; use {output} {suggestion}",
            file=shorten(path.name),
            rule=NAME_RULE,
            suggestion=suggestion,
        )
    return stem


def _json_marks(text: str, file: str) -> tuple[dict, Optional[SpecError]]:
    """Line and column of every key path (JSON is YAML, so PyYAML's composer gives positions); {} if it cannot.

    Also the error for the first key that appears twice in one object, at its second appearance (or None).
    """
    import yaml

    marks: dict[tuple, tuple[str, int, int]] = {}
    duplicates: list[SpecError] = []

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                sub = path + (key.value,)
                if key.value in seen and not duplicates:
                    duplicates.append(
                        SpecError(
                            f"duplicate key `{key.value}` (JSON readers silently keep the last value; remove one)",
                            file=file,
                            line=key.start_mark.line + 1,
                            column=key.start_mark.column + 1,
                            field=format_path(sub),
                        )
                    )
                seen.add(key.value)
                marks[sub] = (file, key.start_mark.line + 1, key.start_mark.column + 1)
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                marks[path + (i,)] = (file, item.start_mark.line + 1, item.start_mark.column + 1)
                walk(item, path + (i,))

    try:
        walk(yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), ())
    except yaml.YAMLError:
        return {}, None
    return marks, (duplicates[0] if duplicates else None)
