"""Manifold-constrained hyper-connections (DeepSeek V4): the block's residual mechanism.

The residual is n streams of d_model.  Before the attention and before the FFN, one hyper-connection reads
the flattened streams (n x d, after a weightless RMSNorm) through a learned matrix `fn` of (n + 2) n rows
and, with a learned bias `base` and three scales, gets per token: n weights that collapse the streams into
the sublayer's input, n weights that expand the sublayer's output back onto the streams, and an n x n mix
of the streams (made doubly stochastic by Sinkhorn iterations).  After the last layer a head (`hc_head`,
n rows) collapses the streams once more before the final norm.

Activation memory: the residual stream a layer hands to the next is n x d_model per token instead of
d_model (n = 4 for DeepSeek V4).
"""

from __future__ import annotations

from typing import Any, Optional

from .base import Box, Mechanism, Weight, matrix_macs, vector

SUBLAYERS = ("attn", "ffn")  # one around the attention, one around the FFN (transformers: attn_hc, ffn_hc)


class HyperConnections(Mechanism):
    slot = "hc"
    norm_prefix = ""  # its input norm has no weight: the block gives it none
    sublayer = False
    label = "hyper-connections"
    conventions = ("compressed",)  # flops' DeepSeek V4 line states the hyper-connections' costs too

    def __init__(self, n_streams: int, sinkhorn_iters: Optional[int] = None) -> None:
        self.n = n_streams
        self.sinkhorn_iters = sinkhorn_iters

    def panel_extra(self) -> Optional[tuple[str, Any]]:
        return ("hyper-connection streams", self.n)

    def box(self) -> Box:
        note = f"hyper-connections: {self.n} residual streams, mixed before each sublayer"
        return Box("extras", notes=(("hc", note),), place="around")

    def module(self, d_model: int):
        from .hyper_connections_torch import HyperConnectionsModule

        return HyperConnectionsModule(d_model, self.n)

    def model_module(self, d_model: int):
        from .hyper_connections_torch import HyperConnectionsHead

        return HyperConnectionsHead(d_model, self.n)

    def _one(self, prefix: str, d_model: int, rows: int, scales: int) -> list[Weight]:
        n = self.n
        return [
            Weight(f"{prefix}.fn", (rows, n * d_model), True, "hyper_connections"),
            *vector(f"{prefix}.base", (rows,), "hyper_connections"),
            *vector(f"{prefix}.scale", (scales,), "hyper_connections"),
        ]

    def weights(self, d_model: int) -> list[Weight]:
        rows = (self.n + 2) * self.n  # collapse (n), expand (n), mix (n x n)
        return [w for p in SUBLAYERS for w in self._one(f"{self.slot}.{p}", d_model, rows, 3)]

    def model_weights(self, d_model: int) -> list[Weight]:
        return self._one("hc_head", d_model, self.n, 1)  # the final collapse: n weights, one scale

    def _stream_macs(self, d_model: int) -> int:
        """One hyper-connection's products with the streams per token: the collapse (n x d), the n x n mix
        of the streams (n^2 x d) and the expansion of the sublayer's output (n x d)."""
        return (self.n * self.n + 2 * self.n) * d_model

    def token_macs(self, d_model: int) -> dict[str, int]:
        out = matrix_macs(self.weights(d_model))
        out["hyper_connections"] += len(SUBLAYERS) * self._stream_macs(d_model)
        return out

    def model_token_macs(self, d_model: int) -> dict[str, int]:
        out = matrix_macs(self.model_weights(d_model))
        out["hyper_connections"] += self.n * d_model  # the head's collapse
        return out
