"""A small document model shared by every human-readable format.

Commands build a `Doc` (titled tables of cells plus notes); `to_rich`, `to_markdown`, `to_csv` and
`to_html` render it.  A cell carries its display text and, for numbers, the exact value that csv
writes; `highlight` marks a value (bold in markdown, coloured elsewhere) and `differs` one that differs
from its row's majority (`differences`): visible without colour too, as a trailing `MARK` that a legend
under the tables explains, and in csv as a column naming the models that differ.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .fit import MARK
from .output import printable


@dataclass
class Cell:
    text: str
    value: Any = None  # exact value for csv (an int), else the text is used
    highlight: bool = False
    style: str = ""  # rich style for terminals, e.g. "bold green" for the smallest value
    differs: bool = False  # differs from its row's majority value (`differences.differing` decided it)

    def exact(self) -> Any:
        return self.text if self.value is None else self.value


def cell(x: Any, text: str | None = None, highlight: bool = False, style: str = "") -> Cell:
    if isinstance(x, Cell):
        return x
    return Cell(
        text if text is not None else ("" if x is None else str(x)),
        x if isinstance(x, (int, float)) and not isinstance(x, bool) else None,
        highlight,
        style,
    )


@dataclass
class DocTable:
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    sections: list[int] = field(default_factory=list)  # row indices before which a rule is drawn
    right: set[int] = field(default_factory=set)  # right-aligned column indices
    compares: bool = False  # models side by side, cells marked by `differs`: csv adds a column naming them
    optional: list[int] = field(default_factory=list)  # columns a narrow terminal may leave out, first first
    group: int = 1  # side by side (first header empty): columns per model, kept together when laid out vertically

    def add(self, *cells: Any) -> None:
        self.rows.append([cell(c) for c in cells])

    def section(self) -> None:
        self.sections.append(len(self.rows))


@dataclass
class Doc:
    tables: list[DocTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # conventions, printed under the tables
    remarks: list[str] = field(default_factory=list)  # warnings and explanations, printed before the notes
    csv_table: "DocTable | None" = None  # the table csv writes under its one header row (default: the first)
    csv_more: list[DocTable] = field(default_factory=list)  # sections csv writes after it, each titled
    # the remarks csv ends with (default: `remarks`), where a remark points at a mark csv's exact values lack
    csv_remarks: "list[str] | None" = None


HIGHLIGHT = "bold yellow"
# After a cell that differs, in every format: piped or written to a file, colour is gone
LEGEND = (
    f"{MARK} differs from its row's majority (from the first model when there is none); exact values decide, "
    "not the rounded text"
)
CSV_DIFFERS = "differs from the row's majority"
CSV_REMARKS = "Remarks"


def _marked(c: Cell) -> str:
    return f"{c.text} {MARK}" if c.differs else c.text


def legend(doc: Doc) -> list[str]:
    """The marker's legend, where a cell of the document is marked."""
    return [LEGEND] if any(c.differs for t in doc.tables for row in t.rows for c in row) else []


def to_rich(doc: Doc, width: int = 80):
    """For terminals, fitted to `width` columns (render/fit.py: names, numbers and URLs never break): every
    text has its control characters made visible (a spec's strings are user input)."""
    from rich.console import Group

    from .fit import line, paragraph, renderables

    items = []
    for t in doc.tables:
        # a differing cell carries its mark in the text, so that the fitting measures it and pipes show it
        marked = replace(t, rows=[[replace(c, text=_marked(c)) for c in row] for row in t.rows])
        items += renderables(marked, width, lambda c: (HIGHLIGHT if c.highlight or c.differs else c.style) or "")
    for text in legend(doc):
        items += [line(x, "cyan") for x in paragraph(text, width)]
    for r in doc.remarks:
        items += [line(x, "yellow" if r.startswith("warning") else "cyan") for x in paragraph(printable(r), width)]
    if doc.notes:
        items.append(line("  Conventions:", "dim"))
        items += [line(x, "dim") for n in doc.notes for x in paragraph("  " + printable(n), width)]
    return Group(*items)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(doc: Doc, heading_level: int = 3) -> str:
    out = []
    for t in doc.tables:
        if t.title:
            out += [f"{'#' * heading_level} {_md(t.title)}", ""]
        out.append("| " + " | ".join(_md(c) for c in t.columns) + " |")
        out.append("|" + "".join("---:|" if i in t.right else "---|" for i in range(len(t.columns))))
        for row in t.rows:
            cells = [
                f"**{_md(c.text)}**" if (c.highlight or c.differs) and c.text not in ("", "—") else _md(c.text)
                for c in row
            ]
            cells = [f"{text} {MARK}" if c.differs else text for text, c in zip(cells, row)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    for line in legend(doc):
        out += [_md(line), ""]
    for r in doc.remarks:
        out.append(f"> {_md(r)}")
    if doc.remarks:
        out.append("")
    if doc.notes:
        out += ["Conventions:", ""] + [f"- {_md(n)}" for n in doc.notes] + [""]
    return "\n".join(out)


# A spreadsheet reads a cell that starts with one of these as a formula (`=HYPERLINK(...)`, `@SUM(...)`,
# `-2+3+cmd|...`); tab and carriage return are in OWASP's list because some importers strip them first.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A text cell that is wholly a plain number (`-12`, `-1,024.5`, `-3.5%`) holds no formula: digits cannot
# call a function or reference another cell.  It stays as is, so negative numbers read as numbers.
_PLAIN_NUMBER = re.compile(r"[-+]?\d[\d,]*(\.\d+)?%?")


def csv_safe(value: Any) -> Any:
    """A cell value with spreadsheet formula injection defused: text that a spreadsheet would run as a
    formula gets a leading single quote (the usual escape, shown by spreadsheets as text).  Numbers that
    llmarch computed are never text, and text that is a plain number is left readable."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def to_csv(doc: Doc) -> str:
    """The command's csv table (`csv_table`, default the first): one header row, exact values (integers
    unrounded), formula-like text escaped.  Sections a table cannot hold with that header (`csv_more`,
    e.g. report's --pairs) follow, each after a blank line: a row holding its title, its header, its rows.
    The remarks (an edited model's skipped published figures, warnings) end it as a section titled
    `Remarks`, one per row: a csv file read on its own has no terminal or stderr beside it."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    t = doc.csv_table or (doc.tables[0] if doc.tables else None)
    for i, table in enumerate(([t] if t is not None else []) + doc.csv_more):
        if i:
            buf.write("\n")
            writer.writerow([csv_safe(table.title)])
        writer.writerow([csv_safe(c) for c in table.columns + ([CSV_DIFFERS] if table.compares else [])])
        for row in table.rows:
            named = ["; ".join(table.columns[i] for i, c in enumerate(row) if c.differs)] if table.compares else []
            writer.writerow([csv_safe(c.exact()) for c in row] + [csv_safe(x) for x in named])
    remarks = doc.remarks if doc.csv_remarks is None else doc.csv_remarks
    if remarks:
        buf.write("\n")
        writer.writerows([[CSV_REMARKS]] + [[csv_safe(printable(r).strip())] for r in remarks])
    return buf.getvalue()


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3;text-align:left}td.r{text-align:right}td.diff{background:#fff3b0;font-weight:600}
caption{text-align:left;font-weight:600;padding:.3em 0}footer{color:#666;font-size:.9em}"""


def to_html(doc: Doc, title: str = "llmarch") -> str:
    """A self-contained page: inline CSS, differences highlighted, conventions as a footnote."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for t in doc.tables:
        parts.append("<table>")
        if t.title:
            parts.append(f"<caption>{html.escape(t.title)}</caption>")
        parts.append("<thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in t.columns) + "</tr></thead><tbody>")
        for row in t.rows:
            tds = []
            for i, c in enumerate(row):
                diff = "diff" if c.highlight or c.differs else ""
                classes = " ".join(x for x in ("r" if i in t.right else "", diff) if x)
                attr = f' class="{classes}"' if classes else ""
                tds.append(f"<td{attr}>{html.escape(_marked(c))}</td>")
            parts.append("<tr>" + "".join(tds) + "</tr>")
        parts.append("</tbody></table>")
    for line in legend(doc):
        parts.append(f"<p>{html.escape(line)}</p>")
    for r in doc.remarks:
        parts.append(f"<p>{html.escape(r)}</p>")
    if doc.notes:
        parts.append(
            "<footer><p>Conventions:</p><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in doc.notes)
            + "</ul></footer>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
