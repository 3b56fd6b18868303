"""Side-by-side block diagrams drawn the way the article draws them, from the IR (no torch).

Each model is a vertical data flow from the tokenised text up: the token embedding, each distinct
block kind once (norms, the attention or mixer, residual skip arrows into add nodes, the FFN or the
MoE as a router over expert boxes, shared experts apart) framed with its repeat count, the final
norm and the output layer, with the panel's values annotated beside each slot.  Blocks are matched
across models by kind and role; an annotation is highlighted where it differs from its row's
majority (from the first model when there is no majority: `differences`, the tables' rule), and
architectural differences get a short callout.

One layout is computed once (`layout`), with every text measured in the font llmarch ships
(`diagram_font`), and written to SVG, HTML or PNG by `to_svg` and `to_png`: never two drawing paths.
What each model's boxes show (its blocks, slots and callouts) is `diagram_blocks`; the sizes, colours,
primitives and the two writers are `diagram_draw`; this module places them.  The header numbers come in
(`api.HeaderNumbers`, from `api.diagram_numbers`): the diagram analyses nothing.
Every box is a `<g>` whose id names its model and component (`deepseek-v3/block-1/moe`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional
from xml.sax.saxutils import escape

from ..analyze.differences import differing
from ..analyze.facts import layer_pattern
from ..ir import ModelIR
from ..mechanisms.layers import model_mechanisms
from . import fmt
from .diagram_blocks import (
    Block,
    Note,
    Slot,
    block_slots,
    block_title,
    block_where,
    blocks_of,
    callouts,
    match_blocks,
    norm_name,
)
from .diagram_draw import (
    ANN_GAP,
    ANN_MAX,
    ANN_SIZE,
    BOX_SIZE,
    CALLOUT,
    COL_GAP,
    COUNT_W,
    FILL,
    FLOW_W,
    FRAME_PAD,
    GAP,
    GREY,
    HIGHLIGHT_FILL,
    HIGHLIGHT_STROKE,
    INK,
    LINE,
    MARGIN,
    TITLE_SIZE,
    Figure,
    Group,
    Line,
    Placed,
    Rect,
    Text,
    centered_text,
    draw_box,
    text_item,
    to_png,
    to_svg,
)
from .diagram_font import text_width, wrap

if TYPE_CHECKING:  # a result type of the API, only named in annotations here
    from ..api import HeaderNumbers

# ---------------------------------------------------------------------------------------------------
# the layout: primitives in px, y down (`diagram_draw`); computed once, written by to_svg and to_png


@dataclass
class Column:
    """One model's column: its x, the width of its annotations and its pieces per row."""

    ir: ModelIR
    id: str = ""  # the model's part of every id in the column (`column_ids`)
    x: float = 0.0
    ann_w: float = 0.0

    @property
    def flow_x(self) -> float:
        return self.x + COUNT_W + FRAME_PAD

    @property
    def frame_x(self) -> float:
        return self.x + COUNT_W

    @property
    def ann_x(self) -> float:
        return self.frame_x + FLOW_W + 2 * FRAME_PAD + ANN_GAP

    @property
    def width(self) -> float:
        return COUNT_W + FLOW_W + 2 * FRAME_PAD + ANN_GAP + self.ann_w


def _notes_lines(notes: list[Note], flags: list[bool], width: float) -> list[tuple[str, bool, str]]:
    """(text, highlighted, key) per drawn line, wrapped to `width`."""
    out = []
    for note, flag in zip(notes, flags):
        for line in wrap(note.text, ANN_SIZE, width):
            out.append((line, flag, note.key))
    return out


@dataclass
class Piece:
    """A slot of one column in one row: its box, its annotation lines, its height."""

    box: Optional[Placed]
    lines: list[tuple[str, bool, str]]
    slot: Optional[Slot] = None
    id: str = ""

    @property
    def height(self) -> float:
        return max(self.box.height if self.box else 0, len(self.lines) * LINE + 2)


def _compare_notes(slots: list[Optional[Slot]]) -> tuple[list[bool], list[list[bool]]]:
    """Highlights for the box titles and for each note, by the majority rule over the present slots."""
    titles = differing([s.title if s is not None else None for s in slots])
    keys: list[str] = []
    for s in slots:
        for n in s.notes if s else []:
            if n.key not in keys:
                keys.append(n.key)
    per_key = {}
    for key in keys:
        values = []
        for s in slots:
            if s is None:
                values.append(None)
            else:
                values.append(next((n.text if n.value is None else n.value for n in s.notes if n.key == key), "—"))
        per_key[key] = differing(values)
    return titles, [[per_key[n.key][j] for n in s.notes] if s else [] for j, s in enumerate(slots)]


def column_ids(names: list[str]) -> list[str]:
    """Each column's id: its model's name, and `name~2`, `name~3`... where a name repeats (a model drawn
    twice, or beside its what-if), so that no two groups of one figure share an id."""
    seen: dict[str, int] = {}
    ids = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        ids.append(name if seen[name] == 1 else f"{name}~{seen[name]}")
    return ids


def layout(irs: list[ModelIR], numbers: list[HeaderNumbers]) -> Figure:
    """`numbers`: each model's header numbers, in the order of `irs`."""
    cols = [Column(ir, cid) for ir, cid in zip(irs, column_ids([ir.name for ir in irs]))]
    header_notes: list[list[Note]] = []
    for ir, n in zip(irs, numbers, strict=True):
        header_notes.append(
            [
                Note(
                    "params",
                    f"{fmt.params(n.total, short=True)} parameters, {fmt.params(n.active, short=True)} active",
                    (n.total, n.active),
                ),
                Note("kv_total", f"KV cache {fmt.nbytes(n.kv_per_token, short=True)} per token (bf16)", n.kv_per_token),
                Note("pattern", layer_pattern(ir)),
            ]
        )
    block_rows = match_blocks([blocks_of(ir) for ir in irs])
    row_callouts = [callouts(row) for row in block_rows]

    # annotation width per column: the widest note, capped
    def widths(j: int) -> list[float]:
        texts = [nt.text for nt in header_notes[j] + _embedding_notes(irs[j]) + _head_slot(irs[j]).notes]
        bold = []
        for row, calls in zip(block_rows, row_callouts):
            if row[j] is not None:
                texts += [nt.text for s in block_slots(row[j]) for nt in s.notes] + [block_where(row[j])]
                bold += [block_title(row[j])] + [c + "  " for c in calls[j]]
        return [text_width(t, ANN_SIZE) for t in texts] + [text_width(t, ANN_SIZE, True) for t in bold]

    for j, col in enumerate(cols):
        col.ann_w = min(ANN_MAX, max(widths(j)) + 4)
    x = MARGIN
    for col in cols:
        col.x, x = x, x + col.width + COL_GAP
    width = x - COL_GAP + MARGIN

    items: list = []
    y = MARGIN
    # header: names and totals
    head_flags = _compare_notes([Slot("header", "header", "", notes) for notes in header_notes])[1]
    head_h = 0.0
    header_items: list = []
    for j, col in enumerate(cols):
        fit = (col.x, y, col.x + col.width, y + 200)
        title_lines = wrap(col.ir.display_name, TITLE_SIZE, col.width, bold=True)
        g = Group(col.id + "/header", "header")
        ty = y + TITLE_SIZE
        for line in title_lines:
            g.items.append(text_item(col.x, ty, line, TITLE_SIZE, fit, bold=True))
            ty += TITLE_SIZE + 4
        ty += 2
        for text, flag, key in _notes_lines(header_notes[j], head_flags[j], col.width):
            g.items.append(
                Group("", "note differs" if flag else "note", _note_items(col.x, ty, text, flag, col.width), key)
            )
            ty += LINE
        header_items.append(g)
        head_h = max(head_h, ty - y)
    y += head_h + 10

    # the slots outside blocks, bottom up: tokenised text, embedding; top: final norm, output layer
    def single(slot_for: Callable[[ModelIR], Slot]) -> list[Optional[Slot]]:
        return [slot_for(ir) for ir in irs]

    top_rows = [single(_head_slot), single(lambda ir: Slot("final-norm", "norm", f"Final {norm_name(ir)}"))]
    bottom_rows = [single(_embedding_slot)]

    # where the flow passes, per column: (y of the bottom of the upper piece), to draw arrows between pieces
    flow_tops: list[list[tuple[float, float]]] = [[] for _ in cols]  # (top, bottom) of each drawn piece, top down
    model_items: list[list] = [[] for _ in cols]

    def place_simple_row(slots: list[Optional[Slot]], ids: list[str]) -> None:
        nonlocal y
        titles, notes = _compare_notes(slots)
        pieces = []
        for j, (col, slot) in enumerate(zip(cols, slots)):
            pieces.append(
                Piece(draw_box(slot, ids[j], titles[j]), _notes_lines(slot.notes, notes[j], col.ann_w), slot)
                if slot
                else None
            )
        h = max(p.height for p in pieces if p)
        for j, (col, p) in enumerate(zip(cols, pieces)):
            if p is None:
                continue
            top = y + (h - p.box.height) / 2
            model_items[j] += p.box.draw(col.flow_x, top)
            model_items[j] += _annotation(col, y + (h - len(p.lines) * LINE) / 2, p.lines, ids[j])
            flow_tops[j].append((top, top + p.box.height))
        y += h + 2 * GAP

    for slots in top_rows:
        place_simple_row(slots, [f"{col.id}/{slots[0].role}" for col in cols])

    # blocks, the last kind on top
    for ri in reversed(range(len(block_rows))):
        row = block_rows[ri]
        per_model_slots = [block_slots(b) if b is not None else None for b in row]
        # pieces of each model, bottom up; slots compared with the slot of the same role in the other blocks
        roles: list[str] = []
        for slots in per_model_slots:
            for s in slots or []:
                if s.role not in roles:
                    roles.append(s.role)
        by_role = {
            r: [next((s for s in slots if s.role == r), None) if slots else None for slots in per_model_slots]
            for r in roles
        }
        flags = {r: _compare_notes(v) for r, v in by_role.items()}
        heights = []
        pieces_of: list[Optional[list[Piece]]] = []
        for j, (col, slots) in enumerate(zip(cols, per_model_slots)):
            if slots is None:
                pieces_of.append(None)
                heights.append(0)
                continue
            pieces = []
            for s in slots:
                titles, notes = flags[s.role]
                gid = f"{col.id}/block-{_block_index(row[j])}/{_component(s)}"
                pieces.append(Piece(draw_box(s, gid, titles[j]), _notes_lines(s.notes, notes[j], col.ann_w), s, gid))
            pieces_of.append(pieces)
            calls = row_callouts[ri][j]
            inner = sum(p.height for p in pieces) + GAP * (len(pieces) + 1)
            # the title, place and callouts sit in the annotation column at the frame's top, above the
            # topmost annotated slot: the frame grows where the slots above it leave too little room
            free = GAP
            for p in reversed(pieces):
                if p.lines:
                    break
                free += p.height + GAP
            heads = _block_head_lines(row[j], calls, col.ann_w) * LINE + 10
            heights.append(inner + max(0, heads - free))
        h = max(heights)
        for j, (col, pieces) in enumerate(zip(cols, pieces_of)):
            if pieces is None:
                continue
            block = row[j]
            frame_top = y + h - heights[j]
            g = Group(f"{col.id}/block-{_block_index(block)}", "block")
            frame_w = FLOW_W + 2 * FRAME_PAD
            g.items.append(Rect(col.frame_x, frame_top, frame_w, heights[j], FILL["block"], GREY, 1.0, 8, dash=True))
            ay = frame_top + 4
            for line in wrap(block_title(block), ANN_SIZE, col.ann_w, bold=True):
                g.items.append(
                    text_item(
                        col.ann_x,
                        ay + LINE - 3,
                        line,
                        ANN_SIZE,
                        (col.ann_x, ay, col.ann_x + col.ann_w, ay + LINE),
                        bold=True,
                    )
                )
                ay += LINE
            for line in wrap(block_where(block), ANN_SIZE, col.ann_w):
                g.items.append(
                    text_item(
                        col.ann_x,
                        ay + LINE - 3,
                        line,
                        ANN_SIZE,
                        (col.ann_x, ay, col.ann_x + col.ann_w, ay + LINE),
                        fill=GREY,
                    )
                )
                ay += LINE
            count = f"{len(block.layers)}×"
            size = 20.0 if text_width(count, 20.0, True) <= COUNT_W - 8 else 15.0
            g.items.append(
                text_item(
                    col.x + COUNT_W - 6 - text_width(count, size, True),
                    frame_top + heights[j] / 2 + size / 3,
                    count,
                    size,
                    (col.x, frame_top, col.frame_x, frame_top + heights[j]),
                    bold=True,
                )
            )
            for call in row_callouts[ri][j]:
                for k, line in enumerate(wrap(call, ANN_SIZE, col.ann_w - 9, bold=True)):
                    g.items += _callout(col, ay, line, marker=k == 0)
                    ay += LINE
            # the flow, bottom up
            cursor = frame_top + heights[j] - GAP
            centers: dict[str, tuple[float, float]] = {}  # role -> (top, bottom)
            entry: dict[str, float] = {}  # role -> y where the flow enters it from below
            below = frame_top + heights[j]
            for p in pieces:
                top = cursor - p.height
                box_top = top + (p.height - p.box.height) / 2
                g.items += p.box.draw(col.flow_x, box_top)
                g.items += _annotation(col, top + (p.height - len(p.lines) * LINE) / 2, p.lines, p.id)
                if p.slot.fed_from is None:
                    g.items.append(_arrow(col, below, box_top + p.box.height))
                else:  # a parallel FFN: from the norm's output, up the inner left lane, into its left side
                    out_y = centers[p.slot.fed_from][0]
                    lane, tap = col.flow_x - 8, col.flow_x + 24
                    mid = box_top + p.box.height / 2
                    g.items.append(
                        Line(
                            [
                                (tap, out_y),
                                (tap, out_y - GAP / 2),
                                (lane, out_y - GAP / 2),
                                (lane, mid),
                                (col.flow_x, mid),
                            ]
                        )
                    )
                centers[p.slot.role] = (box_top, box_top + p.box.height)
                entry[p.slot.role] = (below + box_top + p.box.height) / 2
                below = box_top
                cursor = top - GAP
            # a parallel mixer's output: up the right lane, into the add node's right side
            for p in pieces:
                if p.slot.joins is not None:
                    top_y = centers[p.slot.role][0]
                    add_top, add_bottom = centers[p.slot.joins]
                    cy, lane, tap = (add_top + add_bottom) / 2, col.flow_x + FLOW_W + 8, col.flow_x + FLOW_W - 24
                    g.items.append(
                        Line(
                            [
                                (tap, top_y),
                                (tap, top_y - GAP / 2),
                                (lane, top_y - GAP / 2),
                                (lane, cy),
                                (col.flow_x + FLOW_W / 2 + 9, cy),
                            ]
                        )
                    )
            # skip arrows: from the flow below the sub-block's first slot, around the left, into the add node
            for p in pieces:
                if p.slot.kind != "add":
                    continue
                split = entry[p.slot.skip_from]
                add_top, add_bottom = centers[p.slot.role]
                cy, left = (add_top + add_bottom) / 2, col.flow_x + FLOW_W / 2 - 9
                sx = col.frame_x + FRAME_PAD / 2
                g.items.append(Line([(col.flow_x + FLOW_W / 2, split), (sx, split), (sx, cy), (left, cy)]))
            flow_tops[j].append((frame_top, frame_top + heights[j]))
            g.items.append(_arrow(col, below, frame_top))
            model_items[j].append(g)
        y += h + 2 * GAP

    for slots in bottom_rows:
        place_simple_row(slots, [f"{col.id}/{slots[0].role}" for col in cols])
    # the tokenised text at the bottom
    for j, col in enumerate(cols):
        fit = (col.flow_x, y, col.flow_x + FLOW_W, y + 20)
        model_items[j].append(
            Group(
                f"{col.id}/input",
                "input",
                [centered_text(col.flow_x + FLOW_W / 2, y + 14, "Tokenized text", BOX_SIZE, fit, fill=GREY)],
            )
        )
        flow_tops[j].append((y, y + 20))
    y += 20 + 2 * GAP

    # arrows between consecutive pieces of each column (blocks absent from a column are passed straight)
    for j, col in enumerate(cols):
        spans = flow_tops[j]
        for (upper_top, upper_bottom), (lower_top, _lower_bottom) in zip(spans, spans[1:]):
            model_items[j].append(_arrow(col, lower_top, upper_bottom))
        items.append(Group(col.id, "model", [header_items[j]] + model_items[j]))

    legend, y = _legend(y, width)
    items.append(legend)
    return Figure(width, y + MARGIN, items, " vs ".join(ir.display_name for ir in irs))


def _block_head_lines(block: Block, calls: list[str], width: float) -> int:
    """Lines of the block's title, place and callouts, in the annotation column at the frame's top."""
    n = len(wrap(block_title(block), ANN_SIZE, width, bold=True)) + len(wrap(block_where(block), ANN_SIZE, width))
    return n + sum(len(wrap(c, ANN_SIZE, width - 9, bold=True)) for c in calls)


def _block_index(block: Block) -> int:
    return next(i for i, b in enumerate(blocks_of(block.ir)) if b.layers[0].index == block.layers[0].index)


def _component(slot: Slot) -> str:
    return {"attention": "attention", "mixer": "mixer", "ffn": "ffn", "moe": "moe", "extras": "extras"}.get(
        slot.kind, slot.role
    )


def _head_slot(ir: ModelIR) -> Slot:
    tied = " (tied to the embedding)" if ir.tie_embeddings else ""
    return Slot("lm_head", "head", "Linear output layer", [Note("head", f"{ir.d_model:,} → {ir.vocab_size:,}{tied}")])


def _embedding_notes(ir: ModelIR) -> list[Note]:
    notes = [
        Note("vocab_size", f"vocabulary {ir.vocab_size:,}"),
        Note("d_model", f"embedding dimension {ir.d_model:,}"),
        Note("context_length", f"context {ir.context_length:,} tokens"),
    ]
    if ir.learned_positions:
        notes.append(Note("learned_positions", f"learned positions {ir.learned_positions:,}"))
    notes += [Note(k, t) for m in model_mechanisms(ir) for k, t in m.box().embedding_notes]
    return notes


def _embedding_slot(ir: ModelIR) -> Slot:
    return Slot("embedding", "embedding", "Token embedding layer", _embedding_notes(ir))


def _arrow(col: Column, y_from: float, y_to: float) -> Line:
    cx = col.flow_x + FLOW_W / 2
    return Line([(cx, y_from), (cx, y_to)])


def _note_items(x: float, y: float, text: str, flag: bool, width: float) -> list:
    """One annotation line at baseline y; a highlighted one sits on an amber band."""
    fit = (x - 3, y - LINE + 3, x + width + 3, y + 4)
    out = []
    if flag:
        out.append(
            Rect(x - 3, y - LINE + 4, text_width(text, ANN_SIZE) + 6, LINE, HIGHLIGHT_FILL, HIGHLIGHT_FILL, 0.5, 2)
        )
    out.append(Text(x, y, text, ANN_SIZE, fill=INK, fit=fit))
    return out


def _annotation(col: Column, top: float, lines: list[tuple[str, bool, str]], box_id: str) -> list:
    """A slot's annotation lines, grouped as `<box id>/notes`; each line a `<g>` whose class says
    whether it differs and whose data-key names the value."""
    g = Group(f"{box_id}/notes", "notes")
    for i, (text, flag, key) in enumerate(lines):
        items = _note_items(col.ann_x, top + (i + 1) * LINE - 3, text, flag, col.ann_w)
        g.items.append(Group("", "note differs" if flag else "note", items, key))
    return [g] if lines else []


def _callout(col: Column, y: float, text: str, marker: bool = True) -> list:
    x = col.ann_x
    fit = (x, y, x + col.ann_w, y + LINE)
    items = [Rect(x, y + 3, 4, LINE - 5, CALLOUT, CALLOUT, 0.5, 1)] if marker else []
    return [Group("", "callout", items + [Text(x + 9, y + LINE - 3, text, ANN_SIZE, CALLOUT, True, fit)])]


LEGEND = [
    (
        "highlight",
        "differs from the majority of the models in its row (from the first model when there is no majority)",
    ),
    ("callout", "architectural difference from the other model(s) in the row"),
    ("box", "box outlined: its kind differs from the majority of its row"),
    ("frame", "dashed frame: one block, drawn once and repeated N× (the layer pattern under the model's name)"),
    ("arrow", "residual connection: skip arrow into an add node"),
]


def _legend(y: float, width: float) -> tuple[Group, float]:
    g = Group("legend", "legend")
    x = MARGIN
    for kind, text in LEGEND:
        lines = wrap(text, ANN_SIZE, max(width - 2 * MARGIN - 40, 200))
        if kind == "highlight":
            g.items.append(Rect(x, y + 2, 30, 12, HIGHLIGHT_FILL, HIGHLIGHT_FILL, 0.5, 2))
        elif kind == "callout":
            g.items.append(Rect(x, y + 2, 4, 12, CALLOUT, CALLOUT, 0.5, 1))
        elif kind == "box":
            g.items.append(Rect(x, y + 1, 30, 14, "#ffffff", HIGHLIGHT_STROKE, 2.5, 3))
        elif kind == "frame":
            g.items.append(Rect(x, y + 1, 30, 14, FILL["block"], GREY, 1.0, 3, dash=True))
        else:
            g.items.append(Line([(x, y + 14), (x, y + 6), (x + 26, y + 6)]))
        for line in lines:
            fit = (x + 40, y, width - MARGIN, y + LINE)
            g.items.append(Text(x + 40, y + 12, line, ANN_SIZE, GREY, fit=fit))
            y += LINE
        y += 3
    return g, y


# ---------------------------------------------------------------------------------------------------
# writers


def render_svg(irs: list[ModelIR], numbers: list[HeaderNumbers]) -> str:
    return to_svg(layout(irs, numbers))


def render_html(irs: list[ModelIR], numbers: list[HeaderNumbers]) -> str:
    fig = layout(irs, numbers)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>'
        + escape(fig.title)
        + "</title></head><body>\n"
        + to_svg(fig)
        + "</body></html>\n"
    )


def render_png(irs: list[ModelIR], numbers: list[HeaderNumbers]) -> bytes:
    return to_png(layout(irs, numbers))


def render_figure(irs: list[ModelIR], numbers: list[HeaderNumbers], path: str) -> str | bytes:
    """The figure in the format `path`'s extension names: SVG or HTML text, PNG bytes."""
    if path.endswith(".svg"):
        return render_svg(irs, numbers)
    if path.endswith(".html"):
        return render_html(irs, numbers)
    if path.endswith(".png"):
        return render_png(irs, numbers)
    from ..errors import OptionError

    raise OptionError(f"`{path}`: the figure must end in .svg, .png or .html")
