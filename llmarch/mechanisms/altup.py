"""Gemma 3n's AltUp: n copies of the residual stream; each layer predicts the copies from the one it
computes (router d -> n, prediction coefficients n -> n x n) and corrects them afterwards
(correction coefficients n -> n, an output scale); its router norm is the layer's `altup_norm`."""

from __future__ import annotations

from .base import Box, Mechanism, Weight, linear, matrix_macs, vector


class AltUp(Mechanism):
    slot = "altup"
    norm_prefix = "altup"
    sublayer = False
    conventions = ("layer_extras",)  # flops' line on Gemma 3n's extras

    def __init__(self, n_inputs: int) -> None:
        self.n = n_inputs

    def module(self, d_model: int):
        from .altup_torch import AltUpModule

        return AltUpModule(d_model, self.n)

    def model_module(self, d_model: int):
        from .altup_torch import AltUpStreams

        return AltUpStreams(d_model, self.n)

    def weights(self, d_model: int) -> list[Weight]:
        n, p = self.n, f"{self.slot}."
        return [
            *linear(f"{p}router", d_model, n, "altup", split="replicated"),
            *linear(f"{p}prediction_coefs", n, n * n, "altup", split="replicated"),
            *linear(f"{p}correction_coefs", n, n, "altup", split="replicated"),
            *vector(f"{p}output_scale", (d_model,), "altup"),
        ]

    def model_weights(self, d_model: int) -> list[Weight]:
        # the extra streams are projected from the embedding at the start and back at the end
        return [
            w
            for i in range(self.n - 1)
            for side in ("altup_in", "altup_out")
            for w in linear(f"{side}.{i}", d_model, d_model, "altup", split="replicated")
        ]

    def token_macs(self, d_model: int) -> dict[str, int]:
        out = matrix_macs(self.weights(d_model))
        # the router runs twice (predict, correct), and mixing the n streams with the n x n
        # coefficients is d x n^2 more; no weight holds either
        out["altup"] += d_model * self.n + d_model * self.n * self.n
        return out

    def box(self) -> Box:
        return Box("extras", notes=(("altup", f"AltUp: predict and correct {self.n} streams"),), place="around")

    def panel_extra(self) -> tuple[str, int]:
        return "AltUp streams", self.n
