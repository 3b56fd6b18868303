"""Issue 24 as a user meets it, through the CLI at 80 columns and piped, in each format.

Reference numbers are the models' published context lengths (GPT-2: n_positions 1,024 in its config.json;
Gemma 3 27B: 128k = 131,072) and hand arithmetic written out here.
"""

from __future__ import annotations

import csv
import io
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


# ---------------------------------------------------------------------------
# 2. exports are complete


def test_show_csv_carries_the_parameter_counts():
    # GPT-2 124M by hand: token embedding 50,257 x 768 = 38,597,376; positions 1,024 x 768 = 786,432;
    # per block: attention 4 x 768^2 + 4 x 768 = 2,362,368, MLP 2 x 768 x 3,072 + 3,072 + 768 = 4,722,432,
    # two LayerNorms 4 x 768 = 3,072, so 7,087,872 x 12 = 85,054,464; final norm 1,536; LM head tied.
    rows = list(csv.reader(io.StringIO(invoke("show", "gpt2", "-f", "csv").stdout)))
    assert rows[0] == ["", "value"] and all(len(r) == 2 for r in rows)  # still one header, two columns
    values = dict(rows[1:])
    total = 38_597_376 + 786_432 + 85_054_464 + 1_536
    assert int(values["Total parameters"]) == total == 124_439_808
    # active: everything but the two lookup tables (the tied matrix counts once, as the LM head)
    assert int(values["Active parameters"]) == total - 786_432 == 123_653_376
    assert int(values["Weights (bf16)"]) == 2 * total
    assert int(values["attention: total"]) == 12 * 2_362_368
    assert values["Context length"] == "1024"


def test_report_csv_carries_the_pairs_sections():
    text = invoke("report", "gpt2", "qwen3-8b", "--ctx", "1k", "--seq", "1k", "--pairs", "gpt2:qwen3-8b", "-f", "csv")
    blocks = text.stdout.split("\n\n")
    assert len(blocks) == 2
    summary = list(csv.DictReader(io.StringIO(blocks[0])))
    assert [r["model"] for r in summary] == ["gpt2", "qwen3-8b"]
    pair = list(csv.reader(io.StringIO(blocks[1])))
    assert pair[0] == ["GPT-2 (124M) vs Qwen3 8B"]
    assert pair[1] == ["", "GPT-2 (124M)", "Qwen3 8B", "differs from the row's majority"]
    rows = {r[0]: r[1:] for r in pair[2:]}
    assert rows["Total parameters"] == ["124439808", "8190735360", "Qwen3 8B"]
    assert rows["Heads / KV heads"] == ["12 / 12", "32 / 8", "Qwen3 8B"]


def test_show_csv_of_an_edited_model_says_its_published_figures_were_not_checked():
    # Qwen3 8B with 40 blocks: its published 8.2B cannot hold, and the table says why in a remark
    text = invoke("show", "qwen3-8b[n_layers=40]", "-f", "csv").stdout
    counts, remarks = text.split("\n\n")
    assert dict(list(csv.reader(io.StringIO(counts)))[1:])["Blocks"] == "40"
    assert list(csv.reader(io.StringIO(remarks))) == [
        ["Remarks"],
        ["published figures not checked: the spec was edited (n_layers=40)"],
    ]
    # the same sentence the table prints, so both formats say the same thing
    assert "published figures not checked: the spec was edited (n_layers=40)" in invoke(
        "show", "qwen3-8b[n_layers=40]"
    ).stdout.replace("\n", " ")


def test_show_csv_of_a_shipped_model_has_no_remarks_section():
    assert "Remarks" not in invoke("show", "gpt2", "-f", "csv").stdout


def test_report_csv_names_each_model_past_its_context():
    # csv holds exact integers, so the table's `*` cannot be there: the remark names the model instead
    text = invoke("report", "gpt2", "qwen3-8b", "--ctx", "2k", "--seq", "512", "-f", "csv").stdout
    summary, remarks = text.split("\n\n")
    rows = list(csv.DictReader(io.StringIO(summary)))
    # GPT-2 at 2,048 tokens: 12 layers x 2 (K, V) x 768 x 2 B = 36,864 B a token, x 2,048 = 75,497,472 B
    assert rows[0]["KV at 2,048"] == str(36_864 * 2_048) == "75497472"
    lines = [r[0] for r in csv.reader(io.StringIO(remarks))]
    assert lines[0] == "Remarks" and len(lines) == 2  # Qwen3 8B's 40,960 tokens hold 2,048
    assert lines[1].startswith("warning: gpt2: KV context of 2,048 tokens is beyond its context length of 1,024")


def test_report_format_table_prints_a_table_not_markdown():
    result = invoke("report", "gpt2", "--ctx", "1k", "--seq", "1k", "-f", "table")
    assert "| model |" not in result.stdout and "### Summary" not in result.stdout
    assert "━" in result.stdout and "gpt2" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    # piped with no --format: still markdown, for `>> "$GITHUB_STEP_SUMMARY"`
    assert "| model |" in invoke("report", "gpt2", "--ctx", "1k", "--seq", "1k").stdout


def test_kvcache_and_flops_csv_carry_their_sweeps():
    # KV per token: GPT-2 12 layers x 2 x 768 x 2 B = 36,864 B; Qwen3 8B 36 x 2 x 8 x 128 x 2 B = 147,456 B
    text = invoke("kvcache", "gpt2", "qwen3-8b", "--ctx", "1k", "--sweep", "1k,2k", "-f", "csv").stdout
    first, sweep = text.split("\n\n")
    assert first.splitlines()[0].startswith("model,ctx_tokens,")
    rows = list(csv.reader(io.StringIO(sweep)))
    assert rows == [
        ["Sweep: total bytes against context"],
        ["context", "GPT-2 (124M)", "Qwen3 8B"],
        ["1024", str(36_864 * 1024), str(147_456 * 1024)],
        ["2048", str(36_864 * 2048), str(147_456 * 2048)],
    ]
    text = invoke("flops", "gpt2", "--seq", "512", "--ctx", "1k", "--sweep", "512,1k", "-f", "csv").stdout
    sweep = list(csv.reader(io.StringIO(text.split("\n\n")[1])))
    assert sweep[0] == ["GPT-2 (124M): decode against context"]
    assert [r[0] for r in sweep[2:]] == ["512", "1024"]
    assert [int(r[2]) for r in sweep[2:]] == [36_864 * 512, 36_864 * 1024]  # KV bytes


# ---------------------------------------------------------------------------
# 8. plots that inform


def _plotted(tmp_path, monkeypatch, *args):
    """Run kvcache --plot through the CLI and keep the figure it drew (plt.close made a no-op)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)
    path = tmp_path / "kv.png"
    result = invoke("kvcache", *args, "--plot", str(path))
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 10_000
    return result, plt.gcf().axes[0]


def test_plot_of_one_context_sweeps_up_to_it(tmp_path, monkeypatch):
    result, ax = _plotted(tmp_path, monkeypatch, "gpt2", "llama-3-8b", "--ctx", "8k")
    # doubling from 1k: 1,024, 2,048, 4,096, 8,192
    xs = [1024, 2048, 4096, 8192]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["gpt2", "llama-3-8b"]
    assert all(list(line.get_xdata()) == xs for line in lines)
    # Llama 3 8B: 32 layers x 8 KV heads x 128 x 2 (K and V) x 2 B = 131,072 B a token
    assert list(lines[1].get_ydata()) == [131_072 * t / 2**30 for t in xs]
    assert "Sweep" not in result.stdout  # the answer itself is still the one context asked for


def test_plot_starts_at_zero_labels_contexts_as_written_and_has_a_title(tmp_path, monkeypatch):
    _, ax = _plotted(tmp_path, monkeypatch, "gemma3", "deepseek-v3", "--ctx", "1k", "--sweep", "1k,4k,128k,1m")
    assert ax.get_ylim()[0] == 0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1k", "4k", "128k", "1M"]
    assert "KV cache against context" in ax.get_title() and "gemma-3-27b" in ax.get_title()
    assert "k = 1024" in ax.get_xlabel() and "GiB" in ax.get_ylabel()


# ---------------------------------------------------------------------------
# 10. long work shows progress, on a terminal's stderr only


def _run_with_terminal_stderr(*args: str) -> tuple[int, bytes, bytes]:
    """llmarch in a subprocess with stdout a pipe and stderr a pseudo-terminal: (status, stdout, stderr)."""
    import os
    import pty
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "80", "TERM": "xterm", "LLMARCH_NO_CACHE": "1"}
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmarch", *args], stdout=subprocess.PIPE, stderr=slave, env=env, cwd=root
    )
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        err += chunk
    out = proc.stdout.read()
    proc.wait(timeout=300)
    os.close(master)
    return proc.returncode, out, err


def test_traced_counts_show_progress_on_a_terminal_and_nothing_when_piped():
    status, out, err = _run_with_terminal_stderr(
        "flops", "qwen3-0.6b", "--seq", "128", "--counter", "torch", "-f", "json"
    )
    assert status == 0, err
    assert b"tracing" in err
    assert json.loads(out)["models"][0]["counters"]["torch"]["raw"] > 0  # stdout is the answer alone
    piped = invoke("flops", "qwen3-0.6b", "--seq", "128", "--counter", "torch", "--no-cache", "-f", "json")
    assert piped.exit_code == 0 and "tracing" not in piped.stderr


def test_reading_shard_headers_reports_each_shard(tmp_path):
    from llmarch.importers.checkpoints.safetensors import read_checkpoint
    from tests.test_verify import write_shard

    write_shard(tmp_path / "model-00001-of-00002.safetensors", {"a": ("BF16", (2,))})
    write_shard(tmp_path / "model-00002-of-00002.safetensors", {"b": ("BF16", (3,))})
    heard = []
    read_checkpoint(str(tmp_path), lambda shard, shards: heard.append((shard, shards)))
    assert heard == [("model-00001-of-00002.safetensors", 2), ("model-00002-of-00002.safetensors", 2)]


# ---------------------------------------------------------------------------
# README's first example is what the CLI prints, piped at 80 columns


def test_readme_first_example_is_what_compare_prints():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("```\n", 2)[1]  # the first fenced block, under the title
    shown = re.split(r"^\$ (.*)\n", block, flags=re.M)[1:]  # command, its output, command, its output
    assert len(shown) == 4, block
    printed = [line.rstrip() for line in invoke("compare", "qwen3-235b", "deepseek-v3").stdout.splitlines()]
    head, grep = shown[0], shown[2]
    assert head == "llmarch compare qwen3-235b deepseek-v3 | head -12"
    assert shown[1].splitlines() == printed[:12]
    pattern = re.fullmatch(r"llmarch compare qwen3-235b deepseek-v3 \| grep -E '(.*)'", grep).group(1)
    assert shown[3].splitlines() == [line for line in printed if re.search(pattern, line)]
    # DeepSeek-V3 at 671.0B, as its model card publishes (671B; tests/test_counts.py holds the exact count)
    assert "  Total parameters            235.1B            671.0B ‹" in shown[3]
