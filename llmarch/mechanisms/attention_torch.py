"""Attention's torch module for the meta build (MHA / GQA / MQA with their options), reached through
`Attention.module`; the counts it is checked against are `attention.py`'s.

Prefill computes the full S x S square of scores, as real kernels do before masking; the causal,
window and chunk discount is removed analytically (`Attention.traced_excess_macs`).  Decode sees
exactly the keys the kind keeps.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ir import AttentionIR
from .primitives import Linear, MixerPart, Norm, attend, keep, merge_heads, param, repeat_heads, split_heads, with_cache


def keys_traced(a: AttentionIR, S: int, ctx: int) -> int:
    """Keys each query sees in the traced forward: the full square in prefill; exact in decode (a
    sparse attention's top-k is gathered by its forward, not here)."""
    if S > 1:
        return S
    if a.window:
        return min(ctx, a.window_keys)
    if a.chunk:
        return (ctx - 1) % a.chunk + 1
    return ctx


def add_qk_norms(module: nn.Module, a: AttentionIR, key_norm: bool = True) -> None:
    """QK-norm weights; `key_norm=False` where the layer computes no keys (it reuses another layer's KV)."""
    if a.qk_norm == "per_head":
        module.q_norm = Norm(a.head_dim)
        if key_norm:
            module.k_norm = Norm(a.head_dim)
    elif a.qk_norm == "whole":
        module.q_norm = Norm(a.n_heads * a.head_dim)
        if key_norm:
            module.k_norm = Norm(a.n_kv_heads * a.head_dim)


def add_cca(module: nn.Module, d: int, a: AttentionIR) -> None:
    """Compressed convolutional attention's weights (ZAYA's ZayaCCAProjection and ZayaQKNorm.temp)."""
    half = a.n_kv_heads * a.v_head_dim // 2
    channels = (a.n_heads + a.n_kv_heads) * a.head_dim
    depthwise, grouped = a.cca_kernels
    module.v_proj_current = Linear(d, half, a.qkv_bias)
    module.v_proj_delayed = Linear(d, half, a.qkv_bias)
    module.conv_qk_depthwise = nn.Module()
    module.conv_qk_depthwise.weight = param(channels, 1, depthwise)  # one filter per channel
    module.conv_qk_depthwise.bias = param(channels)
    module.conv_qk_grouped = nn.Module()
    module.conv_qk_grouped.weight = param(channels, a.head_dim, grouped)  # one group per q or k head
    module.conv_qk_grouped.bias = param(channels)
    module.temp = param(a.n_kv_heads)


def cca_qkv(module: nn.Module, a: AttentionIR, x: torch.Tensor, q: torch.Tensor):
    """q, k and v of compressed convolutional attention.  Its causal convolutions over q and k (taps 2 and
    2 in ZAYA) are short convolutions, which the FLOP convention excludes, so the forward holds their weights
    and does not run them (as the linear mixers' short convolutions); the values' second half comes from the
    previous token's projection.  Returns (B, S, H*hd), (B, S, H_kv*hd), (B, S, H_kv*hd)."""
    B = x.shape[0]
    k = module.k_proj(x)
    current, delayed = module.v_proj_current(x), module.v_proj_delayed(x)
    delayed = torch.cat([delayed.new_zeros(B, 1, delayed.shape[-1]), delayed[:, :-1]], dim=1)  # shift by one
    return q, k, torch.cat([current, delayed], dim=-1)  # as transformers concatenates them: (B, S, H_kv*hd)


class AttentionModule(MixerPart):
    """MHA / GQA / MQA with optional QK-norm, biases, sinks and output gate.  A layer that reuses an
    earlier layer's KV (`kv_shared`, Gemma 3n) has no key/value projections and no key norm; where
    the values are the keys (`k_eq_v`) there is no value projection."""

    def __init__(self, d: int, a: AttentionIR, kv_shared: bool = False) -> None:
        super().__init__()
        self.ir = a
        self.kv_shared = kv_shared
        q_out = a.n_heads * a.head_dim * (2 if a.output_gate == "elementwise" else 1)  # the gate rides on q
        self.q_proj = Linear(d, q_out, a.qkv_bias)
        if not kv_shared:
            self.k_proj = Linear(d, a.n_kv_heads * a.head_dim, a.qkv_bias)
            if a.cca_kernels is not None:
                add_cca(self, d, a)
            elif a.k_eq_v is None:  # otherwise the keys serve as the values
                self.v_proj = Linear(d, a.n_kv_heads * a.v_head_dim, a.qkv_bias)
        self.o_proj = Linear(a.n_heads * a.v_head_dim, d, a.o_bias)
        if a.output_gate == "headwise":
            self.gate_proj = Linear(d, a.n_heads)
        add_qk_norms(self, a, key_norm=not kv_shared)
        if a.sinks:
            self.sinks = param(a.n_heads)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        a = self.ir
        B, S, _ = x.shape
        q = self.q_proj(x)
        if a.output_gate == "elementwise":
            q, gate = q.split(a.n_heads * a.head_dim, dim=-1)
        if self.kv_shared:  # keys and values come from an earlier layer's cache: no projection here
            k = x.new_empty(B, S, a.n_kv_heads * a.head_dim)
            v = x.new_empty(B, S, a.n_kv_heads * a.v_head_dim)
        elif a.cca_kernels is not None:
            q, k, v = cca_qkv(self, a, x, q)
        else:
            k = self.k_proj(x)
            v = k if a.k_eq_v is not None else self.v_proj(x)
        n_keys = keys_traced(a, S, ctx)
        q = split_heads(q, a.n_heads, a.head_dim)  # (B*H, S, head_dim)
        # (B*H_kv, S, dim) with the cached keys before them, each KV head repeated for its query heads: (B*H, n_keys, dim)
        k = repeat_heads(with_cache(split_heads(k, a.n_kv_heads, a.head_dim), n_keys), B, a.n_kv_heads, a.n_heads)
        v = repeat_heads(with_cache(split_heads(v, a.n_kv_heads, a.v_head_dim), n_keys), B, a.n_kv_heads, a.n_heads)
        out = merge_heads(attend(q, k, v), B, a.n_heads)  # (B, S, H * v_head_dim)
        if a.output_gate == "elementwise":
            out = out * torch.sigmoid(gate)
        elif a.output_gate == "headwise":
            out = keep(out, self.gate_proj(x))
        return self.o_proj(out)
