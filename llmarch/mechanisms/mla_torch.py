"""Multi-head latent attention's torch module for the meta build, reached through
`MultiHeadLatentAttention.module`: the naive form, K and V decompressed from the latent once per
token, as `mla.py` counts it."""

from __future__ import annotations

import torch

from ..ir import AttentionIR
from .attention_torch import add_qk_norms, keys_traced
from .indexer_torch import IndexerModule
from .primitives import Linear, MixerPart, Norm, attend, merge_heads, param, split_heads, with_cache


class MultiHeadLatentAttentionModule(MixerPart):
    """DeepSeek's MLA: low-rank query, a shared latent for keys and values, a decoupled RoPE key; with
    an indexer, each query attends to the top-k keys it selects."""

    def __init__(self, d: int, a: AttentionIR) -> None:
        super().__init__()
        self.ir = a
        q_out = a.n_heads * a.head_dim
        if a.q_lora_rank:
            self.q_a_proj = Linear(d, a.q_lora_rank)
            self.q_a_norm = Norm(a.q_lora_rank)
            self.q_b_proj = Linear(a.q_lora_rank, q_out)
        else:
            self.q_proj = Linear(d, q_out)
        self.kv_a_proj = Linear(d, a.kv_lora_rank + a.qk_rope_head_dim)  # the latent and the shared rope key
        self.kv_a_norm = Norm(a.kv_lora_rank)
        self.kv_b_proj = Linear(a.kv_lora_rank, a.n_heads * (a.qk_nope_head_dim + a.v_head_dim))
        self.o_proj = Linear(a.n_heads * a.v_head_dim, d, a.o_bias)
        add_qk_norms(self, a)
        if a.sinks:
            self.sinks = param(a.n_heads)
        if a.indexer_heads:
            self.indexer = IndexerModule(d, a)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        a = self.ir
        B, S, _ = x.shape
        if a.q_lora_rank:
            latent_q = self.q_a_proj(x)
            q = self.q_b_proj(latent_q)
        else:
            latent_q = x
            q = self.q_proj(x)
        kv_a = self.kv_a_proj(x)
        latent, k_rope = kv_a.split([a.kv_lora_rank, a.qk_rope_head_dim], dim=-1)
        # (B, S, H, nope + v): each head's key part and value decompressed from the latent
        kv = self.kv_b_proj(latent).reshape(B, S, a.n_heads, a.qk_nope_head_dim + a.v_head_dim)
        k_nope, v = kv.split([a.qk_nope_head_dim, a.v_head_dim], dim=-1)
        # the one rope key joins every head's key: (B, S, H, head_dim)
        k = torch.cat([k_nope, k_rope.unsqueeze(2).expand(B, S, a.n_heads, a.qk_rope_head_dim)], dim=-1)
        q = split_heads(q, a.n_heads, a.head_dim)  # (B*H, S, head_dim)
        k = split_heads(k.reshape(B, S, -1), a.n_heads, a.head_dim)
        v = split_heads(v.reshape(B, S, -1), a.n_heads, a.v_head_dim)
        n_keys = keys_traced(a, S, ctx)
        k, v = with_cache(k, n_keys), with_cache(v, n_keys)  # (B*H, n_keys, dim)
        if a.indexer_topk:
            if a.indexer_heads:
                idx = self.indexer(x, latent_q, n_keys)  # (B, S, selected): the keys each query keeps
            else:  # a shared-indexer layer reuses an earlier layer's selection: as many keys, no scoring here
                kept = min(n_keys, a.indexer_topk)
                idx = torch.arange(kept, device=x.device).expand(B, S, kept)
            selected = idx.shape[-1]
            H = a.n_heads

            def gather(t: torch.Tensor, dim: int) -> torch.Tensor:
                """(B*H, n_keys, dim) -> (B*H*S, selected, dim): each query's own selected keys."""
                t = t.reshape(B, H, 1, n_keys, dim).expand(B, H, S, n_keys, dim)
                index = idx.reshape(B, 1, S, selected, 1).expand(B, H, S, selected, dim)
                return torch.gather(t, 3, index).reshape(B * H * S, selected, dim)

            out = attend(q.reshape(B * H * S, 1, a.head_dim), gather(k, a.head_dim), gather(v, a.v_head_dim))
            out = out.reshape(B * H, S, a.v_head_dim)
        else:
            out = attend(q, k, v)
        return self.o_proj(merge_heads(out, B, a.n_heads))
