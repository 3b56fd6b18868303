"""The `flops` answer for one model: analytic prefill and decode, rules of thumb, traced counters, sweep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from .analyze import flops as F
from .analyze.caveats import beyond_context_of
from .analyze.kvcache import kv_cache
from .analyze.params import count_params
from .api import envelope
from .ir import ModelIR


@dataclass
class FlopsAnswer:
    """`models`: each model's answer (`flops_model`), as the JSON holds it; `table_conventions`: the lines a
    table prints under it; `written`: the prefill length and the context as the user wrote them (`32k`)."""

    models: list[dict[str, Any]]
    table_conventions: dict[str, str]
    warnings: list[str]
    written: tuple[Optional[str], Optional[str]] = (None, None)

    def as_dict(self) -> dict[str, Any]:
        return envelope("flops", self.models, conventions=dict(F.CONVENTIONS), warnings=self.warnings)


def flops_command(
    irs: Sequence[ModelIR],
    seq: int,
    ctx: int,
    batch: int = 1,
    last_token_logits: bool = False,
    counters: list[str] | None = None,
    sweep: list[int] | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
    written: tuple[Optional[str], Optional[str]] = (None, None),
) -> FlopsAnswer:
    """`flops`' answer for `irs`: a prefill of `seq` tokens and a decode step at `ctx`."""
    models = [flops_model(ir, seq, ctx, batch, last_token_logits, counters, sweep, use_cache, progress) for ir in irs]
    warnings = beyond_context_of(irs, [("prefill", seq), ("decode context", ctx)], sweep or ())
    return FlopsAnswer(models, F.table_conventions(list(irs)), warnings, written)


def flops_model(
    ir: ModelIR,
    seq: int,
    ctx: int,
    batch: int = 1,
    last_token_logits: bool = False,
    counters: list[str] | None = None,
    sweep: list[int] | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """`flops`' answer for one model; `progress` hears of each traced count done (they take seconds)."""
    pre = F.prefill(ir, seq, batch, last_token_logits)
    dec = F.decode(ir, ctx, batch)
    active = count_params(ir).active
    out: dict[str, Any] = {
        "name": ir.name,
        "display_name": ir.display_name,
        **ir.edit_fields(),
        "prefill": {
            "tokens": pre.tokens,
            "flops": pre.flops,
            "flops_per_token": pre.flops // pre.tokens,
            "by_component": pre.by_component,
        },
        "decode": {
            "ctx_tokens": ctx,
            "batch": batch,
            "flops_per_token": dec.flops // batch,
            "by_component": {k: v // batch for k, v in dec.by_component.items()},
        },
        "rules_of_thumb": {"active_params": active, "2n": 2 * active, "6n": 6 * active},
        "counters": {"analytic": {"raw": pre.flops, "normalised": pre.flops}},
    }
    if counters:
        for name in counters:
            traced = _traced(ir, name, seq, batch, last_token_logits, use_cache)
            entry = {"raw": traced["raw"], "normalised": traced["normalised"]}
            if traced.get("error"):
                entry["error"] = traced["error"]
            else:
                entry["agreement"] = round(traced["normalised"] / pre.flops, 6) if pre.flops else None
            out["counters"][name] = entry
            if progress:
                progress(f"{ir.name} {name}")
    if sweep:
        rows = []
        weights = 2 * active  # bf16 bytes of the active weights, read once per decode step
        for t in sweep:
            d = F.decode(ir, t, 1)
            kv = kv_cache(ir, t).total_bytes
            rows.append(
                {
                    "ctx_tokens": t,
                    "decode_flops_per_token": d.flops,
                    "bytes_read": weights + kv,
                    "kv_bytes": kv,
                    "weight_bytes": weights,
                }
            )
        out["sweep"] = rows
    return out


def _traced(ir: ModelIR, counter: str, seq: int, batch: int, last_token_logits: bool, use_cache: bool) -> dict:
    """One traced count of the meta-built model's prefill, from the build cache when the IR, llmarch's source
    and torch are unchanged (tracing a large hybrid takes seconds); a failed trace is not cached."""
    from . import cache as buildcache

    params = {"counter": counter, "seq": seq, "batch": batch, "last_token_logits": last_token_logits}
    name = buildcache.key("traced_flops", ir, **params) if use_cache and buildcache.enabled() else None
    cached = buildcache.get(name) if name else None
    if cached is not None:
        return cached
    from .analyze.flop_trace import count_fvcore, count_torch
    from .api import build

    fn = count_torch if counter == "torch" else count_fvcore
    traced = fn(build(ir, with_mtp=False), ir, seq, batch, last_token_logits=last_token_logits)
    result = {"raw": traced.raw, "normalised": traced.normalised, "error": traced.error}
    if name and not traced.error:
        buildcache.put(name, result)
    return result
