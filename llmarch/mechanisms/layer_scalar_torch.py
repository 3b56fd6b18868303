"""Gemma 4's layer scalar's torch module for the meta build, reached through `LayerScalar.module`."""

from __future__ import annotations

import torch

from .primitives import META, BlockState, Part


class LayerScalarModule(Part):
    """One element, a buffer as in transformers; it scales the block's output after every part inside the
    block has run (it leaves first, being the last part the layer holds before the model-level extras)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scalar", torch.empty(1, device=META))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x (B, S, d) -> (B, S, d): element-wise, which no counter counts
        return x * self.scalar

    def leave(self, s: BlockState) -> None:
        s.x = self(s.x)
