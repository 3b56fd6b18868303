"""`llmarch report`: one document over many specs, for CI summaries and people (closed form, no torch).

Summary per spec: total and active parameters, bf16 weight memory, KV cache at a context, prefill FLOPs
per token; then the requested pairwise comparisons; then the conventions.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .analyze import flops as F
from .analyze.caveats import beyond_context
from .analyze.kvcache import CONVENTIONS as KV_CONVENTIONS
from .analyze.kvcache import kv_cache, table_conventions
from .analyze.params import count_params
from .analyze.weights import weight_bytes
from .api import Comparison, comparison, envelope, load, params_conventions
from .conventions import PARAMS
from .errors import LlmarchError, ParameterError, shorten
from .ir import ModelIR
from .spec.registry import looks_like_path
from .spec.yamlsafe import file_kind


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
    for item in _outside_brackets(text, ","):
        a, *rest = _outside_brackets(item.strip(), ":", most=1)
        b = rest[0] if rest else ""
        if not rest or not a or not b:
            raise ParameterError("{pairs} item `{item}` is not `a:b`", item=shorten(item))
        pairs.append((a, b))
    return pairs


def _outside_brackets(text: str, sep: str, most: int = -1) -> list[str]:
    """`text` split at each `sep` outside brackets (a model's edits, `qwen3-8b[n_layers=40,vocab_size=1000]`,
    hold commas and colons of their own), at most `most` times."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"[": 1, "]": -1, "{": 1, "}": -1}.get(ch, 0)
        if ch == sep and depth == 0 and most != 0:
            parts.append(text[start:i])
            start, most = i + 1, most - 1
    return parts + [text[start:]]


def summary_row(ir: ModelIR, ctx: int, seq: int) -> dict[str, Any]:
    count = count_params(ir)
    pre = F.prefill(ir, seq)
    return {
        "name": ir.name,
        "display_name": ir.display_name,
        **ir.edit_fields(),
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


@dataclass
class Report:
    """`report`'s answer: a summary row per spec, the pairs compared, the specs that failed (listed, not fatal),
    the conventions (all of them in JSON; `table_conventions` under the human table: a mechanism's own line
    only where a model of the report holds it)."""

    rows: list[dict[str, Any]]
    comparisons: list[Comparison]
    errors: list[dict[str, str]]
    conventions: dict[str, str]
    table_conventions: dict[str, str]
    warnings: list[str] = field(default_factory=list)  # counts past a model's context length

    def as_dict(self) -> dict[str, Any]:
        extra = {"errors": self.errors} if self.errors else {}
        pairs = [c.as_dict() for c in self.comparisons]
        return envelope("report", self.rows, conventions=self.conventions, warnings=self.warnings, pairs=pairs, **extra)


def build_report(
    targets: Iterable[str],
    pairs: list[tuple[str, str]],
    ctx: int,
    seq: int,
    spec_paths: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Report:
    rows = []
    loaded: list[ModelIR] = []  # the summary's models, then the pairs'
    warnings: list[str] = []
    errors = []  # a spec that fails is listed, not fatal: one typo must not blank a CI summary
    for t in targets:
        try:
            ir = load(t, spec_paths)
        except LlmarchError as exc:
            errors.append({"target": shorten(t), "error": str(exc)})
            continue
        rows.append(summary_row(ir, ctx, seq))
        loaded.append(ir)
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
        comparisons.append(comparison(irs))
        loaded += irs

    def with_kv(kv: dict[str, str], params: dict[str, str] = PARAMS) -> dict[str, str]:
        out = dict(params)
        out.update({f"kv_{k}": v for k, v in kv.items()})
        out["prefill_flops_per_token"] = f"analytic prefill of {seq:,} tokens over {seq:,} (see `llmarch flops`)"
        return out

    # under the tables, the KV and prefill lines only where a summary row shows those numbers (the pairs'
    # tables show none), the parameter lines only where a model is shown at all
    table = params_conventions(loaded) if loaded else {}
    if rows:
        table = with_kv(table_conventions(loaded[: len(rows)]), table)
    return Report(rows, comparisons, errors, with_kv(KV_CONVENTIONS), table, warnings)
