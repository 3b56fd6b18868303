"""The lightning indexer's torch module (DeepSeek V3.2), a part its attention's module carries."""

from __future__ import annotations

import torch
from torch import nn

from ..ir import AttentionIR
from .primitives import Linear, Norm, repeat_heads, split_heads, with_cache


class IndexerModule(nn.Module):
    """Scores which tokens each query attends to: queries from the query latent, one key shared by
    all indexer heads, per-head weights."""

    def __init__(self, d: int, a: AttentionIR) -> None:
        super().__init__()
        self.ir = a
        self.wq = Linear(a.q_lora_rank or d, a.indexer_heads * a.indexer_head_dim)
        self.wk = Linear(d, a.indexer_head_dim)
        self.k_norm = Norm(a.indexer_head_dim, bias=True)
        self.weights_proj = Linear(d, a.indexer_heads)

    def forward(self, x: torch.Tensor, latent_q: torch.Tensor, n_keys: int) -> torch.Tensor:
        """Scores of every query against every key; returns the kept keys' indices (B, S, selected)."""
        a = self.ir
        B, S, _ = x.shape
        Hi = a.indexer_heads
        q = split_heads(self.wq(latent_q), Hi, a.indexer_head_dim)  # (B*Hi, S, dim)
        k = repeat_heads(with_cache(self.wk(x), n_keys), B, 1, Hi)  # one key shared by all heads: (B*Hi, n_keys, dim)
        scores = torch.bmm(q, k.transpose(1, 2)).relu().reshape(B, Hi, S, n_keys)
        weights = self.weights_proj(x).transpose(1, 2).unsqueeze(-1)  # (B, Hi, S, 1): element-wise from here
        combined = (scores * weights).sum(1)  # (B, S, n_keys)
        return torch.topk(combined, min(n_keys, a.indexer_topk), dim=-1).indices
