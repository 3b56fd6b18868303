"""`llmarch report`: one document over many specs, for CI summaries and people (closed form, no torch).

Summary per spec: total and active parameters, bf16 weight memory, KV cache at a context, prefill FLOPs
per token; then the requested pairwise comparisons; then the conventions.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Callable, Iterable

from . import flops as F
from .api import compare, envelope, load
from .caveats import beyond_context
from .conventions import PARAMS
from .errors import LlmarchError, ParameterError, shorten
from .ir import ModelIR
from .kvcache import CONVENTIONS as KV_CONVENTIONS
from .kvcache import kv_cache
from .params import count_params
from .registry import looks_like_path
from .weights import weight_bytes
from .yamlsafe import file_kind


def expand_targets(
    targets: list[str], spec_paths: list[str] | None = None, warn: Callable[[str], None] | None = None
) -> list[str]:
    """Names, aliases, files and folders (every *.yaml inside) -> names or file paths, in order.

    A folder's entries that are not regular files (a FIFO would block the read) are skipped, with `warn`.
    """
    from .api import registry

    reg = registry(spec_paths)
    if not targets:
        return reg.names()
    out: list[str] = []
    for t in targets:
        p = Path(t)
        # a bare word that names a model is that model, even beside a folder of the same name
        # os.path.isdir, unlike Path.is_dir, answers False for a name too long to be a path
        if os.path.isdir(t) and (looks_like_path(t) or not reg.knows(t)):
            files = sorted(p.glob("*.yaml")) + sorted(p.glob("*.yml"))
            if not files:
                raise LlmarchError(f"folder `{t}` holds no *.yaml spec")
            for f in files:
                info = os.stat(f) if os.path.exists(f) else None
                if info is None or not stat.S_ISREG(info.st_mode):
                    what = file_kind(f, info) if info else "a broken symbolic link"
                    if warn:
                        warn(f"warning: skipped {f}: is {what}, not a regular file")
                    continue
                out.append(str(f))
        else:
            out.append(t)
    return out


def parse_pairs(text: str | None) -> list[tuple[str, str]]:
    if not text:
        return []
    pairs = []
    for item in text.split(","):
        a, sep, b = item.strip().partition(":")
        if not sep or not a or not b:
            raise ParameterError("{pairs} item `{item}` is not `a:b`", item=shorten(item))
        pairs.append((a, b))
    return pairs


def summary_row(ir: ModelIR, ctx: int, seq: int) -> dict[str, Any]:
    count = count_params(ir)
    pre = F.prefill(ir, seq)
    return {
        "name": ir.name,
        "display_name": ir.display_name,
        "family": ir.family,
        "total": count.total,
        "active": count.active,
        "weights_bf16_bytes": weight_bytes(ir, count, "bf16"),
        "kv_bytes": kv_cache(ir, ctx).total_bytes,
        "ctx_tokens": ctx,
        "context_length": ir.context_length,
        "prefill_flops_per_token": pre.flops // seq,
        "prefill_tokens": seq,
    }


def build_report(
    targets: Iterable[str],
    pairs: list[tuple[str, str]],
    ctx: int,
    seq: int,
    spec_paths: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    rows = []
    warnings: list[str] = []
    errors = []  # a spec that fails is listed, not fatal: one typo must not blank a CI summary
    for t in targets:
        try:
            ir = load(t, spec_paths)
        except LlmarchError as exc:
            errors.append({"target": shorten(t), "error": str(exc)})
            continue
        rows.append(summary_row(ir, ctx, seq))
        warnings += beyond_context(ir, [("KV context", ctx), ("prefill", seq)])
        if progress:
            progress(ir.name)
    comparisons = []
    for a, b in pairs:
        try:
            irs = [load(a, spec_paths), load(b, spec_paths)]
        except LlmarchError as exc:
            errors.append({"target": f"{a}:{b}", "error": str(exc)})
            continue
        comparisons.append(compare(irs))
    conventions = dict(PARAMS)
    conventions.update({f"kv_{k}": v for k, v in KV_CONVENTIONS.items()})
    conventions["prefill_flops_per_token"] = f"analytic prefill of {seq:,} tokens over {seq:,} (see `llmarch flops`)"
    extra = {"errors": errors} if errors else {}
    return envelope("report", rows, conventions=conventions, warnings=warnings, pairs=comparisons, **extra)


def report_doc(data: dict[str, Any], spec_paths: list[str] | None = None):
    from .render import fmt
    from .render.doc import Cell, Doc, DocTable
    from .render.table import compare_doc

    rows = data["models"]
    ctx = rows[0]["ctx_tokens"] if rows else 0
    t = DocTable(
        "Summary",
        ["model", "total", "active", "weights (bf16)", f"KV at {ctx:,}" if rows else "KV", "prefill FLOPs/token"],
        right={1, 2, 3, 4, 5},
    )
    for r in rows:
        t.rows.append(
            [
                Cell(r["name"]),
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
    doc = Doc([t], notes=[f"{k}: {v}" for k, v in data["conventions"].items()])
    if any(r["ctx_tokens"] > r["context_length"] for r in rows):
        doc.remarks.append(f"warning: * {ctx:,} tokens is beyond that model's context length")
    if data.get("errors"):
        failed = DocTable("Specs that could not be analysed", ["spec", "error"])
        failed.rows += [[Cell(e["target"]), Cell(e["error"])] for e in data["errors"]]
        doc.tables.append(failed)
    for comparison in data.get("pairs", []):
        names = [m["name"] for m in comparison["models"]]
        irs = [load(n, spec_paths) for n in names]
        sub = compare_doc(irs, comparison)
        sub.tables[0].title = " vs ".join(m["display_name"] for m in comparison["models"])
        doc.tables += sub.tables
        doc.csv_more += sub.tables  # csv's header is the summary's: each pair follows as its own section
    return doc
