"""Gated DeltaNet (Qwen3-Next, Qwen3.5): linear attention with the gated delta rule."""

from __future__ import annotations

from ..ir import GatedDeltaNetIR
from .base import Box, CacheRow, Mechanism, Weight, linear, norm, vector
from .recurrence import chunks, delta_rule_chunk


class GatedDeltaNet(Mechanism):
    slot = "mixer"
    norm_prefix = "mixer"
    conventions = ("state", "linear_attention")  # kvcache's fixed-state line, flops' chunked-algorithm line

    def __init__(self, g: GatedDeltaNetIR) -> None:
        self.ir = g

    def module(self, d_model: int):
        from .gated_deltanet_torch import GatedDeltaNetModule

        return GatedDeltaNetModule(d_model, self.ir)

    def box(self) -> Box:
        g = self.ir
        notes = (
            ("heads", f"{g.n_k_heads} key heads, {g.n_v_heads} value heads"),
            ("head_dim", f"head dims {g.head_k_dim} / {g.head_v_dim}"),
            ("conv", f"conv kernel {g.conv_kernel}"),
            ("kv", "fixed-size state, no KV cache"),
        )
        return Box("mixer", "Gated DeltaNet", notes, "Gated DeltaNet", (("mixer", "Gated DeltaNet"),))

    def weights(self, d_model: int) -> list[Weight]:
        g, p = self.ir, f"{self.slot}."
        key_dim, value_dim = g.n_k_heads * g.head_k_dim, g.n_v_heads * g.head_v_dim
        conv_dim = 2 * key_dim + value_dim  # q, k and v go through the short convolution
        return [
            *linear(f"{p}in_proj_qkvz", d_model, 2 * key_dim + 2 * value_dim, "linear_mixer"),  # q, k, v, gate z
            *linear(f"{p}in_proj_ba", d_model, 2 * g.n_v_heads, "linear_mixer"),  # beta and the decay input a
            *vector(f"{p}conv1d.weight", (conv_dim, 1, g.conv_kernel), "linear_mixer", "column"),  # depthwise
            *vector(f"{p}dt_bias", (g.n_v_heads,), "linear_mixer", "column"),
            *vector(f"{p}A_log", (g.n_v_heads,), "linear_mixer", "column"),
            *norm(f"{p}norm", g.head_v_dim, "linear_mixer"),  # gated RMSNorm over each head
            *linear(f"{p}out_proj", value_dim, d_model, "linear_mixer", split="row"),
        ]

    def fused_parts(self) -> dict[str, tuple[int, ...]]:
        """`in_proj_qkvz`: q, k and v (through the convolution), then the gate z (Qwen3.5 stores the two apart);
        `in_proj_ba`: beta, then the decay input a."""
        g, p = self.ir, f"{self.slot}."
        key_dim, value_dim = g.n_k_heads * g.head_k_dim, g.n_v_heads * g.head_v_dim
        return {
            f"{p}in_proj_qkvz.weight": (2 * key_dim + value_dim, value_dim),
            f"{p}in_proj_ba.weight": (g.n_v_heads, g.n_v_heads),
        }

    def gguf_parts(self, d_model: int) -> dict[str, tuple[tuple[int, ...], ...]]:
        # llama.cpp's converter cuts the fused input projection into q, k, v (`attn_qkv`) and the gate z
        # (`attn_gate`), and squeezes the depthwise kernel to [channels, kernel]
        g, p = self.ir, f"{self.slot}."
        qkv = 2 * g.n_k_heads * g.head_k_dim + g.n_v_heads * g.head_v_dim
        return {
            f"{p}in_proj_qkvz.weight": ((qkv, d_model), (g.n_v_heads * g.head_v_dim, d_model)),
            f"{p}conv1d.weight": ((qkv, g.conv_kernel),),
        }

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        g = self.ir
        return [
            ("ssm.conv_kernel", (g.conv_kernel,), "gated_deltanet.conv_kernel"),
            ("ssm.state_size", (g.head_k_dim,), "gated_deltanet.head_k_dim"),
            ("ssm.group_count", (g.n_k_heads,), "gated_deltanet.n_k_heads"),
            ("ssm.time_step_rank", (g.n_v_heads,), "gated_deltanet.n_v_heads"),
            ("ssm.inner_size", (g.n_v_heads * g.head_v_dim,), "gated_deltanet.n_v_heads x head_v_dim"),
        ]

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> CacheRow:
        g = self.ir
        rec = g.n_v_heads * g.head_k_dim * g.head_v_dim
        channels = 2 * g.n_k_heads * g.head_k_dim + g.n_v_heads * g.head_v_dim  # q, k and v through the conv
        conv = (g.conv_kernel - 1) * channels  # a kernel of 1 keeps no past tokens
        formula = (
            f"{g.n_v_heads} x {g.head_k_dim} x {g.head_v_dim} x {state_bytes} B"
            f" + {g.conv_kernel - 1} x {channels} x {kv_bytes} B"
        )
        fixed = int(rec * state_bytes + conv * kv_bytes)
        return CacheRow((kind, rec, conv), "Gated DeltaNet state", 0, 0, fixed, formula)

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        g = self.ir
        if S == 1:  # the recurrent step
            return {"linear_recurrence": g.n_v_heads * 3 * g.head_k_dim * g.head_v_dim}
        per_head = sum(n * delta_rule_chunk(c, g.head_k_dim, g.head_v_dim) for c, n in chunks(S))
        return {"linear_recurrence": g.n_v_heads * per_head}
