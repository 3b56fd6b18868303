"""Kimi Delta Attention's torch module for the meta build, reached through `KimiDeltaAttention.module`."""

from __future__ import annotations

import torch
from torch import nn

from ..ir import KdaIR
from .primitives import Linear, MixerPart, Norm, keep, merge_heads, param, split_heads
from .recurrence_torch import delta_rule


class KimiDeltaAttentionModule(MixerPart):
    def __init__(self, d: int, k: KdaIR) -> None:
        super().__init__()
        self.ir = k
        inner = k.n_heads * k.head_dim
        self.q_proj = Linear(d, inner)
        self.k_proj = Linear(d, inner)
        self.v_proj = Linear(d, inner)
        self.conv1d = nn.Module()
        self.conv1d.weight = param(3 * inner, 1, k.conv_kernel)  # q, k and v each have a short conv
        self.dt_bias = param(inner)  # the decay is per channel
        self.A_log = param(k.n_heads)
        self.f_a_proj = Linear(d, k.head_dim)  # low-rank forget gate
        self.f_b_proj = Linear(k.head_dim, inner)
        self.b_proj = Linear(d, k.n_heads)  # beta
        self.g_a_proj = Linear(d, k.head_dim)  # low-rank output gate
        self.g_b_proj = Linear(k.head_dim, inner)
        self.o_norm = Norm(k.head_dim)
        self.o_proj = Linear(inner, d)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        kd = self.ir
        B, S, _ = x.shape
        # (B, S, H*dim) -> (B*H, S, dim) each
        q, k, v = (split_heads(p(x), kd.n_heads, kd.head_dim) for p in (self.q_proj, self.k_proj, self.v_proj))
        forget = self.f_b_proj(self.f_a_proj(x))  # channel-wise decay (low rank)
        beta = self.b_proj(x)
        gate = self.g_b_proj(self.g_a_proj(x))
        out = delta_rule(q, k, v)
        return self.o_proj(keep(merge_heads(out, B, kd.n_heads) * gate, forget, beta))
