"""The parallel block, a residual mechanism of the block (Cohere's Command R, Command A, Command A+ and
Tiny Aya; GPT-J before them): the mixer and the FFN read the same normed input and both add to the
residual in one step,

    x + mixer(norm(x)) + ffn(norm(x))

instead of the sequential x' = x + mixer(norm1(x)), x' + ffn(norm2(x')).  One norm per layer
(`input_norm`, transformers' `input_layernorm`) instead of two; the matrices, the FLOPs and the
cache are the mixer's and the FFN's as in a sequential block.  What changes is the norm count, the
panel's block entry and the diagram's box (both branches beside each other, one add)."""

from __future__ import annotations

from .base import Weight, norm


class ParallelBlock:
    """The block's residual mechanism `parallel`: one norm, mixer and FFN side by side."""

    norm_name = "input_norm"  # the one norm, read by both branches
    label = "parallel attention + FFN"

    def norms(self, d_model: int, bias: bool) -> list[Weight]:
        """The layer's one residual norm (the mixer's slot holds it; the FFN has none of its own)."""
        return norm(self.norm_name, d_model, "norms", bias)

    def panel(self, norm_kind: str) -> tuple[str, str]:
        """The panel's block entry: (JSON value, text)."""
        return "parallel", f"mixer and FFN in parallel from one {norm_kind}, added to the residual together"

    def box(self, norm_kind: str, mixer: str, ffn: str) -> dict[str, str]:
        """What the diagram's block shows: the one norm, the two branches it feeds and the one add."""
        return {
            "norm": f"{norm_kind} (one, read by both)",
            "branches": f"{mixer} ‖ {ffn}",
            "add": "x + mixer + FFN",
        }
