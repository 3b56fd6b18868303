"""The dense FFN's torch module for the meta build, reached through `DenseFFN.module` (and used for a
MoE's shared experts)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..ir import FFNIR
from .primitives import FeedForwardPart, Linear


class FeedForwardModule(FeedForwardPart):
    """Gated (SwiGLU/GeGLU: gate and up fused) or plain two-matrix MLP."""

    def __init__(self, d: int, f: FFNIR) -> None:
        super().__init__()
        self.gated = f.gated
        self.gate_up = Linear(d, (2 if f.gated else 1) * f.d_ff, f.bias)
        self.down = Linear(f.d_ff, d, f.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gate_up(x)
        if self.gated:
            gate, up = h.chunk(2, dim=-1)
            h = F.silu(gate) * up
        else:
            h = F.relu(h)
        return self.down(h)
