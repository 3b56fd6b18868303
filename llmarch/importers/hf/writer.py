"""The import's result, and the YAML spec written from it (with a header of the defaults it took)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any


@dataclass
class Imported:
    spec: dict  # the spec document, in the order of the spec format
    model_type: str
    source: str  # the config file
    defaulted: list[tuple[str, str]]  # (config key, the default applied)
    ignored: list[str]  # irrelevant keys the config holds
    off: list[str]  # keys of rejected features, present at a value that leaves them off
    unread: list[str]  # mapped keys present but not read (a table bug; empty in every test)


def spec_yaml(imported: Imported) -> str:
    """The spec as YAML, with a header saying where it came from and which defaults it took."""
    lines = [
        f"# Imported by `llmarch import-hf` from {imported.source} (model_type {imported.model_type}).",
        "# No published parameter figures: add a `reference:` block with its source to check the counts.",
    ]
    if imported.defaulted:
        lines.append("# Keys absent from the config, given transformers' defaults:")
        lines += [f"#   {key} = {value}" for key, value in imported.defaulted]
    else:
        lines.append("# Every mapped key is stated in the config (no defaults applied).")
    for label, keys in (
        ("Keys at the only value import-hf supports", imported.off),
        ("Ignored as irrelevant to the architecture", imported.ignored),
    ):
        if keys:
            text = f"{label}: " + ", ".join(keys) + "."
            lines += ["# " + line for line in textwrap.wrap(text, 110, break_on_hyphens=False)]
    for key, value in imported.spec.items():
        lines += _yaml_lines(key, value, 0)
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    import yaml

    return yaml.safe_dump([value], default_flow_style=True, width=10**9, sort_keys=False, allow_unicode=True).strip()[
        1:-1
    ]


def _yaml_lines(key: str, value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(value, dict):
        flow = _flow(value)
        if len(pad) + len(key) + 2 + len(flow) <= 110:
            return [f"{pad}{key}: {flow}"]
        lines = [f"{pad}{key}:"]
        for k, v in value.items():
            lines += _yaml_lines(k, v, depth + 1)
        return lines
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        lines = [f"{pad}{key}:"]
        for item in value:
            sub = [line for k, v in item.items() for line in _yaml_lines(k, v, depth + 2)]
            sub[0] = f"{pad}  - {sub[0].lstrip()}"
            lines += sub
        return lines
    long_text = isinstance(value, str) and len(pad) + len(key) + 2 + len(value) > 110
    if long_text and value == value.strip() and "\n" not in value:  # a folded block scalar
        wrapped = textwrap.wrap(value, 108 - len(pad), break_long_words=False, break_on_hyphens=False)
        return [f"{pad}{key}: >-"] + [f"{pad}  {line}" for line in wrapped]
    return [f"{pad}{key}: {_flow(value)}"]
