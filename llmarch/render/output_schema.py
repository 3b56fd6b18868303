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
        "active_fewest": _INT,
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
        # what-if edits (`--set key=value`, `name[key=value]`): absent for a spec as written
        "edits": {"type": "object", "minProperties": 1},
        "family": {"type": ["string", "null"]},
        "architecture": {"type": "object"},
        "params": PARAMS,
        "weights": {
            "type": "object",
            "properties": {"bf16_bytes": _INT, "shipped_bytes": _INT, "shipped_format": {"type": "string"}},
        },
        "layers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"kind": {"type": "string"}, "layers": {"type": "array", "items": _INT}},
            },
        },
        "references": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["figure", "published", "computed", "ok"],
                "properties": {
                    "figure": {"enum": ["total", "active", "kv_per_token"]},
                    "published": {"type": "string"},
                    "computed": _INT,
                    "convention": {"type": "string"},
                    "ok": {"type": "boolean"},
                    "source": {"type": "string"},
                    "kv_per_token_config": {"type": "string"},
                },
            },
        },
        "references_skipped": {"type": "string"},
        "total": _INT,
        "active": _INT,
        "attention": {"type": "string"},
        "aliases": {"type": "array", "items": {"type": "string"}},
        # report
        "weights_bf16_bytes": _INT,
        "kv_bytes": _INT,
        "prefill_flops_per_token": _INT,
        "prefill_tokens": _INT,
        # check
        "ok": {"type": "boolean"},
        "budgets": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["budget", "limit", "measured", "ok"],
                "properties": {
                    "budget": {"type": "string"},
                    "limit": _INT,
                    "at_tokens": _INT_OR_NULL,
                    "text": {"type": "string"},
                    "measured": _INT,
                    "ok": {"type": "boolean"},
                },
            },
        },
        # serve
        "fits": {"type": "boolean"},
        "memory_per_gpu": {
            "type": "object",
            "required": ["weights_bytes", "kv_bytes", "allowance_bytes", "total_bytes"],
        },
        "max_batch_at_ctx": _INT_OR_NULL,
        "max_ctx_at_batch": _INT,
        "max_ctx_limited_by": {"enum": ["context_length", "memory"]},
        # kvcache
        "ctx_tokens": _INT,
        "batch": _INT,
        "kv_dtype": {"type": "string"},
        "state_dtype": {"type": "string"},
        "total_bytes": _INT,
        "per_token_bytes_all_layers": _INT,
        "by_layer_kind": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kind", "layers", "bytes_per_token_per_layer", "tokens_cached", "fixed_bytes", "bytes"],
                "properties": {
                    "kind": {"type": "string"},
                    "layers": _INT,
                    "bytes_per_token_per_layer": _INT,
                    "tokens_cached": _INT,
                    "fixed_bytes": _INT,
                    "bytes": _INT,
                    "formula": {"type": "string"},
                },
            },
        },
        "sweep": {"type": "array", "items": {"type": "object"}},
        # flops
        "prefill": {
            "type": "object",
            "required": ["tokens", "flops", "by_component"],
            "properties": {
                "tokens": _INT,
                "flops": _INT,
                "flops_per_token": _INT,
                "by_component": {"type": "object", "additionalProperties": _INT},
            },
        },
        "decode": {
            "type": "object",
            "required": ["ctx_tokens", "flops_per_token", "by_component"],
            "properties": {
                "ctx_tokens": _INT,
                "batch": _INT,
                "flops_per_token": _INT,
                "by_component": {"type": "object", "additionalProperties": _INT},
            },
        },
        "rules_of_thumb": {"type": "object", "properties": {"active_params": _INT, "2n": _INT, "6n": _INT}},
        "counters": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "raw": _INT_OR_NULL,
                    "normalised": _INT_OR_NULL,
                    "agreement": {"type": ["number", "null"]},
                    "error": {"type": "string"},
                },
            },
        },
        "agree": {"type": "boolean"},
        "missing": {"type": "array", "items": {"type": "string"}},
        "unexpected": {"type": "array", "items": {"type": "string"}},
        "outside_text_model": {"type": "array", "items": {"type": "string"}},
        "mtp_unchecked": {"type": "array", "items": {"type": "string"}},
        "shape_differences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tensor", "expected", "found", "field"],
                "properties": {
                    "tensor": {"type": "string"},
                    "expected": {"type": "array", "items": _INT},
                    "found": {"type": "array", "items": _INT},
                    "field": {"type": "string"},
                },
            },
        },
        "dtype_differences": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tensor", "expected", "found", "component"],
                "properties": {
                    "tensor": {"type": "string"},
                    "expected": {"type": "array", "items": {"type": "string"}},
                    "found": {"type": "string"},
                    "component": {"type": "string"},
                },
            },
        },
        "dtypes_by_component": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": _INT},
        },
        "bytes": {
            "type": "object",
            "required": ["on_disk"],
            "properties": {
                "on_disk": _INT,
                "file_bytes": _INT,
                "weights_as_shipped": _INT,
                "shipped_format": {"type": "string"},
                "difference": _INT,
                "explained": {"type": "object", "additionalProperties": _INT},
                "parameters_in_file": _INT,
                "spec_parameters": _INT,
                "spec_weights_at_file_types": _INT,
                "bits_per_weight": {"type": "number"},
                "by_component": {"type": "object", "additionalProperties": _INT},
            },
        },
        "format": {"enum": ["gguf"]},
        "metadata": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "expected", "found", "field", "agree"],
                "properties": {
                    "key": {"type": "string"},
                    "expected": {"type": "array"},
                    "found": {"type": "array"},
                    "field": {"type": "string"},
                    "agree": {"type": "boolean"},
                },
            },
        },
        "bits_per_weight": {"type": "object", "additionalProperties": {"type": "number"}},
        "baseline": {
            "type": "object",
            "required": ["kind", "total_bytes", "factor"],
            "properties": {
                "kind": {"enum": ["global", "mha"]},
                "total_bytes": _INT,
                "factor": {"type": ["number", "null"]},
            },
        },
    },
}

OUTPUT_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "llmarch JSON answer",
    "type": "object",
    "required": ["schema_version", "command", "conventions", "models", "warnings"],
    "properties": {
        "schema_version": {"const": 1},
        "command": {"enum": ["list", "show", "compare", "kvcache", "flops", "report", "check", "serve", "verify"]},
        "conventions": {"type": "object", "additionalProperties": {"type": "string"}},
        "models": {"type": "array", "items": MODEL},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "differences": {"type": "array", "items": {"type": "string"}},
        "pairs": {"type": "array", "items": {"type": "object", "required": ["models", "differences"]}},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["target", "error"],
                "properties": {"target": {"type": "string"}, "error": {"type": "string"}},
            },
        },
    },
    "additionalProperties": False,
}


def json_doc() -> str:
    """docs/json.md, generated (`python -m llmarch.render.output_schema > docs/json.md`)."""
    import json

    return (
        """# JSON answers

Every `--format json` answer is one object, the common envelope:

```
{"schema_version": 1, "command": "compare", "conventions": {...}, "models": [...], "warnings": [...], "differences": [...]}
```

- `conventions`: the counting conventions of that command, keyed as in the tables' footers.
- `warnings`: caveats about the numbers, in every answer (empty when there are none), the same sentences
  the other formats print on stderr as `warning: ...`. Today: a token count past a model's context length
  (`kvcache` and its sweep points, `flops` prefill, decode context and sweep points, `serve`, `report`'s
  KV column), one per model and count, starting with the model's name.
- `models`: one object per model. Every command's model object starts with `name` and `display_name`; an
  edited model (a what-if: `--set key.path=value`, or `name[key.path=value,...]` for one model) adds
  `edits`, each edited key path with its value as applied (`{"n_layers": 40}`), and its `display_name`
  lists the edits (`Qwen3 8B (n_layers=40)`); an unedited model has no `edits` field.
  `show`/`compare`: `name`, `display_name`, `family`, `architecture`
  (the panel facts keyed `vocab_size`, `context_length`, `n_layers`, `d_model`, `heads`, `head_dim`,
  `n_experts`, `experts_active`, `d_expert`, `d_ff`, `n_dense_layers`, ...; values that vary by layer kind
  are objects keyed by kind), `params` (`total`, `active`, `active_incl_embeddings`, `active_fewest` (active
  when a token meets the fewest real experts: below `active` only with zero-computation experts), `embedding`,
  `non_embedding`, `by_component`, `active_by_component`, `mtp`, `buffers`), `weights`, `layers`; `show`
  adds `references` (each published figure: `total`, `active` or the gallery's `kv_per_token` in bytes at
  bf16; computed value and verdict; `kv_per_token_config` where the spec documents a disagreement with the
  published KV figure, `ok` then meaning that the disagreement still holds); for an edited model
  `references` is empty and `references_skipped` says why (`published figures not checked: the spec was
  edited (n_layers=40)`). `list`: a short row per model.
  `kvcache`: `ctx_tokens`, `batch`, `kv_dtype`, `state_dtype`, `total_bytes`, `per_token_bytes_all_layers`,
  `by_layer_kind` (`kind`, `layers`, `bytes_per_token_per_layer`, `tokens_cached`, `fixed_bytes`, `bytes`),
  and `sweep` / `baseline` when asked. `flops`: `prefill` (`tokens`, `flops`, `by_component`), `decode`
  (`ctx_tokens`, `flops_per_token`, `by_component`), `rules_of_thumb` (`2n`, `6n`), `counters` (`analytic`,
  `torch`, `fvcore`: each `raw` and `normalised`), `sweep` when asked. `report`: per model `total`,
  `active`, `weights_bf16_bytes`, `kv_bytes` at `ctx_tokens`, `prefill_flops_per_token`; the envelope adds
  `pairs` (compare answers) and, when some specs could not be analysed, `errors` (`target`, `error`;
  the exit code is then 2). `check`: per model `ok` and `budgets` (`budget`, `limit`, `at_tokens`,
  `measured`, `ok`). `serve`: `memory_per_gpu`, `fits`, `max_batch_at_ctx`, `max_ctx_at_batch` (capped at the model's context length;
  `max_ctx_limited_by` says whether that cap, `context_length`, or `memory` is the limit), `decode_roofline`
  (bytes and FLOPs per step per GPU, step-time lower bound, binding resource, tokens/s upper bound), `prefill_roofline`.
  `verify`: `checkpoint`, `model_type` (the naming table used), `layout` (`prefix`, `experts`), `agree`,
  `tensors` (`expected`, `found`, `shards`), `missing`, `unexpected`, `outside_text_model` (vision/audio
  towers, projectors: not differences), `mtp_unchecked` (MTP tensors of a family whose checkpoints' MTP
  naming verify does not know: listed, not judged), `shape_differences` (`tensor`, `expected`, `found`, `field`: the spec
  fields deciding that shape), `dtype_differences` (`tensor`, `expected`, `found`, `component`),
  `dtypes_by_component` (component -> dtype -> tensors), `bytes` (`on_disk`: tensor data; `file_bytes`:
  headers included; `weights_as_shipped`: `show`'s figure; `difference`; `explained`: `mtp`, `buffers`,
  `format_layout` (the format's exact tensors against its per-parameter allowance), `stored_differently`,
  `missing` (negative), `towers`, `mtp_unchecked`, `unexpected`, summing exactly to `difference`). For a
  GGUF file: `format` `gguf`, `model_type` its llama.cpp architecture, `metadata` (`key`, `expected`,
  `found`, `field`, `agree`: the file's hyperparameters against the spec), `dtypes_by_component` (component
  -> ggml type -> tensors), `bits_per_weight` (ggml type -> bits per weight, block scales included), `bytes`
  (`on_disk`, `file_bytes`, `parameters_in_file`, `spec_parameters`, `bits_per_weight`,
  `spec_weights_at_file_types`: the spec's tensors each at the type the file stores it in, `difference`,
  `by_component`).
- `differences` (compare, and each of report's `pairs`): the keys of the rows where a model's value differs
  from the row's majority (from the first model's when no value has a majority): architecture keys, then
  parameter keys, then `weights.bf16` and `weights.shipped` (bytes, and the shipped format). Exact values
  decide, so the tables mark the same rows (a trailing `‹` on each differing cell) whatever their rounding.

Integers are exact. The schema below (also printed by `llmarch schema --answers`) is what the tests
validate every answer against:

```json
"""
        + json.dumps(OUTPUT_SCHEMA, indent=2)
        + "\n```\n"
    )


if __name__ == "__main__":
    import sys

    sys.stdout.write(json_doc())
