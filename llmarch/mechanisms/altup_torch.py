"""AltUp's torch modules for the meta build (Gemma 3n), reached through `AltUp.module` (one layer's
coefficients) and `AltUp.model_module` (the extra streams' projections in and out)."""

from __future__ import annotations

import torch
from torch import nn

from .primitives import BlockState, Linear, ModelPart, ModelState, Part, param


class AltUpModule(Part):
    """One layer's AltUp coefficients; its router norm is the layer's `altup_norm`.  It wraps the block:
    it predicts the streams before the mixer and corrects them after the FFN."""

    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.router = Linear(d, n)
        self.prediction_coefs = Linear(n, n * n)
        self.correction_coefs = Linear(n, n)
        self.output_scale = param(d)

    def enter(self, s: BlockState) -> None:
        s.streams = self.predict(s.x)
        s.x = s.streams[:, :, 0]  # the layer computes on the first stream

    def leave(self, s: BlockState) -> None:
        s.streams = self.correct(s.streams, s.x)
        s.x = s.streams[:, :, 0]

    def predict(self, streams: torch.Tensor) -> torch.Tensor:
        """streams (B, S, n, d) -> predicted streams: coefficients from the active stream, then a per-token
        (d x n) @ (n x n) mix of the streams."""
        B, S, n, d = streams.shape
        coefs = self.prediction_coefs(self.router(streams[:, :, 0])).reshape(B * S, n, n)
        mixed = torch.bmm(streams.reshape(B * S, n, d).transpose(1, 2), coefs)  # (B*S, d, n)
        return mixed.transpose(1, 2).reshape(B, S, n, d) + streams

    def correct(self, predicted: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """Spread the active stream's innovation to every stream with per-stream coefficients (element-wise)."""
        coefs = self.correction_coefs(self.router(active))  # (B, S, n)
        innovation = (active - predicted[:, :, 0]).unsqueeze(2)  # (B, S, 1, d)
        return predicted + innovation * coefs.unsqueeze(-1)


class AltUpStreams(ModelPart):
    """The extra residual streams: projected from the embedding, and back before the final norm."""

    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.altup_in = nn.ModuleList(Linear(d, d) for _ in range(n - 1))
        self.altup_out = nn.ModuleList(Linear(d, d) for _ in range(n - 1))

    def enter(self, s: ModelState) -> None:
        s.x = torch.stack([s.x] + [p(s.x) for p in self.altup_in], dim=2)  # (B, S, n, d)

    def leave(self, s: ModelState) -> None:
        x = s.x
        s.x = torch.stack([x[:, :, 0]] + [p(x[:, :, i + 1]) for i, p in enumerate(self.altup_out)], dim=2).mean(2)
