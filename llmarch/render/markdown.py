"""GitHub-flavoured markdown tables; differing cells in bold, conventions as a footnote list."""

from __future__ import annotations

from typing import Any

from .. import conventions
from ..api import PARAM_ROWS
from ..facts import facts
from ..ir import ModelIR
from . import fmt


def _cell(text: str, bold: bool) -> str:
    text = text.replace("|", "\\|")
    return f"**{text}**" if bold and text not in ("", "—") else text


def compare_markdown(irs: list[ModelIR], result: dict[str, Any], conventions_footer: bool = True) -> str:
    models = result["models"]
    diffs = set(result["differences"])
    per_model = [{f.key: f for f in facts(ir)} for ir in irs]
    keys: list[str] = []
    for pm in per_model:
        keys += [k for k in pm if k not in keys]
    keys.sort(key=lambda k: min(list(pm).index(k) if k in pm else 99 for pm in per_model))
    lines = ["| | " + " | ".join(m["display_name"] for m in models) + " |",
             "|---|" + "---|" * len(models)]
    for key in keys:
        label = next(pm[key].label for pm in per_model if key in pm)
        cells = [_cell(pm[key].text if key in pm else "—", key in diffs) for pm in per_model]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key, label in PARAM_ROWS:
        cells = [_cell(fmt.params(m["params"][key]), key in diffs) for m in models]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| Weights (bf16) | " + " | ".join(fmt.nbytes(m["weights"]["bf16_bytes"]) for m in models) + " |")
    out = "\n".join(lines) + "\n"
    if conventions_footer:
        out += "\nDifferences in **bold**. Conventions:\n\n" + "\n".join(f"- {line}" for line in conventions.params_lines()) + "\n"
    return out
