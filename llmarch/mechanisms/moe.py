"""Mixture of experts: a learned router, routed experts stacked as `[n_experts, ...]` tensors (top-k
of them per token), optional shared experts (one FFN) with an optional sigmoid gate, and Gemma 4's
router options (a learned scale on the router's input, a learned scale per expert).

LongCat's options: zero-computation experts (identity experts the router may choose: router outputs, no
weights, so a token meets between 0 and top_k real experts; `active` and `token_macs` count the
configured maximum, top_k real experts, and `active_fewest` the other end), and the shortcut-connected
MoE (the layer's dense FFN beside the experts on the same input, counted as `dense_ffn`; the experts'
output joins the residual one layer later, which changes no count)."""

from __future__ import annotations

import dataclasses
from typing import Optional

from ..ir import MoEIR
from .base import Box, Mechanism, Routing, Weight, linear, matrix_macs, norm, vector
from .ffn import FFN_NAMES, ffn_weights


def router_mlp_weights(p: str, d: int, m: MoEIR) -> list[Weight]:
    """ZAYA's router (ZayaRouter): d -> hidden with a bias, the scale of the router state carried from the
    previous layer (not on the first), then a normed two-layer GELU MLP and logits over the experts and
    the skip expert."""
    r, classes = m.router_hidden, m.n_experts + (1 if m.skip_expert else 0)
    out = linear(f"{p}down_proj", d, r, "router", True, split="replicated")
    if m.router_carry:
        out += vector(f"{p}router_states_scale", (r,), "router")
    out += norm(f"{p}norm", r, "router")
    out += linear(f"{p}fc1", r, r, "router", True, split="replicated")
    out += linear(f"{p}fc2", r, r, "router", True, split="replicated")
    return out + linear(f"{p}out_proj", r, classes, "router", split="replicated")


class MoE(Mechanism):
    slot = "ffn"
    norm_prefix = "ffn"

    def __init__(self, m: MoEIR) -> None:
        self.ir = m
        self.experts = m.n_experts

    @property
    def ffn_kind(self) -> str:
        return self.ir.expert.kind  # the kind of one routed expert

    def panel(self) -> dict:
        """The article panel's expert slots."""
        m = self.ir
        return {
            "n_experts": m.n_experts,
            "shared": m.n_shared_experts,
            "routed": m.top_k,
            "d_expert": m.expert.d_ff,
            "d_shared": m.shared.d_ff if m.shared else None,
        }

    def box(self) -> Box:
        m = self.ir
        k, shared = m.top_k, m.n_shared_experts
        active = f"{k} routed + {shared} shared active" if shared else f"{k} active"
        zero = f" + {m.zero_experts} zero-computation" if m.zero_experts else ""
        notes = [
            ("n_experts", f"{m.n_experts} experts{zero}, {active}"),
            ("d_expert", f"expert hidden size {m.expert.d_ff:,}"),
            ("ffn_kind", FFN_NAMES.get(m.expert.kind, m.expert.kind)),
        ]
        if m.shared is not None:
            notes.append(("d_shared", f"shared expert hidden size {m.shared.d_ff:,}"))
        if m.beside is not None:
            notes.append(("shortcut", f"shortcut MoE beside a dense FFN of {m.beside.d_ff:,}"))
        if m.router_hidden is not None:
            skip = " + a skip expert" if m.skip_expert else ""
            notes.append(("router", f"MLP router, width {m.router_hidden:,}{skip}"))
        if self.hash_routed:
            notes.append(("routing", "experts from a frozen token table (hash routing)"))
        features = (("ffn", "MoE"), ("shared", "yes" if shared else "no"))
        routing = Routing(m.n_experts, k, shared, by_token=self.hash_routed)
        return Box("moe", "Mixture of experts", tuple(notes), "MoE", features, routing)

    @property
    def identity(self) -> tuple:
        # the first layer's router lacks only the carried state's scale (ZAYA): one diagram block for all layers
        return (type(self).__name__, dataclasses.replace(self.ir, router_carry=False))

    def parallel_error(self, tp: int, ep: int, model: str, kind: str) -> Optional[str]:
        if self.experts % ep:
            return f"{{ep}} {ep} does not divide {{model}}'s {self.experts} experts"
        return None

    def experts_hit(self, batch: int) -> float:
        """Experts a decode step of `batch` sequences reads: E (1 - (1 - k/E)^B), uniform independent routing."""
        n, k = self.experts, self.ir.top_k
        return n * (1 - (1 - k / n) ** batch)

    def module(self, d_model: int):
        from .moe_torch import MoEModule

        return MoEModule(d_model, self.ir)

    def weights(self, d_model: int) -> list[Weight]:
        experts = self.expert_weights(d_model) + self.shared_weights(d_model)
        return self.router_weights(d_model) + experts + self.beside_weights(d_model)

    def router_weights(self, d_model: int) -> list[Weight]:
        """The router (d_model -> n_experts, or ZAYA's MLP router) and, where the checkpoint keeps one, its
        correction bias."""
        m, p = self.ir, f"{self.slot}."
        if m.router_hidden is not None:
            out = router_mlp_weights(f"{p}router.", d_model, m)
        else:
            # zero experts (LongCat) are router outputs with no weights
            out = linear(
                f"{p}router", d_model, m.n_experts + m.zero_experts, "router", m.router_bias, split="replicated"
            )
        if m.score_correction_parameter:
            # Laguna's and Trinity's checkpoints keep the routing bias as a parameter (frozen), so it is counted
            out += vector(f"{p}router_correction", (m.n_experts,), "router")
        if m.router_scale:
            # Gemma 4: the router's input is RMS-normed without a weight, then scaled per channel
            out += vector(f"{p}router_scale", (d_model,), "router")
        if m.per_expert_scale:
            out += vector(f"{p}per_expert_scale", (m.n_experts,), "router")
        return out

    def expert_weights(self, width: int) -> list[Weight]:
        """The routed experts, stacked, reading and writing vectors of `width` (d_model, or a latent)."""
        m, e = self.ir, f"{self.slot}.experts."
        f, n = m.expert, m.n_experts
        gate_up = (2 if f.gated else 1) * f.d_ff
        out = [
            Weight(f"{e}gate_up", (n, gate_up, width), True, "routed_experts", "expert"),
            Weight(f"{e}down", (n, width, f.d_ff), True, "routed_experts", "expert"),
        ]
        if f.bias:
            out += vector(f"{e}gate_up_bias", (n, gate_up), "routed_experts", "expert")
            out += vector(f"{e}down_bias", (n, width), "routed_experts", "expert")
        return out

    def beside_weights(self, d_model: int) -> list[Weight]:
        """LongCat's shortcut MoE: the layer's dense FFN beside the experts, on the same input."""
        if self.ir.beside is None:
            return []
        return ffn_weights(f"{self.slot}.dense.", d_model, self.ir.beside, "dense_ffn")

    def shared_weights(self, d_model: int) -> list[Weight]:
        m, p = self.ir, f"{self.slot}."
        if m.shared is None:
            return []
        out = ffn_weights(f"{p}shared.", d_model, m.shared, "shared_experts")
        if m.shared_gate:
            out += linear(f"{p}shared_gate", d_model, 1, "shared_experts", split="replicated")
        return out

    def active(self, params: dict[str, int]) -> dict[str, int]:
        out = dict(params)
        out["routed_experts"] = params["routed_experts"] // self.ir.n_experts * self.ir.top_k
        return out

    def active_fewest(self, params: dict[str, int]) -> dict[str, int]:
        """With zero experts a token may fill its top_k slots with as many identities as there are:
        max(0, top_k - zero_experts) real experts (`active`: top_k real ones)."""
        out = dict(params)
        real = max(0, self.ir.top_k - self.ir.zero_experts)
        out["routed_experts"] = params["routed_experts"] // self.ir.n_experts * real
        return out

    @property
    def hash_routed(self) -> bool:
        """Hash routing: the experts come from a frozen token -> top_k table (DeepSeek V4's first layers)."""
        return self.ir.hash_table_rows is not None

    def buffers(self) -> int:
        # DeepSeek's e_score_correction_bias: set by load balancing, not by gradients; a hash-routed layer's
        # token -> experts table (tid2eid), loaded with the weights and never trained; ZAYA's balancing biases,
        # one per routing class (the skip expert's included)
        m = self.ir
        if m.router_hidden is not None:
            return m.n_experts + (1 if m.skip_expert else 0)
        table = self.ir.hash_table_rows * self.ir.top_k if self.hash_routed else 0
        # one correction bias per router output, zero experts' included (LongCat)
        return table + (m.n_experts + m.zero_experts if m.score_correction_bias else 0)

    def token_macs(self, d_model: int) -> dict[str, int]:
        out = matrix_macs(self.weights(d_model))
        out["routed_experts"] = out["routed_experts"] // self.ir.n_experts * self.ir.top_k  # a token meets top_k
        return out
