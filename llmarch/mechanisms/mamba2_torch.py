"""Mamba-2's torch module for the meta build, reached through `Mamba2.module`."""

from __future__ import annotations

import torch
from torch import nn

from ..ir import Mamba2IR
from .primitives import Linear, MixerPart, Norm, keep, merge_heads, param, repeat_heads, split_heads
from .recurrence_torch import chunk_groups, from_chunks, to_chunks


class Mamba2Module(MixerPart):
    def __init__(self, d: int, m: Mamba2IR) -> None:
        super().__init__()
        self.ir = m
        inner = m.n_heads * m.head_dim
        conv_dim = inner + 2 * m.n_groups * m.state_dim  # x, B and C go through the short convolution
        self.in_proj = Linear(d, 2 * inner + 2 * m.n_groups * m.state_dim + m.n_heads, m.bias)  # z, x, B, C, dt
        self.conv1d = nn.Module()
        self.conv1d.weight = param(conv_dim, 1, m.conv_kernel)
        self.conv1d.bias = param(conv_dim) if m.conv_bias else None
        self.dt_bias = param(m.n_heads)
        self.A_log = param(m.n_heads)
        self.D = param(m.n_heads)
        self.norm = Norm(inner)
        self.out_proj = Linear(inner, d, m.bias)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        """SSD.  Prefill per chunk of c tokens and head: C B^T (c^2 N), its product with X (c^2 P), the
        carried state's contribution C S (c N P) and the chunk state B^T X (c N P).  Decode: S += B x^T,
        y = C S: 2 N P.  B and C are shared by the heads of a group."""
        m = self.ir
        B, S, _ = x.shape
        inner, gn = m.n_heads * m.head_dim, m.n_groups * m.state_dim
        z, xs, b, c, dt = self.in_proj(x).split([inner, inner, gn, gn, m.n_heads], dim=-1)
        xs = split_heads(xs, m.n_heads, m.head_dim)  # (B*H, S, P)
        # (B, S, G*N) -> (B*H, S, N): each group's B and C serve its heads
        b = repeat_heads(split_heads(b, m.n_groups, m.state_dim), B, m.n_groups, m.n_heads)
        c = repeat_heads(split_heads(c, m.n_groups, m.state_dim), B, m.n_groups, m.n_heads)
        BH, N, P = B * m.n_heads, m.state_dim, m.head_dim
        state = torch.empty(BH, N, P, device=x.device, dtype=x.dtype)
        if S == 1:
            state = state + torch.bmm(b.transpose(1, 2), xs)
            y = torch.bmm(c, state)
        else:
            # A chunk's state increment B^T X does not depend on the carried state (the decays are
            # element-wise), so every chunk's products run batched; the carried state is a running sum.
            outs = []
            for start, chunk, n in chunk_groups(S):
                xc, bc, cc = (to_chunks(t, start, chunk, n) for t in (xs, b, c))  # (n*BH, c, P|N)
                intra = torch.bmm(torch.bmm(cc, bc.transpose(1, 2)).tril(), xc)  # (n*BH, c, P)
                increments = torch.bmm(bc.transpose(1, 2), xc).reshape(n, BH, N, P)
                carried = increments.cumsum(0) - increments + state  # the state before each chunk
                outs.append(from_chunks(torch.baddbmm(intra, cc, carried.reshape(n * BH, N, P)), n))
                state = carried[-1] + increments[-1]
            y = torch.cat(outs, dim=1)
        return self.out_proj(keep(merge_heads(y, B, m.n_heads) * z, state, dt))
