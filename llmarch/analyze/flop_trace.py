"""Traced FLOP counts of the meta-built model: torch's FlopCounterMode and fvcore's FlopCountAnalysis.

Both run the forward of `meta.build(ir)` on meta tensors.  Normalisation is limited to:
x 2 for fvcore (it counts one per multiply-add), and removing the causal/window discount that
traced counters never apply (`flops.traced_excess`).  fvcore is imported only here; if it cannot
trace a model, the failure is reported and the other counters still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

from ..ir import ModelIR
from .flops import traced_excess


@dataclass
class Traced:
    counter: str
    raw: Optional[int]  # as the counter reports it (fvcore: multiply-adds)
    normalised: Optional[int]  # FLOPs, causal/window discount applied
    error: Optional[str] = None


def _inputs(batch: int, seq: int):
    import torch

    return torch.empty(batch, seq, dtype=torch.long, device="meta")


def _step(model, **kwargs):
    """The model with its forward's keyword arguments fixed: jit tracing passes inputs only."""
    import torch

    class Step(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids):
            return self.model(ids, **kwargs)

    return Step()


def count_torch(
    model, ir: ModelIR, seq: int, batch: int = 1, decode_ctx: int | None = None, last_token_logits: bool = False
) -> Traced:
    from torch.utils.flop_counter import FlopCounterMode

    ids = _inputs(batch, 1 if decode_ctx else seq)
    with FlopCounterMode(display=False) as counter:
        model(ids, ctx=decode_ctx, last_token_logits=last_token_logits)
    raw = counter.get_total_flops()
    excess = 0 if decode_ctx else traced_excess(ir, seq, batch)
    return Traced("torch", raw, raw - excess)


def count_fvcore(
    model, ir: ModelIR, seq: int, batch: int = 1, decode_ctx: int | None = None, last_token_logits: bool = False
) -> Traced:
    try:
        from fvcore.nn import FlopCountAnalysis
    except ImportError as exc:  # pragma: no cover - fvcore is a core dependency
        return Traced("fvcore", None, None, f"fvcore is not installed ({exc})")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    ids = _inputs(batch, 1 if decode_ctx else seq)
    try:
        analysis = FlopCountAnalysis(_step(model, ctx=decode_ctx, last_token_logits=last_token_logits), (ids,))
        # fvcore has no rule for aten::baddbmm (C + A @ B, which the chunked linear-attention forwards
        # use); it is counted with fvcore's own bmm rule, the addition being element-wise
        analysis.set_op_handle("aten::baddbmm", _baddbmm_flop_jit)
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        raw = int(analysis.total())
    except Exception as exc:  # fvcore's jit tracing fails on some graphs: say so, let the rest run
        return Traced("fvcore", None, None, f"fvcore could not trace: {type(exc).__name__}: {exc}")
    excess = 0 if decode_ctx else traced_excess(ir, seq, batch)
    return Traced("fvcore", raw, 2 * raw - excess)


def _baddbmm_flop_jit(inputs, outputs) -> int:
    """Multiply-adds of baddbmm(C, A, B) = C + A @ B, by fvcore's bmm rule on A (b, n, k) and B (b, k, m)."""
    from fvcore.nn.jit_handles import bmm_flop_jit

    return bmm_flop_jit(inputs[1:3], outputs)
