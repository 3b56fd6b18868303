"""Documents for `llmarch kvcache`: per layer kind, totals side by side (smallest highlighted), sweeps."""

from __future__ import annotations

from ..kv_report import KvAnswer
from ..units import alike, format_tokens
from . import fmt
from .doc import Cell, Doc, DocTable
from .names import model_label


def kv_doc(answer: KvAnswer, explain: bool = False) -> Doc:
    """The answer's tables; `explain`: each number with its formula."""
    results, names = answer.results, answer.names
    doc = Doc(notes=[f"{k}: {v}" for k, v in answer.table_conventions.items()])
    flat = DocTable(
        "",
        [
            "model",
            "ctx_tokens",
            "layer_kind",
            "layers",
            "bytes_per_token_per_layer",
            "tokens_cached",
            "fixed_bytes",
            "bytes",
        ],
    )
    doc.csv_table = flat
    for n, r in zip(names, results):
        for row in r.rows:
            flat.add(
                model_label(n["name"], n.get("edits")),
                r.ctx_tokens,
                row.kind,
                row.layers,
                row.bytes_per_token_per_layer,
                row.tokens_cached,
                row.fixed_bytes,
                row.bytes * r.batch,
            )
        t = DocTable(
            f"{n['display_name']}: KV cache at {format_tokens(r.ctx_tokens, answer.ctx_text)} tokens (batch {r.batch}, "
            f"KV {r.kv_dtype}, state {r.state_dtype})",
            ["layer kind", "per token per layer", "tokens", "state", "bytes"],
            right={1, 2, 3, 4},
        )
        # sizes in binary units, 4 significant digits (the exact bytes: -f csv/json, --explain)
        for row in r.rows:
            t.rows.append(
                [
                    Cell(row.kind),
                    Cell(fmt.nbytes(row.bytes_per_token_per_layer), row.bytes_per_token_per_layer),
                    Cell(f"{row.tokens_cached:,}", row.tokens_cached),
                    Cell(fmt.nbytes(row.fixed_bytes) if row.fixed_bytes else "—", row.fixed_bytes),
                    Cell(fmt.nbytes(row.bytes * r.batch), row.bytes * r.batch),
                ]
            )
            if explain:
                doc.remarks.append(
                    f"  {n['name']}: {row.kind}: {row.formula}"
                    + (f" x batch {r.batch}" if r.batch > 1 else "")
                    + f" = {row.bytes * r.batch:,} B"
                )
        t.section()
        t.rows.append([Cell("total"), Cell(""), Cell(""), Cell(""), Cell(fmt.nbytes(r.total_bytes), r.total_bytes)])
        # in the bytes column: under `per token per layer` a vertical layout would misname it
        t.rows.append(
            [
                Cell("per token, all attention layers"),
                Cell(""),
                Cell(""),
                Cell(""),
                Cell(fmt.nbytes(r.per_token_bytes_all_layers), r.per_token_bytes_all_layers),
            ]
        )
        if r.baseline:
            b = r.baseline
            t.rows.append(
                [
                    Cell(f"baseline {b['kind']}, {b['factor']}x the total"),
                    Cell(""),
                    Cell(""),
                    Cell(""),
                    Cell(fmt.nbytes(b["total_bytes"]), b["total_bytes"]),
                ]
            )
        doc.tables.append(t)
        if explain:
            doc.remarks.append(
                f"  {n['name']}: per token, all attention layers: {r.per_token_bytes_all_layers:,} B "
                "(windows ignored; linear state and indexer keys excluded)"
            )
    if len(results) > 1:
        smallest = min(r.total_bytes for r in results)
        s = DocTable("Side by side", [""] + [n["display_name"] for n in names], right=set(range(1, len(names) + 1)))
        totals = alike([r.total_bytes for r in results], fmt.nbytes)
        s.rows.append(
            [Cell("total")]
            + [
                # the smallest cache said in words too, so that it shows piped, in a file and without colour
                Cell(f"{text} (smallest)", r.total_bytes, True, "bold green")
                if r.total_bytes == smallest
                else Cell(text, r.total_bytes)
                for text, r in zip(totals, results)
            ]
        )
        per_token = alike([r.per_token_bytes_all_layers for r in results], fmt.nbytes)
        s.rows.append(
            [Cell("per token, all attention layers")]
            + [Cell(text, r.per_token_bytes_all_layers) for text, r in zip(per_token, results)]
        )
        doc.tables.append(s)
    if results and results[0].sweep:
        sw = DocTable(
            "Sweep: total bytes against context",
            ["context"] + [n["display_name"] for n in names],
            right=set(range(len(names) + 1)),
        )
        for i, point in enumerate(results[0].sweep):
            sizes = [r.sweep[i]["total_bytes"] for r in results]  # one context's sizes share a unit
            sw.rows.append(
                [Cell(f"{point['ctx_tokens']:,}", point["ctx_tokens"])]
                + [Cell(text, n) for text, n in zip(alike(sizes, fmt.nbytes), sizes)]
            )
        doc.tables.append(sw)
        doc.csv_more.append(sw)  # csv: after the per-layer-kind table, as a titled section
    return doc
