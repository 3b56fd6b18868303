"""Issue 24, items 5 and 7: tables readable at any sensible width, numbers for people.

Every table command's output is checked at 40, 80 and 200 columns (typer's runner is a pipe): each
expected token (model names, numbers, URLs, labels) must appear whole on one line, so that `grep` finds
it and a URL can be copied.  The expected tokens are written out by hand, with their arithmetic.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmarch.cli import app

WIDTHS = ("40", "80", "200")
ROOT = Path(__file__).resolve().parent.parent


def piped_env() -> dict:
    """This checkout's llmarch, no COLUMNS (a pipe's width is rich's default, 80), no build cache."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), LLMARCH_NO_CACHE="1")
    env.pop("COLUMNS", None)
    return env


def table(*args: str, columns: str = "80") -> str:
    result = CliRunner().invoke(app, ["--no-color", *args], env={"COLUMNS": columns})
    assert result.exit_code in (0, 1), result.output  # `check` exits 1 when a budget fails
    return result.stdout


def broken(text: str, tokens: list[str]) -> list[str]:
    """The tokens that appear on no single line of `text` (split across lines, or missing)."""
    lines = text.splitlines()
    return [t for t in tokens if not any(t in line for line in lines)]


def test_the_checker_finds_a_broken_token():
    assert broken("  deepseek-v3.2-\n  exp\n", ["deepseek-v3.2-exp"]) == ["deepseek-v3.2-exp"]
    assert broken("  deepseek-v3.2-exp  MLA\n", ["deepseek-v3.2-exp", "MLA"]) == []


URL_H100 = "https://www.nvidia.com/en-us/data-center/h100/"
URL_DSV3 = "https://github.com/deepseek-ai/DeepSeek-V3/blob/main/README_WEIGHTS.md"

CASES = {
    # names that rich once broke mid-word (`deepseek-v3.2-` / `exp`) at 80 columns (`llmarch list | grep -c thinking` printed 0)
    "list": (
        ["list"],
        ["kimi-k2-thinking", "deepseek-v3.2-exp", "deepseek-v4-flash", "command-a-plus", "1.573T"],
    ),
    # Qwen3 8B's prefill at 4,096 tokens: 66,946,863,202,304 FLOPs = 66.95 T; per token 16,344,449,024 = 16.34 G
    "flops": (
        ["flops", "qwen3-8b", "qwen3-30b-a3b", "deepseek-v3"],
        ["qwen3-30b-a3b", "deepseek-v3", "66.95 T", "16.34 G", "attention_scores", "6 x active (training)"],
    ),
    # Qwen3 8B at 128k: 36 layers x 8 KV heads x 128 x (K + V) x 2 B = 147,456 B/token = 144.0 KiB;
    # x 131,072 tokens = 19,327,352,832 B = 18.00 GiB; one layer 8 x 128 x 2 x 2 = 4,096 B = 4.000 KiB
    "kvcache": (
        ["kvcache", "qwen3-8b", "gemma-3-27b", "--ctx", "128k"],
        ["18.00 GiB", "144.0 KiB", "4.000 KiB", "131,072", "per token, all attention layers", "Gemma 3 27B"],
    ),
    "serve": (
        ["serve", "qwen3-8b", "deepseek-v3", "--gpus", "8"],
        [URL_H100, "longest context at this batch", "decode: bytes / step / GPU", "deepseek-v3", "does not fit"],
    ),
    "show": (["show", "deepseek-v3"], [URL_DSV3, "671,026,404,352", "deepseek-v3", "Embedding dimension"]),
    "compare": (
        ["compare", "qwen3-235b", "deepseek-v3", "kimi-k2"],
        # one unit for the row: Kimi K2's 1,026,470,250,496 is 1.026T, so Qwen3 235B's 235,093,634,560 is 0.2351T
        ["Qwen3 235B-A22B", "Active incl. embeddings", "0.6710T", "0.2351T", "1.026T"],
    ),
    # Qwen3 8B's total, 8,190,735,360, in the B its limit was written in: 8.191B
    "check": (
        ["check", "qwen3-8b", "--max-total", "8B", "--max-kv", "4GiB@128k"],
        ["max_total", "8.191B", "18.00 GiB", "4GiB@128k"],
    ),
    "report": (["report", "qwen3-8b", "deepseek-v3", "gemma-3-27b"], ["deepseek-v3", "gemma-3-27b", "671.0B"]),
}
# `report -f table` prints markdown today (issue 24 item 2, not this change): its lines are markdown's
MARKDOWN = {"report"}


@pytest.mark.parametrize("columns", WIDTHS)
@pytest.mark.parametrize("command", sorted(CASES))
def test_names_numbers_and_urls_never_break(command, columns):
    args, tokens = CASES[command]
    out = table(*args, columns=columns)
    assert broken(out, tokens) == [], out


@pytest.mark.parametrize("command", sorted(set(CASES) - MARKDOWN))
def test_lines_stay_within_the_width_but_for_a_word_wider_than_it(command):
    args, _ = CASES[command]
    for columns in (40, 80):
        for line in table(*args, columns=str(columns)).splitlines():
            assert len(line) <= columns or " " not in line.strip(), line


@pytest.mark.parametrize("columns", ["0", "-3", "abc", "39", ""])
def test_unusable_widths_fall_back_to_80(columns):
    assert table("flops", "qwen3-8b", "qwen3-30b-a3b", "deepseek-v3", columns=columns) == table(
        "flops", "qwen3-8b", "qwen3-30b-a3b", "deepseek-v3", columns="80"
    )


def test_list_piped_can_be_grepped():
    out = subprocess.run(
        [sys.executable, "-m", "llmarch", "list"], capture_output=True, text=True, env=piped_env()
    ).stdout
    thinking = [line for line in out.splitlines() if "thinking" in line]
    assert len(thinking) == 1 and thinking[0].split()[:2] == ["kimi-k2-thinking", "kimi"]
    # at 80 columns the aliases are left out, and one line says so
    assert "(left out to fit 80 columns: aliases; a wider COLUMNS or -f json shows them)" in out


def test_a_three_model_flops_table_at_80_columns_is_one_table_per_model():
    out = table("flops", "qwen3-8b", "qwen3-30b-a3b", "deepseek-v3")
    headers = [line.split()[:2] for line in out.splitlines() if line.split()[1:2] == ["prefill"]]
    assert headers == [["qwen3-8b", "prefill"], ["qwen3-30b-a3b", "prefill"], ["deepseek-v3", "prefill"]]
    assert out.count("━") >= 3 * 70  # three tables, each with its rule
    assert max(len(line) for line in out.splitlines()) <= 80


def test_at_40_columns_a_comparison_is_one_block_per_model():
    out = table("compare", "qwen3-8b", "deepseek-v3", columns="40")
    lines = out.splitlines()
    assert "Qwen3 8B" in lines and "DeepSeek-V3 (671B)" in lines
    assert "  Vocabulary           151,936" in lines  # each value beside its label


# ---------------------------------------------------------------------------
# item 7: numbers for people


def test_absent_components_print_a_dash():
    out = table("flops", "qwen3-8b", "qwen3-30b-a3b", columns="200")
    router = next(line for line in out.splitlines() if line.strip().startswith("router")).split()
    # a dense model has no router: `—` for prefill and decode, never `0.00 G`
    assert router[1:3] == ["—", "—"] and "0.00" not in out


def test_mtp_is_a_dash_in_both_rows_for_a_model_without_it():
    out = table("compare", "qwen3-8b", "deepseek-v3", columns="200")
    # the tokens of each row, without the difference mark (‹)
    rows = {
        line.split("  ")[1].strip(): [t for t in line.split() if t != "‹"]
        for line in out.splitlines()
        if "MTP modules" in line
    }
    # DeepSeek-V3 has 1 MTP module of 13,463,426,048 parameters (13.46B); Qwen3 8B has none
    assert rows["MTP modules"][-2:] == ["—", "1"]
    assert rows["MTP modules (separate)"][-2:] == ["—", "13.46B"]


def test_kvcache_rows_are_in_human_units_and_the_context_as_written():
    out = table("kvcache", "qwen3-8b", "--ctx", "128k", columns="200")
    assert "KV cache at 128k (131,072) tokens" in out
    assert "19,327,352,832" not in out and "4,096" not in out  # no raw byte integers
    row = next(line for line in out.splitlines() if "36 x global" in line)
    # 4,096 B per token per layer; 131,072 tokens cached; no state; 18 x 2^30 B
    assert row.split()[-6:] == ["4.000", "KiB", "131,072", "—", "18.00", "GiB"], row
    # the exact integers stay in csv
    csv = table("kvcache", "qwen3-8b", "--ctx", "128k", "-f", "csv")
    assert "qwen3-8b,131072,36 x global GQA 8 KV x 128,36,4096,131072,0,19327352832" in csv


def test_check_shows_the_measure_in_the_unit_of_the_limit():
    out = table("check", "qwen3-8b", "--max-total", "8B", "--max-active", "7568405504", columns="200")
    lines = out.splitlines()
    total = next(line for line in lines if "max_total" in line)
    active = next(line for line in lines if "max_active" in line)
    assert total.split()[:3] == ["max_total", "8B", "8.191B"]  # 8,190,735,360
    assert active.split()[:3] == ["max_active", "7568405504", "7,568,405,504"]  # no unit written: exact


def test_serve_rows_share_one_unit():
    out = table("serve", "qwen3-8b", "deepseek-v3", "--gpus", "8", columns="200")
    weights = next(line for line in out.splitlines() if "weights / GPU" in line)
    # 2,048,207,104 B / 2^30 = 1.9075 GiB beside 84,331,598,809 B / 2^30 = 78.540 GiB: one unit
    assert weights.split()[-4:] == ["1.908", "GiB", "78.54", "GiB"], weights


def test_serve_titles_the_context_as_written():
    assert "batch 16 x 32k (32,768) tokens" in table("serve", "qwen3-8b", "--ctx", "32k", columns="200")
    # a context written as digits stays exact: 32,768
    assert "batch 16 x 32,768 tokens" in table("serve", "qwen3-8b", "--ctx", "32768", columns="200")


def test_a_name_in_a_header_is_shown_as_written_never_as_markup(tmp_path):
    spec = tmp_path / "markup.yaml"
    spec.write_text('extends: gpt2\nname: markup\ndisplay_name: "[red]Mark[/red]"\n')
    assert "[red]Mark[/red]" in table("compare", "gpt2", str(spec), columns="200")


def test_flops_heads_its_columns_with_the_lengths_as_written():
    out = table("flops", "qwen3-8b", "--seq", "2k", "--ctx", "32k", columns="200")
    assert "qwen3-8b prefill 2k (2,048)" in out and "decode/token at 32k (32,768)" in out
    out = table("flops", "qwen3-8b", "--seq", "2048", "--ctx", "32768", columns="200")
    assert "qwen3-8b prefill 2,048" in out and "decode/token at 32,768" in out


@pytest.mark.parametrize("command", sorted(CASES))
def test_piped_output_is_the_80_column_table(command):
    """Through a real pipe, with no COLUMNS: rich sees no terminal, and the answer is laid out at 80."""
    args, tokens = CASES[command]
    proc = subprocess.run([sys.executable, "-m", "llmarch", "--no-color", *args], capture_output=True, env=piped_env())
    out = proc.stdout.decode("utf-8")
    assert proc.returncode in (0, 1) and broken(out, tokens) == []
    assert out == table(*args, columns="80")


def test_wrapping_keeps_a_number_with_its_unit_and_a_long_word_whole():
    from llmarch.render.fit import wrap

    assert wrap("44.31 GiB / 80.00 GiB", 12) == ["44.31 GiB /", "80.00 GiB"]
    assert wrap("see https://example.com/a/very/long/path now", 10) == [
        "see",
        "https://example.com/a/very/long/path",
        "now",
    ]


def test_a_mark_stays_with_the_value_it_marks():
    """A differing cell's `‹` (and report's past-context `*`) never starts a line of its own."""
    from llmarch.render.fit import wrap

    assert wrap("15.26 GiB ‹", 10) == ["15.26 GiB ‹"]  # 11 wide: whole on its line, past the 10 columns
    assert wrap("36 global ‹", 9) == ["36", "global ‹"]
    assert wrap("18.00 GiB *", 9) == ["18.00 GiB *"]
    out = table("compare", "llama-3-8b", "qwen3-8b", "gemma-3-27b", columns="80")
    assert not [line for line in out.splitlines() if line.strip() == "‹"]
