"""LAuReL's torch module for the meta build (Gemma 3n), reached through `Laurel.module`."""

from __future__ import annotations

import torch

from .primitives import BlockState, Linear, Part


class LaurelModule(Part):
    """The low-rank learned residual; its norm is the layer's `laurel_norm`.  It reads the layer's
    input beside the mixer."""

    def __init__(self, d: int, rank: int) -> None:
        super().__init__()
        self.left = Linear(d, rank)
        self.right = Linear(rank, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.right(self.left(x))

    def mix(self, s: BlockState) -> None:
        s.x = s.x + self(s.h)
