"""Documents for `llmarch flops`."""

from __future__ import annotations

from ..analyze.flops import COMPONENTS
from ..flops_report import FlopsAnswer
from ..units import alike, format_tokens
from . import fmt
from .doc import Cell, Doc, DocTable
from .names import model_label

FORMULAS = [
    "Formulas (multiply-adds; x 2 for FLOPs):",
    "attention_proj: tokens x the attention's weight matrices (q, k, v, o; MLA: q_a, q_b, kv_a, kv_b, o; indexer)",
    "attention_scores: sum over queries of keys seen x n_heads x (d_qk + d_v) (+ indexer heads x dim per key)",
    "dense_ffn / shared_experts: tokens x the FFN's weight matrices; routed_experts: tokens x top_k x one expert",
    "router: tokens x d_model x n_experts; lm_head: logit tokens x d_model x vocab",
    "linear_recurrence: chunked delta rule / SSD per chunk and head (see conventions)",
    "per_layer_input: tokens x (d_model x layers x dim once + 2 d_model x dim per layer)",
    "altup: tokens x (2 (n - 1) d_model^2 once + (2 d_model n + n^3 + n^2 + d_model n^2) per layer)",
    "laurel: tokens x 2 d_model x rank per layer",
]


def _c(n: int | None) -> Cell:
    return Cell(fmt.flops(n), n)


def flops_doc(answer: FlopsAnswer, explain: bool = False) -> Doc:
    """The answer's tables; `explain`: the formulas too."""
    models, written, conventions = answer.models, answer.written, answer.table_conventions
    cols = [""]
    for m in models:
        seq = format_tokens(m["prefill"]["tokens"], written[0])
        cols += [
            f"{model_label(m['name'], m.get('edits'))} prefill {seq}",
            f"decode/token at {format_tokens(m['decode']['ctx_tokens'], written[1])}",
        ]
    t = DocTable(
        "FLOPs by component (M = 1e6, G = 1e9, T = 1e12, P = 1e15)", cols, right=set(range(1, len(cols))), group=2
    )

    def row(label: str, prefill: list[int | None], decode: list[int | None], absent: str = "") -> None:
        # the models' prefill numbers share a unit, and so do their decode numbers, so that they compare
        cells = [Cell(label)]
        for m, pre, dec, pre_text, dec_text in zip(
            models, prefill, decode, alike(prefill, fmt.flops), alike(decode, fmt.flops)
        ):
            cells += [Cell(pre_text, pre), Cell(dec_text if dec is not None else absent, dec)]
        t.rows.append(cells)

    for comp in COMPONENTS:
        if not any(m["prefill"]["by_component"][comp] or m["decode"]["by_component"][comp] for m in models):
            continue
        # a model without the component (0 FLOPs: a dense model's router) shows `—`, not `0.00 G`
        row(
            comp,
            [m["prefill"]["by_component"][comp] or None for m in models],
            [m["decode"]["by_component"][comp] or None for m in models],
            absent="—",
        )
    t.section()
    row("total", [m["prefill"]["flops"] for m in models], [m["decode"]["flops_per_token"] for m in models])
    row("per token", [m["prefill"]["flops_per_token"] for m in models], [None] * len(models))
    n2 = [m["rules_of_thumb"]["2n"] for m in models]
    row("2 x active params", n2, n2)
    row("6 x active (training)", [m["rules_of_thumb"]["6n"] for m in models], [None] * len(models))
    doc = Doc([t], notes=[f"{k}: {v}" for k, v in conventions.items()] + (FORMULAS if explain else []))
    flat = DocTable(
        "", ["model", "component", "prefill_tokens", "prefill_flops", "decode_ctx_tokens", "decode_flops_per_token"]
    )
    for m in models:
        for comp in COMPONENTS:
            flat.add(
                model_label(m["name"], m.get("edits")),
                comp,
                m["prefill"]["tokens"],
                m["prefill"]["by_component"][comp],
                m["decode"]["ctx_tokens"],
                m["decode"]["by_component"][comp],
            )
    doc.csv_table = flat
    if any(len(m["counters"]) > 1 for m in models):
        c = DocTable(
            "Prefill total: analytic vs traced counters",
            ["model", "counter", "raw", "normalised FLOPs", "vs analytic"],
            right={2, 3, 4},
        )
        for m in models:
            for name, entry in m["counters"].items():
                if entry.get("error"):
                    c.rows.append(
                        [
                            Cell(model_label(m["name"], m.get("edits"))),
                            Cell(name),
                            Cell("—"),
                            Cell(entry["error"], style="red"),
                            Cell(""),
                        ]
                    )
                    continue
                agreement = entry.get("agreement")
                diff = "" if agreement is None else f"{(agreement - 1) * 100:+.4f}%"
                unit = " MACs" if name == "fvcore" else ""
                c.rows.append(
                    [
                        Cell(model_label(m["name"], m.get("edits"))),
                        Cell(name),
                        Cell(fmt.flops(entry["raw"]) + unit, entry["raw"]),
                        Cell(fmt.flops(entry["normalised"]), entry["normalised"]),
                        Cell(diff, agreement),
                    ]
                )
        doc.tables.append(c)
        doc.csv_more.append(c)  # csv: after the per-component table, as a titled section
        doc.remarks.append(
            "normalised: fvcore x 2 (it counts multiply-adds); the full S x S attention square traced "
            "counters see, minus the causal/window part the analytic count leaves out"
        )
    for m in models:
        if m.get("sweep"):
            s = DocTable(
                f"{m['display_name']}: decode against context",
                ["context", "FLOPs/token", "KV bytes", "bytes read (bf16 active weights + KV)"],
                right={0, 1, 2, 3},
            )
            for r in m["sweep"]:
                s.rows.append(
                    [
                        Cell(f"{r['ctx_tokens']:,}", r["ctx_tokens"]),
                        _c(r["decode_flops_per_token"]),
                        Cell(fmt.nbytes(r["kv_bytes"]), r["kv_bytes"]),
                        Cell(fmt.nbytes(r["bytes_read"]), r["bytes_read"]),
                    ]
                )
            doc.tables.append(s)
            doc.csv_more.append(s)
    return doc
