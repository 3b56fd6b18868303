"""DeepSeek V3.2's lightning indexer: a part an attention can carry (DeepSeek sparse attention).

It scores every earlier token for each query, and the attention then sees only the top-k of them.
"""

from __future__ import annotations

from ..ir import AttentionIR
from .base import Weight, linear, norm


class Indexer:
    label = "lightning indexer"

    def __init__(self, a: AttentionIR) -> None:
        self.heads = a.indexer_heads
        self.head_dim = a.indexer_head_dim
        self.topk = a.indexer_topk
        self.q_in = a.q_lora_rank  # its queries come from the query latent when there is one

    def weights(self, d_model: int, prefix: str) -> list[Weight]:
        # q from the query latent, one key shared by all heads, a LayerNorm (with bias) on it, head weights
        return [
            *linear(f"{prefix}wq", self.q_in or d_model, self.heads * self.head_dim, "attention"),
            *linear(f"{prefix}wk", d_model, self.head_dim, "attention", split="replicated"),
            *norm(f"{prefix}k_norm", self.head_dim, "attention", bias=True),
            *linear(f"{prefix}weights_proj", d_model, self.heads, "attention"),
        ]

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        """The `<arch>.attention.indexer.` keys a GGUF states about it (its attention adds them to its own)."""
        return [
            ("attention.indexer.head_count", (self.heads,), "attention.indexer.n_heads"),
            ("attention.indexer.key_length", (self.head_dim,), "attention.indexer.head_dim"),
            ("attention.indexer.top_k", (self.topk,), "attention.indexer.topk"),
        ]

    def box_note(self) -> str:
        """Its line in its attention's diagram box."""
        return f"indexer {self.heads} heads x {self.head_dim}, top {self.topk:,}"

    def pair_macs(self) -> int:
        """Multiply-adds of scoring one (query, key) pair: one dot product of head_dim per head."""
        return self.heads * self.head_dim
