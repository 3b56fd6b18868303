"""Budgets for CI gating of a proposed architecture (`llmarch check`): parse, measure, judge.

A budget is a ceiling on one measured quantity:
  max_total / max_active                 parameter counts, decimal suffixes ("8B")
  max_kv                                 KV-cache bytes at a context, binary units ("4GiB@128k")
  max_prefill_flops_per_token            FLOPs at a prefill length ("20G@4096")
  max_decode_flops_per_token             FLOPs of one decode step at a context ("20G@32k")
No torch: every measure is closed form.
Limits are read exactly as decimals (never through a float: "32.856305664B" is 32,856,305,664) and
floored to a whole number, since every measure is one; a budget above 10^30 or of more than 40 digits
is refused as a typo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext

from .errors import OptionError
from .ir import ModelIR
from .kvcache import kv_cache, parse_tokens
from .params import count_params

# A ceiling above any conceivable measure: 10^30 parameters, bytes or FLOPs per token. It keeps the
# verdict's float ratio finite and turns a mistyped run of digits into an error instead of a pass.
MAX_LIMIT = 10**30
KINDS = ("max_total", "max_active", "max_kv", "max_prefill_flops_per_token", "max_decode_flops_per_token")
_DECIMAL = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12, "P": 10**15}
_BYTES = {
    "B": 1,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}


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


def _number(text: str, units: dict[str, int], what: str) -> Decimal:
    """The exact value of `text` ("32.856305664B" -> 32856305664): Decimal, never float, so no digit is lost."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).upper() not in units:
        raise OptionError(
            f"budget `{_short(text)}`: expected a number with a unit ({', '.join(u for u in units if u)}) for {what}"
        )
    digits = m.group(1)
    if len(digits) > 40:
        raise OptionError(f"budget {what} `{_short(text)}` has {len(digits)} digits; no model measures that much")
    with localcontext() as exact:
        exact.prec = 80  # the default 28 significant digits would round a long budget
        return Decimal(digits) * units[m.group(2).upper()]


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:40] + "..."


def parse_budget(kind: str, text: str) -> Budget:
    kind = kind.replace("-", "_")
    if kind not in KINDS:
        raise OptionError(f"unknown budget `{kind}`; one of: {', '.join(KINDS)}")
    text = str(text)
    needs_at = kind in ("max_kv", "max_prefill_flops_per_token", "max_decode_flops_per_token")
    value, _, at = text.partition("@")
    if needs_at and not at:
        raise OptionError(
            f"budget {kind} `{_short(text)}` needs a context, e.g. `{'4GiB@128k' if kind == 'max_kv' else '20G@4096'}`"
        )
    if not needs_at and at:
        raise OptionError(f"budget {kind} `{_short(text)}` takes no `@context`")
    units = _BYTES if kind == "max_kv" else _DECIMAL
    exact = _number(value, units, kind)
    if exact <= 0:
        raise OptionError(f"budget {kind} `{_short(text)}` must be positive")
    if exact > MAX_LIMIT:
        raise OptionError(f"budget {kind} `{_short(text)}` is above 10^30, more than any model measures")
    # measures are whole numbers, so `measured <= exact` exactly when `measured <= floor(exact)`
    limit = int(exact)
    if limit < 1:
        raise OptionError(f"budget {kind} `{text}` is less than 1 (every measure is a whole number)")
    return Budget(kind, limit, parse_tokens(at) if at else None, text)


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
