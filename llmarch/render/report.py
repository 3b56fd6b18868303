"""The `report` document: the summary table, the failed specs, then each pair compared (no spec re-loaded)."""

from __future__ import annotations

from ..report import Report
from . import fmt
from .doc import Cell, Doc, DocTable
from .names import model_label
from .table import compare_doc


def report_doc(report: Report) -> Doc:
    rows = report.rows
    ctx = rows[0]["ctx_tokens"] if rows else 0
    t = DocTable(
        "Summary",
        ["model", "total", "active", "weights (bf16)", f"KV at {ctx:,}" if rows else "KV", "prefill FLOPs/token"],
        right={1, 2, 3, 4, 5},
    )
    for r in rows:
        t.rows.append(
            [
                Cell(model_label(r["name"], r.get("edits"))),
                Cell(fmt.params(r["total"]), r["total"]),
                Cell(fmt.params(r["active"]), r["active"]),
                Cell(fmt.nbytes(r["weights_bf16_bytes"]), r["weights_bf16_bytes"]),
                # marked in every format: a CI summary written to a file has no stderr beside it
                Cell(
                    fmt.nbytes(r["kv_bytes"]) + (" *" if r["ctx_tokens"] > r["context_length"] else ""), r["kv_bytes"]
                ),
                Cell(fmt.flops(r["prefill_flops_per_token"]), r["prefill_flops_per_token"]),
            ]
        )
    doc = Doc([t], notes=[f"{k}: {v}" for k, v in report.table_conventions.items()])
    if any(r["ctx_tokens"] > r["context_length"] for r in rows):
        doc.remarks.append(f"warning: * {ctx:,} tokens is beyond that model's context length")
    # csv's exact values carry no `*`: its remarks name each model instead
    doc.csv_remarks = [f"warning: {w}" for w in report.warnings]
    if report.errors:
        failed = DocTable("Specs that could not be analysed", ["spec", "error"])
        failed.rows += [[Cell(e["target"]), Cell(e["error"])] for e in report.errors]
        doc.tables.append(failed)
    for comparison in report.comparisons:
        sub = compare_doc(comparison)
        sub.tables[0].title = " vs ".join(m["display_name"] for m in comparison.as_dict()["models"])
        doc.tables += sub.tables
        doc.csv_more += sub.tables  # csv's header is the summary's: each pair follows as its own section
    return doc
