"""The parallel block, a residual mechanism of the block (Cohere's Command R, Command A, Command A+ and
Tiny Aya; GPT-J before them): the mixer and the FFN read the same normed input and both add to the
residual in one step,

    x + mixer(norm(x)) + ffn(norm(x))

instead of the sequential x' = x + mixer(norm1(x)), x' + ffn(norm2(x')).  One norm per layer
(`input_norm`, transformers' `input_layernorm`) instead of two; the matrices, the FLOPs and the
cache are the mixer's and the FFN's as in a sequential block.  What changes is the norm count, the
panel's block entry, how the layer runs its FFN (`parallel_block_torch`) and the diagram's box (both
branches beside each other, one add)."""

from __future__ import annotations

from ..ir import NormIR
from .base import Box, Mechanism, Weight


class ParallelBlock(Mechanism):
    """The block's residual mechanism `parallel`: one norm of its own (the block gives it `input_norm`,
    as to an extra), no weights; the mixer and the FFN get no norms of their own in its block."""

    slot = "block"
    norm_prefix = "input"  # its one norm, `input_norm`, read by both branches
    sublayer = False
    label = "parallel attention + FFN"

    def __init__(self, norm: NormIR) -> None:
        self.ir = norm

    @property
    def norm_word(self) -> str:
        return "LayerNorm" if self.ir.kind == "layernorm" else "RMSNorm"

    def weights(self, d_model: int) -> list[Weight]:
        return []

    def module(self, d_model: int):
        from .parallel_block_torch import ParallelBlockModule

        return ParallelBlockModule()

    def panel(self) -> tuple[str, str]:
        """The panel's block entry: (JSON value, text)."""
        return "parallel", f"mixer and FFN in parallel from one {self.norm_word}, added to the residual together"

    def box(self) -> Box:
        """The one norm (its title) feeding both branches side by side, and the one add (its note)."""
        return Box("norm", f"{self.norm_word} (one, read by both)", (("residual", "x + mixer + FFN"),), branches=True)
