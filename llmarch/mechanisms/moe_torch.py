"""The mixture of experts' torch module for the meta build, reached through `MoE.module`: routed
experts stacked as `[n_experts, ...]` tensors, one parameter per projection per layer (as in
gpt-fast), so a 1T-parameter model is a few thousand tensors."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..ir import FFNIR, MoEIR
from .ffn_torch import FeedForwardModule
from .primitives import META, FeedForwardPart, Linear, param


class Experts(nn.Module):
    """All routed experts of a layer as stacked tensors, of which a token meets `top_k`."""

    def __init__(self, d: int, n: int, top_k: int, f: FFNIR, zero: int = 0) -> None:
        super().__init__()
        self.n, self.top_k, self.zero = n, top_k, zero
        width = (2 if f.gated else 1) * f.d_ff
        self.gate_up = param(n, width, d)
        self.down = param(n, d, f.d_ff)
        if f.bias:
            self.gate_up_bias = param(n, width)
            self.down_bias = param(n, d)

    def active(self, numel: int) -> int:
        """The part of one of its stacked tensors (`numel` elements) a token multiplies: top_k of n experts."""
        return numel // self.n * self.top_k

    def fewest(self, numel: int) -> int:
        """The same when the router fills as many of the top_k slots as it can with zero (identity) experts."""
        return numel // self.n * max(0, self.top_k - self.zero)


class MoEModule(FeedForwardPart):
    def __init__(self, d: int, m: MoEIR) -> None:
        super().__init__()
        self.top_k, self.gated, self.n_experts = m.top_k, m.expert.gated, m.n_experts
        self.router = Linear(d, m.n_experts + m.zero_experts, m.router_bias)  # zero experts: outputs only
        self.experts = Experts(d, m.n_experts, m.top_k, m.expert, m.zero_experts)
        if m.shared is not None:
            self.shared = FeedForwardModule(d, m.shared)
            if m.shared_gate:
                self.shared_gate = Linear(d, 1)
        if m.score_correction_parameter:
            # Laguna's checkpoint keeps the routing bias as a parameter (frozen), so it is counted
            self.router_correction = param(m.n_experts)
        if m.score_correction_bias:
            # a buffer, as in DeepSeek's and transformers' code: set by load balancing, not by gradients
            self.register_buffer("e_score_correction_bias", torch.empty(m.n_experts + m.zero_experts, device=META))
        if m.beside is not None:
            self.dense = FeedForwardModule(d, m.beside)  # LongCat's shortcut MoE: the dense FFN beside it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Top-k routing, then a gather of the chosen experts' stacked weights and one bmm per projection."""
        B, S, d = x.shape
        tokens = x.reshape(B * S, d)
        weights, idx = torch.topk(self.router(tokens), self.top_k, dim=-1)
        # a zero expert (an index past the real ones) is the identity; the trace counts the configured
        # maximum, every slot a real expert, as `MoE.token_macs` does
        flat = torch.remainder(idx.reshape(-1), self.n_experts)  # (T*k,)
        xk = tokens.unsqueeze(1).expand(B * S, self.top_k, d).reshape(-1, d, 1)  # (T*k, d, 1)
        h = torch.bmm(self.experts.gate_up[flat], xk)  # (T*k, width, 1)
        if self.gated:
            gate, up = h.chunk(2, dim=1)
            h = F.silu(gate) * up
        else:
            h = F.relu(h)
        out = torch.bmm(self.experts.down[flat], h).reshape(B * S, self.top_k, d)
        out = (out * weights.softmax(-1).unsqueeze(-1)).sum(1).reshape(B, S, d)
        if hasattr(self, "shared"):
            shared = self.shared(x)
            if hasattr(self, "shared_gate"):
                shared = shared * torch.sigmoid(self.shared_gate(x))
            out = out + shared
        if hasattr(self, "dense"):
            # LongCat adds the experts' output to the residual one layer later; the meta forward adds it here,
            # which multiplies the same matrices (no count, FLOP or cache depends on where the sum happens)
            out = out + self.dense(x)
        return out
