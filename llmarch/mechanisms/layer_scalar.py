"""Gemma 4's layer scalar: a learned scalar multiplying each block's output, stored as a buffer (as
transformers' `Gemma4TextDecoderLayer.layer_scalar` is), so it counts under buffers, not parameters, and
the block gives it no norm.  The diagram draws none (it is neither a mixer, an FFN nor a model-level
extra)."""

from __future__ import annotations

from .base import Mechanism, Weight


class LayerScalar(Mechanism):
    slot = "layer_scalar"
    normed = False

    @property
    def identity(self) -> tuple:
        return (type(self).__name__,)

    def module(self, d_model: int):
        from .layer_scalar_torch import LayerScalarModule

        return LayerScalarModule()

    def weights(self, d_model: int) -> list[Weight]:
        return []

    def buffers(self) -> int:
        return 1
