"""Budgets for CI gating of a proposed architecture (`llmarch check`): parse, measure, judge.

A budget is a ceiling on one measured quantity (units as in units.py):
  max_total / max_active                 parameter counts, decimal suffixes ("8B")
  max_kv                                 KV-cache bytes at a context, binary or decimal units ("4GiB@128k")
  max_prefill_flops_per_token            FLOPs at a prefill length ("20G@4096")
  max_decode_flops_per_token             FLOPs of one decode step at a context ("20G@32k")
No torch: every measure is closed form.
Limits are read exactly (units.parse, never through a float: "32.856305664B" is 32,856,305,664) and
floored to a whole number, since every measure is one; a budget above 10^30 or of more than 40 digits
is refused as a typo.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import OptionError, shorten
from .ir import ModelIR
from .kvcache import kv_cache
from .params import count_params
from .units import BYTES, COUNT, parse, parse_tokens

# A ceiling above any conceivable measure: 10^30 parameters, bytes or FLOPs per token. It keeps the
# verdict's float ratio finite and turns a mistyped run of digits into an error instead of a pass.
MAX_LIMIT = 10**30
KINDS = ("max_total", "max_active", "max_kv", "max_prefill_flops_per_token", "max_decode_flops_per_token")


@dataclass(frozen=True)
class Budget:
    kind: str
    limit: int
    at_tokens: int | None
    text: str


@dataclass(frozen=True)
class Verdict:
    budget: Budget
    measured: int

    @property
    def ok(self) -> bool:
        return self.measured <= self.budget.limit

    @property
    def over_by(self) -> float:
        return self.measured / self.budget.limit - 1


def parse_budget(kind: str, text: str) -> Budget:
    kind = kind.replace("-", "_")
    if kind not in KINDS:
        raise OptionError(f"unknown budget `{kind}`; one of: {', '.join(KINDS)}")
    text = str(text)
    needs_at = kind in ("max_kv", "max_prefill_flops_per_token", "max_decode_flops_per_token")
    value, _, at = text.partition("@")
    if needs_at and not at:
        raise OptionError(
            f"budget {kind} `{shorten(text)}` needs a context, e.g. `{'4GiB@128k' if kind == 'max_kv' else '20G@4096'}`"
        )
    if not needs_at and at:
        raise OptionError(f"budget {kind} `{shorten(text)}` takes no `@context`")
    if kind == "max_kv":  # a size names its unit: a bare "4096" could mean bytes or KiB
        exact = parse(value, BYTES, f"budget {kind}", unit_required=True).value
    else:
        exact = parse(value, COUNT, f"budget {kind}").value
    if exact <= 0:
        raise OptionError(f"budget {kind} `{shorten(text)}` must be positive")
    if exact > MAX_LIMIT:
        raise OptionError(f"budget {kind} `{shorten(text)}` is above 10^30, more than any model measures")
    # measures are whole numbers, so `measured <= exact` exactly when `measured <= floor(exact)`
    limit = int(exact)
    if limit < 1:
        raise OptionError(f"budget {kind} `{shorten(text)}` is less than 1 (every measure is a whole number)")
    return Budget(kind, limit, parse_tokens(at, f"budget {kind} context") if at else None, text)


def measure(ir: ModelIR, budget: Budget) -> int:
    from . import flops

    if budget.kind == "max_total":
        return count_params(ir).total
    if budget.kind == "max_active":
        return count_params(ir).active
    if budget.kind == "max_kv":
        return kv_cache(ir, budget.at_tokens).total_bytes
    if budget.kind == "max_prefill_flops_per_token":
        return flops.prefill(ir, budget.at_tokens).flops // budget.at_tokens
    return flops.decode(ir, budget.at_tokens).flops


def check(ir: ModelIR, budgets: list[Budget]) -> list[Verdict]:
    return [Verdict(b, measure(ir, b)) for b in budgets]
