"""A dense FFN and a mixture of experts side by side in one layer, their outputs summed (Gemma 4 26B-A4B's
`enable_moe_block`).  Not a shared expert: each branch has norms of its own, the experts read the layer's
input through their own pre-norm, and with post-norms each branch is normed before the sum and the sum once
more (the block's post-norm).  The article's panel draws the dense branch as "1 shared" expert, and the
panel keeps that reading with a note."""

from __future__ import annotations

from typing import Any, Optional

from ..ir import FFNIR, MoEIR
from .base import Box, Mechanism, Routing, Weight, matrix_macs, norm
from .ffn import FFN_NAMES, ffn_weights
from .moe import MoE

PANEL_NOTE = "the shared expert is a dense FFN in parallel with the experts, with norms of its own, not an expert"


class ParallelFFN(Mechanism):
    slot = "ffn"
    norm_prefix = "ffn"

    def __init__(self, dense: FFNIR, moe: MoEIR, post_norms: bool, norm_bias: bool) -> None:
        self.dense, self.moe = dense, MoE(moe)
        self.post_norms, self.norm_bias = post_norms, norm_bias  # the block's placement has post-norms
        self.experts = moe.n_experts

    @property
    def ffn_kind(self) -> str:
        return self.moe.ffn_kind

    def hyperparameters(self) -> dict[str, Any]:
        return self.moe.hyperparameters()  # the dense branch's width is no metadata key

    @property
    def conventions(self) -> tuple[str, ...]:
        return self.moe.conventions  # the experts' lines: the dense half states none

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        # llama.cpp's gemma4 states the dense branch's width as the FFN's and the experts' as a MoE's
        return [("feed_forward_length", (self.dense.d_ff,), "ffn.d_ff"), *self.moe.gguf_metadata()]

    @property
    def d_ff(self) -> int:
        return self.dense.d_ff

    @property
    def identity(self) -> tuple:
        return (type(self).__name__, self.dense, self.moe.ir, self.post_norms, self.norm_bias)

    def module(self, d_model: int):
        from .parallel_ffn_torch import ParallelFFNModule

        return ParallelFFNModule(d_model, self.dense, self.moe.ir, self.post_norms, self.norm_bias)

    def box(self) -> Box:
        """Drawn as the article draws it: the dense FFN as one shared expert beside the routed ones, with a
        note that it is a dense FFN in parallel (norms of its own), not an expert."""
        m = self.moe.ir
        notes = (
            ("n_experts", f"{m.n_experts} experts, {m.top_k} routed + 1 shared active"),
            ("d_expert", f"expert hidden size {m.expert.d_ff:,}"),
            ("ffn_kind", FFN_NAMES.get(m.expert.kind, m.expert.kind)),
            ("d_shared", f"shared = dense FFN in parallel, hidden size {self.dense.d_ff:,}"),
        )
        features = (("ffn", "MoE"), ("shared", "yes"))
        return Box("moe", "Mixture of experts + dense FFN", notes, "MoE", features, Routing(m.n_experts, m.top_k, 1))

    def panel(self) -> dict:
        """The article's reading: the dense branch as one shared expert of its width, with a note."""
        return {**self.moe.panel(), "shared": 1, "d_shared": self.dense.d_ff, "note": PANEL_NOTE}

    def _norms(self, d_model: int) -> list[Weight]:
        p = f"{self.slot}."
        out = norm(f"{p}moe_norm", d_model, "norms", self.norm_bias)  # the dense branch uses the block's pre-norm
        if self.post_norms:
            out += norm(f"{p}dense_post_norm", d_model, "norms", self.norm_bias)
            out += norm(f"{p}moe_post_norm", d_model, "norms", self.norm_bias)
        return out

    def _moe_weights(self, d_model: int) -> list[Weight]:
        # the experts' names under `ffn.moe.`, as the torch module nests them
        return [
            Weight(
                f"{self.slot}.moe." + w.name.removeprefix(f"{self.moe.slot}."), w.shape, w.matrix, w.component, w.split
            )
            for w in self.moe.weights(d_model)
        ]

    def weights(self, d_model: int) -> list[Weight]:
        dense = ffn_weights(f"{self.slot}.dense.", d_model, self.dense, "dense_ffn")
        return dense + self._moe_weights(d_model) + self._norms(d_model)

    def active(self, params: dict[str, int]) -> dict[str, int]:
        return self.moe.active(params)

    def active_fewest(self, params: dict[str, int]) -> dict[str, int]:
        return self.moe.active_fewest(params)  # the base's default would answer `active` (zero experts ignored)

    def token_macs(self, d_model: int) -> dict[str, int]:
        out = matrix_macs(ffn_weights(f"{self.slot}.dense.", d_model, self.dense, "dense_ffn"))
        for key, value in self.moe.token_macs(d_model).items():
            out[key] = out.get(key, 0) + value
        return out

    def parallel_error(self, tp: int, ep: int, model: str, kind: str) -> Optional[str]:
        return self.moe.parallel_error(tp, ep, model, kind)

    def experts_hit(self, batch: int) -> float:
        return self.moe.experts_hit(batch)
