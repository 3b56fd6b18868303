"""Tables for `llmarch kvcache`: per layer kind, totals side by side (smallest highlighted), sweeps."""

from __future__ import annotations

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..ir import ModelIR
from ..kvcache import CONVENTIONS, KVResult
from . import fmt


def kv_tables(irs: list[ModelIR], results: list[KVResult], explain: bool = False) -> Group:
    items = []
    for ir, r in zip(irs, results):
        t = Table(box=box.SIMPLE_HEAVY, title=f"{ir.display_name}: KV cache at {r.ctx_tokens:,} tokens "
                  f"(batch {r.batch}, KV {r.kv_dtype}, state {r.state_dtype})", title_justify="left")
        t.add_column("layer kind", min_width=20, overflow="fold")
        for col in ("B/tok/layer", "tokens", "state B", "bytes"):
            t.add_column(col, justify="right", no_wrap=True)
        explained = []
        for row in r.rows:
            t.add_row(row.kind, f"{row.bytes_per_token_per_layer:,}", f"{row.tokens_cached:,}",
                      f"{row.fixed_bytes:,}", f"{row.bytes * r.batch:,}")
            explained.append(f"  {row.kind}: {row.formula}" + (f" x batch {r.batch}" if r.batch > 1 else "")
                             + f" = {row.bytes * r.batch:,} B")
        t.add_section()
        t.add_row(f"total = {fmt.nbytes(r.total_bytes)}", "", "", "", f"{r.total_bytes:,}")
        t.add_row(f"per token, all attention layers = {fmt.nbytes(r.per_token_bytes_all_layers)}",
                  f"{r.per_token_bytes_all_layers:,}", "", "", "")
        if r.baseline:
            b = r.baseline
            t.add_row(f"baseline {b['kind']} = {fmt.nbytes(b['total_bytes'])}, {b['factor']}x the total", "", "", "",
                      f"{b['total_bytes']:,}")
        items.append(t)
        if explain:
            explained.append(f"  per token, all attention layers: {r.per_token_bytes_all_layers:,} B"
                             " (windows ignored, linear state excluded)")
            items.append(Text("\n".join(explained), style="cyan"))
    if len(results) > 1:
        smallest = min(r.total_bytes for r in results)
        s = Table(box=box.SIMPLE_HEAVY, title="Side by side", title_justify="left")
        s.add_column("")
        for ir in irs:
            s.add_column(ir.display_name, justify="right")
        s.add_row("total", *[Text(fmt.nbytes(r.total_bytes), style="bold green" if r.total_bytes == smallest else "")
                             for r in results])
        s.add_row("per token, all attention layers", *[fmt.nbytes(r.per_token_bytes_all_layers) for r in results])
        items.append(s)
    if results and results[0].sweep:
        sw = Table(box=box.SIMPLE_HEAVY, title="Sweep: total bytes against context", title_justify="left")
        sw.add_column("context", justify="right")
        for ir in irs:
            sw.add_column(ir.display_name, justify="right")
        for i, point in enumerate(results[0].sweep):
            sw.add_row(f"{point['ctx_tokens']:,}", *[fmt.nbytes(r.sweep[i]["total_bytes"]) for r in results])
        items.append(sw)
    items.append(Text("\n".join(["  Conventions:"] + [f"  {k}: {v}" for k, v in CONVENTIONS.items()]), style="dim"))
    return Group(*items)
