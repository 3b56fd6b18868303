"""The diagram's drawing: sizes and colours, the primitives a layout is made of (Rect, Text, Line, Circle,
Group, Figure), a slot's box (`draw_box`), and the two writers of one layout, `to_svg` and `to_png`
(matplotlib, in the same font): what the figure looks like, not what it shows (`diagram_blocks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable
from xml.sax.saxutils import escape, quoteattr

from .diagram_blocks import Slot
from .diagram_font import FAMILY, font_face_css, text_width, wrap

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


def text_item(x: float, y: float, text: str, size: float, fit, **kw) -> Text:
    return Text(x, y, text, size, fit=fit, **kw)


def centered_text(cx: float, y: float, text: str, size: float, fit, bold: bool = False, **kw) -> Text:
    return Text(cx - text_width(text, size, bold) / 2, y, text, size, bold=bold, fit=fit, **kw)


@dataclass
class Placed:
    """A slot's box as drawn: its height, and its items for a given left edge and top."""

    height: float
    draw: Callable[[float, float], list]  # (x, top) -> items


def draw_box(slot: Slot, group_id: str, highlight: bool) -> Placed:
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
            items.append(centered_text(x + FLOW_W / 2, top + 5 + 12 + i * 15, line, BOX_SIZE, fit))
        return [Group(group_id, "box differs" if highlight else "box", items)]

    return Placed(height, draw)


def _moe_box(slot: Slot, group_id: str, highlight: bool) -> Placed:
    m = slot.routing
    height = 96

    def draw(x: float, top: float) -> list:
        stroke, width = (HIGHLIGHT_STROKE, 2.5) if highlight else (GREY, 1.0)
        fit = (x, top, x + FLOW_W, top + height)
        items = [Rect(x, top, FLOW_W, height, FILL["moe"], stroke, width)]
        items.append(centered_text(x + FLOW_W / 2, top + 16, slot.title, BOX_SIZE, fit))
        # the router at the bottom, the experts above it: routed on the left, shared ones apart on the right
        router_y = top + height - 28
        shared_w = 44 if m.n_shared else 0
        routed_w = FLOW_W - 20 - (shared_w + 10 if shared_w else 0)
        items.append(Rect(x + 10, router_y, routed_w, 20, FILL["router"], GREY, 1.0, 3))
        router_text = f"Router: top-{m.top_k} of {m.n_experts}"
        if m.by_token:  # the experts come from a token table; the router only weights them
            router_text = f"Hash: {m.top_k} of {m.n_experts} by token"
        items.append(
            centered_text(
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
                    centered_text(
                        ex_x + ex_w / 2, ex_y + 19, "…", BOX_SIZE, (ex_x - 2, ex_y, ex_x + ex_w + 2, ex_y + ex_h)
                    )
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
            items.append(centered_text(sx + shared_w / 2, ex_y + 30, label, SMALL, fitbox, fill="#ffffff"))
        return [Group(group_id, "box differs" if highlight else "box", items)]

    return Placed(height, draw)


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
        from ..errors import LlmarchError

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
