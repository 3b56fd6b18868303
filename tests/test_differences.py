"""Issue 24 item 4: one rule marks the cells that differ, in every format and in JSON `differences`.

The rule (`llmarch.analyze.differences`): a cell differs from its row's majority value, or from the first model's
when no value holds a majority; exact values decide, not the rounded text.  The expected marks below are
written out by hand from the models' published configs, not computed by llmarch.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from llmarch.analyze.differences import differing, reference
from llmarch.cli import app
from llmarch.render.doc import MARK
from llmarch.units import format_count

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, ["--no-color", *args], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def piped(*args: str) -> str:
    """`llmarch ARGS | cat` at 80 columns: no terminal, so no colour; the marks must show as text."""
    env = dict(os.environ, COLUMNS="80")
    proc = subprocess.run(
        [sys.executable, "-m", "llmarch", *args], capture_output=True, text=True, env=env, check=True, timeout=300
    )
    return proc.stdout


# --- the rule, by hand ----------------------------------------------------------------------------------


def test_two_models_equal_mark_nothing():
    assert differing([4096, 4096]) == [False, False]


def test_two_models_different_mark_the_second():
    # no majority of two: the first model is the reference, so its cell is never the odd one
    assert differing([32, 36]) == [False, True]
    assert reference([32, 36]) == 32


def test_three_models_with_a_majority_mark_the_odd_one_only():
    assert differing([8, 16, 8]) == [False, True, False]
    assert differing(["none", "per_head", "per_head"]) == [True, False, False]  # the first model too


def test_three_models_all_different_mark_all_but_the_first():
    assert differing([128_256, 151_936, 262_208]) == [False, True, True]


def test_a_tie_without_majority_is_against_the_first():
    assert differing(["a", "b", "b", "a"]) == [False, True, True, False]


def test_absent_cells_neither_vote_nor_differ():
    # a diagram block a model lacks is no cell; a table's `—` is a value and passed as one
    assert differing([None, "a", "b"]) == [False, False, True]
    assert differing(["a", None]) == [False, False]
    assert differing(["—", "a", "a"]) == [True, False, False]


def test_exact_values_decide_not_the_rounded_text():
    a, b = 8_190_735_360, 8_190_743_552  # Qwen3 8B, and with one more vocabulary row (+ 2 x 4,096)
    assert format_count(a) == format_count(b) == "8.191B"
    assert differing([a, b]) == [False, True]


# --- compare through the CLI ------------------------------------------------------------------------------


def table_marks(text: str) -> dict[str, list[bool]]:
    """Each row of the first table of a piped `compare`: its label, and per model whether its cell carries
    the mark.  Columns are found from the header's model names; a row starts where the first model's cell
    holds text (every cell holds some: `—` when empty), wrapped lines continue it."""
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("Architecture"))
    names = lines[header].split("  ")
    names = [n.strip() for n in names if n.strip()]
    starts = [lines[header].index(n) for n in names] + [10_000]
    rows: dict[str, list[bool]] = {}
    label = None
    for line in lines[header + 2 :]:
        if line.startswith(MARK) or line.lstrip().startswith("Conventions"):
            break
        if not line.strip():
            continue
        cells = [line[starts[j] : starts[j + 1]] for j in range(len(names))]
        if cells[0].strip():
            label = line[: starts[0]].strip()
            rows[label] = [False] * len(names)
        elif line[: starts[0]].strip():
            old = label
            label = f"{label} {line[: starts[0]].strip()}"
            rows[label] = rows.pop(old)
        rows[label] = [m or MARK in c for m, c in zip(rows[label], cells)]
    return rows


# Llama 3 8B against Qwen3 8B (their config.json): the rows whose values differ
LLAMA_VS_QWEN = {
    "Vocabulary",  # 128,256 / 151,936
    "Context length",  # 8,192 / 40,960
    "Blocks",  # 32 / 36
    "Layer mix",  # 32 global / 36 global
    "QK-norm",  # none / per head
    "Dense FFN size",  # 14,336 / 12,288
    "Dense FFN blocks",  # 32 / 36
    "Total parameters",
    "Active parameters",
    "Active incl. embeddings",
    "Embedding (lookup tables)",
    "Non-embedding",
    "Weights (bf16)",
    "Weights (as shipped)",
}


def test_piped_compare_of_two_marks_exactly_the_second_models_differing_cells():
    rows = table_marks(piped("compare", "llama-3-8b", "qwen3-8b"))
    assert "Embedding dimension" in rows and "MTP modules (separate)" in rows  # the parser sees every row
    assert {label for label, marks in rows.items() if any(marks)} == LLAMA_VS_QWEN
    assert all(marks == [False, True] for label, marks in rows.items() if label in LLAMA_VS_QWEN)


def test_piped_compare_of_three_marks_only_the_cells_off_the_majority():
    text = piped("compare", "llama-3-8b", "qwen3-8b", "gemma-3-27b")
    rows = table_marks(text)
    # all three differ: against the first model (Llama), whose cell stays plain
    assert rows["Vocabulary"] == [False, True, True]  # 128,256 / 151,936 / 262,208
    assert rows["Blocks"] == [False, True, True]  # 32 / 36 / 62
    # a majority: only the odd cell, whichever model holds it
    assert rows["Embedding dimension"] == [False, False, True]  # 4,096 / 4,096 / 5,376
    assert rows["Heads / KV heads"] == [False, False, True]  # 32/8, 32/8, 32/16
    assert rows["QK-norm"] == [True, False, False]  # none / per head / per head
    assert rows["Tied embeddings"] == [False, False, True]  # no / no / yes
    assert rows["Head dim"] == [False, False, False]  # 128 everywhere
    assert rows["MTP modules (separate)"] == [False, False, False]  # 0 everywhere
    assert rows["Weights (bf16)"] == [False, True, True]  # 15.0 / 15.3 / 50.3 GiB
    assert text.count(MARK) == sum(sum(m) for m in rows.values()) + 1  # and the legend's once
    assert f"{MARK} differs from its row's majority" in text


def test_the_same_model_twice_marks_nothing_and_prints_no_legend():
    text = piped("compare", "qwen3-8b", "qwen3-8b")
    assert MARK not in text
    data = json.loads(invoke("compare", "qwen3-8b", "qwen3-8b", "-f", "json"))
    assert data["differences"] == []


def test_json_differences_include_the_weight_rows():
    data = json.loads(invoke("compare", "llama-3-8b", "qwen3-8b", "-f", "json"))
    assert "weights.bf16" in data["differences"] and "weights.shipped" in data["differences"]
    assert "d_model" not in data["differences"]  # 4,096 both
    assert "mtp" not in data["differences"]  # no MTP modules in either


def test_cells_equal_after_rounding_are_marked_in_every_format(tmp_path):
    # one more vocabulary row: total 8,190,735,360 + 4,096 (embedding) + 4,096 (untied LM head)
    (tmp_path / "wider.yaml").write_text(
        "name: qwen3-8b-wider\nextends: qwen3-8b\ndisplay_name: Qwen3 8B wider\nvocab_size: 151937\n"
    )
    spec = str(tmp_path / "wider.yaml")
    data = json.loads(invoke("compare", "qwen3-8b", spec, "-f", "json"))
    assert data["models"][1]["params"]["total"] - data["models"][0]["params"]["total"] == 8192
    assert {"vocab_size", "total", "weights.bf16"} <= set(data["differences"])
    rows = table_marks(invoke("compare", "qwen3-8b", spec))
    assert rows["Total parameters"] == [False, True]  # 8.191B and 8.191B ‹
    markdown = invoke("compare", "qwen3-8b", spec, "-f", "markdown")
    assert f"| Total parameters | 8.191B | **8.191B** {MARK} |" in markdown
    assert "| Blocks | 36 | 36 |" in markdown
    table = list(csv.reader(io.StringIO(invoke("compare", "qwen3-8b", spec, "-f", "csv"))))
    by_label = {r[0]: r for r in table}
    assert table[0][-1] == "differs from the row's majority"
    assert by_label["Total parameters"][1:] == ["8190735360", "8190743552", "Qwen3 8B wider"]
    assert by_label["Blocks"][-1] == ""
    page = invoke("compare", "qwen3-8b", spec, "-f", "html")
    assert f'<td class="diff">8.191B {MARK}</td>' in page and "<td>36</td>" in page


def test_report_pairs_mark_their_differing_cells():
    text = invoke("report", "qwen3-8b", "--pairs", "llama-3-8b:qwen3-8b", "-f", "markdown")
    assert f"| Blocks | 32 | **36** {MARK} |" in text
    assert "| Embedding dimension | 4,096 | 4,096 |" in text
    data = json.loads(invoke("report", "qwen3-8b", "--pairs", "llama-3-8b:qwen3-8b", "-f", "json"))
    assert "weights.bf16" in data["pairs"][0]["differences"]


def test_the_mark_has_an_ascii_stand_in():
    env = dict(os.environ, COLUMNS="80", PYTHONIOENCODING="ascii")
    out = subprocess.run(
        [sys.executable, "-m", "llmarch", "compare", "gpt2", "gpt2-xl"], capture_output=True, env=env, timeout=300
    ).stdout.decode("ascii")
    split = ([c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines())
    cells = {row[0]: row[1:] for row in split if row}
    assert cells["Blocks"] == ["12", "48 <"]
    assert cells["Vocabulary"] == ["50,257", "50,257"]
    assert "< differs from its row's majority" in out
