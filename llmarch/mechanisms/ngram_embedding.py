"""LongCat's N-gram embeddings: beside the token embedding, splits x (neighbors - 1) hashed lookup tables
of the n-grams ending at each token (orders 2 .. neighbors, `splits` tables per order), table i with
vocab_ratio x vocab_size + 2i + 1 rows (distinct moduli, so that the hashes of one n-gram differ between
tables) and d_model / tables columns; each looked-up row is projected back to d_model and the sum is
added to the token embedding (then scaled by 1 / (1 + tables), which holds no parameter).  Stored once
per model: no layer holds any of it."""

from __future__ import annotations

from ..ir import NgramEmbeddingIR
from .base import Box, Mechanism, Weight, linear


class NgramEmbedding(Mechanism):
    slot = "ngram_embedding"
    in_layers = False  # model-level weights only

    def __init__(self, n: NgramEmbeddingIR, vocab_size: int) -> None:
        self.ir, self.vocab_size = n, vocab_size

    def table_rows(self, i: int) -> int:
        """Rows of table i: LongCat's modulus vocab_ratio x vocab_size + 2i + 1."""
        return self.ir.vocab_ratio * self.vocab_size + 2 * i + 1

    def dim(self, d_model: int) -> int:
        return d_model // self.ir.tables

    def model_module(self, d_model: int):
        from .ngram_embedding_torch import NgramEmbeddings

        return NgramEmbeddings(d_model, self.ir, [self.table_rows(i) for i in range(self.ir.tables)])

    def weights(self, d_model: int) -> list[Weight]:
        return []

    def model_weights(self, d_model: int) -> list[Weight]:
        dim, out = self.dim(d_model), []
        for i in range(self.ir.tables):
            # a lookup, not a product
            out.append(Weight(f"ngram_embed.{i}.weight", (self.table_rows(i), dim), False, "ngram_embedding"))
        for i in range(self.ir.tables):
            out += linear(f"ngram_proj.{i}", dim, d_model, "ngram_projection", split="replicated")
        return out

    def box(self) -> Box:
        n = self.ir
        rows = f"{n.vocab_ratio} x {self.vocab_size:,} (+2i+1) rows"
        text = f"N-gram embeddings: {n.tables} hashed tables (orders 2-{n.neighbors}, {n.splits} each), {rows}"
        return Box("extras", place="around", embedding_notes=(("ngram", text),))

    def panel_extra(self) -> tuple[str, int]:
        return "n-gram embedding tables", self.ir.tables
