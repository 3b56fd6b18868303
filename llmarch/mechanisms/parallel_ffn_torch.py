"""The parallel dense + MoE FFN's torch module for the meta build (Gemma 4 26B-A4B), reached through
`ParallelFFN.module`."""

from __future__ import annotations

import torch

from ..ir import FFNIR, MoEIR
from .ffn_torch import FeedForwardModule
from .moe_torch import MoEModule
from .primitives import FeedForwardPart, Norm


class ParallelFFNModule(FeedForwardPart):
    """A dense FFN and the experts side by side, summed: the experts read the layer's stream through
    `moe_norm`; with post-norms each branch has its own (`dense_post_norm`, `moe_post_norm`) and the
    block's `ffn_post_norm` norms the sum."""

    def __init__(self, d: int, dense: FFNIR, m: MoEIR, post_norms: bool, norm_bias: bool) -> None:
        super().__init__()
        self.dense = FeedForwardModule(d, dense)
        self.moe = MoEModule(d, m)
        self.moe_norm = Norm(d, norm_bias)
        if post_norms:
            self.dense_post_norm = Norm(d, norm_bias)
            self.moe_post_norm = Norm(d, norm_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (B, S, d) -> (B, S, d); the norms are element-wise, which no counter counts
        return self.dense(x) + self.moe(x)
