"""Budgets for CI gating of a proposed architecture (`llmarch check`): measure and judge (budget_text parses).

A budget is a ceiling on one measured quantity (units as in units.py):
  max_total / max_active                 parameter counts, decimal suffixes ("8B")
  max_kv                                 KV-cache bytes at a context, binary or decimal units ("4GiB@128k")
  max_prefill_flops_per_token            FLOPs at a prefill length ("20G@4096")
  max_decode_flops_per_token             FLOPs of one decode step at a context ("20G@32k")
No torch: every measure is closed form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LlmarchError, did_you_mean
from ..ir import ModelIR
from ..spec.budget_text import KINDS, MAX_LIMIT, Budget, parse_budget
from ..spec.yamlsafe import load_file
from .kvcache import kv_cache
from .params import count_params

__all__ = [
    "KINDS",
    "MAX_LIMIT",
    "Budget",
    "CheckResult",
    "Verdict",
    "check",
    "judge",
    "measure",
    "parse_budget",
    "read_budgets",
]


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


@dataclass(frozen=True)
class CheckResult:
    """`llmarch check`'s answer for one model: each budget's verdict."""

    name: str
    display_name: str
    verdicts: list[Verdict]
    edits: dict = field(default_factory=dict)  # the model's what-if edits (ModelIR.edit_fields)

    @property
    def ok(self) -> bool:
        return all(v.ok for v in self.verdicts)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "display_name": self.display_name,
            **({"edits": self.edits} if self.edits else {}),
            "ok": self.ok,
            "budgets": [
                {
                    "budget": v.budget.kind,
                    "limit": v.budget.limit,
                    "at_tokens": v.budget.at_tokens,
                    "text": v.budget.text,
                    "measured": v.measured,
                    "ok": v.ok,
                }
                for v in self.verdicts
            ],
        }


def judge(ir: ModelIR, budgets: list[Budget]) -> CheckResult:
    return CheckResult(ir.name, ir.display_name, check(ir, budgets), ir.edit_fields().get("edits", {}))


def read_budgets(path: str) -> dict[str, str]:
    """A YAML file of budgets (the keys of a spec's `budgets:` block) -> kind -> text, each checked and located."""
    texts: dict[str, str] = {}
    located = load_file(Path(path))
    for key, value in located.data.items():
        if str(key).replace("-", "_") not in KINDS:
            raise located.error((key,), f"unknown budget `{key}`", did_you_mean(str(key), KINDS))
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            # a YAML float has already lost digits (and `true` is no budget): ask for the text
            raise located.error((key,), f"expected a budget such as `8B` or `4GiB@128k`, got {value!r}")
        try:
            parse_budget(str(key), str(value))
        except LlmarchError as exc:
            raise located.error((key,), str(exc)) from None
        texts[str(key).replace("-", "_")] = str(value)
    return texts
