"""Dense feed-forward kinds: gated (SwiGLU, clamped SwiGLU, GeGLU: gate and up fused in one matrix)
and plain two-matrix MLPs (GELU, ReLU^2)."""

from __future__ import annotations

from ..ir import FFNIR
from .base import Box, Mechanism, Weight, linear


def ffn_weights(prefix: str, d_model: int, f: FFNIR, component: str) -> list[Weight]:
    """One FFN's `gate_up` (d -> 2 d_ff when gated, else d_ff) and `down` (d_ff -> d)."""
    width = (2 if f.gated else 1) * f.d_ff
    return [
        *linear(f"{prefix}gate_up", d_model, width, component, f.bias),
        *linear(f"{prefix}down", f.d_ff, d_model, component, f.bias, split="row"),
    ]


# The FFN kinds' words in the diagram's boxes
FFN_NAMES = {
    "swiglu": "SwiGLU",
    "swiglu_clamped": "clamped SwiGLU",
    "geglu": "GeGLU",
    "gelu_mlp": "GELU MLP",
    "relu2_mlp": "squared-ReLU MLP",
}


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

    def box(self) -> Box:
        f = self.ir
        notes = (
            ("d_ff", f"hidden size {f.d_ff:,}"),
            ("ffn_kind", FFN_NAMES.get(f.kind, f.kind) + (", bias" if f.bias else "")),
        )
        return Box("ffn", "Feed forward", notes, "dense FFN", (("ffn", "dense FFN"), ("shared", "no")))

    def weights(self, d_model: int) -> list[Weight]:
        return ffn_weights(f"{self.slot}.", d_model, self.ir, "dense_ffn")

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        return [("feed_forward_length", (self.ir.d_ff,), "ffn.d_ff")]
