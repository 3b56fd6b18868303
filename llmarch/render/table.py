"""Documents for compare, show and list: the article's panel slots, parameters, published figures.

Human tables show 235.1B / 22.20B / 10.41 GiB (4 significant digits, one unit a row); csv and json carry the exact
integers.
"""

from __future__ import annotations

from ..analyze.params import COMPONENTS
from ..api import PARAM_ROWS, WEIGHT_ROWS, Comparison, Description, Listing
from ..ir import ModelIR
from ..units import alike
from . import fmt
from .doc import Cell, Doc, DocTable


def _param_rows(models: list[dict]) -> list[tuple[str, str]]:
    """The parameter rows of a table: `active_fewest` only where a model's routing lets it differ from `active`
    (zero-computation experts); the JSON always holds it."""
    varies = any(m["params"]["active_fewest"] != m["params"]["active"] for m in models)
    return [(k, label) for k, label in PARAM_ROWS if k != "active_fewest" or varies]


def compare_doc(comparison: Comparison) -> Doc:
    models = comparison.as_dict()["models"]
    flags = comparison.differing
    t = DocTable("Architecture comparison", [""] + [m["display_name"] for m in models], compares=True)
    per_model = [{f.key: f for f in model_facts} for model_facts in comparison.facts]
    keys: list[str] = []
    for pm in per_model:
        keys += [k for k in pm if k not in keys]
    keys.sort(key=lambda k: min(list(pm).index(k) if k in pm else 99 for pm in per_model))
    for key in keys:
        label = next(pm[key].label for pm in per_model if key in pm)
        row = [Cell(label)]
        for j, pm in enumerate(per_model):
            f = pm.get(key)
            value = f.value if f is not None and isinstance(f.value, int) and not isinstance(f.value, bool) else None
            row.append(Cell(f.text if f else "—", value, differs=flags[key][j]))
        t.rows.append(row)
    t.section()
    # one quantity of every model in one unit, so that they compare; a model without MTP modules shows `—`
    for key, label in _param_rows(models):
        values = [m["params"][key] for m in models]
        texts = alike([v if v or key != "mtp" else None for v in values], fmt.params)
        t.rows.append(
            [Cell(label)] + [Cell(x, v, differs=flags[key][j]) for j, (x, v) in enumerate(zip(texts, values))]
        )
    (bf16_key, bf16_label), (shipped_key, shipped_label) = WEIGHT_ROWS
    bf16_flags, shipped_flags = flags[bf16_key], flags[shipped_key]
    bf16 = [m["weights"]["bf16_bytes"] for m in models]
    t.rows.append(
        [Cell(bf16_label)]
        + [Cell(x, v, differs=bf16_flags[j]) for j, (x, v) in enumerate(zip(alike(bf16, fmt.nbytes), bf16))]
    )
    shipped = [m["weights"]["shipped_bytes"] for m in models]
    t.rows.append(
        [Cell(shipped_label)]
        + [
            Cell(f"{x} ({m['weights']['shipped_format']})", v, differs=shipped_flags[j])
            for j, (x, v, m) in enumerate(zip(alike(shipped, fmt.nbytes), shipped, models))
        ]
    )
    return Doc([t], notes=[f"{k}: {v}" for k, v in comparison.table_conventions.items()])


def show_doc(ir: ModelIR, description: Description) -> Doc:
    count, model = description.count, description.model
    arch = DocTable(f"{ir.display_name}  ({ir.name})", ["", "value"])
    for f in description.facts:
        value = f.value if isinstance(f.value, int) and not isinstance(f.value, bool) else None
        arch.rows.append([Cell(f.label), Cell(f.text, value)])
    parts = DocTable("Parameters", ["component", "total", "active", "exact total"], right={1, 2, 3})
    for comp in COMPONENTS:
        n, a = count.by_component[comp], count.active_by_component[comp]
        if n or a:
            parts.rows.append([Cell(comp), Cell(fmt.params(n), n), Cell(fmt.params(a), a), Cell(f"{n:,}", n)])
    parts.section()
    for key, label in _param_rows([model]):
        v = model["params"][key]
        parts.rows.append([Cell(label), Cell(fmt.params(v), v), Cell(""), Cell(f"{v:,}", v)])
    w = model["weights"]
    parts.rows.append(
        [
            Cell("Weights (bf16)"),
            Cell(fmt.nbytes(w["bf16_bytes"]), w["bf16_bytes"]),
            Cell(""),
            Cell(f"{w['bf16_bytes']:,} B", w["bf16_bytes"]),
        ]
    )
    parts.rows.append(
        [
            Cell("Weights (as shipped)"),
            Cell(fmt.nbytes(w["shipped_bytes"]), w["shipped_bytes"]),
            Cell(""),
            Cell(w["shipped_format"]),
        ]
    )
    doc = Doc([arch, parts], notes=[f"{k}: {v}" for k, v in description.table_conventions.items()])
    # csv keeps the architecture table's one header (`,value`) and adds the counts under it, exact
    flat = DocTable(arch.title, arch.columns, rows=list(arch.rows))
    for comp in COMPONENTS:
        n, a = count.by_component[comp], count.active_by_component[comp]
        if n or a:
            flat.rows += [[Cell(f"{comp}: total"), Cell(f"{n:,}", n)], [Cell(f"{comp}: active"), Cell(f"{a:,}", a)]]
    flat.rows += [[Cell(label), Cell(f"{model['params'][key]:,}", model["params"][key])] for key, label in PARAM_ROWS]
    flat.rows += [
        [Cell("Weights (bf16)"), Cell(f"{w['bf16_bytes']:,} B", w["bf16_bytes"])],
        [Cell("Weights (as shipped)"), Cell(f"{w['shipped_bytes']:,} B", w["shipped_bytes"])],
        [Cell("Weights (as shipped) format"), Cell(w["shipped_format"])],
    ]
    doc.csv_table = flat
    checks = description.references
    if checks:
        ref = DocTable("Published figures", ["figure", "published", "computed", "convention", "", "source"])
        for c in checks:
            conv = c.convention + (" + MTP" if c.reference.includes_mtp and c.key == "total" else "")
            if c.reference.adjustments and c.key == "total":
                conv += " + " + ", ".join(w for _, w, _ in c.reference.adjustments)
            if c.key == "kv_per_token":
                computed = Cell(fmt.nbytes(c.computed), c.computed)
            else:
                computed = Cell(fmt.params(c.computed), c.computed)
            if not c.ok:
                verdict = Cell("MISMATCH", style="bold red")
            elif c.documented:
                # a known disagreement, explained in the spec's note: the config gives `documented`
                verdict = Cell(f"differs (config: {c.documented})", style="yellow")
            else:
                verdict = Cell("ok", style="green")
            ref.rows.append([Cell(c.key), Cell(c.published), computed, Cell(conv), verdict, Cell(c.reference.source)])
        doc.tables.append(ref)
    if description.references_skipped:
        doc.remarks.append(description.references_skipped)
    for what, pattern in description.layer_patterns or []:
        doc.remarks.append(f"{what}: {pattern}")
    doc.remarks += [f"warning: {w}" for w in ir.warnings]
    return doc


def list_doc(listed: Listing) -> Doc:
    # a narrow terminal leaves out the aliases, then the attention, then the family: never the names
    t = DocTable("", ["name", "family", "total", "active", "attention", "aliases"], right={2, 3}, optional=[5, 4, 1])
    for r in listed.rows:
        t.rows.append(
            [
                Cell(r["name"]),
                Cell(r["family"] or ""),
                Cell(fmt.params(r["total"]), r["total"]),
                Cell(fmt.params(r["active"]), r["active"]),
                Cell(r["attention"]),
                Cell(", ".join(r["aliases"])),
            ]
        )
    return Doc([t], notes=[f"{k}: {v}" for k, v in listed.table_conventions.items()])
