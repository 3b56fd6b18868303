"""Latent MoE (Nemotron 3 Super's `moe_latent_size`): a MoE whose routed experts run in a latent of width l.

Every token is projected d_model -> l before the routed experts and l -> d_model after them; the
experts read and write l-wide vectors (a 4,096-wide model with l = 1,024 holds a quarter of the expert
parameters a plain MoE of the same expert count and size would).  The router and the shared experts
read the token at d_model, as in a plain MoE.  The two projections are dense (every token passes
through both), so they are counted, active and in FLOPs, with `dense_ffn`."""

from __future__ import annotations

import dataclasses

from .base import Box, Weight, linear
from .moe import MoE


class LatentMoE(MoE):
    def panel(self) -> dict:
        return {**super().panel(), "latent_dim": self.ir.latent_dim}

    def box(self) -> Box:
        """The MoE's box, titled as latent, with the latent's width before the shared expert's."""
        box = super().box()
        notes = list(box.notes)
        at = next((i for i, (key, _) in enumerate(notes) if key == "d_shared"), len(notes))
        notes.insert(at, ("expert_latent", f"experts in a {self.ir.latent_dim:,} latent (projected down and up)"))
        return dataclasses.replace(box, title="Latent mixture of experts", notes=tuple(notes))

    def module(self, d_model: int):
        from .latent_moe_torch import LatentMoEModule

        return LatentMoEModule(d_model, self.ir)

    def weights(self, d_model: int) -> list[Weight]:
        m, p, latent = self.ir, f"{self.slot}.", self.ir.latent_dim
        assert latent is not None
        down = linear(f"{p}latent_down", d_model, latent, "dense_ffn", m.latent_bias)
        up = linear(f"{p}latent_up", latent, d_model, "dense_ffn", m.latent_bias, split="row")
        return self.router_weights(d_model) + down + self.expert_weights(latent) + up + self.shared_weights(d_model)
