"""DeepSeek V4's compressed attention's torch modules for the meta build, reached through
`CompressedAttention.module`: the attention of a sliding-only, csa or hca layer and, on csa / hca, its
compressor (on csa with the lightning indexer and the indexer's own compressor).

Prefill scores every query against all S window keys (the square, as kernels do before masking) and all
S // ratio entries (csa: the top-k of them its indexer picks); decode against min(ctx, window) keys and
ctx // ratio entries.  `CompressedAttention.traced_excess_macs` removes the difference analytically.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ir import AttentionIR
from .primitives import Linear, MixerPart, Norm, keep, merge_heads, param, repeat_heads, split_heads, with_cache


class Compressor(nn.Module):
    """The compressor of a csa / hca layer, and on csa its lightning indexer (with the indexer's own
    compressor at its head dim).  The pooling (a softmax over each window, per channel) is element-wise and
    left out: what a counter sees are the projections of the new tokens and, in the indexer, the scores."""

    def __init__(self, d: int, a: AttentionIR, width: int, dim: int, ratio: int, indexer: bool = False) -> None:
        super().__init__()
        self.kv_proj = Linear(d, width)
        self.gate_proj = Linear(d, width)
        self.position_bias = param(ratio, width)
        self.kv_norm = Norm(dim)
        if indexer:
            self.indexer = Compressor(d, a, 2 * a.indexer_head_dim, a.indexer_head_dim, ratio)
            self.indexer.q_b_proj = Linear(a.q_lora_rank, a.indexer_heads * a.indexer_head_dim)
            self.indexer.weights_proj = Linear(d, a.indexer_heads)

    def forward(self, x: torch.Tensor, entries: int) -> torch.Tensor:
        """The `entries` compressed entries the attention reads (B, entries, dim): the closed windows of this
        prefill, or the cache's in decode; tied to this step's projections."""
        B = x.shape[0]
        pooled = x.new_empty(B, entries, self.kv_norm.weight.shape[0])
        return keep(pooled, self.kv_proj(x), self.gate_proj(x))

    def select(self, x: torch.Tensor, latent: torch.Tensor, entries: int, kept: int) -> torch.Tensor:
        """The indexer: scores of every query against every entry, summed over its heads with weights from
        x; returns the `kept` entries each query sees (B, S, kept)."""
        B, S, _ = x.shape
        heads, dim = self.weights_proj.weight.shape[0], self.kv_norm.weight.shape[0]
        keys = self(x, entries)  # (B, entries, dim)
        q = self.q_b_proj(latent).reshape(B, S * heads, dim)  # (B, S*heads, dim)
        scores = torch.bmm(q, keys.transpose(1, 2)).relu().reshape(B, S, heads, entries)
        weights = self.weights_proj(x).unsqueeze(-1)  # (B, S, heads, 1): element-wise from here
        return torch.topk((scores * weights).sum(2), kept, dim=-1).indices


class CompressedAttentionModule(MixerPart):
    """A query latent, one K=V head over a window, on csa / hca layers compressed entries (csa: the
    indexer's top-k of them), sinks, and the grouped low-rank output projection."""

    def __init__(self, d: int, a: AttentionIR) -> None:
        super().__init__()
        self.ir = a
        q_out = a.n_heads * a.head_dim
        self.q_a_proj = Linear(d, a.q_lora_rank)
        self.q_a_norm = Norm(a.q_lora_rank)
        self.q_b_proj = Linear(a.q_lora_rank, q_out)
        self.kv_proj = Linear(d, a.head_dim)
        self.kv_norm = Norm(a.head_dim)
        self.o_a_proj = Linear(q_out // a.o_groups, a.o_groups * a.o_lora_rank)  # one block per group
        self.o_b_proj = Linear(a.o_groups * a.o_lora_rank, d)
        self.sinks = param(a.n_heads)
        if a.compress_ratio:
            width = (2 if a.compress_overlap else 1) * a.head_dim  # csa: two overlapping series per token
            indexer = bool(a.indexer_heads)
            self.compressor = Compressor(d, a, width, a.head_dim, a.compress_ratio, indexer)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        a: AttentionIR = self.ir
        B, S, _ = x.shape
        H, hd = a.n_heads, a.head_dim
        latent = self.q_a_proj(x)  # (B, S, q_lora_rank)
        q = split_heads(self.q_b_proj(latent), H, hd)  # (B*H, S, hd)
        kv = with_cache(self.kv_proj(x), S if S > 1 else min(ctx, a.window))  # (B, keys, hd): K = V
        kv = repeat_heads(kv, B, 1, H)  # (B*H, keys, hd)
        scores = [torch.bmm(q, kv.transpose(1, 2))]  # (B*H, S, keys)
        values = [kv]
        entries = (S if S > 1 else ctx) // a.compress_ratio if a.compress_ratio else 0
        unused: list[torch.Tensor] = []  # projections of tokens whose window has not closed: state, not scores
        if a.compress_ratio and not entries:
            unused.append(self.compressor(x, 0))
            if a.indexer_heads:
                ix = self.compressor.indexer
                unused += [ix(x, 0), ix.q_b_proj(latent), ix.weights_proj(x)]
        if entries:
            pooled = self.compressor(x, entries)  # (B, entries, hd)
            if a.indexer_heads:
                kept = min(entries, a.indexer_topk)
                idx = self.compressor.indexer.select(x, latent, entries, kept)  # (B, S, kept)
                index = idx.reshape(B, S * kept, 1).expand(B, S * kept, hd)
                chosen = torch.gather(pooled, 1, index).reshape(B, 1, S, kept, hd)
                chosen = chosen.expand(B, H, S, kept, hd).reshape(B * H * S, kept, hd)  # per query, per head
                one = q.reshape(B * H * S, 1, hd)
                scores.append(torch.bmm(one, chosen.transpose(1, 2)).reshape(B * H, S, kept))
                values.append(chosen)
            else:
                pooled = repeat_heads(pooled, B, 1, H)  # (B*H, entries, hd)
                scores.append(torch.bmm(q, pooled.transpose(1, 2)))
                values.append(pooled)
        # one softmax over the window's keys and the entries together, split back per source
        probs = torch.cat(scores, dim=-1).softmax(-1).split([s.shape[-1] for s in scores], dim=-1)
        out = torch.bmm(probs[0], values[0])  # (B*H, S, hd)
        if len(values) > 1 and a.indexer_heads:
            kept = probs[1].shape[-1]
            # each query's own kept entries: (B*H*S, 1, kept) @ (B*H*S, kept, hd) -> (B*H, S, hd)
            out = out + torch.bmm(probs[1].reshape(B * H * S, 1, kept), values[1]).reshape(B * H, S, hd)
        elif len(values) > 1:
            out = out + torch.bmm(probs[1], values[1])
        g = a.o_groups
        grouped = merge_heads(out, B, H).reshape(B * S, g, H * hd // g).transpose(0, 1)  # (g, B*S, H*hd/g)
        blocks = self.o_a_proj.weight.reshape(g, a.o_lora_rank, H * hd // g).transpose(1, 2)  # (g, H*hd/g, r)
        low = torch.bmm(grouped, blocks).transpose(0, 1).reshape(B, S, g * a.o_lora_rank)  # (B, S, g*r)
        return keep(self.o_b_proj(low), *unused)
