"""`llmarch report` and `llmarch check` through the CLI."""

from __future__ import annotations

import json

import jsonschema
from typer.testing import CliRunner

import llmarch
from conftest import ROOT, SPEC_NAMES
from llmarch.cli import app
from llmarch.render.output_schema import OUTPUT_SCHEMA

runner = CliRunner()


def test_report_all_shipped_specs_markdown():
    result = runner.invoke(app, ["report", "--pairs", "deepseek-v3:kimi-k2,qwen3-8b:olmo-3-7b", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("### Summary")
    rows = [l for l in text.split("### ")[1].splitlines() if l.startswith("| ") and not l.startswith("| model")]
    assert len(rows) == len(SPEC_NAMES)
    assert "### DeepSeek-V3 (671B) vs Kimi K2 (1T)" in text
    assert "| Experts | 256 | **384** ‹ |" in text  # against the first model (tests/test_differences.py)
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
    from llmarch.analyze import flops

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


def _check_json(*args):
    result = runner.invoke(app, ["check", *args, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return {b["budget"]: b for b in json.loads(result.stdout)["models"][0]["budgets"]}


def test_check_budgets_are_parsed_exactly():
    # issue 26: through a float, 32.856305664 * 1e9 is 32856305663.999996 and the limit lost one parameter
    verdict = _check_json("glm-4.5", "--max-active", "32.856305664B")["max_active"]
    assert verdict["limit"] == 32_856_305_664
    assert verdict["ok"] is (verdict["measured"] <= 32_856_305_664)
    # a limit written with every digit of the measure holds; one parameter less fails
    measured = verdict["measured"]
    exact = f"{measured // 10**9}.{measured % 10**9:09d}B"
    less = f"{(measured - 1) // 10**9}.{(measured - 1) % 10**9:09d}B"
    assert _check_json("glm-4.5", "--max-active", exact)["max_active"]["ok"] is True
    assert _check_json("glm-4.5", "--max-active", less)["max_active"]["ok"] is False
    # hand arithmetic for each unit family (through a float, 2.01 * 1e9 is 2009999999.9999998)
    v = _check_json(
        "qwen3-0.6b", "--max-total", "2.01B", "--max-kv", "4.35GiB@1k", "--max-decode-flops-per-token", "2.01G@4096"
    )
    assert v["max_total"]["limit"] == 2_010_000_000
    assert v["max_kv"]["limit"] == 435 * 2**30 // 100  # 4670776934.4, floored: measures are whole numbers
    assert v["max_decode_flops_per_token"]["limit"] == 2_010_000_000


def test_check_absurd_budgets_are_refused():
    for bad in (
        "1" + "0" * 309 + "B",  # past a float's range: once an internal OverflowError
        "1" + "0" * 31,  # past 10^30, more than any measure
        "0.0000000001",  # a positive number below one parameter
        "1e9",
        "-5B",
        "nanB",
    ):
        result = runner.invoke(app, ["check", "qwen3-8b", "--max-total", bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "max_total" in result.output and "Traceback" not in result.output, result.output
    result = runner.invoke(app, ["check", "qwen3-8b", "--max-kv", "1GiB@" + "9" * 5000])
    assert result.exit_code == 2 and "2^34" in result.output, result.output


def test_check_budget_file_values_are_located(tmp_path):
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("max_total: 9B\nmax_active: 8.2e+9\n")  # YAML reads 8.2e+9 as a float: digits may be gone
    result = runner.invoke(app, ["check", "qwen3-8b", "--budgets", str(budgets)])
    assert result.exit_code == 2 and f"{budgets}:2" in result.output and "max_active" in result.output, result.output
    budgets.write_text("max_total: 9B\nmax_kv: 4GiB\n")
    result = runner.invoke(app, ["check", "qwen3-8b", "--budgets", str(budgets)])
    assert result.exit_code == 2 and f"{budgets}:2" in result.output and "needs a context" in result.output
