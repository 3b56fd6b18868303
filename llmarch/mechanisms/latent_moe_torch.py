"""The latent MoE's torch module for the meta build, reached through `LatentMoE.module`: the MoE's
router, stacked experts and shared experts, with the routed experts built at the latent width l and
run between `latent_down` (d -> l) and `latent_up` (l -> d)."""

from __future__ import annotations

import torch

from ..ir import MoEIR
from .moe_torch import MoEModule
from .primitives import Linear


class LatentMoEModule(MoEModule):
    def __init__(self, d: int, m: MoEIR) -> None:
        assert m.latent_dim is not None
        super().__init__(d, m, expert_width=m.latent_dim)
        self.latent_down = Linear(d, m.latent_dim, m.latent_bias)
        self.latent_up = Linear(m.latent_dim, d, m.latent_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The router reads the token at d; the chosen experts read and write its latent."""
        B, S, d = x.shape
        tokens = x.reshape(B * S, d)
        latent = self.latent_down(tokens)  # (B*S, l): the routed experts' input
        routed = self.routed(latent, self.router(tokens))  # (B*S, l)
        return self.latent_up(routed).reshape(B, S, d) + self.shared_out(x)  # (B, S, d)
