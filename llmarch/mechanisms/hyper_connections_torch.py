"""Hyper-connections' torch modules for the meta build (DeepSeek V4), reached through
`HyperConnections.module` (one layer's two hyper-connections, around its attention and its FFN) and
`HyperConnections.model_module` (the embedding widened to n streams, and the final head that collapses
them).  The weightless input norm, the sigmoids, the scales and the Sinkhorn normalisation are
element-wise and left out: what a counter sees are the projection of the flattened streams, the collapse,
the stream mix and the expansion."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .primitives import BlockState, ModelPart, ModelState, Part, param


class HyperConnection(nn.Module):
    """One manifold-constrained hyper-connection: from the flattened streams, the weights that collapse them
    into a sublayer's input, expand its output back and mix the streams (`rows` = (n + 2) n), or, as the
    final head (`rows` = n), the collapse only."""

    def __init__(self, d: int, n: int, rows: int, scales: int) -> None:
        super().__init__()
        self.n = n
        self.fn = param(rows, n * d)
        self.base = param(rows)
        self.scale = param(scales)

    def forward(self, streams: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """streams (B, S, n, d) -> the collapsed input (B, S, d), and the expand (B*S, n, 1) and mix
        (B*S, n, n) weights."""
        B, S, n, d = streams.shape
        mixes = F.linear(streams.reshape(B, S, n * d), self.fn).reshape(B * S, -1)  # (B*S, rows)
        pre = mixes[:, :n].unsqueeze(1)  # (B*S, 1, n)
        collapsed = torch.bmm(pre, streams.reshape(B * S, n, d)).reshape(B, S, d)  # (B*S, 1, d) -> (B, S, d)
        if mixes.shape[1] == n:  # the final head: collapse only
            return collapsed, pre, pre
        post = mixes[:, n : 2 * n].unsqueeze(-1)  # (B*S, n, 1)
        comb = mixes[:, 2 * n :].reshape(B * S, n, n)  # (B*S, n, n)
        return collapsed, post, comb

    def merge(self, streams: torch.Tensor, out: torch.Tensor, post: torch.Tensor, comb: torch.Tensor) -> torch.Tensor:
        """The new streams: the sublayer's output expanded (n x d) plus the mixed old streams (n^2 x d)."""
        B, S, n, d = streams.shape
        expanded = torch.bmm(post, out.reshape(B * S, 1, d))  # (B*S, n, 1) @ (B*S, 1, d) -> (B*S, n, d)
        mixed = torch.bmm(comb.transpose(1, 2), streams.reshape(B * S, n, d))  # (B*S, n, d)
        return (expanded + mixed).reshape(B, S, n, d)


class HyperConnectionsModule(Part):
    """One layer's hyper-connections: the block's residual mechanism, wrapping its mixer and its FFN.  The
    layer's stream arrives as n streams (B, S, n, d).  It is the layer's last part, so its `mix` runs after
    the mixer's and its `leave` after the FFN's `feed`: `enter` collapses the streams into the mixer's input,
    `mix` expands the mixer's output onto them (in place of the plain residual, whose sum it drops) and
    collapses them into the FFN's input, `leave` expands the FFN's output; the layer hands on the streams."""

    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.attn = HyperConnection(d, n, (n + 2) * n, 3)
        self.ffn = HyperConnection(d, n, (n + 2) * n, 3)

    def enter(self, s: BlockState) -> None:
        s.streams = s.x  # (B, S, n, d)
        s.x, self._post, self._comb = self.attn(s.streams)  # the mixer's input (B, S, d)

    def mix(self, s: BlockState) -> None:
        s.streams = self.attn.merge(s.streams, s.out, self._post, self._comb)
        s.x, self._post, self._comb = self.ffn(s.streams)  # the FFN's input (B, S, d)

    def leave(self, s: BlockState) -> None:
        s.streams = self.ffn.merge(s.streams, s.out, self._post, self._comb)
        self._post = self._comb = None


class HyperConnectionsHead(ModelPart):
    """The embedding copied to every stream, and after the last layer the head that collapses the streams
    before the final norm."""

    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.n = n
        self.hc_head = HyperConnection(d, n, n, 1)

    def enter(self, s: ModelState) -> None:
        B, S, d = s.x.shape
        s.x = s.x.unsqueeze(2).expand(B, S, self.n, d)  # (B, S, n, d)

    def leave(self, s: ModelState) -> None:
        s.x = self.hc_head(s.x)[0]  # (B, S, d)
