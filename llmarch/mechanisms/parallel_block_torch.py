"""The parallel block's torch module for the meta build, reached through `ParallelBlock.module`."""

from __future__ import annotations

from .primitives import BlockState, Part


class ParallelBlockModule(Part):
    """No parameters (its one norm, `input_norm`, is the layer's, as the block gives every mechanism its
    norms): on entering the layer it tells the FFN to read the layer's input beside the mixer, so that
    the layer computes x + mixer(norm(x)) + ffn(norm(x))."""

    def enter(self, s: BlockState) -> None:
        s.parallel = True
