"""The `check` table: each budget's limit, the measure and the verdict."""

from __future__ import annotations

from ..analyze.budgets import CheckResult
from ..units import BYTES, COUNT, format_as
from .doc import Cell, Doc, DocTable

UNITS = {"max_kv": BYTES}  # every other budget is a count of parameters or FLOPs


def check_doc(result: CheckResult) -> Doc:
    t = DocTable(f"{result.display_name}: budgets", ["budget", "limit", "measured", "verdict"], right={2})
    for v in result.verdicts:
        verdict = "ok" if v.ok else f"FAIL: over by {v.over_by:.1%}"
        t.rows.append(
            [
                Cell(v.budget.kind),
                Cell(v.budget.text),
                # in the unit the limit was written in (8B: 8.191B; 4GiB: 18.00 GiB); exact: -f json/csv
                Cell(format_as(v.measured, v.budget.text.split("@")[0], UNITS.get(v.budget.kind, COUNT)), v.measured),
                Cell(verdict, style="green" if v.ok else "bold red"),
            ]
        )
    return Doc(
        [t],
        notes=[
            "parameter and FLOP suffixes decimal (B = 1e9, G = 1e9); bytes binary (GiB = 1024^3); "
            "k = 1024 tokens; measures are closed form (see `llmarch flops` / `kvcache`)"
        ],
    )
