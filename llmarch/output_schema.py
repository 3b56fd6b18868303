"""JSON Schema of every `--format json` answer (the common envelope); docs/json.md embeds it."""

from __future__ import annotations

_INT = {"type": "integer"}
_INT_OR_NULL = {"type": ["integer", "null"]}

PARAMS = {
    "type": "object",
    "required": ["total", "active", "active_incl_embeddings", "embedding", "non_embedding", "by_component"],
    "properties": {
        "total": _INT,
        "active": _INT,
        "active_incl_embeddings": _INT,
        "embedding": _INT,
        "non_embedding": _INT,
        "mtp": _INT,
        "buffers": _INT,
        "tied_embeddings": {"type": "boolean"},
        "by_component": {"type": "object", "additionalProperties": _INT},
        "active_by_component": {"type": "object", "additionalProperties": _INT},
    },
}

MODEL = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "display_name": {"type": "string"},
        "family": {"type": ["string", "null"]},
        "architecture": {"type": "object"},
        "params": PARAMS,
        "weights": {
            "type": "object",
            "properties": {"bf16_bytes": _INT, "shipped_bytes": _INT, "shipped_format": {"type": "string"}},
        },
        "layers": {
            "type": "array",
            "items": {"type": "object", "properties": {"kind": {"type": "string"},
                                                       "layers": {"type": "array", "items": _INT}}},
        },
        "references": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["figure", "published", "computed", "ok"],
                "properties": {
                    "figure": {"enum": ["total", "active"]},
                    "published": {"type": "string"},
                    "computed": _INT,
                    "convention": {"type": "string"},
                    "ok": {"type": "boolean"},
                    "source": {"type": "string"},
                },
            },
        },
        "total": _INT,
        "active": _INT,
        "attention": {"type": "string"},
        "aliases": {"type": "array", "items": {"type": "string"}},
    },
}

OUTPUT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "llmarch JSON answer",
    "type": "object",
    "required": ["schema_version", "command", "conventions", "models"],
    "properties": {
        "schema_version": {"const": 1},
        "command": {"enum": ["list", "show", "compare"]},
        "conventions": {"type": "object", "additionalProperties": {"type": "string"}},
        "models": {"type": "array", "items": MODEL},
        "differences": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
