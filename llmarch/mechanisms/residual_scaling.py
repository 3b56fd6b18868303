"""ZAYA's learned residual scaling: each residual add of a layer is (out + b) * s + (x + c) * r, four
vectors of d_model per sublayer (after the mixer and after the FFN), and the embedding is scaled and
shifted once before the first layer.  Per-channel affine vectors, counted with the norms."""

from __future__ import annotations

from .base import Box, Mechanism, Weight, vector

SUBLAYERS = ("mixer", "ffn")  # transformers: post_attention_residual_scale, post_mlp_residual_scale
VECTORS = ("hidden_states_scale", "hidden_states_bias", "residual_scale", "residual_bias")


class ResidualScaling(Mechanism):
    slot = "residual_scale"
    norm_prefix = ""  # it is the residual add itself: the block gives it no norm
    sublayer = False
    ir = None

    def module(self, d_model: int):
        from .residual_scaling_torch import ResidualScaleModule

        return ResidualScaleModule(d_model)

    def model_module(self, d_model: int):
        from .residual_scaling_torch import InputScale

        return InputScale(d_model)

    def weights(self, d_model: int) -> list[Weight]:
        return [w for s in SUBLAYERS for v in VECTORS for w in vector(f"{self.slot}.{s}.{v}", (d_model,), "norms")]

    def model_weights(self, d_model: int) -> list[Weight]:
        return [*vector("input_scale.scale", (d_model,), "norms"), *vector("input_scale.bias", (d_model,), "norms")]

    def box(self) -> Box:
        return Box("extras", notes=(("resscale", "learned residual scaling"),), place="around")

    def panel_extra(self) -> tuple[str, str]:
        return "residual scaling", "learned"
