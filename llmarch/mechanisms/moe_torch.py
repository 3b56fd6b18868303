"""The mixture of experts' torch module for the meta build, reached through `MoE.module`: routed
experts stacked as `[n_experts, ...]` tensors, one parameter per projection per layer (as in
gpt-fast), so a 1T-parameter model is a few thousand tensors."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from ..ir import FFNIR, MoEIR
from .ffn_torch import FeedForwardModule
from .primitives import META, FeedForwardPart, Linear, Norm, param


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


class RouterMLP(nn.Module):
    """ZAYA's router: d -> hidden (biased), plus the previous layer's router state scaled (`carry`), then
    a normed two-layer GELU MLP and logits over the experts and the skip expert."""

    def __init__(self, d: int, m: MoEIR) -> None:
        super().__init__()
        r = m.router_hidden
        self.down_proj = Linear(d, r, True)
        if m.router_carry:
            self.router_states_scale = param(r)
        self.norm = Norm(r)
        self.fc1 = Linear(r, r, True)
        self.fc2 = Linear(r, r, True)
        self.out_proj = Linear(r, m.n_experts + (1 if m.skip_expert else 0))
        # one balancing bias per routing class: a buffer, set by load balancing
        self.register_buffer("balancing_biases", torch.empty(self.out_proj.weight.shape[0], device=META))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (T, classes); the carried state is an element-wise add, which no counter counts."""
        h = F.gelu(self.fc1(self.down_proj(x)))
        return self.out_proj(F.gelu(self.fc2(h)))


class MoEModule(FeedForwardPart):
    def __init__(self, d: int, m: MoEIR, expert_width: Optional[int] = None) -> None:
        """`expert_width`: the width the routed experts read and write, d unless a subclass runs them in a
        latent (the latent MoE)."""
        super().__init__()
        self.top_k, self.gated = m.top_k, m.expert.gated
        self.n_experts = m.n_experts
        # zero experts (LongCat) are router outputs only
        n_out = m.n_experts + m.zero_experts
        self.router = RouterMLP(d, m) if m.router_hidden is not None else Linear(d, n_out, m.router_bias)
        self.experts = Experts(expert_width or d, m.n_experts, m.top_k, m.expert, m.zero_experts)
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
        if m.hash_table_rows is not None:
            # hash routing: a frozen token -> top_k experts table, loaded with the weights, never trained; the
            # router still weights the experts the table picks, so the forward is the same products
            self.register_buffer("tid2eid", torch.empty(m.hash_table_rows, m.top_k, dtype=torch.long, device=META))
        if m.router_scale:  # Gemma 4: element-wise on the router's input, so the forward leaves it out
            self.router_scale = param(d)
        if m.per_expert_scale:  # Gemma 4: element-wise on the routing weights, so the forward leaves it out
            self.per_expert_scale = param(m.n_experts)
        if m.beside is not None:
            self.dense = FeedForwardModule(d, m.beside)  # LongCat's shortcut MoE: the dense FFN beside it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, d = x.shape
        tokens = x.reshape(B * S, d)
        routed = self.routed(tokens, self.router(tokens)).reshape(B, S, d)
        return routed + self.shared_out(x) + self.beside_out(x)

    def routed(self, tokens: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """tokens (T, w) through their top-k experts by `logits` (T, n): a gather of the chosen experts'
        stacked weights and one bmm per projection; (T, w) out, the experts' outputs mixed by their scores."""
        T, w = tokens.shape
        weights, idx = torch.topk(logits, self.top_k, dim=-1)
        # a skip expert's class (ZAYA) or a zero expert (LongCat: an identity) runs no expert; the trace counts
        # the configured maximum, every slot a real expert, as `MoE.token_macs` does
        idx = idx.clamp(max=self.n_experts - 1)
        flat = idx.reshape(-1)  # (T*k,)
        xk = tokens.unsqueeze(1).expand(T, self.top_k, w).reshape(-1, w, 1)  # (T*k, w, 1)
        h = torch.bmm(self.experts.gate_up[flat], xk)  # (T*k, width, 1)
        if self.gated:
            gate, up = h.chunk(2, dim=1)
            h = F.silu(gate) * up
        else:
            h = F.relu(h)
        out = torch.bmm(self.experts.down[flat], h).reshape(T, self.top_k, w)
        return (out * weights.softmax(-1).unsqueeze(-1)).sum(1)

    def shared_out(self, x: torch.Tensor) -> torch.Tensor | int:
        """The shared experts' output on x (B, S, d), gated where the spec gates it; 0 without them."""
        if not hasattr(self, "shared"):
            return 0
        shared = self.shared(x)
        if hasattr(self, "shared_gate"):
            shared = shared * torch.sigmoid(self.shared_gate(x))
        return shared

    def beside_out(self, x: torch.Tensor) -> torch.Tensor | int:
        """LongCat's shortcut MoE: the dense FFN beside the experts on x; 0 without one. LongCat adds the
        experts' output to the residual one layer later; the meta forward adds it here, which multiplies the
        same matrices (no count, FLOP or cache depends on where the sum happens)."""
        return self.dense(x) if hasattr(self, "dense") else 0
