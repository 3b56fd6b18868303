"""Fitting a document's tables to the terminal's width: names, numbers and URLs never break across lines.

At a width W (40 to 10,000 columns, else 80: `output.terminal_width`) a table is laid out by the first of:

1. every cell on one line, each column as wide as its widest text;
2. cells and headers wrapped at spaces (never inside a word, nor between a number and its unit); the
   first column (the labels) and the models' names heading a side-by-side table keep one line each;
3. the same with the table's optional columns left out, least important first (`DocTable.optional`);
   one line under the table names the columns left out;
4. a vertical layout: one block per model when the table compares models column by column (its first
   header is empty), else one block per row; a value stands beside its label, or under it when both do
   not fit.

A word wider than the whole width (a long URL) is printed whole on its own line, past the edge, rather
than broken: a broken URL cannot be copied, and a broken name cannot be found with grep.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable

from .output import printable

# rich's SIMPLE_HEAVY box with one space of padding: an edge, then each column with a space either side
# and a divider: sum(widths) + 3 x columns + 1
EDGE = 1
PER_COLUMN = 3
INDENT = 2  # the labels of a vertical block
# words that belong to the number before them: "12.35 T", "10.4 GiB", "3.1 ms"
_UNIT = re.compile(r"(?:[KMBGTP]|[KMGT]i?B|ms|s|FLOP/B|tok/s)[,;)]?")


# a cell that differs from its row's majority ends in MARK (render/doc.py marks it); the marks that belong to
# the value before them: that one and report's past-context `*`
MARK = "‹"
_MARKS = (MARK, "*")


def chunks(line: str) -> list[str]:
    """`line`'s unbreakable pieces: words, each number held to its unit and each value to its mark."""
    out: list[str] = []
    for word in line.split(" "):
        if out and (word in _MARKS or (_UNIT.fullmatch(word) and re.search(r"\d$", out[-1]))):
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def wrap(text: str, width: int) -> list[str]:
    """`text` wrapped at spaces to `width`; a piece wider than `width` keeps a line of its own, whole."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for piece in chunks(paragraph):
            if current and len(current) + 1 + len(piece) > width:
                lines.append(current)
                current = piece
            else:
                current = f"{current} {piece}" if current else piece
        lines.append(current)
    return lines


def widest_piece(text: str) -> int:
    return max((len(p) for line in text.split("\n") for p in chunks(line)), default=0)


def widest_line(text: str) -> int:
    return max((len(line) for line in text.split("\n")), default=0)


@dataclass
class Layout:
    """How one table is shown: its kept columns at `widths`, or `vertical` blocks; `dropped` names what
    was left out to fit."""

    keep: list[int]
    widths: list[int]
    dropped: list[str]
    vertical: bool = False


def table_width(widths: list[int]) -> int:
    return sum(widths) + PER_COLUMN * len(widths) + EDGE


def layout(t: Any, width: int) -> Layout:
    columns = list(range(len(t.columns)))
    candidates = [columns]
    for i in t.optional:
        candidates.append([c for c in candidates[-1] if c != i])
    for keep in candidates:
        widths = _fit(t, keep, width)
        if widths is not None:
            return Layout(keep, widths, [t.columns[c] for c in columns if c not in keep])
    return Layout(columns, [], [], vertical=True)


def _fit(t: Any, keep: list[int], width: int) -> list[int] | None:
    natural, least = [], []
    for c in keep:
        texts = [row[c].text for row in t.rows if c < len(row)]
        natural.append(max([widest_line(t.columns[c])] + [widest_line(x) for x in texts]))
        one_line = c == 0  # the labels
        cells = max([widest_line(x) if one_line else widest_piece(x) for x in texts], default=0)
        # a side-by-side table's headers are models' names: whole (a grouped table's add what they show)
        name = not t.columns[0] and t.group == 1 and c
        least.append(max(cells, widest_line(t.columns[c]) if name else widest_piece(t.columns[c])))
    if table_width(natural) <= width:
        return natural
    if table_width(least) > width:
        return None
    # share the room left among the wrapped columns, to each in proportion to what it lacks
    widths = list(least)
    room = width - table_width(least)
    lacking = [n - w for n, w in zip(natural, widths)]
    total = sum(lacking)
    for i, lack in enumerate(lacking):
        widths[i] += room * lack // total
    widths[lacking.index(max(lacking))] += width - table_width(widths)  # what rounding down left
    return widths


def fitted_cells(t: Any, lay: Layout) -> tuple[list[str], list[list[Any]]]:
    """The kept header and rows, each text wrapped to its column's width."""
    header = ["\n".join(wrap(t.columns[c], w)) for c, w in zip(lay.keep, lay.widths)]
    rows = []
    for row in t.rows:
        kept = []
        for c, w in zip(lay.keep, lay.widths):
            if c >= len(row):  # a short row: blank cells, so that the ones after stay in their columns
                kept.append(replace(row[0], text="", value=None, highlight=False, style=""))
                continue
            kept.append(replace(row[c], text="\n".join(wrap(row[c].text, w))))
        rows.append(kept)
    return header, rows


@dataclass
class Block:
    """One block of a vertical layout: a heading, then (label, cell) pairs."""

    heading: str
    pairs: list[tuple[str, Any]]


def blocks(t: Any) -> list[Block]:
    if len(t.columns) == 2:  # already a label and a value per row
        return [Block("", [(row[0].text, row[1]) for row in t.rows if len(row) > 1 and row[1].text])]
    if not t.columns[0]:  # models side by side: one block per model
        return [
            Block(t.columns[c], [(row[0].text, row[c]) for row in t.rows if c < len(row) and row[c].text])
            for c in range(1, len(t.columns))
        ]
    out = []
    for row in t.rows:
        pairs = [(t.columns[c], row[c]) for c in range(1, len(row)) if row[c].text]
        out.append(Block(row[0].text if row else "", pairs))
    return out


def groups(t: Any) -> list[Any]:
    """A side-by-side table whose models have `t.group` columns each, as one table per model."""
    out = []
    for start in range(1, len(t.columns), t.group):
        cols = list(range(start, min(start + t.group, len(t.columns))))
        out.append(
            replace(
                t,
                title="",
                columns=[""] + [t.columns[c] for c in cols],
                rows=[[row[0]] + [row[c] for c in cols] for row in t.rows],
                right={i + 1 for i, c in enumerate(cols) if c in t.right},
                optional=[],
                group=0,  # split already; its headers say more than a name, and may wrap
            )
        )
    return out


def pair_lines(label: str, value: str, label_width: int, width: int) -> list[tuple[str, str]]:
    """(label part, value part) lines for one pair: beside each other when they fit, else the value under."""
    room = width - INDENT - label_width - 2
    values = wrap(value, max(room, 1))
    if len(label) <= label_width and room > 0 and max(len(v) for v in values) <= room:
        pad = " " * (INDENT + label_width + 2)
        first = " " * INDENT + label.ljust(label_width) + "  "
        return [(first if i == 0 else pad, v) for i, v in enumerate(values)]
    lines = [(" " * INDENT + part, "") for part in wrap(label, width - INDENT)] if label else []
    return lines + [(" " * (INDENT + 2), v) for v in wrap(value, width - INDENT - 2)]


def label_width(block: Block, width: int) -> int:
    """The labels' column: as wide as the widest label that leaves room for a value beside it."""
    fitting = [len(label) for label, _ in block.pairs if len(label) <= (width - INDENT) // 2]
    return max(fitting, default=0)


def paragraph(text: str, width: int) -> list[str]:
    """A note or remark wrapped to `width`, its leading indent kept and its later lines indented 2 more."""
    body = text.lstrip(" ")
    indent = " " * (len(text) - len(body))
    out = []
    for part in body.split("\n"):
        first = wrap(part, max(width - len(indent), 1))[0]
        out.append(indent + first)
        rest = part[len(first) :].lstrip(" ")
        out += [indent + "  " + line for line in wrap(rest, max(width - len(indent) - 2, 1))] if rest else []
    return out


def renderables(t: Any, width: int, style_of: Callable[[Any], str]) -> list:
    """One table as rich renderables fitted to `width`; `style_of(cell)` is the cell's style."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = replace(
        t,
        title=printable(t.title),
        columns=[printable(c) for c in t.columns],
        rows=[[replace(c, text=printable(c.text)) for c in row] for row in t.rows],
    )
    lay = layout(t, width)
    out: list = []
    if lay.vertical:
        out += [line(x) for x in wrap(t.title, width)] if t.title else []
        if t.group > 1 and not t.columns[0]:
            for sub in groups(t):
                out += renderables(sub, width, style_of)
            return out
        for block in blocks(t):
            out.append(line(""))
            out += [line(x, "bold") for x in wrap(block.heading, width)] if block.heading else []
            labels = label_width(block, width)
            for label, cell in block.pairs:
                for left, right in pair_lines(label, cell.text, labels, width):
                    out.append(line(left, "bold", right, style_of(cell)))
        return out + [line("")]  # a blank line after the last block, as under a table
    header, rows = fitted_cells(t, lay)
    # the title is wrapped at the terminal's width, not the table's: a narrow table keeps a long title whole
    out += [line(x) for x in wrap(t.title, width)] if t.title else []
    rt = Table(box=box.SIMPLE_HEAVY)
    for c, text, w in zip(lay.keep, header, lay.widths):
        rt.add_column(
            Text(text),  # a Text, not a str: a model's name is never read as rich markup (`[bold]`)
            justify="right" if c in t.right else "left",
            no_wrap=True,
            width=w,
            style="bold" if c == 0 and not t.columns[0] else None,
        )
    for i, row in enumerate(rows):
        if i in t.sections and i:
            rt.add_section()
        rt.add_row(*[Text(cell.text, style=style_of(cell)) for cell in row])
    out.append(rt)
    if lay.dropped:
        note = f"(left out to fit {width} columns: {', '.join(lay.dropped)}; a wider COLUMNS or -f json shows them)"
        out += [line(x, "dim") for x in wrap(note, width)]
    return out


def line(*parts: str):
    """One line, never wrapped nor cut by rich (a word wider than the terminal goes past its edge)."""
    from rich.text import Text

    text = Text(no_wrap=True, overflow="ignore")
    for i in range(0, len(parts), 2):
        text.append(parts[i], style=(parts[i + 1] if i + 1 < len(parts) else "") or None)
    return text
