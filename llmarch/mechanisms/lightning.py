"""Lightning attention (Ling 2.5, Ling 2.6): linear attention with a fixed per-head decay.

Follows the publisher's `BailingMoeV2_5LinearAttention` (inclusionAI/Ring-V2.5
models/modeling_bailing_moe_v2_5.py; notes in docs/sources/ling-2.5-lightning.md): one fused q, k, v
projection with as many key and value heads as query heads, RMSNorm on each query and key head, RoPE, the
recurrence with a decay per head from ALiBi slopes (a buffer, no parameter), an RMSNorm over groups of
the output, a sigmoid gate projected from the layer's input, and the output projection.  Its cache is
the recurrent state alone: no short convolution.
"""

from __future__ import annotations

from typing import Optional

from ..ir import LightningIR
from .base import Box, CacheRow, Mechanism, Weight, linear, norm
from .recurrence import chunks, linear_attention_chunk


class LightningAttention(Mechanism):
    slot = "mixer"
    norm_prefix = "mixer"
    conventions = ("state", "linear_attention")  # kvcache's fixed-state line, flops' chunked-algorithm line

    def __init__(self, a: LightningIR) -> None:
        self.ir = a

    def module(self, d_model: int):
        from .lightning_torch import LightningAttentionModule

        return LightningAttentionModule(d_model, self.ir)

    def box(self) -> Box:
        a = self.ir
        notes = (
            ("heads", f"{a.n_heads} heads"),
            ("head_dim", f"head dim {a.head_dim}"),
            ("gate", "sigmoid output gate"),
            ("kv", "fixed-size state, no KV cache"),
        )
        return Box("mixer", "Lightning Attention", notes, "Lightning Attention", (("mixer", "Lightning"),))

    def weights(self, d_model: int) -> list[Weight]:
        a, p, d = self.ir, f"{self.slot}.", d_model
        inner = a.n_heads * a.head_dim
        out = linear(f"{p}query_key_value", d, 3 * inner, "linear_mixer", bias=a.qkv_bias)  # q, k, v heads alike
        if a.qk_norm:
            out += norm(f"{p}query_layernorm", a.head_dim, "linear_mixer")  # one scale shared by every head
            out += norm(f"{p}key_layernorm", a.head_dim, "linear_mixer")
        return [
            *out,
            *linear(f"{p}g_proj", d, inner, "linear_mixer"),  # the sigmoid output gate
            *norm(f"{p}g_norm", inner, "linear_mixer"),  # RMSNorm over norm_groups groups: one scale per channel
            *linear(f"{p}dense", inner, d, "linear_mixer", bias=a.out_bias, split="row"),
        ]

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> CacheRow:
        a = self.ir
        rec = a.n_heads * a.head_dim * a.head_dim  # a key-by-value state per head
        formula = f"{a.n_heads} x {a.head_dim} x {a.head_dim} x {state_bytes} B"
        return CacheRow((kind, rec), "Lightning attention state", 0, 0, int(rec * state_bytes), formula)

    def parallel_error(self, tp: int, ep: int, model: str, kind: str) -> Optional[str]:
        if self.ir.n_heads % tp:  # vLLM's port asserts it: each rank holds whole heads and their states
            return f"{{tp}} {tp} does not divide {{model}}'s {self.ir.n_heads} Lightning attention heads"
        return None

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        a = self.ir
        if S == 1:  # the recurrent step
            return {"linear_recurrence": a.n_heads * 2 * a.head_dim * a.head_dim}
        per_head = sum(n * linear_attention_chunk(c, a.head_dim, a.head_dim) for c, n in chunks(S))
        return {"linear_recurrence": a.n_heads * per_head}
