"""Kimi Delta Attention (Kimi Linear): the delta rule with a channel-wise decay and low-rank gates."""

from __future__ import annotations

from ..ir import KdaIR
from .base import Mechanism, Weight, linear, norm, vector
from .recurrence import chunks, delta_rule_chunk


class KimiDeltaAttention(Mechanism):
    slot = "mixer"
    norm_prefix = "mixer"

    def __init__(self, k: KdaIR) -> None:
        self.ir = k

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

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        k = self.ir
        if S == 1:
            return {"linear_recurrence": k.n_heads * 3 * k.head_dim * k.head_dim}
        per_head = sum(n * delta_rule_chunk(c, k.head_dim, k.head_dim) for c, n in chunks(S))
        return {"linear_recurrence": k.n_heads * per_head}
