"""The `check` table: each budget's limit, the measure and the verdict."""

from __future__ import annotations

from ..budgets import CheckResult
from .doc import Cell, Doc, DocTable


def check_doc(result: CheckResult) -> Doc:
    t = DocTable(f"{result.display_name}: budgets", ["budget", "limit", "measured", "verdict"], right={2})
    for v in result.verdicts:
        verdict = "ok" if v.ok else f"FAIL: over by {v.over_by:.1%}"
        t.rows.append(
            [
                Cell(v.budget.kind),
                Cell(v.budget.text),
                Cell(f"{v.measured:,}", v.measured),
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
