"""Issue 24 as a user meets it, through the CLI at 80 columns and piped, in each format.

Reference numbers are the models' published context lengths (GPT-2: n_positions 1,024 in its config.json;
Gemma 3 27B: 128k = 131,072) and hand arithmetic written out here.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llmarch.cli import app

runner = CliRunner()
FORMATS = ["table", "markdown", "json", "csv", "html"]
GPT2_CONTEXT = 1024  # config.json n_positions


def invoke(*args: str):
    # 80 columns; CliRunner's streams are not terminals, so this is the piped case
    return runner.invoke(app, ["--no-color", *args], env={"COLUMNS": "80"})


# ---------------------------------------------------------------------------
# 1. past a model's context length, every command says so


BEYOND = {
    "kvcache": ["kvcache", "gpt2", "--ctx", "2k"],
    "kvcache --sweep": ["kvcache", "gemma3", "--ctx", "1k", "--sweep", "1k,1m"],
    "flops": ["flops", "gpt2", "--seq", "512", "--ctx", "2k"],
    "serve": ["serve", "gpt2", "--ctx", "2k", "--batch", "1"],
    "report": ["report", "gpt2", "--ctx", "2k", "--seq", "512"],
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", list(BEYOND), ids=str)
def test_a_context_past_the_models_is_warned_on_stderr_and_in_json(case, fmt):
    result = invoke(*BEYOND[case], "-f", fmt)
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    too_far = "1,048,576 tokens" if case == "kvcache --sweep" else "2,048 tokens"
    limit = "131,072 tokens" if case == "kvcache --sweep" else "1,024 tokens"
    assert len(warned) == 1, result.stderr
    assert too_far in warned[0] and f"context length of {limit}" in warned[0]
    if case != "report":  # report's document marks the cell (see below); the others keep stdout for numbers
        assert "warning:" not in result.stdout
    if fmt == "json":
        answer = json.loads(result.stdout)
        assert answer["warnings"] == [warned[0].removeprefix("warning: ")]


@pytest.mark.parametrize("case", list(BEYOND), ids=str)
def test_within_the_context_nothing_is_warned(case):
    args = [a.replace("2k", "1k").replace("1k,1m", "1k,128k") for a in BEYOND[case]]
    result = invoke(*args, "-f", "json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert json.loads(result.stdout)["warnings"] == []


def test_every_json_answer_has_a_warnings_list():
    for args in (["list"], ["show", "gpt2"], ["compare", "gpt2", "qwen3-8b"], ["check", "gpt2", "--max-total", "1B"]):
        result = invoke(*args, "-f", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["warnings"] == []


def test_serve_caps_the_longest_context_at_the_models_and_says_so():
    # GPT-2 at batch 1 on an H100: its KV is 2 x 12 layers x 768 x 2 B = 36,864 B a token, so memory alone
    # would hold about two million tokens; the model reads 1,024.
    result = invoke("serve", "gpt2", "--ctx", "1k", "--batch", "1", "-f", "json")
    model = json.loads(result.stdout)["models"][0]
    assert model["max_ctx_at_batch"] == GPT2_CONTEXT
    assert model["max_ctx_limited_by"] == "context_length"
    table = invoke("serve", "gpt2", "--ctx", "1k", "--batch", "1").stdout
    row = next(line for line in table.splitlines() if "longest context" in line)
    assert "1,024 (context length)" in row
    assert max(len(line) for line in table.splitlines()) <= 80
    # memory the limit: DeepSeek-V3 in bf16 on 8 H100s leaves little room beside 1.3 TB of weights
    model = json.loads(invoke("serve", "deepseek-v3", "--gpus", "8", "--ctx", "4k", "-f", "json").stdout)["models"][0]
    assert model["max_ctx_limited_by"] == "memory"
    assert model["max_ctx_at_batch"] < 163_840  # its context length


def test_report_marks_the_kv_cell_past_the_context_in_files_too():
    result = invoke("report", "gpt2", "qwen3-8b", "--ctx", "2k", "--seq", "512", "-f", "markdown")
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    assert rows["gpt2"].split("|")[5].strip().endswith("*")
    assert not rows["qwen3-8b"].split("|")[5].strip().endswith("*")  # 40,960 tokens of context
    assert "* 2,048 tokens is beyond" in result.stdout
