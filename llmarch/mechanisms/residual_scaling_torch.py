"""ZAYA's residual scaling's torch modules for the meta build, reached through `ResidualScaling.module`
and `.model_module`.  Its work is element-wise, which no FLOP counter counts: the forwards apply it to
the stream once per layer and once after the embedding, so that the parameters are used."""

from __future__ import annotations

from torch import nn

from .primitives import BlockState, ModelPart, ModelState, Part, param


class _Vectors(nn.Module):
    """The four vectors of one residual add: (out + hidden_states_bias) * hidden_states_scale +
    (x + residual_bias) * residual_scale."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.hidden_states_scale = param(d)
        self.hidden_states_bias = param(d)
        self.residual_scale = param(d)
        self.residual_bias = param(d)


class ResidualScaleModule(Part):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.mixer = _Vectors(d)
        self.ffn = _Vectors(d)

    def leave(self, s: BlockState) -> None:
        v = self.ffn
        s.x = (s.x + v.residual_bias) * v.residual_scale  # element-wise, as the block's last add scales it


class InputScale(ModelPart):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.input_scale = nn.Module()
        self.input_scale.scale = param(d)
        self.input_scale.bias = param(d)

    def enter(self, s: ModelState) -> None:
        s.x = (s.x + self.input_scale.bias) * self.input_scale.scale
