"""The mLSTM's torch module for the meta build (xLSTM 7B), reached through `MatrixLSTM.module`."""

from __future__ import annotations

import torch

from ..ir import MlstmIR
from .primitives import Linear, MixerPart, Norm, keep, merge_heads, split_heads
from .recurrence_torch import chunk_groups, from_chunks, to_chunks


class MatrixLSTMModule(MixerPart):
    """q, k, v, a sigmoid output gate over the values, scalar input and forget gates per head, a per-head
    norm and the output projection.  The forward runs the chunked form (Mamba-2's SSD with the normaliser
    n as one more value column) in prefill and the recurrent step in decode; the gates, their soft cap,
    the exponential stabiliser and the norm are element-wise and left out."""

    def __init__(self, d: int, m: MlstmIR) -> None:
        super().__init__()
        self.ir = m
        qk, v = m.n_heads * m.qk_head_dim, m.n_heads * m.v_head_dim
        self.q, self.k = Linear(d, qk, m.bias), Linear(d, qk, m.bias)
        self.v, self.ogate = Linear(d, v, m.bias), Linear(d, v, m.bias)
        self.igate, self.fgate = Linear(d, m.n_heads, True), Linear(d, m.n_heads, True)
        self.head_norm = Norm(v, m.bias)
        self.out_proj = Linear(v, d, m.bias)

    def forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
        """Prefill per chunk of c tokens and head: Q K^T (c^2 dk), its product with [V 1] (c^2 (dv + 1)), the
        carried memory read Q [C n] and the chunk's increment K^T [V 1] (c dk (dv + 1) each).  Decode:
        [C n] += k [v 1]^T, then q^T [C n]: 2 dk (dv + 1)."""
        m = self.ir
        B, S, _ = x.shape
        BH, dk, dv = B * m.n_heads, m.qk_head_dim, m.v_head_dim
        q = split_heads(self.q(x), m.n_heads, dk)  # (B, S, H*dk) -> (BH, S, dk)
        k = split_heads(self.k(x), m.n_heads, dk)  # (BH, S, dk)
        v = split_heads(self.v(x), m.n_heads, dv)  # (BH, S, dv)
        v1 = torch.cat([v, v.new_ones(BH, S, 1)], dim=-1)  # (BH, S, dv + 1): the last column builds n
        gates = (self.igate(x), self.fgate(x))
        state = torch.empty(BH, dk, dv + 1, device=x.device, dtype=x.dtype)  # [C n]
        if S == 1:
            state = state + torch.bmm(k.transpose(1, 2), v1)  # (BH, dk, dv + 1)
            y = torch.bmm(q, state)  # (BH, 1, dv + 1)
        else:
            # as Mamba-2's SSD: the chunk increments K^T [V 1] do not depend on the carried state (the
            # decays are element-wise), so they run batched and the carried state is a running sum
            outs = []
            for start, c, n in chunk_groups(S):
                qc, kc, vc = (to_chunks(t, start, c, n) for t in (q, k, v1))  # (n*BH, c, dk | dv + 1)
                intra = torch.bmm(torch.bmm(qc, kc.transpose(1, 2)).tril(), vc)  # (n*BH, c, dv + 1)
                increments = torch.bmm(kc.transpose(1, 2), vc).reshape(n, BH, dk, dv + 1)
                carried = increments.cumsum(0) - increments + state  # the state before each chunk
                outs.append(from_chunks(torch.baddbmm(intra, qc, carried.reshape(n * BH, dk, dv + 1)), n))
                state = carried[-1] + increments[-1]
            y = torch.cat(outs, dim=1)  # (BH, S, dv + 1)
        h = y[..., :dv] / y[..., dv:]  # C^T q over n . q (element-wise): (BH, S, dv)
        h = merge_heads(h.contiguous(), B, m.n_heads)  # (BH, S, dv) -> (B, S, H*dv)
        return self.out_proj(keep(torch.sigmoid(self.ogate(x)) * h, state, *gates))
