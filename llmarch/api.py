"""The Python API: load a spec, count, build, describe, compare.

    import llmarch
    ir = llmarch.load("deepseek-v3")          # name, alias or path -> ModelIR
    n = llmarch.count_params(ir)              # closed form, no torch
    model = llmarch.build(ir)                 # torch.nn.Module on the meta device
    n2 = llmarch.module_params(model)         # the same numbers, from the module
    table = llmarch.compare([ir, llmarch.load("qwen3-235b")])

The CLI is a thin layer over these functions.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import conventions as _conventions
from .caveats import beyond_context, beyond_context_of  # noqa: F401 (the CLI takes them from here)
from .errors import LlmarchError, shorten
from .facts import Fact, facts, layer_map
from .ir import ModelIR
from .params import ParamCount, check_size, count_params
from .reference import ReferenceCheck, check_references
from .registry import ENV_VAR, Registry
from .weights import shipped_label, weight_bytes

SCHEMA_VERSION = 1


@lru_cache(maxsize=8)
def _registry(spec_paths: tuple[str, ...], env: str | None) -> Registry:
    return Registry.discover(list(spec_paths))


def registry(spec_paths: list[str] | None = None) -> Registry:
    return _registry(tuple(spec_paths or ()), os.environ.get(ENV_VAR))


@lru_cache(maxsize=256)
def _load(name_or_path: str, spec_paths: tuple[str, ...], env: str | None, sets: tuple[str, ...] = ()) -> ModelIR:
    from . import ircache

    reg = _registry(spec_paths, env)
    spec = reg.spec_file(name_or_path)
    cached = ircache.get(reg, name_or_path, spec, sets)
    if cached is not None:
        return cached
    # resolving imports the schema (pydantic): only when the IR is not in the build cache
    from .resolve import to_ir
    from .validate import validate

    located, chain = reg.load_chain(spec)
    if sets:
        from .registry import apply_sets

        located = apply_sets(located, list(sets))
    ir = to_ir(validate(located), located)
    check_size(ir, located)  # a cached IR passed it when it was resolved
    ircache.put(name_or_path, spec, sets, chain, ir)
    return ir


def load(name_or_path: str, spec_paths: list[str] | None = None, sets: list[str] | None = None) -> ModelIR:
    """Resolve a spec by name, alias or file path into its IR (parsed once per process).

    `sets` are what-if edits, `key.path=value` (value in YAML), validated like the spec itself.
    """
    return _load(name_or_path, tuple(spec_paths or ()), os.environ.get(ENV_VAR), tuple(sets or ()))


def build(ir: ModelIR, with_mtp: bool = True):
    """The model on the meta device (imports torch)."""
    from .meta import build as _build

    return _build(ir, with_mtp=with_mtp)


def module_params(model) -> ParamCount:
    from .params_module import module_params as _walk

    return _walk(model)


def checked_params(ir: ModelIR, use_cache: bool = True) -> ParamCount:
    """The parameter count of the model built on meta and walked (the independent check of the closed form).

    Building imports torch; the build cache (`buildcache`) keeps the walk's result per resolved IR,
    llmarch source and torch version, so an unchanged spec is answered without torch the second time.
    """
    from . import buildcache

    # the key digests the IR, llmarch's source and the counters' versions: not computed when the cache is off
    name = buildcache.key("module_params", ir) if use_cache and buildcache.enabled() else None
    cached = buildcache.get(name) if name else None
    if cached is not None:
        return ParamCount(**cached)
    count = module_params(build(ir))
    if name:
        buildcache.put(name, dataclasses.asdict(count))
    return count


def describe(ir: ModelIR, count: ParamCount | None = None) -> dict[str, Any]:
    """The JSON model object: name, architecture facts, parameters, weight memory."""
    count = count or count_params(ir)
    params = count.as_dict()
    return {
        "name": ir.name,
        "display_name": ir.display_name,
        "family": ir.family,
        "architecture": {f.key: f.value for f in facts(ir)},
        "params": params,
        "weights": {
            "bf16_bytes": weight_bytes(ir, count, "bf16"),
            "shipped_bytes": weight_bytes(ir, count),
            "shipped_format": shipped_label(ir),
        },
        "layers": [{"kind": label, "layers": idx} for label, idx in ir.layer_kinds()],
    }


PARAM_ROWS = (
    ("total", "Total parameters"),
    ("active", "Active parameters"),
    ("active_incl_embeddings", "Active incl. embeddings"),
    ("embedding", "Embedding (lookup tables)"),
    ("non_embedding", "Non-embedding"),
    ("mtp", "MTP modules (separate)"),
)


def listing(
    names: list[str], spec_paths: list[str] | None = None, family: str | None = None, warn=None
) -> list[dict[str, Any]]:
    """`list`'s rows: each named spec (of `family`, when given) with its counts and attention.  A spec that
    fails to load is skipped, told to `warn`: one broken spec does not hide the others."""
    rows = []
    good = []
    for name in names:
        try:
            ir = load(name, spec_paths)
        except LlmarchError as exc:
            if warn:
                warn(f"warning: skipped {exc}")
            continue
        good.append(ir)
        if family and (ir.family or "") != family:
            continue
        c = count_params(ir)
        attention_text = next((f.text for f in facts(ir) if f.key == "attention"), "—")
        rows.append(
            {
                "name": name,
                "display_name": ir.display_name,
                "family": ir.family,
                "total": c.total,
                "active": c.active,
                "attention": attention_text,
                "aliases": list(ir.aliases),
            }
        )
    if family and not rows:
        families = sorted({ir.family or "" for ir in good})
        raise LlmarchError(f"no spec of family `{shorten(family)}`; families: {', '.join(f for f in families if f)}")
    return rows


@dataclass(frozen=True)
class Description:
    """`show`'s answer for one model: its JSON object, and the facts and reference checks its tables print."""

    model: dict[str, Any]  # describe()'s object, with `references` (and `layer_map` when asked)
    count: ParamCount
    facts: list[Fact]
    references: list[ReferenceCheck]
    layer_map: str | None = None


def description(ir: ModelIR, count: ParamCount, layers: bool = False) -> Description:
    checks = check_references(ir, count)
    model = describe(ir, count)
    model["references"] = [
        {
            "figure": c.key,
            "published": c.published,
            "computed": c.computed,
            "convention": c.convention,
            "ok": c.ok,
            "source": c.reference.source,
        }
        | ({"kv_per_token_config": c.documented} if c.documented else {})
        for c in checks
    ]
    runs = layer_map(ir) if layers else None
    if runs is not None:
        model["layer_map"] = runs
    return Description(model, count, facts(ir), checks, runs)


@dataclass(frozen=True)
class Comparison:
    """`compare`'s answer: the JSON envelope, and each model's facts (the table's rows) in order."""

    data: dict[str, Any]
    facts: list[list[Fact]]

    def as_dict(self) -> dict[str, Any]:
        return self.data


def comparison(irs: list[ModelIR], counts: list[ParamCount] | None = None) -> Comparison:
    """Side-by-side facts and parameters, with the keys whose values differ."""
    counts = counts or [count_params(ir) for ir in irs]
    models = [describe(ir, c) for ir, c in zip(irs, counts)]
    per_model = [facts(ir) for ir in irs]
    keys = [f.key for f in per_model[0]]
    for model_facts in per_model[1:]:
        keys += [f.key for f in model_facts if f.key not in keys]
    differences = [k for k in keys if len({repr(m["architecture"].get(k)) for m in models}) > 1]
    differences += [k for k, _ in PARAM_ROWS if len({m["params"][k] for m in models}) > 1]
    return Comparison(envelope("compare", models, differences=differences), per_model)


def compare(irs: list[ModelIR], counts: list[ParamCount] | None = None) -> dict[str, Any]:
    """Side-by-side facts and parameters, with the keys whose values differ (the JSON of `comparison`)."""
    return comparison(irs, counts).as_dict()


def envelope(
    command: str,
    models: list[dict],
    conventions: dict | None = None,
    warnings: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The common JSON answer; `warnings` (always present, often empty) are the caveats that the CLI also
    prints on stderr, e.g. a context past a model's context length."""
    out = {
        "schema_version": SCHEMA_VERSION,
        "command": command,
        "conventions": conventions if conventions is not None else dict(_conventions.PARAMS),
        "models": models,
        "warnings": list(warnings or []),
    }
    out.update(extra)
    return out
