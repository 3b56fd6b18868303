"""The torch primitives every mechanism's meta module is built from, how a layer runs its parts, and
the head reshapes the attention and linear-mixer forwards share.

Parameters are created with `torch.empty(..., device="meta")` and never initialised: default
initialisation on meta goes through `torch._refs` and imports `torch._dynamo` (about 1.7 s), more
than the build itself.  Only the meta build imports this module (torch is slow to load).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

META = torch.device("meta")


def param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape, device=META))


class Linear(nn.Module):
    def __init__(self, d_in: int, d_out: int, bias: bool = False) -> None:
        super().__init__()
        self.weight = param(d_out, d_in)
        self.bias = param(d_out) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


class Norm(nn.Module):
    """A norm's parameters only: FLOP counters count no element-wise work, so no forward is needed."""

    def __init__(self, dim: int, bias: bool = False) -> None:
        super().__init__()
        self.weight = param(dim)
        self.bias = param(dim) if bias else None


class Embedding(nn.Module):
    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.weight = param(n, dim)


# ---------------------------------------------------------------------------------------------------
# How a layer and the model run their mechanisms' modules (the meta build's side of the protocol)


@dataclass
class BlockState:
    """What a layer's parts read and write while it runs: the residual stream `x` (B, S, d), the layer's
    input `h` (what the mixer and the parallel residuals read), the context of a decode step, what the
    model hands this layer (a per-layer embedding), the residual streams (B, S, n, d) when there are any
    (AltUp's, hyper-connections'), whether the FFN reads the layer's input beside the mixer (a parallel
    block) rather than the stream after it, and `out`, the output of the mixer or FFN that ran last before
    the residual added it (a part that replaces the plain residual, hyper-connections, reads it)."""

    x: torch.Tensor
    ctx: int
    layer_input: Optional[torch.Tensor] = None
    h: Optional[torch.Tensor] = None
    streams: Optional[torch.Tensor] = None
    parallel: bool = False
    out: Optional[torch.Tensor] = None


class Part(nn.Module):
    """A mechanism's torch module as its layer runs it.  The layer calls every part's `enter` in the
    protocol's order, sets the layer's input, then every `mix` (the sublayers that read the layer's
    input), every `feed` (those that read the stream after them), and every `leave` in reverse order: a
    part that wraps the block (AltUp's streams) leaves after the parts inside it, as nested `with`s do."""

    def enter(self, s: BlockState) -> None:
        pass

    def mix(self, s: BlockState) -> None:
        pass

    def feed(self, s: BlockState) -> None:
        pass

    def leave(self, s: BlockState) -> None:
        pass


class MixerPart(Part):
    """A token mixer (an attention, a linear mixer): `forward(x, ctx)` on the layer's input, added to
    the residual stream."""

    def mix(self, s: BlockState) -> None:
        s.out = self(s.h, s.ctx)
        s.x = s.x + s.out


class FeedForwardPart(Part):
    """An FFN (dense or experts): `forward(x)` on the stream after the mixer, added to it; in a parallel
    block on the layer's input, as the mixer reads it, both added to the stream together."""

    def mix(self, s: BlockState) -> None:
        if s.parallel:
            s.out = self(s.h)
            s.x = s.x + s.out

    def feed(self, s: BlockState) -> None:
        if not s.parallel:
            s.out = self(s.x)
            s.x = s.x + s.out


@dataclass
class ModelState:
    """What the model-level parts read and write around the layers: the token ids, the stream after the
    embedding (B, S, d), or AltUp's streams (B, S, n, d), and what each layer is handed."""

    input_ids: torch.Tensor
    x: torch.Tensor
    layer_inputs: list


class ModelPart(nn.Module):
    """A mechanism's modules stored once per model.  Their names are the checkpoint's (`per_layer_embed`,
    `altup_in`), so the model mounts this part's children under their own names and holds the part
    outside its module tree; `enter` runs after the embedding (in order), `leave` before the final
    norm (in reverse order)."""

    def enter(self, s: ModelState) -> None:
        pass

    def leave(self, s: ModelState) -> None:
        pass


# ---------------------------------------------------------------------------------------------------
# Shapes the attention and linear-mixer forwards share: heads folded into the bmm batch


def split_heads(x: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    """(B, S, n*dim) -> (B*n, S, dim)"""
    B, S, _ = x.shape
    return x.reshape(B, S, n, dim).transpose(1, 2).reshape(B * n, S, dim)


def merge_heads(x: torch.Tensor, B: int, n: int) -> torch.Tensor:
    """(B*n, S, dim) -> (B, S, n*dim)"""
    _, S, dim = x.shape
    return x.reshape(B, n, S, dim).transpose(1, 2).reshape(B, S, n * dim)


def repeat_heads(x: torch.Tensor, B: int, n_kv: int, n: int) -> torch.Tensor:
    """(B*n_kv, T, d) -> (B*n, T, d): each KV head serves n / n_kv query heads (GQA)."""
    if n == n_kv:
        return x
    _, T, d = x.shape
    return x.reshape(B, n_kv, 1, T, d).expand(B, n_kv, n // n_kv, T, d).reshape(B * n, T, d)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T) v with explicit 3-D bmm: q (BH, S, dq), k (BH, T, dq), v (BH, T, dv)."""
    scores = torch.bmm(q, k.transpose(1, 2))
    return torch.bmm(scores.softmax(-1), v)


def with_cache(new: torch.Tensor, n_keys: int) -> torch.Tensor:
    """Prepend `n_keys - S` cached positions (empty meta tensors) to this step's keys or values."""
    cached = n_keys - new.shape[1]
    if cached <= 0:
        return new
    past = torch.empty(new.shape[0], cached, new.shape[2], device=new.device, dtype=new.dtype)
    return torch.cat([past, new], dim=1)


def keep(out: torch.Tensor, *used: torch.Tensor) -> torch.Tensor:
    """Tie results that only feed element-wise work (gates, decays, the final recurrent state) to the
    output, with reductions no counter counts, so that jit tracing (fvcore) does not drop them."""
    for t in used:
        out = out + t.sum() * 0
    return out
