"""Issue 24 item 6: the conventions footer lists only the conventions the table's numbers depend on, one line
each; `-q/--quiet` drops it in every command that prints one; JSON keeps every convention.

Which model holds which mechanism is written here by hand from the models' configs (Qwen3 8B and Llama 3 8B:
dense GQA; DeepSeek-V3: MLA, 256 routed experts, one MTP module; Gemma 3 27B: sliding windows; Qwen3-Next:
Gated DeltaNet layers), not asked of llmarch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from llmarch.cli import app

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, ["--no-color", *args], env={"COLUMNS": "80"})
    assert result.exit_code in (0, 1), result.output  # check exits 1 on a failed budget
    return result.stdout


def footer(text: str) -> list[str]:
    """The footer's convention keys, in order (the lines under `Conventions:`, each `key: text`, wrapped)."""
    lines = text.split("Conventions:", 1)[1].splitlines() if "Conventions:" in text else []
    return [line.strip().split(":", 1)[0] for line in lines if line.startswith("  ") and not line.startswith("   ")]


# every command that prints a footer, with arguments fast enough to run each (no torch where possible)
COMMANDS = [
    ["list", "--family", "qwen3"],
    ["show", "gpt2"],
    ["compare", "gpt2", "qwen3-8b"],
    ["kvcache", "qwen3-8b", "--ctx", "8k"],
    ["flops", "gpt2", "--seq", "256", "--ctx", "1k"],
    ["serve", "qwen3-8b", "--ctx", "8k", "--batch", "1"],
    ["report", "gpt2", "--ctx", "1k", "--seq", "256", "-f", "table"],
    ["check", "gpt2", "--max-total", "1B"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_quiet_drops_the_footer_in_every_command(cmd):
    assert "Conventions:" in invoke(*cmd)
    quiet = invoke("-q", *cmd)
    assert "Conventions:" not in quiet
    assert quiet.strip()
    # the tables are all there: every line of the quiet answer is a line of the full one
    full_lines = set(invoke(*cmd).splitlines())
    assert all(line in full_lines for line in quiet.splitlines())


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_quiet_drops_the_footer_in_every_format(fmt):
    assert "Conventions:" in invoke("kvcache", "qwen3-8b", "-f", fmt)
    assert "Conventions:" not in invoke("--quiet", "kvcache", "qwen3-8b", "-f", fmt)


def test_quiet_after_the_command_piped():
    env = dict(os.environ, COLUMNS="80")
    args = [sys.executable, "-m", "llmarch", "kvcache", "qwen3-8b", "--ctx", "8k"]
    full = subprocess.run(args, capture_output=True, text=True, env=env, check=True, timeout=120).stdout
    quiet = subprocess.run(args + ["-q"], capture_output=True, text=True, env=env, check=True, timeout=120).stdout
    assert "Conventions:" in full and "Conventions:" not in quiet
    # 36 layers x 8 KV heads x 2 x 128 x 2 B x 8,192 tokens = 1,207,959,552 B = 1.125 GiB: the table stays
    assert "1.125 GiB" in quiet


def test_json_keeps_every_convention_quiet_or_not():
    data = json.loads(invoke("-q", "compare", "qwen3-8b", "llama-3-8b", "-f", "json"))
    assert list(data["conventions"]) == [
        "total",
        "embedding",
        "active",
        "active_incl_embeddings",
        "active_fewest",
        "ngram_embedding",
        "mtp",
        "suffixes",
        "weight_memory",
        "context",
    ]
    assert "routed experts x top_k / n_experts" in data["conventions"]["active"]  # the JSON text is whole
    flops = json.loads(invoke("-q", "flops", "qwen3-8b", "--seq", "256", "-f", "json"))
    assert {"moe", "mla", "linear_attention", "layer_extras", "compressed"} <= set(flops["conventions"])


def test_a_dense_only_compare_has_no_moe_or_mtp_line():
    text = invoke("compare", "qwen3-8b", "llama-3-8b")
    assert footer(text) == [
        "total",
        "embedding",
        "active",
        "active_incl_embeddings",
        "suffixes",
        "weight_memory",
        "context",
    ]
    assert "expert" not in text.split("Conventions:")[1]
    assert "active: parameters one token multiplies: all of them, lookup tables excluded" in " ".join(text.split())


def test_a_compare_with_a_moe_model_keeps_the_experts_clause_and_mtp():
    text = " ".join(invoke("compare", "qwen3-8b", "deepseek-v3").split())
    assert "routed experts x top_k / n_experts" in text
    assert "mtp: multi-token-prediction modules are counted separately" in text


def test_list_prints_no_weight_or_context_line():
    keys = footer(invoke("list", "--family", "qwen3"))  # list shows counts only
    assert "weight_memory" not in keys and "context" not in keys and "total" in keys


def test_list_of_dense_models_has_no_experts_clause_or_mtp_line():
    # GPT-2 and GPT-2 XL: dense, no MTP head (config.json has neither num_experts nor num_nextn_predict_layers);
    # list shows total and active only, so no active_incl_embeddings line either
    text = invoke("list", "--family", "gpt2")
    assert footer(text) == ["total", "embedding", "active", "suffixes"]
    assert "expert" not in text.split("Conventions:")[1]
    piped = subprocess.run(
        [sys.executable, "-m", "llmarch", "list", "--family", "gpt2"],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "COLUMNS"} | {"LLMARCH_NO_CACHE": "1"},
    ).stdout
    assert footer(piped) == ["total", "embedding", "active", "suffixes"]


def test_list_with_routed_experts_and_mtp_keeps_both():
    # DeepSeek-V3: 256 routed experts, 8 per token, and one MTP module (num_nextn_predict_layers: 1)
    text = invoke("list", "--family", "deepseek")
    assert footer(text) == ["total", "embedding", "active", "mtp", "suffixes"]
    assert "routed experts x top_k / n_experts" in " ".join(text.split())


def test_report_without_a_summary_row_prints_no_kv_or_prefill_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\n")  # no vocab_size: the spec fails, so the summary has no row
    result = runner.invoke(app, ["--no-color", "report", str(bad), "--pairs", "gpt2:gpt2-xl", "-f", "table"])
    assert result.exit_code == 2  # a failed spec still fails the run
    keys = footer(result.stdout)
    assert "total" in keys  # the pair's table shows parameter counts
    assert not [k for k in keys if k.startswith("kv_") or k == "prefill_flops_per_token"], keys
    alone = runner.invoke(app, ["--no-color", "report", str(bad), "-f", "table"])
    assert "Conventions:" not in alone.stdout  # nothing shown, nothing to explain
    # with a summary row the KV lines come back
    keys = footer(invoke("report", "gpt2", "--ctx", "1k", "--seq", "256", "-f", "table"))
    assert "kv_attention" in keys and "prefill_flops_per_token" in keys


def test_flops_lines_follow_the_mechanisms_of_the_table():
    dense = footer(invoke("flops", "qwen3-8b", "--seq", "256"))
    assert not {"moe", "mla", "linear_attention", "layer_extras", "compressed"} & set(dense)
    assert {"flop", "causal", "lm_head", "suffixes", "decode"} <= set(dense)
    assert {"moe", "mla"} <= set(footer(invoke("flops", "qwen3-8b", "deepseek-v3", "--seq", "256")))
    assert "linear_attention" in footer(invoke("flops", "qwen3-next-80b-a3b", "--seq", "256"))


def test_kvcache_lines_follow_the_mechanisms_of_the_table():
    dense = footer(invoke("kvcache", "llama-3-8b", "--ctx", "8k"))
    assert not {"mla", "windows", "state", "compressed"} & set(dense)
    assert "mla" in footer(invoke("kvcache", "deepseek-v3", "--ctx", "8k"))
    assert "windows" in footer(invoke("kvcache", "gemma-3-27b", "--ctx", "8k"))
    assert "state" in footer(invoke("kvcache", "qwen3-next-80b-a3b", "--ctx", "8k"))


def test_kvcache_prints_the_quantised_line_only_for_a_quantised_cache():
    assert "quantised" not in footer(invoke("kvcache", "qwen3-8b", "--ctx", "8k"))  # bf16: 16 bits
    assert "quantised" in footer(invoke("kvcache", "qwen3-8b", "--ctx", "8k", "--kv-dtype", "fp8"))
    assert "quantised" in footer(invoke("kvcache", "qwen3-8b", "--ctx", "8k", "--kv-dtype", "int4"))
    assert "quantised" not in footer(invoke("kvcache", "qwen3-8b", "--ctx", "8k", "--kv-dtype", "fp32"))


def test_serve_prints_the_routing_line_only_with_experts():
    assert "moe_routing" not in footer(invoke("serve", "qwen3-8b", "--ctx", "8k", "--batch", "1"))
    assert "moe_routing" in footer(invoke("serve", "deepseek-v3", "--gpus", "8", "--ctx", "8k", "--batch", "1"))


def test_a_parallel_dense_and_moe_layer_holds_the_experts_lines():
    """Gemma 4 26B-A4B's experts run beside a dense MLP (a parallel FFN): its tables still state how routed
    experts count (the active line's experts clause, flops' top-k line)."""
    show = invoke("show", "gemma-4-26b-a4b")
    assert "routed experts x top_k / n_experts" in show
    flops = invoke("flops", "gemma-4-26b-a4b", "--seq", "256")
    assert "moe:" in flops


def test_a_windowed_mla_layer_keeps_the_window_line():
    """Review of issue 24: MLA's own line once replaced the attention's, so a model whose MLA layers slide a
    window (DeepSeek-V3 given local layers by a what-if: every other layer caches 4,096 tokens) printed its
    windowed rows without the line that says what a window holds."""
    edited = "deepseek-v3[attention.window=4096,layers.mixer=LG]"
    out = invoke("kvcache", edited, "--ctx", "128k")
    assert "4,096" in out  # the local layers' tokens: min(131,072, 4,096)
    assert {"mla", "windows"} <= set(footer(out))
    assert "windows" not in footer(invoke("kvcache", "deepseek-v3", "--ctx", "128k"))  # no window: no line
