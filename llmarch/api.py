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
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import conventions as _conventions
from .analyze.caveats import beyond_context, beyond_context_of  # noqa: F401 (the CLI takes them from here)
from .analyze.differences import differing
from .analyze.facts import Fact, facts, layer_map, layer_patterns
from .analyze.params import ParamCount, check_size, count_params
from .analyze.reference import ReferenceCheck, check_references, references_skipped
from .analyze.weights import shipped_label, weight_bytes
from .errors import LlmarchError, SpecError, shorten
from .ir import ModelIR
from .mechanisms.layers import conventions_held
from .spec.registry import ENV_VAR, Registry

SCHEMA_VERSION = 1


@lru_cache(maxsize=8)
def _registry(spec_paths: tuple[str, ...], env: str | None) -> Registry:
    return Registry.discover(list(spec_paths))


def registry(spec_paths: list[str] | None = None) -> Registry:
    return _registry(tuple(spec_paths or ()), os.environ.get(ENV_VAR))


@lru_cache(maxsize=256)
def _load(argument: str, spec_paths: tuple[str, ...], env: str | None, sets: tuple[str, ...] = ()) -> ModelIR:
    from .spec import ircache
    from .spec.registry import Edit, split_edits

    name_or_path, bracketed = split_edits(argument)
    # `--set` edits apply first, then the model's own: the edit written on the model has the last word
    edits = [Edit(text) for text in sets] + [Edit(text, name_or_path) for text in bracketed]
    texts = tuple(e.text for e in edits)  # what decides the IR (an edit reads the same either way)
    reg = _registry(spec_paths, env)
    spec = reg.spec_file(name_or_path)
    cached = ircache.get(reg, name_or_path, spec, texts)
    if cached is not None:
        return cached
    # resolving imports the schema (pydantic): only when the IR is not in the build cache
    from .spec.resolve import to_ir
    from .spec.validate import validate

    located, chain = reg.load_chain(spec)
    applied = []
    if edits:
        from .spec.registry import apply_sets

        located, applied = apply_sets(located, edits)
    try:
        ir = to_ir(validate(located), located)
        check_size(ir, located)  # a cached IR passed it when it was resolved
    except SpecError as exc:
        if not applied:
            raise
        if not any(exc.file == a.edit.label for a in applied):  # blamed on the spec: is it fine as written?
            try:
                _load(name_or_path, spec_paths, env)
            except LlmarchError as own:
                raise own from None  # the spec fails without the edits too: its own error, at its own line
        raise edit_error(exc, applied, name_or_path) from None
    if applied:
        written = ", ".join(a.edit.text.strip() for a in applied)
        ir = dataclasses.replace(
            ir,
            display_name=f"{ir.display_name} ({shorten(written, 60)})",
            edits=tuple(
                (".".join(a.path), a.edit.text.partition("=")[2].strip(), json.dumps(a.value, default=str))
                for a in applied
            ),
        )
    ircache.put(name_or_path, spec, texts, chain, ir)
    return ir


def edit_error(exc: SpecError, applied: list, model: str) -> SpecError:
    """An error that what-if edits caused, worded as the edit's: the edit as written, the model it was
    applied to, the field and the reason (never the spec file's line: the file is fine as shipped)."""
    from .spec.registry import Edit

    blamed = next((a for a in applied if exc.file == a.edit.label), None)
    field = exc.field or ""
    # an edit that had to create its block (`moe.n_experts` on a dense model) fails for what the block
    # lacks besides the edited key: the edit does not apply to this model (an error on the edited key
    # itself, an unknown kind or a bad value, is the edit's own)
    creator = next(
        (a for a in applied if a.created and _within(field, a.created) and not _on_path(field, a.path)), None
    )
    reason = (f"field `{exc.field}`: " if exc.field else "") + exc.message
    if creator is not None:
        block = ".".join(creator.created)
        return SpecError(
            f"does not apply to {model}: the spec has no `{block}` block (adding one fails: {reason})",
            file=creator.edit.label,
            suggestion=f"give the edit only to models that have one, e.g. `MODEL[{creator.edit.text.strip()}]`"
            if creator.edit.model is None
            else None,
        )
    if blamed is not None:
        # `--set` edits every model of the command: say which one it failed on
        message = exc.message + (f" (editing {model})" if blamed.edit.model is None else "")
        return SpecError(message, file=blamed.edit.label, field=exc.field, suggestion=exc.suggestion)
    bracketed = [a.edit.text for a in applied if a.edit.model is not None]
    labels = ", ".join(
        [a.edit.label for a in applied if a.edit.model is None]
        + ([Edit(",".join(bracketed), model).label] if bracketed else [])
    )
    return SpecError(f"makes {model} invalid: {reason}", file=labels, suggestion=exc.suggestion)


def load(name_or_path: str, spec_paths: list[str] | None = None, sets: list[str] | None = None) -> ModelIR:
    """Resolve a spec by name, alias or file path into its IR (parsed once per process).

    `sets` are what-if edits, `key.path=value` (value in YAML), validated like the spec itself; edits of
    this model alone may follow its name in brackets, comma-separated: `qwen3-8b[n_layers=40,vocab_size=1000]`.
    An edited model's display_name lists its edits, and so does its `edits` field.
    """
    return _load(name_or_path, tuple(spec_paths or ()), os.environ.get(ENV_VAR), tuple(sets or ()))


def build(ir: ModelIR, with_mtp: bool = True):
    """The model on the meta device (imports torch)."""
    from .builder.model import build as _build

    return _build(ir, with_mtp=with_mtp)


def module_params(model) -> ParamCount:
    from .analyze.module_walk import module_params as _walk

    return _walk(model)


def checked_params(ir: ModelIR, use_cache: bool = True) -> ParamCount:
    """The parameter count of the model built on meta and walked (the independent check of the closed form).

    Building imports torch; the build cache (`buildcache`) keeps the walk's result per resolved IR,
    llmarch source and torch version, so an unchanged spec is answered without torch the second time.
    """
    from . import cache as buildcache

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
        **ir.edit_fields(),
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


def _within(field: str, block: tuple[str, ...]) -> bool:
    return field == ".".join(block) or field.startswith(".".join(block) + ".")


def _on_path(field: str, path: tuple[str, ...]) -> bool:
    """Whether the field is the edited key or a mapping on the way to it."""
    return any(field == ".".join(path[:i]) for i in range(1, len(path) + 1))


def model_names(ir: ModelIR) -> dict[str, Any]:
    """The fields that name a model in every JSON answer: name, display_name, and its edits when edited."""
    return {"name": ir.name, "display_name": ir.display_name, **ir.edit_fields()}


PARAM_ROWS = (
    ("total", "Total parameters"),
    ("active", "Active parameters"),
    ("active_incl_embeddings", "Active incl. embeddings"),
    ("active_fewest", "Active, fewest experts"),
    ("embedding", "Embedding (lookup tables)"),
    ("non_embedding", "Non-embedding"),
    ("mtp", "MTP modules (separate)"),
)

# compare's weight rows, keyed in the JSON `differences` list; the shipped row differs in bytes or format
WEIGHT_ROWS = (("weights.bf16", "Weights (bf16)"), ("weights.shipped", "Weights (as shipped)"))
WEIGHT_VALUES = {
    "weights.bf16": lambda w: w["bf16_bytes"],
    "weights.shipped": lambda w: (w["shipped_bytes"], w["shipped_format"]),
}


@dataclass(frozen=True)
class Listing:
    """`list`'s answer: its rows (the JSON), and the conventions its table prints: the experts' clause of
    `active` only where a listed model routes over experts, the MTP line only where one has MTP modules."""

    rows: list[dict[str, Any]]
    table_conventions: dict[str, str] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return envelope("list", self.rows)


def listing(names: list[str], spec_paths: list[str] | None = None, family: str | None = None, warn=None) -> Listing:
    """`list`'s rows: each named spec (of `family`, when given) with its counts and attention.  A spec that
    fails to load is skipped, told to `warn`: one broken spec does not hide the others."""
    rows = []
    good = []
    listed = []
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
        listed.append(ir)
        c = count_params(ir)
        labels = next((f.value for f in facts(ir) if f.key == "attention"), "—")
        # per layer kind where the kinds differ, keyed by the kinds as JSON names them ('csa: CSA 1/4 ...')
        attention_text = "; ".join(f"{k}: {v}" for k, v in labels.items()) if isinstance(labels, dict) else labels
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
    # list shows total and active only: no weight bytes, context lengths, active incl. embeddings or a
    # mechanism's own line
    shown = frozenset(_conventions.PARAMS) - {"weight_memory", "context", "active_incl_embeddings"}
    table = _conventions.params_table(
        experts="moe" in conventions_held(listed), mtp=any(ir.mtp is not None for ir in listed), shown=shown, held=set()
    )
    return Listing(rows, table)


@dataclass(frozen=True)
class Description:
    """`show`'s answer for one model: its JSON object, and the facts and reference checks its tables print."""

    model: dict[str, Any]  # describe()'s object, with `references` (and `layer_map` when asked)
    count: ParamCount
    facts: list[Fact]
    references: list[ReferenceCheck]
    layer_map: str | None = None
    references_skipped: str | None = None  # why the published figures were not checked (an edited spec)
    layer_patterns: list[tuple[str, str]] | None = None  # what the tables print for `layer_map`
    table_conventions: dict[str, str] = dataclasses.field(default_factory=dict)  # `params_conventions`


def description(ir: ModelIR, count: ParamCount, layers: bool = False) -> Description:
    checks = check_references(ir, count)
    model = describe(ir, count)
    skipped = references_skipped(ir)
    if skipped:
        model["references_skipped"] = skipped
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
    return Description(
        model,
        count,
        facts(ir),
        checks,
        runs,
        skipped,
        layer_patterns(ir) if layers else None,
        params_conventions([ir]),
    )


def params_conventions(irs: list[ModelIR]) -> dict[str, str]:
    """The parameter conventions a human table of `irs` prints (JSON keeps them all): the experts' clause of
    `active` only where a model routes over experts, the MTP line only where a model has MTP modules, a
    mechanism's own line (`conventions.MECHANISM_PARAMS`) only where a model holds the mechanism (zero
    experts make active_fewest differ from active; an n-gram embedding table)."""
    held = conventions_held(irs)
    experts = "moe" in held
    return _conventions.params_table(experts=experts, mtp=any(ir.mtp is not None for ir in irs), held=held)


@dataclass(frozen=True)
class Comparison:
    """`compare`'s answer: the JSON envelope, each model's facts (the table's rows) in order, and per row
    key (a fact's, a parameter row's, a weight row's `WEIGHT_ROWS` key) which models' cells differ
    (`differences.differing`, the one rule; the JSON `differences` lists the keys where one does)."""

    data: dict[str, Any]
    facts: list[list[Fact]]
    differing: dict[str, list[bool]] = dataclasses.field(default_factory=dict)
    table_conventions: dict[str, str] = dataclasses.field(default_factory=dict)  # `params_conventions`

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
    # exact values decide (a fact's JSON value, counts and bytes unrounded); a fact a model lacks is a value
    rows = {k: [repr(m["architecture"].get(k)) for m in models] for k in keys}
    rows |= {k: [m["params"][k] for m in models] for k, _ in PARAM_ROWS}
    rows |= {k: [value(m["weights"]) for m in models] for k, value in WEIGHT_VALUES.items()}
    flags = {k: differing(values) for k, values in rows.items()}
    # active_fewest differs on its own only where a model has zero experts; elsewhere it repeats active
    routing_varies = any(c.active_fewest != c.active for c in counts)
    differences = [k for k, row in flags.items() if any(row) and (k != "active_fewest" or routing_varies)]
    data = envelope("compare", models, differences=differences)
    return Comparison(data, per_model, flags, params_conventions(irs))


def compare(irs: list[ModelIR], counts: list[ParamCount] | None = None) -> dict[str, Any]:
    """Side-by-side facts and parameters, with the keys whose values differ (the JSON of `comparison`)."""
    return comparison(irs, counts).as_dict()


@dataclass(frozen=True)
class HeaderNumbers:
    """The numbers a column's header prints, computed by the caller (`api.diagram_numbers`): the diagram
    analyses nothing. `kv_per_token`: bytes per token over all attention layers, bf16, windows ignored."""

    total: int
    active: int
    kv_per_token: int


def diagram_numbers(irs: list[ModelIR]) -> list[HeaderNumbers]:
    """Each model's numbers for a diagram's header (`HeaderNumbers`): total and active parameters
    and the bf16 KV cache per token over all attention layers (`conventions.KV_PER_TOKEN_ALL_LAYERS`)."""
    from .analyze.kvcache import kv_cache

    out = []
    for ir in irs:
        count = count_params(ir)
        out.append(HeaderNumbers(count.total, count.active, kv_cache(ir, 1).per_token_bytes_all_layers))
    return out


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
