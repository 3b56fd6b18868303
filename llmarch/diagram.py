"""Side-by-side block diagrams as SVG, drawn from the IR (no torch).

For each model, a vertical stack: token embedding, each distinct block kind once with its repeat
count (norm placement, the attention or mixer box, the FFN or MoE box), final norm and LM head.
Models stand side by side with their rows at the same heights; a box whose text differs from the
box at the same row of another model is highlighted.  Every box is a `<g>` whose id names its model
and component (`deepseek-v3/block-1/moe`), so tests and users can find it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from .facts import attention_label
from .ir import LayerIR, ModelIR
from .kvcache import kv_cache
from .params import count_params
from .render import fmt

COL_W, GAP, LINE_H, PAD = 360, 48, 17, 10
FILL = {
    "embedding": "#e8f0fe",
    "attention": "#fde7e9",
    "mixer": "#fde7e9",
    "ffn": "#e6f4ea",
    "moe": "#e6f4ea",
    "norm": "#f1f3f4",
    "head": "#e8f0fe",
    "block": "#ffffff",
}
HIGHLIGHT = "#f9ab00"


@dataclass
class Box:
    component: str  # id suffix, e.g. "block-1/moe"
    kind: str  # colour key
    lines: list[str]
    children: list["Box"] = field(default_factory=list)

    @property
    def height(self) -> int:
        own = len(self.lines) * LINE_H + 2 * PAD
        return own + sum(c.height + PAD for c in self.children)


def _mixer_box(ir: ModelIR, layer: LayerIR, prefix: str) -> Box:
    a = layer.attention
    if a is not None:
        lines = [f"{attention_label(a)} attention ({layer.mixer})", f"{a.n_heads} heads / {a.n_kv_heads} KV heads"]
        if a.is_mla:
            lines.append(f"kv rank {a.kv_lora_rank}, q rank {a.q_lora_rank or '—'}, rope {a.qk_rope_head_dim}")
        lines.append(f"head dim {a.head_dim}" + (f" / v {a.v_head_dim}" if a.v_head_dim != a.head_dim else ""))
        if a.window:
            lines.append(f"sliding window {a.window:,}" + (" + query" if a.window_excludes_query else ""))
        if a.chunk:
            lines.append(f"chunks of {a.chunk:,}")
        pos = {"rope": "RoPE", "nope": "NoPE", "absolute": "learned positions"}[a.position]
        if a.rope and a.rope.partial < 1:
            pos = f"partial RoPE ({a.rope.partial:g})"
        extras = [pos] + (["QK-norm " + a.qk_norm] if a.qk_norm != "none" else [])
        extras += (["sinks"] if a.sinks else []) + ([f"{a.output_gate} gate"] if a.output_gate != "none" else [])
        extras += (["bias"] if a.qkv_bias or a.o_bias else []) + (["DSA indexer"] if a.indexer_heads else [])
        lines.append(", ".join(extras))
        kv = (
            (a.kv_lora_rank + a.qk_rope_head_dim + (a.indexer_head_dim or 0))
            if a.is_mla
            else a.n_kv_heads * (a.head_dim + a.v_head_dim)
        )
        if layer.kv_shared_from is not None:
            lines.append(f"no K/V projections: reuses layer {layer.kv_shared_from}'s KV cache")
        else:
            lines.append(f"KV cache: {kv * 2:,} B/token/layer (bf16)")
        return Box(f"{prefix}/attention", "attention", lines)
    if layer.gated_deltanet is not None:
        g = layer.gated_deltanet
        lines = [
            "Gated DeltaNet",
            f"{g.n_k_heads} key / {g.n_v_heads} value heads",
            f"head dims {g.head_k_dim} / {g.head_v_dim}",
            f"conv kernel {g.conv_kernel}",
        ]
    elif layer.kda is not None:
        k = layer.kda
        lines = ["Kimi Delta Attention", f"{k.n_heads} heads x {k.head_dim}", f"conv kernel {k.conv_kernel}"]
    else:
        m = layer.mamba2
        lines = [
            "Mamba-2",
            f"{m.n_heads} heads x {m.head_dim}",
            f"state {m.state_dim}, groups {m.n_groups}",
            f"conv kernel {m.conv_kernel}",
        ]
    return Box(f"{prefix}/mixer", "mixer", lines + ["fixed-size state, no KV cache"])


def _ffn_box(layer: LayerIR, prefix: str) -> Box:
    if layer.moe is not None:
        m = layer.moe
        active = f"{m.n_shared_experts} shared + {m.top_k}" if m.n_shared_experts else f"{m.top_k}"
        lines = [f"MoE: {m.n_experts} experts, {active} active", f"expert {m.expert.kind}, size {m.expert.d_ff:,}"]
        if m.shared is not None:
            lines.append(f"shared expert size {m.shared.d_ff:,}")
        return Box(f"{prefix}/moe", "moe", lines)
    f = layer.dense
    return Box(f"{prefix}/ffn", "ffn", [f"Feed-forward ({f.kind})", f"hidden size {f.d_ff:,}"])


def _extras_box(ir: ModelIR, prefix: str) -> Box | None:
    """Gemma 3n's per-layer additions around the mixer and FFN."""
    lines = []
    if ir.altup_inputs:
        lines.append(f"AltUp: predict and correct {ir.altup_inputs} streams")
    if ir.laurel_rank:
        lines.append(f"LAuReL residual, rank {ir.laurel_rank}")
    if ir.per_layer_embedding_dim:
        lines.append(f"per-layer input: gate {ir.d_model:,} -> {ir.per_layer_embedding_dim}, back to {ir.d_model:,}")
    return Box(f"{prefix}/extras", "norm", lines) if lines else None


def model_boxes(ir: ModelIR) -> list[Box]:
    kinds: dict[tuple[str, bool], list[LayerIR]] = {}  # layers that reuse KV are drawn apart
    for layer in ir.layers:
        kinds.setdefault((layer.label, layer.kv_shared_from is not None), []).append(layer)
    embedding = [f"Token embedding {ir.vocab_size:,} x {ir.d_model:,}"]
    if ir.learned_positions:
        embedding.append(f"learned positions {ir.learned_positions:,}")
    if ir.per_layer_embedding_dim:
        embedding.append(
            f"per-layer embeddings {ir.per_layer_embedding_vocab:,} x {ir.n_layers} x {ir.per_layer_embedding_dim}"
        )
    if ir.altup_inputs:
        embedding.append(f"AltUp: {ir.altup_inputs} residual streams")
    boxes = [Box("embedding", "embedding", embedding)]
    place = {"pre": "pre-norm", "post": "post-norm (inside the residual)", "sandwich": "pre- and post-norm"}[
        ir.norm.placement
    ]
    for i, ((label, kv_shared), layers) in enumerate(kinds.items()):
        prefix = f"block-{i}"
        first = layers[0]
        idx = [l.index for l in layers]
        if len(idx) == 1:
            where = f"layer {idx[0]}"
        elif idx == list(range(idx[0], idx[-1] + 1)):
            where = f"layers {idx[0]}–{idx[-1]}"
        else:
            where = f"layers {idx[0]}, {idx[1]}, …, {idx[-1]}"
        block = Box(
            prefix,
            "block",
            [
                f"{len(layers)} x {label} block ({where})",
                f"{ir.norm.kind.replace('rmsnorm', 'RMSNorm').replace('layernorm', 'LayerNorm')}, {place}"
                + ("; shared KV" if kv_shared else ""),
            ],
        )
        if first.mixer != "none":
            block.children.append(_mixer_box(ir, first, prefix))
        if first.ffn != "none":
            block.children.append(_ffn_box(first, prefix))
        extras = _extras_box(ir, prefix)
        if extras is not None:
            block.children.append(extras)
        boxes.append(block)
    boxes.append(Box("norm", "norm", ["Final norm"]))
    boxes.append(
        Box(
            "lm_head",
            "head",
            [f"LM head {ir.d_model:,} x {ir.vocab_size:,}" + (" (tied)" if ir.tie_embeddings else "")],
        )
    )
    return boxes


def _texts(box: Box) -> tuple:
    return tuple(box.lines)


def render_svg(irs: list[ModelIR]) -> str:
    stacks = [model_boxes(ir) for ir in irs]
    n_rows = max(len(s) for s in stacks)
    # align the blocks: embedding first, final norm and head last, blocks in between by position
    rows: list[list[Box | None]] = []
    for s in stacks:
        blocks = s[1:-2]
        rows.append([s[0]] + blocks + [None] * (n_rows - len(s)) + s[-2:])
    heights = [max((r[i].height if r[i] else 0) for r in rows) for i in range(n_rows)]
    header = 3 * LINE_H + PAD
    width = len(irs) * COL_W + (len(irs) + 1) * GAP
    height = header + sum(heights) + (n_rows + 1) * PAD * 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for col, (ir, row) in enumerate(zip(irs, rows)):
        x = GAP + col * (COL_W + GAP)
        count = count_params(ir)
        kv = kv_cache(ir, 1).per_token_bytes_all_layers
        out.append(f'<g id="{escape(ir.name)}" class="model">')
        out.append(f'<text x="{x}" y="{LINE_H}" font-size="15" font-weight="bold">{escape(ir.display_name)}</text>')
        out.append(
            f'<text x="{x}" y="{2 * LINE_H}">total {fmt.params(count.total)}, active {fmt.params(count.active)}'
            f" ({count.active:,})</text>"
        )
        out.append(
            f'<text x="{x}" y="{3 * LINE_H}" fill="#555">KV cache {kv:,} B/token over all attention layers (bf16)</text>'
        )
        y = header + PAD * 2
        for i, box in enumerate(row):
            if box is not None:
                others = [r[i] for j, r in enumerate(rows) if j != col and r[i] is not None]
                out += _draw(ir.name, box, x, y, COL_W, others)
            y += heights[i] + PAD * 2
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _draw(model: str, box: Box, x: int, y: int, w: int, others: list[Box]) -> list[str]:
    differs = bool(others) and any(_texts(box) != _texts(o) for o in _peers(box, others))
    stroke = HIGHLIGHT if differs else "#5f6368"
    attrs = ' class="box differs"' if differs else ' class="box"'
    out = [
        f'<g id="{escape(model)}/{escape(box.component)}"{attrs}>',
        f'<rect x="{x}" y="{y}" width="{w}" height="{box.height}" rx="6" fill="{FILL[box.kind]}" '
        f'stroke="{stroke}" stroke-width="{3 if differs else 1}"/>',
    ]
    ty = y + PAD + LINE_H - 4
    for i, line in enumerate(box.lines):
        weight = ' font-weight="bold"' if i == 0 else ""
        out.append(f'<text x="{x + PAD}" y="{ty}"{weight}>{escape(line)}</text>')
        ty += LINE_H
    cy = y + len(box.lines) * LINE_H + 2 * PAD
    for child in box.children:
        peer_children = [c for o in others for c in o.children]
        out += _draw(model, child, x + PAD, cy, w - 2 * PAD, peer_children)
        cy += child.height + PAD
    out.append("</g>")
    return out


def _peers(box: Box, others: list[Box]) -> list[Box]:
    """The boxes of other models at the same place: same kind (attention vs attention, ...)."""
    same = [
        o
        for o in others
        if o.kind == box.kind or {o.kind, box.kind} <= {"ffn", "moe"} or {o.kind, box.kind} <= {"attention", "mixer"}
    ]
    return same or others


def render_html(irs: list[ModelIR]) -> str:
    title = " vs ".join(ir.display_name for ir in irs)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
        + escape(title)
        + "</title></head><body>\n"
        + render_svg(irs)
        + "</body></html>\n"
    )


def render_figure(irs: list[ModelIR], path: str) -> str | bytes:
    """The figure in the format `path`'s extension names: SVG or HTML text, PNG bytes."""
    if path.endswith(".svg"):
        return render_svg(irs)
    if path.endswith(".html"):
        return render_html(irs)
    if path.endswith(".png"):
        import cairosvg

        return cairosvg.svg2png(bytestring=render_svg(irs).encode(), write_to=None, output_width=None, scale=2)
    from .errors import OptionError

    raise OptionError(f"`{path}`: the figure must end in .svg, .png or .html")


def write(irs: list[ModelIR], path: str) -> None:
    """Render and write atomically: a failed write leaves the previous figure intact."""
    from .output import write_file

    write_file(path, render_figure(irs, path))
