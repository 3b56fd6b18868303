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
Every box is a `<g>` whose id names its model and component (`deepseek-v3/block-1/moe`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional
from xml.sax.saxutils import escape, quoteattr

from .diagram_font import FAMILY, font_face_css, text_width, wrap
from .differences import differing, reference
from .facts import layer_pattern
from .ir import LayerIR, ModelIR
from .mechanisms.base import EXTRA_PLACES, Mechanism, Routing
from .mechanisms.layers import block_residual, layer_ffn, layer_mixer, model_mechanisms
from .render import fmt

# sizes in px (the PNG draws them at twice the scale)
FLOW_W = 210  # width of the boxes of the data flow
FRAME_PAD = 26  # inside the block frame, left of the flow: room for the skip arrows
COUNT_W = 50  # left of the frame: "58×"
ANN_GAP, ANN_MAX = 14, 330  # annotations: distance from the frame, widest line before wrapping
GAP = 16  # between slots of the flow
COL_GAP = 36
MARGIN = 20
BOX_SIZE, ANN_SIZE, TITLE_SIZE, SMALL = 12.0, 11.0, 16.0, 10.0
LINE = 15  # annotation line height
INK, GREY, ARROW = "#202124", "#5f6368", "#3c4043"
HIGHLIGHT_FILL, HIGHLIGHT_STROKE = "#fde293", "#e37400"
CALLOUT = "#a50e0e"
FILL = {
    "embedding": "#d2e3fc",
    "head": "#d2e3fc",
    "norm": "#e8eaed",
    "attention": "#fad2cf",
    "mixer": "#fce8b2",
    "ffn": "#ceead6",
    "moe": "#ceead6",
    "router": "#ffffff",
    "expert": "#ffffff",
    "active": "#34a853",
    "shared": "#a142f4",
    "block": "#f8f9fa",
    "extras": "#e8eaed",
}


# ---------------------------------------------------------------------------------------------------
# what each slot shows: each mechanism's box data (`Mechanism.box`), drawn here


@dataclass
class Note:
    """One annotation line; `key` names the value it shows, so it is compared with its peers: by `value`
    where the text rounds an exact value (`differences`: exact values decide), else by its text."""

    key: str
    text: str
    value: Any = None


@dataclass
class Slot:
    role: str  # matched across models: "norm-1", "mixer", "ffn", ...
    kind: str  # colour key, "add" for the residual add node
    title: str  # the box's text
    notes: list[Note] = field(default_factory=list)
    routing: Optional[Routing] = None  # a router over expert boxes
    skip_from: Optional[str] = None  # add nodes: the role of the slot where the skip arrow leaves
    # a parallel block's branches: the FFN reads the norm (`fed_from`) instead of the slot below it, and
    # the mixer's output goes straight to the add node (`joins`), beside the FFN
    fed_from: Optional[str] = None
    joins: Optional[str] = None


def mechanism_slot(role: str, mechanism: Optional[Mechanism]) -> Optional[Slot]:
    """The slot of a layer's mixer or FFN, from its box data; None where the layer has none."""
    if mechanism is None:
        return None
    box = mechanism.box()
    return Slot(role, box.kind, box.title, [Note(k, t) for k, t in box.notes], routing=box.routing)


def norm_name(ir: ModelIR) -> str:
    return "LayerNorm" if ir.norm.kind == "layernorm" else "RMSNorm"


def extras_slot(ir: ModelIR) -> Optional[Slot]:
    """The per-layer additions around the mixer and FFN (Gemma 3n's), in the order the block runs them."""
    boxes = sorted((m.box() for m in model_mechanisms(ir)), key=lambda b: EXTRA_PLACES.index(b.place))
    notes = [Note(k, t) for box in boxes for k, t in box.notes]
    return Slot("extras", "extras", "Per-layer extras", notes) if notes else None


# ---------------------------------------------------------------------------------------------------
# blocks: each distinct kind once, matched across models by kind and role


@dataclass
class Block:
    key: tuple  # (mixer, ffn, shares KV)
    role: str  # "prefix" for a short run of first layers before another kind, else "main"
    layers: list[LayerIR]
    ir: ModelIR

    def tiers(self) -> list[tuple]:
        mixer, ffn, shared = self.key
        first = layer_mixer(self.ir, self.layers[0])
        linear = "attention" if first is not None and first.attends else "linear"
        # full attention with or without RoPE; attention restricted to a window or a chunk
        span = {"global": "full", "nope": "full", "local": "restricted", "chunked": "restricted"}.get(mixer, mixer)
        span = "compressed" if mixer in ("csa", "hca") else span  # a window plus compressed entries of the past
        return [
            (mixer, ffn, shared, self.role),
            (mixer, ffn, self.role),
            (span, ffn, self.role),
            (linear, ffn, self.role),
            (mixer, ffn),
            (span, ffn),
            (linear, ffn),
            (mixer,),
            (span,),
            (linear,),
        ]


def blocks_of(ir: ModelIR) -> list[Block]:
    groups: dict[tuple, list[LayerIR]] = {}
    for layer in ir.layers:
        # layers of one kind with different sizes are different blocks: each block is drawn from its first layer
        parts = [m for m in (layer_mixer(ir, layer), layer_ffn(ir, layer)) if m is not None]
        sizes = tuple(m.identity for m in parts)
        shared = any(m.kv_shared for m in parts)
        groups.setdefault((layer.mixer, layer.ffn, shared, sizes), []).append(layer)
    out = []
    for (*kind, _sizes), layers in groups.items():
        key = tuple(kind)
        idx = [l.index for l in layers]
        prefix = len(groups) > 1 and idx == list(range(len(idx))) and len(idx) * 4 <= ir.n_layers
        out.append(Block(key, "prefix" if prefix else "main", layers, ir))
    return out


def match_blocks(models: list[list[Block]]) -> list[list[Optional[Block]]]:
    """Rows of blocks, one column per model: a block joins the row of its closest kind, or a row of its own."""
    n = len(models)
    rows: list[list[Optional[Block]]] = [[b] + [None] * (n - 1) for b in models[0]]
    for j in range(1, n):
        row_of: dict[int, int] = {}
        for tier in range(len(models[j][0].tiers()) if models[j] else 0):
            for bi, b in enumerate(models[j]):
                if bi in row_of:
                    continue
                want = b.tiers()[tier]
                for ri, row in enumerate(rows):
                    if row[j] is None and any(o is not None and o.tiers()[tier] == want for o in row):
                        row[j], row_of[bi] = b, ri
                        break
        # unmatched blocks take a row of their own, before the row of this model's next matched block
        for bi in reversed(range(len(models[j]))):
            if bi in row_of:
                continue
            later = [row_of[k] for k in range(bi + 1, len(models[j])) if k in row_of]
            at = min(later) if later else len(rows)
            rows.insert(at, [None] * n)
            rows[at][j] = models[j][bi]
            row_of = {k: (r + 1 if r >= at else r) for k, r in row_of.items()}
            row_of[bi] = at
    return rows


def block_slots(block: Block) -> list[Slot]:
    """The flow inside one block, bottom up, with the residual add nodes."""
    ir, first = block.ir, block.layers[0]
    norm, place = norm_name(ir), ir.norm.placement
    subs = (mechanism_slot("mixer", layer_mixer(ir, first)), mechanism_slot("ffn", layer_ffn(ir, first)))
    joint = block_residual(ir)
    box = joint.box() if joint is not None else None
    if box is not None and box.branches and None not in subs:  # one norm, mixer and FFN side by side, one add
        mixer, ffn = subs
        mixer.joins, ffn.fed_from = "add-1", "norm-1"
        add = Slot("add-1", "add", "+", [Note(k, t) for k, t in box.notes], skip_from="norm-1")
        return [Slot("norm-1", "norm", box.title), mixer, ffn, add]
    out: list[Slot] = []
    for i, sub in enumerate(subs, 1):
        if sub is None:
            continue
        start = len(out)
        if place in ("pre", "sandwich"):
            out.append(Slot(f"norm-{i}", "norm", f"{norm} {i}"))
        out.append(sub)
        if place in ("post", "sandwich"):
            scaled = ", depth-scaled" if ir.norm.depth_scaled else ""
            out.append(Slot(f"post-norm-{i}", "norm", f"{norm} (post {i}{scaled})"))
        out.append(Slot(f"add-{i}", "add", "+", skip_from=out[start].role))
    extras = extras_slot(ir)
    if extras is not None:
        out.append(extras)
    return out


def block_title(block: Block) -> str:
    ir, first = block.ir, block.layers[0]
    parts = [m.box().block_words for m in (layer_mixer(ir, first), layer_ffn(ir, first)) if m is not None]
    return " + ".join(parts) + " block"


def block_where(block: Block) -> str:
    idx = [l.index for l in block.layers]
    if len(idx) == 1:
        return f"layer {idx[0]}"
    if idx == list(range(idx[0], idx[-1] + 1)):
        return f"layers {idx[0]}–{idx[-1]}"
    return f"{len(idx)} of {block.ir.n_layers} layers"


# ---------------------------------------------------------------------------------------------------
# differences: the majority rule of the tables, and the callouts


def _features(block: Block) -> dict[str, str]:
    ir, first = block.ir, block.layers[0]
    out = {"mixer": "none", "ffn": "none", "shared": "no"}
    for m in (layer_mixer(ir, first), layer_ffn(ir, first)):
        if m is not None:
            out.update(m.box().features)
    out["norm"] = ir.norm.placement
    return out


MIXER_WORDS = {
    "global": "global",
    "local": "local",
    "chunked": "chunked",
    "nope": "global",
}  # NoPE layers attend globally


def callouts(row: list[Optional[Block]]) -> list[list[str]]:
    """Short texts naming each architectural difference of a block from its row's reference block."""
    feats = [_features(b) if b is not None else None for b in row]
    out: list[list[str]] = [[] for _ in row]
    present = [f for f in feats if f is not None]
    if len(present) == 1 and len(row) > 1:  # a block kind the other models lack
        j = next(j for j, f in enumerate(feats) if f is not None)
        block = row[j]
        if block.role == "prefix" and feats[j]["ffn"] == "dense FFN":
            out[j].append(
                f"dense FFN in the first {len(block.layers)} " + ("layer" if len(block.layers) == 1 else "layers")
            )
        else:
            out[j].append("a block kind the other " + ("model lacks" if len(row) == 2 else "models lack"))
        return out
    if len(present) < 2:
        return out
    ref = {k: reference([f.get(k) if f else None for f in feats]) for k in present[0]}
    for j, f in enumerate(feats):
        if f is None:
            continue
        said = out[j]
        if f["mixer"] != ref["mixer"]:
            said.append(f"{f['mixer']} instead of {ref['mixer']}")
        if f["ffn"] != ref["ffn"] and "none" not in (f["ffn"], ref["ffn"]):
            said.append(f"{f['ffn']} instead of {ref['ffn']}")
        if f["shared"] == "yes" and ref["shared"] == "no":
            said.append("shared expert")
        if f["shared"] == "no" and ref["shared"] == "yes" and f["ffn"] == "MoE":
            said.append("no shared expert")
        mixer = MIXER_WORDS.get(row[j].key[0], "")
        if f.get("position") == "nope" and ref.get("position") not in (None, "nope"):
            said.append(f"no positional encoding in {mixer} layers".replace("  ", " "))
        if f.get("window") == "yes" and ref.get("window") == "no":
            said.append("sliding-window attention")
        for key, yes, no in (
            ("qk_norm", "QK-norm", "no QK-norm"),
            ("sinks", "attention sinks", "no attention sinks"),
            ("gate", "gated attention output", "no attention output gate"),
        ):
            if f.get(key) is not None and ref.get(key) is not None and f[key] != ref[key]:
                said.append(yes if f[key] == "yes" else no)
        if f["norm"] != ref["norm"]:
            said.append({"post": "post-norm", "pre": "pre-norm", "sandwich": "norms before and after"}[f["norm"]])
    return out


# ---------------------------------------------------------------------------------------------------
# the layout: primitives in px, y down; computed once, written by to_svg and to_png


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str = GREY
    width: float = 1.0
    rx: float = 4.0
    dash: bool = False


@dataclass
class Text:
    x: float
    y: float  # baseline
    text: str
    size: float = BOX_SIZE
    fill: str = INK
    bold: bool = False
    fit: tuple[float, float, float, float] = (0, 0, 0, 0)  # the box it must stay inside: x0, y0, x1, y1


@dataclass
class Line:
    points: list[tuple[float, float]]
    stroke: str = ARROW
    width: float = 1.3
    arrow: bool = True  # an arrowhead at the last point


@dataclass
class Circle:
    x: float
    y: float
    r: float
    fill: str = "#ffffff"
    stroke: str = ARROW


@dataclass
class Group:
    id: str
    cls: str = ""
    items: list = field(default_factory=list)
    key: str = ""  # the value an annotation line shows (data-key)


@dataclass
class Figure:
    width: float
    height: float
    items: list  # Rect, Text, Line, Circle or Group (of the same)
    title: str

    def walk(self):
        stack = list(reversed(self.items))
        while stack:
            item = stack.pop()
            if isinstance(item, Group):
                stack += list(reversed(item.items))
            else:
                yield item


def _text(x: float, y: float, text: str, size: float, fit, **kw) -> Text:
    return Text(x, y, text, size, fit=fit, **kw)


def _centered(cx: float, y: float, text: str, size: float, fit, bold: bool = False, **kw) -> Text:
    return Text(cx - text_width(text, size, bold) / 2, y, text, size, bold=bold, fit=fit, **kw)


@dataclass
class Placed:
    """A slot's box as drawn: its height, and its items for a given left edge and top."""

    height: float
    draw: Callable[[float, float], list]  # (x, top) -> items


def _box(slot: Slot, group_id: str, highlight: bool) -> Placed:
    if slot.kind == "add":

        def add(x: float, top: float) -> list:
            cx, cy = x + FLOW_W / 2, top + 9
            return [
                Group(
                    group_id,
                    "add",
                    [
                        Circle(cx, cy, 9),
                        Line([(cx - 5, cy), (cx + 5, cy)], INK, 1.4, False),
                        Line([(cx, cy - 5), (cx, cy + 5)], INK, 1.4, False),
                    ],
                )
            ]

        return Placed(18, add)
    if slot.routing is not None:
        return _moe_box(slot, group_id, highlight)
    lines = wrap(slot.title, BOX_SIZE, FLOW_W - 16)
    height = 10 + len(lines) * 15

    def draw(x: float, top: float) -> list:
        stroke, width = (HIGHLIGHT_STROKE, 2.5) if highlight else (GREY, 1.0)
        items = [Rect(x, top, FLOW_W, height, FILL[slot.kind], stroke, width)]
        fit = (x, top, x + FLOW_W, top + height)
        for i, line in enumerate(lines):
            items.append(_centered(x + FLOW_W / 2, top + 5 + 12 + i * 15, line, BOX_SIZE, fit))
        return [Group(group_id, "box differs" if highlight else "box", items)]

    return Placed(height, draw)


def _moe_box(slot: Slot, group_id: str, highlight: bool) -> Placed:
    m = slot.routing
    height = 96

    def draw(x: float, top: float) -> list:
        stroke, width = (HIGHLIGHT_STROKE, 2.5) if highlight else (GREY, 1.0)
        fit = (x, top, x + FLOW_W, top + height)
        items = [Rect(x, top, FLOW_W, height, FILL["moe"], stroke, width)]
        items.append(_centered(x + FLOW_W / 2, top + 16, slot.title, BOX_SIZE, fit))
        # the router at the bottom, the experts above it: routed on the left, shared ones apart on the right
        router_y = top + height - 28
        shared_w = 44 if m.n_shared else 0
        routed_w = FLOW_W - 20 - (shared_w + 10 if shared_w else 0)
        items.append(Rect(x + 10, router_y, routed_w, 20, FILL["router"], GREY, 1.0, 3))
        router_text = f"Router: top-{m.top_k} of {m.n_experts}"
        if m.by_token:  # the experts come from a token table; the router only weights them
            router_text = f"Hash: {m.top_k} of {m.n_experts} by token"
        items.append(
            _centered(
                x + 10 + routed_w / 2,
                router_y + 14,
                router_text,
                SMALL,
                (x + 10, router_y, x + 10 + routed_w, router_y + 20),
            )
        )
        ex_y, ex_h, ex_w, gap = top + 26, 30, 14, 4
        n_drawn = min(m.n_experts, (routed_w + gap) // (ex_w + gap))
        ellipsis = n_drawn < m.n_experts
        step = (routed_w - ex_w) / max(n_drawn - 1, 1)
        for i in range(n_drawn):
            ex_x = x + 10 + i * step
            if ellipsis and i == n_drawn - 2:
                items.append(
                    _centered(ex_x + ex_w / 2, ex_y + 19, "…", BOX_SIZE, (ex_x - 2, ex_y, ex_x + ex_w + 2, ex_y + ex_h))
                )
                continue
            active = i < min(m.top_k, n_drawn - (2 if ellipsis else 0))
            items.append(Rect(ex_x, ex_y, ex_w, ex_h, FILL["active"] if active else FILL["expert"], GREY, 0.8, 2))
            # the router feeds every expert; the active ones are filled
            items.append(Line([(ex_x + ex_w / 2, router_y), (ex_x + ex_w / 2, ex_y + ex_h)], GREY, 0.6, False))
        if shared_w:
            sx = x + FLOW_W - 10 - shared_w
            items.append(Rect(sx, ex_y, shared_w, ex_h + router_y + 20 - ex_y - ex_h, FILL["shared"], GREY, 0.8, 3))
            label = "shared" if m.n_shared == 1 else f"{m.n_shared} shared"
            fitbox = (sx, ex_y, sx + shared_w, router_y + 20)
            items.append(_centered(sx + shared_w / 2, ex_y + 30, label, SMALL, fitbox, fill="#ffffff"))
        return [Group(group_id, "box differs" if highlight else "box", items)]

    return Placed(height, draw)


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


@dataclass(frozen=True)
class HeaderNumbers:
    """The numbers a column's header prints, computed by the caller (`api.diagram_numbers`): the diagram
    analyses nothing. `kv_per_token`: bytes per token over all attention layers, bf16, windows ignored."""

    total: int
    active: int
    kv_per_token: int


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
            g.items.append(_text(col.x, ty, line, TITLE_SIZE, fit, bold=True))
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
                Piece(_box(slot, ids[j], titles[j]), _notes_lines(slot.notes, notes[j], col.ann_w), slot)
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
                pieces.append(Piece(_box(s, gid, titles[j]), _notes_lines(s.notes, notes[j], col.ann_w), s, gid))
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
                    _text(
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
                    _text(
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
                _text(
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
                [_centered(col.flow_x + FLOW_W / 2, y + 14, "Tokenized text", BOX_SIZE, fit, fill=GREY)],
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


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _arrowhead(line: Line) -> list[tuple[float, float]]:
    (x0, y0), (x1, y1) = line.points[-2], line.points[-1]
    length = ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5 or 1.0
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    size, half = 7.0, 3.5
    bx, by = x1 - ux * size, y1 - uy * size
    return [(x1, y1), (bx - uy * half, by + ux * half), (bx + uy * half, by - ux * half)]


def _svg_items(items: list, out: list[str]) -> None:
    for item in items:
        if isinstance(item, Group):
            attrs = (f" id={quoteattr(item.id)}" if item.id else "") + (f' class="{item.cls}"' if item.cls else "")
            attrs += f" data-key={quoteattr(item.key)}" if item.key else ""
            out.append(f"<g{attrs}>")
            _svg_items(item.items, out)
            out.append("</g>")
        elif isinstance(item, Rect):
            dash = ' stroke-dasharray="5 3"' if item.dash else ""
            out.append(
                f'<rect x="{_fmt(item.x)}" y="{_fmt(item.y)}" width="{_fmt(item.w)}" height="{_fmt(item.h)}" '
                f'rx="{_fmt(item.rx)}" fill="{item.fill}" stroke="{item.stroke}" stroke-width="{_fmt(item.width)}"{dash}/>'
            )
        elif isinstance(item, Text):
            weight = ' font-weight="bold"' if item.bold else ""
            fit = " ".join(_fmt(v) for v in item.fit)
            out.append(
                f'<text x="{_fmt(item.x)}" y="{_fmt(item.y)}" font-size="{_fmt(item.size)}" fill="{item.fill}"'
                f'{weight} data-fit="{fit}">{escape(item.text)}</text>'
            )
        elif isinstance(item, Line):
            points = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in item.points)
            out.append(
                f'<polyline points="{points}" fill="none" stroke="{item.stroke}" stroke-width="{_fmt(item.width)}"/>'
            )
            if item.arrow:
                head = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in _arrowhead(item))
                out.append(f'<polygon points="{head}" fill="{item.stroke}"/>')
        elif isinstance(item, Circle):
            out.append(
                f'<circle cx="{_fmt(item.x)}" cy="{_fmt(item.y)}" r="{_fmt(item.r)}" fill="{item.fill}" stroke="{item.stroke}" stroke-width="1.3"/>'
            )


def to_svg(fig: Figure) -> str:
    texts = [t for t in fig.walk() if isinstance(t, Text)]
    regular = {c for t in texts if not t.bold for c in t.text}
    bold = {c for t in texts if t.bold for c in t.text}
    w, h = _fmt(fig.width), _fmt(fig.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family=\'"{FAMILY}", "DejaVu Sans", sans-serif\' font-size="12">',
        f"<title>{escape(fig.title)}</title>",
        # the font the layout was measured with, embedded: the figure looks the same on every machine
        "<style>\n" + font_face_css(regular, bold) + "\ntext{font-kerning:none;white-space:pre}\n</style>",
        f'<rect width="{w}" height="{h}" fill="white"/>',
    ]
    _svg_items(fig.items, out)
    out.append("</svg>")
    return "\n".join(out) + "\n"


PNG_MAX_PIXELS = 64_000_000  # about a dozen models side by side; the RGBA canvas alone is 4 bytes a pixel


def to_png(fig: Figure, scale: float = 2.0) -> bytes:
    """The same layout drawn by matplotlib with the same font file: no system font, no SVG rasteriser."""
    import io

    pixels = round(fig.width * scale) * round(fig.height * scale)
    if pixels > PNG_MAX_PIXELS:
        from .errors import LlmarchError

        raise LlmarchError(
            f"the PNG of {fig.title} would be {round(fig.width * scale):,} x {round(fig.height * scale):,} pixels, "
            f"over the {PNG_MAX_PIXELS:,} llmarch draws; write .svg or .html (no limit) or compare fewer models"
        )

    from matplotlib.figure import Figure as MplFigure
    from matplotlib.font_manager import FontProperties
    from matplotlib.patches import Circle as MplCircle
    from matplotlib.patches import FancyBboxPatch, Polygon

    from .diagram_font import font_path

    dpi = 72 * scale  # 1 px of the layout is 1 pt: font sizes and line widths carry over unchanged
    mfig = MplFigure(figsize=(fig.width / 72, fig.height / 72), dpi=dpi, facecolor="white")
    ax = mfig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, fig.width)
    ax.set_ylim(fig.height, 0)
    ax.axis("off")
    fonts = {b: FontProperties(fname=str(font_path(b))) for b in (False, True)}
    for item in fig.walk():
        if isinstance(item, Rect):
            ax.add_patch(
                FancyBboxPatch(
                    (item.x, item.y),
                    item.w,
                    item.h,
                    boxstyle=f"round,pad=0,rounding_size={item.rx}",
                    facecolor=item.fill,
                    edgecolor=item.stroke,
                    linewidth=item.width,
                    linestyle=(0, (5 / item.width, 3 / item.width)) if item.dash else "solid",
                )
            )
        elif isinstance(item, Text):
            ax.text(
                item.x,
                item.y,
                item.text,
                fontproperties=fonts[item.bold],
                fontsize=item.size,
                color=item.fill,
                va="baseline",
                ha="left",
            )
        elif isinstance(item, Line):
            xs, ys = zip(*item.points)
            ax.plot(xs, ys, color=item.stroke, linewidth=item.width, solid_capstyle="butt")
            if item.arrow:
                ax.add_patch(Polygon(_arrowhead(item), closed=True, facecolor=item.stroke, edgecolor="none"))
        elif isinstance(item, Circle):
            ax.add_patch(MplCircle((item.x, item.y), item.r, facecolor=item.fill, edgecolor=item.stroke, linewidth=1.3))
    buf = io.BytesIO()
    mfig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    # flat colours and anti-aliased edges fit a 256-colour palette: a third of the bytes, no visible change
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(256).save(out, "PNG", optimize=True)
    return out.getvalue()


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
    from .errors import OptionError

    raise OptionError(f"`{path}`: the figure must end in .svg, .png or .html")
