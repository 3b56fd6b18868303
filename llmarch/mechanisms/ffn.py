"""Dense feed-forward kinds: gated (SwiGLU, clamped SwiGLU, GeGLU: gate and up fused in one matrix)
and plain two-matrix MLPs (GELU, ReLU^2)."""

from __future__ import annotations

from ..ir import FFNIR
from .base import Mechanism, Weight, linear


def ffn_weights(prefix: str, d_model: int, f: FFNIR, component: str) -> list[Weight]:
    """One FFN's `gate_up` (d -> 2 d_ff when gated, else d_ff) and `down` (d_ff -> d)."""
    width = (2 if f.gated else 1) * f.d_ff
    return [
        *linear(f"{prefix}gate_up", d_model, width, component, f.bias),
        *linear(f"{prefix}down", f.d_ff, d_model, component, f.bias, split="row"),
    ]


class DenseFFN(Mechanism):
    slot = "ffn"
    norm_prefix = "ffn"

    def __init__(self, f: FFNIR) -> None:
        self.ir = f

    @property
    def ffn_kind(self) -> str:
        return self.ir.kind

    @property
    def d_ff(self) -> int:
        return self.ir.d_ff

    def module(self, d_model: int):
        from .ffn_torch import FeedForwardModule

        return FeedForwardModule(d_model, self.ir)

    def weights(self, d_model: int) -> list[Weight]:
        return ffn_weights(f"{self.slot}.", d_model, self.ir, "dense_ffn")
