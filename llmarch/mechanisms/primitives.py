"""The torch primitives every mechanism's meta module is built from.

Parameters are created with `torch.empty(..., device="meta")` and never initialised: default
initialisation on meta goes through `torch._refs` and imports `torch._dynamo` (about 1.7 s), more
than the build itself.  Only the meta build imports this module (torch is slow to load).
"""

from __future__ import annotations

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
