"""Tables for `llmarch flops`."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..flops import COMPONENTS, CONVENTIONS
from ..ir import ModelIR
from . import fmt


def gflops(n: int | None) -> str:
    if n is None:
        return "—"
    if abs(n) >= 10**12:
        return f"{n / 10**12:,.2f} T"
    return f"{n / 10**9:,.2f} G"


def flops_tables(irs: list[ModelIR], models: list[dict[str, Any]], explain: bool = False) -> Group:
    items: list[Any] = []
    t = Table(box=box.SIMPLE_HEAVY, title="FLOPs by component (G = 1e9, T = 1e12)", title_justify="left")
    t.add_column("", min_width=17, overflow="fold")
    for m in models:
        t.add_column(f"{m['name']}\nprefill {m['prefill']['tokens']:,}", justify="right", no_wrap=True)
        t.add_column(f"decode/token\nat {m['decode']['ctx_tokens']:,}", justify="right", no_wrap=True)
    for comp in COMPONENTS:
        if not any(m["prefill"]["by_component"][comp] or m["decode"]["by_component"][comp] for m in models):
            continue
        row = [comp]
        for m in models:
            row += [gflops(m["prefill"]["by_component"][comp]), gflops(m["decode"]["by_component"][comp])]
        t.add_row(*row)
    t.add_section()
    row = ["total"]
    for m in models:
        row += [gflops(m["prefill"]["flops"]), gflops(m["decode"]["flops_per_token"])]
    t.add_row(*row)
    row = ["per token"]
    for m in models:
        row += [gflops(m["prefill"]["flops_per_token"]), ""]
    t.add_row(*row)
    row = ["2 x active params"]
    for m in models:
        row += [gflops(m["rules_of_thumb"]["2n"]), gflops(m["rules_of_thumb"]["2n"])]
    t.add_row(*row)
    row = ["6 x active (training)"]
    for m in models:
        row += [gflops(m["rules_of_thumb"]["6n"]), ""]
    t.add_row(*row)
    items.append(t)
    if any(len(m["counters"]) > 1 for m in models):
        c = Table(box=box.SIMPLE_HEAVY, title="Prefill total: analytic vs traced counters", title_justify="left")
        for col in ("model", "counter", "raw", "normalised FLOPs", "vs analytic"):
            c.add_column(col, justify="left" if col in ("model", "counter") else "right", no_wrap=True)
        for m in models:
            for name, entry in m["counters"].items():
                if entry.get("error"):
                    c.add_row(m["name"], name, "—", Text(entry["error"], style="red"), "")
                    continue
                unit = " MACs" if name == "fvcore" else ""
                agreement = entry.get("agreement")
                diff = "" if agreement is None else f"{(agreement - 1) * 100:+.4f}%"
                c.add_row(m["name"], name, gflops(entry["raw"]) + unit, gflops(entry["normalised"]), diff)
        items.append(c)
        items.append(Text("  normalised: fvcore x 2 (it counts multiply-adds); the full S x S attention square "
                          "traced counters see, minus the causal/window part the analytic count leaves out", style="dim"))
    for m in models:
        if m.get("sweep"):
            s = Table(box=box.SIMPLE_HEAVY, title=f"{m['display_name']}: decode against context", title_justify="left")
            for col in ("context", "FLOPs/token", "KV bytes", "bytes read (bf16 active weights + KV)"):
                s.add_column(col, justify="right")
            for r in m["sweep"]:
                s.add_row(f"{r['ctx_tokens']:,}", gflops(r["decode_flops_per_token"]), fmt.nbytes(r["kv_bytes"]),
                          fmt.nbytes(r["bytes_read"]))
            items.append(s)
    lines = ["  Conventions:"] + [f"  {k}: {v}" for k, v in CONVENTIONS.items()]
    if explain:
        lines += ["  Formulas (multiply-adds, x 2 for FLOPs):",
                  "  attention_proj: tokens x the attention's weight matrices (q, k, v, o; MLA: q_a, q_b, kv_a, kv_b, o; indexer)",
                  "  attention_scores: sum over queries of keys seen x n_heads x (d_qk + d_v) (+ indexer heads x dim per key)",
                  "  dense_ffn / shared_experts: tokens x the FFN's weight matrices; routed_experts: tokens x top_k x one expert",
                  "  router: tokens x d_model x n_experts; lm_head: logit tokens x d_model x vocab",
                  "  linear_recurrence: chunked delta rule / SSD per chunk and head (see conventions)"]
    items.append(Text("\n".join(lines), style="dim"))
    return Group(*items)
