"""Rich tables for people: compare, show, list.  Differing cells highlighted, conventions underneath."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from .. import conventions
from ..api import PARAM_ROWS
from ..facts import facts
from ..ir import ModelIR
from ..params import COMPONENTS, ParamCount
from ..reference import check_references
from . import fmt

DIFF_STYLE = "bold yellow"


def conventions_text() -> Text:
    return Text("\n".join("  " + line for line in ["Conventions:"] + conventions.params_lines()), style="dim")


def compare_table(irs: list[ModelIR], result: dict[str, Any]) -> Group:
    models = result["models"]
    diffs = set(result["differences"])
    table = Table(box=box.SIMPLE_HEAVY, title="Architecture comparison", title_justify="left")
    table.add_column("", style="bold")
    for m in models:
        table.add_column(m["display_name"], overflow="fold")
    per_model = [{f.key: f for f in facts(ir)} for ir in irs]
    keys: list[str] = []
    for pm in per_model:
        keys += [k for k in pm if k not in keys]
    keys.sort(key=lambda k: min(list(pm).index(k) if k in pm else 99 for pm in per_model))
    for key in keys:
        label = next(pm[key].label for pm in per_model if key in pm)
        style = DIFF_STYLE if key in diffs else None
        table.add_row(label, *[Text(pm[key].text if key in pm else "—", style=style or "") for pm in per_model])
    table.add_section()
    for key, label in PARAM_ROWS:
        style = DIFF_STYLE if key in diffs else ""
        table.add_row(label, *[Text(fmt.params(m["params"][key]), style=style) for m in models])
    table.add_row("Weights (bf16)", *[Text(fmt.nbytes(m["weights"]["bf16_bytes"])) for m in models])
    table.add_row("Weights (as shipped)", *[
        Text(f"{fmt.nbytes(m['weights']['shipped_bytes'])} ({m['weights']['shipped_format']})") for m in models])
    return Group(table, Text("  highlighted: values that differ", style="dim"), conventions_text())


def show_table(ir: ModelIR, count: ParamCount, model: dict[str, Any], layers: bool = False) -> Group:
    arch = Table(box=box.SIMPLE_HEAVY, title=f"{ir.display_name}  ({ir.name})", title_justify="left")
    arch.add_column("", style="bold")
    arch.add_column("value", overflow="fold")
    for f in facts(ir):
        arch.add_row(f.label, f.text)
    parts = Table(box=box.SIMPLE_HEAVY, title="Parameters", title_justify="left")
    parts.add_column("component", style="bold")
    parts.add_column("total", justify="right")
    parts.add_column("active", justify="right")
    parts.add_column("exact total", justify="right")
    for comp in COMPONENTS:
        n = count.by_component[comp]
        a = count.active_by_component[comp]
        if n or a:
            parts.add_row(comp, fmt.params(n), fmt.params(a), f"{n:,}")
    parts.add_section()
    for key, label in PARAM_ROWS:
        parts.add_row(label, fmt.params(model["params"][key]), "", f"{model['params'][key]:,}")
    parts.add_row("Weights (bf16)", fmt.nbytes(model["weights"]["bf16_bytes"]), "", f"{model['weights']['bf16_bytes']:,} B")
    parts.add_row("Weights (as shipped)", fmt.nbytes(model["weights"]["shipped_bytes"]), "",
                  model["weights"]["shipped_format"])
    items: list[Any] = [arch, parts]
    checks = check_references(ir, count)
    if checks:
        ref = Table(box=box.SIMPLE_HEAVY, title="Published figures", title_justify="left")
        for col in ("figure", "published", "computed", "convention", "", "source"):
            ref.add_column(col, overflow="fold")
        for c in checks:
            conv = c.convention + (" + MTP" if c.reference.includes_mtp and c.key == "total" else "")
            if c.reference.adjustments and c.key == "total":
                conv += " + " + ", ".join(w for _, w, _ in c.reference.adjustments)
            ref.add_row(c.key, c.published, fmt.params(c.computed), conv,
                        Text("ok" if c.ok else "MISMATCH", style="green" if c.ok else "bold red"), c.reference.source)
        items.append(ref)
    if layers:
        items.append(Text("Layers: " + layer_map(ir)))
    for w in ir.warnings:
        items.append(Text(f"warning: {w}", style="yellow"))
    items.append(conventions_text())
    return Group(*items)


def layer_map(ir: ModelIR) -> str:
    """Runs of identical layers: 'L0–L2 global/dense, L3–L60 global/moe'."""
    runs: list[tuple[int, int, str]] = []
    for layer in ir.layers:
        if runs and runs[-1][2] == layer.label and runs[-1][1] == layer.index - 1:
            runs[-1] = (runs[-1][0], layer.index, layer.label)
        else:
            runs.append((layer.index, layer.index, layer.label))
    return ", ".join(f"L{a}" + (f"–L{b}" if b != a else "") + f" {label}" for a, b, label in runs)


def list_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=box.SIMPLE_HEAVY)
    for col, justify in (("name", "left"), ("family", "left"), ("total", "right"), ("active", "right"),
                         ("attention", "left"), ("aliases", "left")):
        table.add_column(col, justify=justify)
    for r in rows:
        table.add_row(r["name"], r["family"] or "", fmt.params(r["total"]), fmt.params(r["active"]),
                      r["attention"], ", ".join(r["aliases"]))
    return table


def console(no_color: bool = False, width: int | None = None) -> Console:
    return Console(no_color=no_color, width=width, highlight=False, soft_wrap=False)
