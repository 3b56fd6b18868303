"""The `serve` table: memory per GPU, the verdict and the roofline bounds of each model, side by side."""

from __future__ import annotations

from ..serve import GPU, ServeResult, table_conventions
from . import fmt as f
from .doc import Cell, Doc, DocTable
from .names import model_label


def serve_doc(results: list[ServeResult], profile: GPU) -> Doc:
    first = results[0]
    t = DocTable(
        f"Serving on {first.gpus} x {profile.display_name} (TP {first.tp}, EP {first.ep}), "
        f"batch {first.batch} x {first.ctx_tokens:,} tokens",
        [""] + [model_label(m.name, m.edits) for m in results],
        right=set(range(1, len(results) + 1)),
    )

    def row(label, cell):
        t.rows.append([Cell(label)] + [cell(m) for m in results])

    row("weights / GPU", lambda m: Cell(f.nbytes(m.memory_per_gpu.weights_bytes), m.memory_per_gpu.weights_bytes))
    row("KV cache / GPU", lambda m: Cell(f.nbytes(m.memory_per_gpu.kv_bytes), m.memory_per_gpu.kv_bytes))
    row(
        "allowance / GPU",
        lambda m: Cell(f.nbytes(m.memory_per_gpu.allowance_bytes), m.memory_per_gpu.allowance_bytes),
    )
    row(
        "total / capacity",
        lambda m: Cell(
            f"{f.nbytes(m.memory_per_gpu.total_bytes)} / {f.nbytes(m.memory_per_gpu.capacity_bytes)}",
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
    row(
        "decode: bytes / step / GPU",
        lambda m: Cell(f.nbytes(m.decode_roofline.bytes_per_step_per_gpu), m.decode_roofline.bytes_per_step_per_gpu),
    )
    row(
        "decode: FLOPs / step / GPU",
        lambda m: Cell(
            f"{m.decode_roofline.flops_per_step_per_gpu / 1e9:,.1f} G", m.decode_roofline.flops_per_step_per_gpu
        ),
    )
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
