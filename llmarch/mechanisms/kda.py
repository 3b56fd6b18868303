"""Kimi Delta Attention (Kimi Linear): the delta rule with a channel-wise decay and low-rank gates."""

from __future__ import annotations

from ..ir import KdaIR
from .base import Box, CacheRow, Mechanism, Weight, linear, norm, vector
from .recurrence import chunks, delta_rule_chunk


class KimiDeltaAttention(Mechanism):
    slot = "mixer"
    norm_prefix = "mixer"
    conventions = ("state", "linear_attention")  # kvcache's fixed-state line, flops' chunked-algorithm line

    def __init__(self, k: KdaIR) -> None:
        self.ir = k

    def module(self, d_model: int):
        from .kda_torch import KimiDeltaAttentionModule

        return KimiDeltaAttentionModule(d_model, self.ir)

    def box(self) -> Box:
        k = self.ir
        notes = (
            ("heads", f"{k.n_heads} heads"),
            ("head_dim", f"head dim {k.head_dim}"),
            ("conv", f"conv kernel {k.conv_kernel}"),
            ("kv", "fixed-size state, no KV cache"),
        )
        return Box("mixer", "Kimi Delta Attention", notes, "Kimi Delta Attention", (("mixer", "KDA"),))

    def weights(self, d_model: int) -> list[Weight]:
        k, p, d = self.ir, f"{self.slot}.", d_model
        inner = k.n_heads * k.head_dim
        return [
            *linear(f"{p}q_proj", d, inner, "linear_mixer"),
            *linear(f"{p}k_proj", d, inner, "linear_mixer"),
            *linear(f"{p}v_proj", d, inner, "linear_mixer"),
            *vector(f"{p}conv1d.weight", (3 * inner, 1, k.conv_kernel), "linear_mixer", "column"),  # q, k, v
            *vector(f"{p}dt_bias", (inner,), "linear_mixer", "column"),  # the decay is per channel
            *vector(f"{p}A_log", (k.n_heads,), "linear_mixer", "column"),
            *linear(f"{p}f_a_proj", d, k.head_dim, "linear_mixer", split="replicated"),  # low-rank forget gate
            *linear(f"{p}f_b_proj", k.head_dim, inner, "linear_mixer"),
            *linear(f"{p}b_proj", d, k.n_heads, "linear_mixer"),  # beta
            *linear(f"{p}g_a_proj", d, k.head_dim, "linear_mixer", split="replicated"),  # low-rank output gate
            *linear(f"{p}g_b_proj", k.head_dim, inner, "linear_mixer"),
            *norm(f"{p}o_norm", k.head_dim, "linear_mixer"),  # gated RMSNorm over each head
            *linear(f"{p}o_proj", inner, d, "linear_mixer", split="row"),
        ]

    def gguf_parts(self, d_model: int) -> dict[str, tuple[tuple[int, ...], ...]]:
        # llama.cpp's converter keeps q's, k's and v's short convolutions apart (`ssm_conv1d_q`, `_k`, `_v`),
        # each reshaped to (1, channels, 1, kernel), and A as the checkpoint stores it, (1, 1, heads, 1)
        k, p = self.ir, f"{self.slot}."
        conv = (1, k.n_heads * k.head_dim, 1, k.conv_kernel)
        return {f"{p}conv1d.weight": (conv, conv, conv), f"{p}A_log": ((1, 1, k.n_heads, 1),)}

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        k = self.ir
        return [
            ("ssm.conv_kernel", (k.conv_kernel,), "kda.conv_kernel"),
            ("kda.head_dim", (k.head_dim,), "kda.head_dim"),
        ]

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> CacheRow:
        k = self.ir
        rec = k.n_heads * k.head_dim * k.head_dim
        channels = 3 * k.n_heads * k.head_dim  # q, k and v each have a short conv
        conv = (k.conv_kernel - 1) * channels
        formula = (
            f"{k.n_heads} x {k.head_dim} x {k.head_dim} x {state_bytes} B"
            f" + {k.conv_kernel - 1} x {channels} x {kv_bytes} B"
        )
        fixed = int(rec * state_bytes + conv * kv_bytes)
        return CacheRow((kind, rec, conv), "Kimi Delta Attention state", 0, 0, fixed, formula)

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        k = self.ir
        if S == 1:
            return {"linear_recurrence": k.n_heads * 3 * k.head_dim * k.head_dim}
        per_head = sum(n * delta_rule_chunk(c, k.head_dim, k.head_dim) for c, n in chunks(S))
        return {"linear_recurrence": k.n_heads * per_head}
