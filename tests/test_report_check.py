"""`llmarch report` and `llmarch check` through the CLI."""

from __future__ import annotations

import json

import jsonschema
from typer.testing import CliRunner

import llmarch
from conftest import ROOT, SPEC_NAMES
from llmarch.cli import app
from llmarch.output_schema import OUTPUT_SCHEMA

runner = CliRunner()


def test_report_all_shipped_specs_markdown():
    result = runner.invoke(app, ["report", "--pairs", "deepseek-v3:kimi-k2,qwen3-8b:olmo-3-7b", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("### Summary")
    rows = [l for l in text.split("### ")[1].splitlines() if l.startswith("| ") and not l.startswith("| model")]
    assert len(rows) == len(SPEC_NAMES)
    assert "### DeepSeek-V3 (671B) vs Kimi K2 (1T)" in text
    assert "| Experts | **256** | **384** |" in text
    assert "Conventions:" in text


def test_report_json_and_folder(tmp_path):
    result = runner.invoke(app, ["report", str(ROOT / "specs"), "--ctx", "4k", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    row = next(m for m in data["models"] if m["name"] == "llama-3-8b")
    assert row["kv_bytes"] == 32 * 8 * 256 * 2 * 4096
    assert row["total"] == llmarch.count_params(llmarch.load("llama-3-8b")).total


def test_report_imports_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; from typer.testing import CliRunner; from llmarch.cli import app; "
        "r = CliRunner().invoke(app, ['report', '--pairs', 'gpt2:gpt2-xl']); assert r.exit_code == 0, r.output; "
        "r = CliRunner().invoke(app, ['kvcache', 'deepseek-v3']); assert r.exit_code == 0; "
        "print('torch' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )


def test_report_bad_pairs():
    result = runner.invoke(app, ["report", "gpt2", "--pairs", "gpt2-gpt2-xl"])
    assert result.exit_code == 2 and "a:b" in result.output


def test_check_pass_fail_and_bad_input():
    ok = runner.invoke(app, ["check", "qwen3-0.6b", "--max-total", "1B", "--max-kv", "16GiB@128k"])
    assert ok.exit_code == 0, ok.output
    fail = runner.invoke(app, ["check", "qwen3-8b", "--max-total", "8B", "--max-active", "9B", "--format", "json"])
    assert fail.exit_code == 1, fail.output
    data = json.loads(fail.stdout)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    verdicts = {b["budget"]: b for b in data["models"][0]["budgets"]}
    assert verdicts["max_total"]["ok"] is False and verdicts["max_total"]["measured"] == 8_190_735_360
    assert verdicts["max_active"]["ok"] is True
    for bad in (["--max-kv", "4GiB"], ["--max-total", "8Q"], ["--max-total", "8B@4k"], []):
        result = runner.invoke(app, ["check", "qwen3-8b", *bad])
        assert result.exit_code == 2, (bad, result.output)


def test_check_decode_and_prefill_budgets():
    from llmarch import flops

    ir = llmarch.load("gpt-oss-120b")
    decode = flops.decode(ir, 32768).flops
    limit = f"{decode // 10**9 + 1}G@32k"
    assert runner.invoke(app, ["check", "gpt-oss-120b", "--max-decode-flops-per-token", limit]).exit_code == 0
    limit = f"{decode // 10**9 - 1}G@32k"
    assert runner.invoke(app, ["check", "gpt-oss-120b", "--max-decode-flops-per-token", limit]).exit_code == 1


def test_check_budgets_in_spec_and_file(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        (ROOT / "specs" / "gpt2.yaml").read_text().replace("name: gpt2", "name: tiny") + "budgets: {max_total: 100M}\n"
    )
    result = runner.invoke(app, ["check", str(spec)])
    assert result.exit_code == 1, result.output  # 124.4M > 100M
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("max_total: 200M\n")
    assert runner.invoke(app, ["check", str(spec), "--budgets", str(budgets)]).exit_code == 0
    budgets.write_text("max_totl: 200M\n")
    result = runner.invoke(app, ["check", str(spec), "--budgets", str(budgets)])
    assert result.exit_code == 2 and "did you mean `max_total`" in result.output
