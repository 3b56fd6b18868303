"""Gemma 3n's per-layer embeddings: a second lookup table with a slot of `dim` per layer, added to
the token embedding projected to every layer's slot; each layer gates its slot in (d -> dim) and
projects it back (dim -> d), followed by a norm of its own."""

from __future__ import annotations

from .base import Box, Mechanism, Weight, linear, norm


class PerLayerInputs(Mechanism):
    slot = "per_layer_input"
    norm_prefix = "per_layer_input"
    sublayer = False
    conventions = ("layer_extras",)  # flops' line on Gemma 3n's extras

    def __init__(self, dim: int, vocab: int, n_layers: int, norm_bias: bool) -> None:
        self.dim, self.vocab, self.n_layers, self.norm_bias = dim, vocab, n_layers, norm_bias

    def module(self, d_model: int):
        from .per_layer_inputs_torch import PerLayerInputModule

        return PerLayerInputModule(d_model, self.dim)

    def model_module(self, d_model: int):
        from .per_layer_inputs_torch import PerLayerEmbeddings

        return PerLayerEmbeddings(d_model, self.dim, self.vocab, self.n_layers, self.norm_bias)

    def weights(self, d_model: int) -> list[Weight]:
        p = f"{self.slot}."
        return [
            *linear(f"{p}gate", d_model, self.dim, "per_layer_input"),
            *linear(f"{p}proj", self.dim, d_model, "per_layer_input", split="row"),
        ]

    def model_weights(self, d_model: int) -> list[Weight]:
        width = self.n_layers * self.dim
        return [
            Weight("per_layer_embed.weight", (self.vocab, width), False, "per_layer_embedding"),  # a lookup
            *linear("per_layer_input", d_model, width, "per_layer_input"),  # the token embedding to every slot
            *norm("per_layer_input_norm", self.dim, "norms", self.norm_bias),
        ]

    def box(self) -> Box:
        table = f"per-layer embeddings {self.vocab:,} x {self.n_layers} x {self.dim}"
        return Box(
            "extras",
            notes=(("ple", f"per-layer input {self.dim} wide"),),
            place="after_ffn",
            embedding_notes=(("ple", table),),
        )

    def panel_extra(self) -> tuple[str, int]:
        return "per-layer embeddings", self.dim
