"""N-gram embeddings' torch modules for the meta build (LongCat), reached through
`NgramEmbedding.model_module`: the hashed tables and their projections, added to the token embedding."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..ir import NgramEmbeddingIR
from .primitives import Embedding, Linear, ModelPart, ModelState


class NgramEmbeddings(ModelPart):
    """`ngram_embed.i` (rows[i], d / tables) and `ngram_proj.i` (d / tables -> d), one pair per table."""

    def __init__(self, d: int, n: NgramEmbeddingIR, rows: list[int]) -> None:
        super().__init__()
        dim = d // n.tables
        self.ngram_embed = nn.ModuleList(Embedding(r, dim) for r in rows)
        self.ngram_proj = nn.ModuleList(Linear(dim, d) for _ in rows)
        self.n, self.rows = n, rows

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The projected n-gram rows summed, (B, S, d).  Each table's ids hash the n-gram of order
        2 + i // splits ending at each token (LongCat's polynomial rolling hash modulo the table's rows);
        on the meta device only their shape matters, so the token id modulo the rows stands for the hash."""
        out = None
        for table, proj, rows in zip(self.ngram_embed, self.ngram_proj, self.rows):
            ids = torch.remainder(input_ids, rows)  # (B, S), as the hash's
            added = proj(F.embedding(ids, table.weight))  # (B, S, dim) -> (B, S, d)
            out = added if out is None else out + added
        return out

    def enter(self, s: ModelState) -> None:
        s.x = (s.x + self(s.input_ids)) / (1 + self.n.tables)
