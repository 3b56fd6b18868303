"""The `kvcache` answer: each model's cache (`kvcache.kv_answer`) with its names, the conventions and the
context warnings, as one typed result that the JSON (`as_dict`) and the tables (`render/kv`) read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from .analyze.caveats import beyond_context_of
from .analyze.kvcache import CONVENTIONS, KVResult, kv_answer, table_conventions
from .api import envelope, model_names
from .ir import ModelIR


@dataclass
class KvAnswer:
    """`names`: each model's JSON names (`api.model_names`), in the order of `results`; `table_conventions`:
    the lines a table prints under it; `ctx_text`: the context as the user wrote it (`128k`), shown so;
    `plot`: each model's totals over the plot's contexts, where a plot was asked for."""

    results: list[KVResult]
    names: list[dict[str, Any]]
    table_conventions: dict[str, str]
    warnings: list[str]
    ctx_text: Optional[str] = None
    plot: list[KVResult] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        models = [{**n, **r.as_dict()} for n, r in zip(self.names, self.results)]
        return envelope("kvcache", models, conventions=dict(CONVENTIONS), warnings=self.warnings)


def kv_command(
    irs: Sequence[ModelIR],
    ctx: int,
    batch: int = 1,
    kv_dtype: str = "bf16",
    state_dtype: str = "fp32",
    baseline_kind: Optional[str] = None,
    sweep: Sequence[int] = (),
    ctx_text: Optional[str] = None,
    plot_contexts: Sequence[int] = (),
) -> KvAnswer:
    """`kvcache`'s answer for `irs` at `ctx` tokens; `plot_contexts`: the contexts a plot draws (none: no plot)."""
    results = [kv_answer(ir, ctx, batch, kv_dtype, state_dtype, baseline_kind, sweep) for ir in irs]
    # a plot's curves carry no baseline: the totals over its contexts only
    plot = (
        [kv_answer(ir, ctx, batch, kv_dtype, state_dtype, None, plot_contexts) for ir in irs] if plot_contexts else []
    )
    return KvAnswer(
        results,
        [model_names(ir) for ir in irs],
        table_conventions(irs, kv_dtype),
        beyond_context_of(irs, [("context", ctx)], sweep),
        ctx_text,
        plot,
    )
