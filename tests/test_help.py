"""Issue 24 item 9: help that reads like a person wrote it, as a user meets it at 80 columns, piped.

Every value is named by what the user types (MODEL..., FILE, CTX, KEY=VALUE, N, FORMAT), never by its Python
type (`<str>`, `<list[str]>`) or typer's `{name}` usage; the top-level summaries are whole sentences.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from llmarch.cli import app

runner = CliRunner()


def invoke(*args: str, columns: int = 80):
    # CliRunner's streams are not terminals: this is the piped case
    return runner.invoke(app, list(args), env={"COLUMNS": str(columns)}, prog_name="llmarch")


COMMANDS = sorted(typer.main.get_command(app).commands)

# typer's own wording of a value: `<str>`, `<int>`, `<list[str]>`, `<table|markdown|...>`, `{names}`
TYPE_WORDING = re.compile(r"<[^>\s]*>|\{\w+\}|list\[")


def test_every_command_is_checked():
    assert len(COMMANDS) == 14 and {"show", "compare", "import-hf", "import-gguf", "cache"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_values_by_what_the_user_types(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert not TYPE_WORDING.findall(result.output), result.output
    usage = result.output.splitlines()[0]
    assert usage.startswith(f"Usage: llmarch {command} [OPTIONS]")
    for line in result.output.split("Options:\n", 1)[1].splitlines():
        # an option that takes a value shows its word in capitals right after the flag
        match = re.match(r"\s+(?:-\w, )?(--[\w-]+)(?: (\S+))?", line)
        if match and match[1] not in FLAGS:
            assert match[2] is not None and match[2] == match[2].upper(), line


# the options that take no value (so show no word after the flag)
FLAGS = {
    "--layers",
    "--explain",
    "--last-token-logits",
    "--no-cache",
    "--answers",
    "--help",
    "--quiet",
}


EXPECTED = {
    "show": ["Usage: llmarch show [OPTIONS] MODEL", "--set KEY=VALUE", "-f, --format FORMAT", "-o, --output FILE"],
    "compare": ["Usage: llmarch compare [OPTIONS] MODEL...", "  MODEL...  Two or more names, aliases or paths"],
    "kvcache": ["--ctx CTX", "--batch N", "--kv-dtype DTYPE", "--sweep CTX,CTX,...", "--spec-path DIR"],
    "flops": ["--seq SEQ", "--ctx CTX"],
    "report": ["Usage: llmarch report [OPTIONS] [TARGET]...", "--pairs A:B,..."],
    "check": ["Usage: llmarch check [OPTIONS] MODEL", "--max-kv BYTES@CTX", "--budgets FILE"],
    "serve": ["--gpu GPU", "--gpus N", "--tp N", "--ep N", "--weights WEIGHTS"],
    "verify": ["Usage: llmarch verify [OPTIONS] MODEL CHECKPOINT", "--limit N"],
    "import-hf": ["Usage: llmarch import-hf [OPTIONS] CONFIG", "-o, --output FILE", "--name NAME"],
    "schema": ["-o, --output FILE"],
    "cache": ["Usage: llmarch cache [OPTIONS] [ACTION]"],
    "diagram": ["-o, --output FILE  Write FILE.svg, FILE.png or FILE.html", "MODEL..."],
}


@pytest.mark.parametrize("command", list(EXPECTED))
def test_help_shows_the_words_people_use(command):
    output = invoke(command, "--help").output
    for phrase in EXPECTED[command]:
        assert phrase in output, (phrase, output)


def test_a_missing_argument_is_named_as_help_names_it():
    result = invoke("compare")
    assert result.exit_code == 2
    assert "Missing argument 'MODEL'" in result.output
    result = invoke("verify", "qwen3-8b")
    assert "Missing argument 'CHECKPOINT'" in result.output


def _command_rows(output: str) -> list[str]:
    section = output.split("Commands:\n", 1)[1]
    return [line for line in section.splitlines() if line.strip()]


def test_top_level_help_has_one_whole_line_per_command_at_80_columns():
    result = invoke("--help")
    assert result.exit_code == 0
    rows = _command_rows(result.output)
    assert len(rows) == len(COMMANDS), rows  # a summary wrapped onto a second line is a row too many
    for row in rows:
        assert len(row) <= 80 and row.endswith(".") and not row.endswith("..."), row
    # the longest name, import-gguf, sets the column
    assert "  kvcache      KV-cache memory at a context length, per layer kind." in rows
    assert "  check        Gate an architecture on budgets." in rows


def test_top_level_summaries_wrap_rather_than_cut_on_a_narrow_terminal():
    rows = _command_rows(invoke("--help", columns=50).output)
    text = re.sub(r"\s+", " ", " ".join(rows))
    assert "..." not in text
    assert "report One document over many specs: summary, pairs, conventions." in text
    assert "schema Print the JSON Schema of specs, or of JSON answers (--answers)." in text


def test_top_level_help_piped_through_a_real_pipe():
    """As a user runs it: `COLUMNS=80 llmarch --help | cat` (stdout a pipe, not CliRunner's buffer)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, COLUMNS="80", PYTHONPATH=str(root))
    out = subprocess.run(
        [sys.executable, "-m", "llmarch", "--help"], capture_output=True, text=True, env=env, check=True
    ).stdout
    rows = _command_rows(out)
    assert len(rows) == len(COMMANDS) and not any(row.endswith("...") for row in rows), out
    assert "  serve        Memory per GPU, whether it fits, and how fast it can decode." in rows
    out = subprocess.run(
        [sys.executable, "-m", "llmarch", "kvcache", "--help"], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert "Usage: llmarch kvcache [OPTIONS] MODEL..." in out and "--ctx CTX" in out and "<str>" not in out


# Every command's help, as a terminal of that width shows it piped: one process per width, each help after
# a `=== command` line.  CliRunner cannot show this: it forces click's help to 80 columns whatever COLUMNS says.
HELP_AT_WIDTH = """
import sys
from llmarch.cli import app
for command in sys.argv[1:]:
    print("=== " + command, flush=True)
    try:
        app([command, "--help"] if command != "llmarch" else ["--help"], prog_name="llmarch")
    except SystemExit:
        pass
"""


def help_pages(columns: int) -> dict[str, str]:
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = dict(os.environ, COLUMNS=str(columns), PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    out = subprocess.run(
        [sys.executable, "-c", HELP_AT_WIDTH, "llmarch", *COMMANDS], capture_output=True, text=True, env=env
    ).stdout
    pages = dict(re.findall(r"^=== (\S+)\n(.*?)(?=^=== |\Z)", out, flags=re.S | re.M))
    assert set(pages) == {"llmarch", *COMMANDS} and all("Usage: llmarch" in p for p in pages.values()), out
    return pages


def split_words(page: str) -> list[str]:
    """`a line's last word / the next line's first` for every word broken at a hyphen across a line end
    (a lone `-`, as in `-o -`, is a word of its own)."""
    lines = [line.rstrip() for line in page.splitlines()]
    return [
        f"{a.split()[-1]} / {b.split()[0]}"
        for a, b in zip(lines, lines[1:])
        if a and b.strip() and a.split()[-1].endswith("-") and a.split()[-1] != "-"
    ]


def test_the_split_word_check_finds_a_word_broken_at_a_hyphen():
    assert split_words("  llmarch check my-model.yaml --max-\n  total 8B\n") == ["--max- / total"]
    assert split_words("  `-o -` is\n  stdout; -o -\n  writes\n") == []


@pytest.mark.parametrize("columns", [80, 60])
def test_help_never_breaks_a_word_at_a_hyphen(columns):
    pages = help_pages(columns)
    assert {command: split_words(page) for command, page in pages.items() if split_words(page)} == {}
    # what click broke before: `--max-` / `total` (80 columns), `what-` / `if.`, `deepseek` / `-v3:...` (60)
    whole = {
        "check": ["--max-total", "--max-kv", "4GiB@128k"],
        "report": ["what-if.", "deepseek-v3:kimi-k2,qwen3-8b:olmo-3-7b."],
        "show": ["'qwen3-8b[n_layers=40,attention.n_kv_heads=4]'."],  # wider than 60's column: whole, past it
        "import-gguf": ["import-gguf", "Qwen3-8B-Q4_K_M.gguf"],
    }
    for command, words in whole.items():
        lines = pages[command].splitlines()
        for word in words:
            assert any(word in line for line in lines), (columns, command, word, pages[command])
