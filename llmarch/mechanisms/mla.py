"""DeepSeek's multi-head latent attention: a low-rank query, one latent shared by keys and values,
and a decoupled RoPE key.  Counted in its naive form (K and V decompressed once per token); which
keys a query sees is the attention's rule (`attention.keys_seen`)."""

from __future__ import annotations

from typing import Optional

from ..ir import AttentionIR
from .attention import Attention, qk_norm_weights
from .base import Weight, linear, norm


class MultiHeadLatentAttention(Attention):
    @property
    def conventions(self) -> tuple[str, ...]:
        # kvcache's latent line, flops' naive-form line, and the attention's own (a window's line)
        return ("mla",) + super().conventions

    def __init__(self, a: AttentionIR) -> None:
        super().__init__(a)  # a latent is not shared across layers

    @property
    def label(self) -> str:
        return "MLA" + (" + DSA indexer" if self.indexer is not None else "")

    def box_title(self) -> str:
        return "Multi-head latent attention" + (" with sparse indexer" if self.indexer is not None else "")

    def box_rank_notes(self) -> list[tuple[str, str]]:
        a = self.ir
        q_rank = f"{a.q_lora_rank:,}" if a.q_lora_rank else "—"
        return [("mla", f"KV rank {a.kv_lora_rank:,}, query rank {q_rank}, RoPE dim {a.qk_rope_head_dim}")]

    def latent_ranks(self) -> dict[str, Optional[int]]:
        a = self.ir
        return {"q_lora_rank": a.q_lora_rank, "kv_lora_rank": a.kv_lora_rank, "qk_rope_head_dim": a.qk_rope_head_dim}

    def module(self, d_model: int):
        from .mla_torch import MultiHeadLatentAttentionModule

        return MultiHeadLatentAttentionModule(d_model, self.ir)

    def _projections(self, d: int, p: str) -> list[Weight]:
        a = self.ir
        q_out = a.n_heads * a.head_dim
        if a.q_lora_rank:
            out = linear(f"{p}q_a_proj", d, a.q_lora_rank, "attention", split="replicated")
            out += norm(f"{p}q_a_norm", a.q_lora_rank, "attention")
            out += linear(f"{p}q_b_proj", a.q_lora_rank, q_out, "attention")
        else:
            out = linear(f"{p}q_proj", d, q_out, "attention")
        # the latent and the shared rope key come out of one projection
        out += linear(f"{p}kv_a_proj", d, a.kv_lora_rank + a.qk_rope_head_dim, "attention", split="replicated")
        out += norm(f"{p}kv_a_norm", a.kv_lora_rank, "attention")
        out += linear(f"{p}kv_b_proj", a.kv_lora_rank, a.n_heads * (a.qk_nope_head_dim + a.v_head_dim), "attention")
        out += linear(f"{p}o_proj", a.n_heads * a.v_head_dim, d, "attention", a.o_bias, split="row")
        return out + qk_norm_weights(p, a)

    def gguf_parts(self, d_model: int) -> dict[str, tuple[tuple[int, ...], ...]]:
        # llama.cpp's converter cuts kv_b per head into the key part, transposed for the absorbed product
        # (`attn_k_b` [heads, kv_lora_rank, nope]), and the value part (`attn_v_b` [heads, v_head_dim, kv_lora_rank])
        a = self.ir
        k_b = (a.n_heads, a.kv_lora_rank, a.qk_nope_head_dim)
        return {f"{self.slot}.kv_b_proj.weight": (k_b, (a.n_heads, a.v_head_dim, a.kv_lora_rank))}

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        # the converters since llama.cpp's MLA absorption state the cache's view (one KV head of the latent and
        # the rope key; values the latent) and the per-head sizes under `_mla` keys; older files the per-head sizes
        a = self.ir
        latent = a.kv_lora_rank + a.qk_rope_head_dim
        out = [
            ("attention.head_count", (a.n_heads,), "attention.n_heads"),
            ("attention.head_count_kv", (1, a.n_heads), "attention.n_heads (1: the latent, absorbed)"),
            ("attention.key_length", (latent, a.head_dim), "attention.kv_lora_rank + qk_rope_head_dim"),
            ("attention.value_length", (a.kv_lora_rank, a.v_head_dim), "attention.kv_lora_rank"),
            ("attention.key_length_mla", (a.head_dim,), "attention.qk_nope_head_dim + qk_rope_head_dim"),
            ("attention.value_length_mla", (a.v_head_dim,), "attention.v_head_dim"),
            ("attention.kv_lora_rank", (a.kv_lora_rank,), "attention.kv_lora_rank"),
            ("rope.dimension_count", (a.qk_rope_head_dim,), "attention.qk_rope_head_dim"),
        ]
        if a.q_lora_rank:
            out.append(("attention.q_lora_rank", (a.q_lora_rank,), "attention.q_lora_rank"))
        if a.rope is not None:
            out.append(("rope.freq_base", (a.rope.theta,), "attention.rope.theta"))
        return out + (self.indexer.gguf_metadata() if self.indexer is not None else [])

    def cache_elements_per_token(self) -> int:
        """The compressed latent and the shared rope key, as inference engines cache them (not the
        decompressed K and V), and a sparse-attention indexer's key."""
        a = self.ir
        return a.kv_lora_rank + a.qk_rope_head_dim + (a.indexer_head_dim or 0)

    def gallery_elements_per_token(self) -> int:
        return self.ir.kv_lora_rank + self.ir.qk_rope_head_dim  # the gallery leaves the indexer key out

    def cache_formula(self) -> str:
        a = self.ir
        return (
            f"({a.kv_lora_rank} + {a.qk_rope_head_dim}"
            + (f" + {a.indexer_head_dim}" if a.indexer_head_dim else "")
            + ")"
        )

    def cache_label(self) -> str:
        return "MLA latent" + (" + indexer key" if self.ir.indexer_head_dim else "")

    def cache_share(self, tp: int) -> float:
        return 1.0  # the latent is the same on every rank
