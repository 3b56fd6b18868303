"""Mamba-2 (SSD): a selective state-space mixer with a short convolution over x, B and C."""

from __future__ import annotations

from ..ir import Mamba2IR
from .base import Box, CacheRow, Mechanism, Weight, linear, norm, vector
from .recurrence import chunks, ssd_chunk


class Mamba2(Mechanism):
    slot = "mixer"
    norm_prefix = "mixer"
    conventions = ("state", "linear_attention")  # kvcache's fixed-state line, flops' chunked-algorithm line

    def __init__(self, m: Mamba2IR) -> None:
        self.ir = m

    def module(self, d_model: int):
        from .mamba2_torch import Mamba2Module

        return Mamba2Module(d_model, self.ir)

    def box(self) -> Box:
        m = self.ir
        notes = (
            ("heads", f"{m.n_heads} heads"),
            ("head_dim", f"head dim {m.head_dim}"),
            ("state", f"state {m.state_dim}, {m.n_groups} groups"),
            ("conv", f"conv kernel {m.conv_kernel}"),
            ("kv", "fixed-size state, no KV cache"),
        )
        return Box("mixer", "Mamba-2", notes, "Mamba-2", (("mixer", "Mamba-2"),))

    def weights(self, d_model: int) -> list[Weight]:
        m, p = self.ir, f"{self.slot}."
        inner = m.n_heads * m.head_dim
        groups = 2 * m.n_groups * m.state_dim  # B and C
        conv_dim = inner + groups  # x, B and C go through the short convolution
        out = linear(f"{p}in_proj", d_model, 2 * inner + groups + m.n_heads, "linear_mixer", m.bias)  # z, x, B, C, dt
        out += vector(f"{p}conv1d.weight", (conv_dim, 1, m.conv_kernel), "linear_mixer", "column")
        if m.conv_bias:
            out += vector(f"{p}conv1d.bias", (conv_dim,), "linear_mixer", "column")
        for name in ("dt_bias", "A_log", "D"):
            out += vector(f"{p}{name}", (m.n_heads,), "linear_mixer", "column")
        out += norm(f"{p}norm", inner, "linear_mixer")  # gated RMSNorm
        return out + linear(f"{p}out_proj", inner, d_model, "linear_mixer", m.bias, split="row")

    def gguf_parts(self, d_model: int) -> dict[str, tuple[tuple[int, ...], ...]]:
        # llama.cpp's converter (Mamba2Model) squeezes the depthwise kernel, stores A and D as columns and the
        # gated norm per group
        m, p = self.ir, f"{self.slot}."
        inner = m.n_heads * m.head_dim
        return {
            f"{p}conv1d.weight": ((inner + 2 * m.n_groups * m.state_dim, m.conv_kernel),),
            f"{p}A_log": ((m.n_heads, 1),),
            f"{p}D": ((m.n_heads, 1),),
            f"{p}norm.weight": ((m.n_groups, inner // m.n_groups),),
        }

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        m = self.ir
        return [
            ("ssm.conv_kernel", (m.conv_kernel,), "mamba2.conv_kernel"),
            ("ssm.state_size", (m.state_dim,), "mamba2.state_dim"),
            ("ssm.group_count", (m.n_groups,), "mamba2.n_groups"),
            ("ssm.time_step_rank", (m.n_heads,), "mamba2.n_heads"),
            ("ssm.inner_size", (m.n_heads * m.head_dim,), "mamba2.n_heads x head_dim"),
        ]

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> CacheRow:
        m = self.ir
        rec = m.n_heads * m.head_dim * m.state_dim
        channels = m.n_heads * m.head_dim + 2 * m.n_groups * m.state_dim  # x, B and C through the conv
        conv = (m.conv_kernel - 1) * channels
        formula = (
            f"{m.n_heads} x {m.head_dim} x {m.state_dim} x {state_bytes} B"
            f" + {m.conv_kernel - 1} x {channels} x {kv_bytes} B"
        )
        fixed = int(rec * state_bytes + conv * kv_bytes)
        return CacheRow((kind, rec, conv), "Mamba-2 state", 0, 0, fixed, formula)

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        m = self.ir
        if S == 1:
            return {"linear_recurrence": m.n_heads * 2 * m.state_dim * m.head_dim}
        per_head = sum(n * ssd_chunk(c, m.state_dim, m.head_dim) for c, n in chunks(S))
        return {"linear_recurrence": m.n_heads * per_head}
