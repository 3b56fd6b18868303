"""Gated DeltaNet's torch module for the meta build, reached through `GatedDeltaNet.module`."""

from __future__ import annotations

import torch
from torch import nn

from ..ir import GatedDeltaNetIR
from .primitives import Linear, MixerPart, Norm, keep, merge_heads, param, repeat_heads, split_heads
from .recurrence_torch import delta_rule


class GatedDeltaNetModule(MixerPart):
    def __init__(self, d: int, g: GatedDeltaNetIR) -> None:
        super().__init__()
        self.ir = g
        key_dim, value_dim = g.n_k_heads * g.head_k_dim, g.n_v_heads * g.head_v_dim
        self.in_proj_qkvz = Linear(d, 2 * key_dim + 2 * value_dim)  # q, k, v and the gate z
        self.in_proj_ba = Linear(d, 2 * g.n_v_heads)  # beta and the decay input a
        self.conv1d = nn.Module()
        self.conv1d.weight = param(2 * key_dim + value_dim, 1, g.conv_kernel)  # depthwise over q, k, v
        self.dt_bias = param(g.n_v_heads)
        self.A_log = param(g.n_v_heads)
        self.norm = Norm(g.head_v_dim)
        self.out_proj = Linear(value_dim, d)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        g = self.ir
        B, S, _ = x.shape
        key_dim, value_dim = g.n_k_heads * g.head_k_dim, g.n_v_heads * g.head_v_dim
        q, k, v, z = self.in_proj_qkvz(x).split([key_dim, key_dim, value_dim, value_dim], dim=-1)
        beta_and_decay = self.in_proj_ba(x)
        # (B, S, Hk*dk) -> (B*Hv, S, dk): each key head serves n_v_heads / n_k_heads value heads
        q = repeat_heads(split_heads(q, g.n_k_heads, g.head_k_dim), B, g.n_k_heads, g.n_v_heads)
        k = repeat_heads(split_heads(k, g.n_k_heads, g.head_k_dim), B, g.n_k_heads, g.n_v_heads)
        v = split_heads(v, g.n_v_heads, g.head_v_dim)  # (B*Hv, S, dv)
        out = delta_rule(q, k, v)
        return self.out_proj(keep(merge_heads(out, B, g.n_v_heads) * z, beta_and_decay))
