"""Per-layer embeddings' torch modules for the meta build (Gemma 3n), reached through
`PerLayerInputs.module` (how a layer takes its slot in) and `PerLayerInputs.model_module` (the table)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .primitives import BlockState, Embedding, Linear, ModelPart, ModelState, Norm, Part


class PerLayerInputModule(Part):
    """How a layer takes in its per-layer embedding: gate (d -> dim), times the embedding, project back
    (dim -> d); the norm after it is the layer's `per_layer_input_norm`.  It runs after the FFN (and
    after AltUp's correction), adding to every stream but the one the layer computes on."""

    def __init__(self, d: int, dim: int) -> None:
        super().__init__()
        self.gate = Linear(d, dim)
        self.proj = Linear(dim, d)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.gate(x)) * embedding)

    def leave(self, s: BlockState) -> None:
        added = self(s.x, s.layer_input)
        if s.streams is None:
            s.x = s.x + added
        else:
            s.streams = torch.cat([s.streams[:, :, :1], s.streams[:, :, 1:] + added.unsqueeze(2)], dim=2)


class PerLayerEmbeddings(ModelPart):
    """The second lookup table, a slot of `dim` per layer, plus the token embedding projected to every slot."""

    def __init__(self, d: int, dim: int, vocab: int, n_layers: int, norm_bias: bool) -> None:
        super().__init__()
        width = n_layers * dim
        self.per_layer_embed = Embedding(vocab, width)
        self.per_layer_input = Linear(d, width)  # the token embedding projected to every layer's slot
        self.per_layer_input_norm = Norm(dim, norm_bias)
        self.n_layers = n_layers

    def enter(self, s: ModelState) -> None:
        B, S = s.input_ids.shape
        table = F.embedding(s.input_ids, self.per_layer_embed.weight) + self.per_layer_input(s.x)
        s.layer_inputs = list(table.reshape(B, S, self.n_layers, -1).unbind(2))  # one (B, S, dim) per layer
