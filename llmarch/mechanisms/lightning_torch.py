"""Lightning attention's torch module for the meta build, reached through `LightningAttention.module`;
parameters named as the publisher's `BailingMoeV2_5LinearAttention` names them."""

from __future__ import annotations

import torch

from ..ir import LightningIR
from .primitives import Linear, MixerPart, Norm, merge_heads, split_heads
from .recurrence_torch import linear_attention


class LightningAttentionModule(MixerPart):
    def __init__(self, d: int, a: LightningIR) -> None:
        super().__init__()
        self.ir = a
        inner = a.n_heads * a.head_dim
        self.query_key_value = Linear(d, 3 * inner, bias=a.qkv_bias)
        if a.qk_norm:
            self.query_layernorm = Norm(a.head_dim)
            self.key_layernorm = Norm(a.head_dim)
        self.g_proj = Linear(d, inner)
        self.g_norm = Norm(inner)  # normalises norm_groups groups of channels; one scale per channel
        self.dense = Linear(inner, d, bias=a.out_bias)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        a = self.ir
        B, S, _ = x.shape
        inner = a.n_heads * a.head_dim
        # (B, S, 3*H*dim) -> three (B, S, H*dim) -> (B*H, S, dim) each; the norms, RoPE and decay are element-wise
        q, k, v = (split_heads(t, a.n_heads, a.head_dim) for t in self.query_key_value(x).split(inner, dim=-1))
        out = merge_heads(linear_attention(q, k, v), B, a.n_heads)  # (B, S, H*dim)
        gate = self.g_proj(x)  # sigmoid(gate) scales the normed output element-wise
        return self.dense(out * gate)
