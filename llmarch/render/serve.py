"""The `serve` table: memory per GPU, the verdict and the roofline bounds of each model, side by side."""

from __future__ import annotations

from ..analyze.serve import GPU, ServeResult, table_conventions
from ..units import alike, format_tokens
from . import fmt as f
from .doc import Cell, Doc, DocTable
from .names import model_label


def serve_doc(results: list[ServeResult], profile: GPU, ctx_text: str | None = None) -> Doc:
    """`ctx_text`: the context as the user wrote it (`128k`), shown so in the title."""
    first = results[0]
    t = DocTable(
        f"Serving on {first.gpus} x {profile.display_name} (TP {first.tp}, EP {first.ep}), "
        f"batch {first.batch} x {format_tokens(first.ctx_tokens, ctx_text)} tokens",
        [""] + [model_label(m.name, m.edits) for m in results],
        right=set(range(1, len(results) + 1)),
    )

    def row(label, cell):
        t.rows.append([Cell(label)] + [cell(m) for m in results])

    def sizes(label, size, formatter=f.nbytes):
        # the models' numbers of one row share a unit, so that they compare
        values = [size(m) for m in results]
        t.rows.append([Cell(label)] + [Cell(x, v) for x, v in zip(alike(values, formatter), values)])

    sizes("weights / GPU", lambda m: m.memory_per_gpu.weights_bytes)
    sizes("KV cache / GPU", lambda m: m.memory_per_gpu.kv_bytes)
    sizes("allowance / GPU", lambda m: m.memory_per_gpu.allowance_bytes)
    both = [v for m in results for v in (m.memory_per_gpu.total_bytes, m.memory_per_gpu.capacity_bytes) if v]
    like = min(both, default=None)
    row(
        "total / capacity",
        lambda m: Cell(
            f"{f.nbytes(m.memory_per_gpu.total_bytes, like)} / {f.nbytes(m.memory_per_gpu.capacity_bytes, like)}",
            m.memory_per_gpu.total_bytes,
        ),
    )
    row("verdict", lambda m: Cell("fits" if m.fits else "does not fit", style="green" if m.fits else "bold red"))
    row(
        "largest batch at this context",
        lambda m: Cell(
            f"{m.max_batch_at_ctx:,}" if m.max_batch_at_ctx is not None else "unbounded", m.max_batch_at_ctx
        ),
    )
    row(
        "longest context at this batch",
        lambda m: Cell(
            f"{m.max_ctx_at_batch:,}" + (" (context length)" if m.max_ctx_limited_by == "context_length" else ""),
            m.max_ctx_at_batch,
        ),
    )
    t.section()
    sizes("decode: bytes / step / GPU", lambda m: m.decode_roofline.bytes_per_step_per_gpu)
    sizes("decode: FLOPs / step / GPU", lambda m: m.decode_roofline.flops_per_step_per_gpu, f.flops)
    row(
        "decode: step time >=",
        lambda m: Cell(f"{m.decode_roofline.step_time_lower_bound_s * 1e3:,.2f} ms ({m.decode_roofline.binding})"),
    )
    row("decode: tokens/s <=", lambda m: Cell(f"{m.decode_roofline.tokens_per_s_upper_bound:,.0f}"))
    row("arithmetic intensity", lambda m: Cell(f"{m.decode_roofline.arithmetic_intensity:,.1f} FLOP/B"))
    row(
        "experts read / MoE layer",
        lambda m: Cell(
            "—"
            if m.decode_roofline.experts_read_per_layer is None
            else f"{m.decode_roofline.experts_read_per_layer:.1f}"
        ),
    )
    row(
        f"prefill {first.prefill_roofline.tokens:,} tokens >=",
        lambda m: Cell(f"{m.prefill_roofline.time_lower_bound_s:,.2f} s ({m.prefill_roofline.binding})"),
    )
    conventions = table_conventions(results)
    return Doc([t], notes=[f"{k}: {v}" for k, v in conventions.items()] + [f"hardware: {profile.source}"])
