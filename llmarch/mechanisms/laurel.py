"""Gemma 3n's LAuReL: a low-rank learned residual (d -> rank -> d); its norm is the layer's `laurel_norm`."""

from __future__ import annotations

from .base import Box, Mechanism, Weight, linear


class Laurel(Mechanism):
    slot = "laurel"
    norm_prefix = "laurel"
    sublayer = False
    conventions = ("layer_extras",)  # flops' line on Gemma 3n's extras

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def module(self, d_model: int):
        from .laurel_torch import LaurelModule

        return LaurelModule(d_model, self.rank)

    def weights(self, d_model: int) -> list[Weight]:
        p = f"{self.slot}."
        return [
            *linear(f"{p}left", d_model, self.rank, "laurel", split="replicated"),
            *linear(f"{p}right", self.rank, d_model, "laurel", split="replicated"),
        ]

    def box(self) -> Box:
        return Box("extras", notes=(("laurel", f"LAuReL residual, rank {self.rank}"),), place="beside_mixer")

    def panel_extra(self) -> tuple[str, int]:
        return "LAuReL rank", self.rank
