"""`llmarch serve`: memory per GPU and roofline bounds against hand-derived expectations."""

from __future__ import annotations

import json

import jsonschema
import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.analyze.serve import Plan, hardware_names, load_gpu, serve
from llmarch.cli import app
from llmarch.errors import OptionError
from llmarch.render.output_schema import OUTPUT_SCHEMA

runner = CliRunner()
H100_BYTES, H100_BW, H100_BF16 = 80 * 2**30, 3.35e12, 989.4e12


def test_dense_single_gpu_hand_formula():
    ir = llmarch.load("llama-3-8b")
    r = serve(ir, load_gpu("h100-sxm"), Plan(1, 1, 1), ctx=32768, batch=4, weights="bf16").as_dict()
    total, embed = 8_030_261_248, 128256 * 4096
    kv_per_seq = 32 * 8 * (128 + 128) * 2 * 32768  # 4 GiB
    allowance = max(2 * 2**30, int(0.08 * H100_BYTES))
    assert r["memory_per_gpu"]["weights_bytes"] == total * 2
    assert r["memory_per_gpu"]["kv_bytes"] == 4 * kv_per_seq
    assert r["fits"] is True
    assert r["max_batch_at_ctx"] == (H100_BYTES - total * 2 - allowance) // kv_per_seq
    step_bytes = (total - embed) * 2 + 4 * kv_per_seq  # the input table is looked up, not read whole
    assert r["decode_roofline"]["bytes_per_step_per_gpu"] == step_bytes
    from llmarch.analyze import flops as F

    expect = max(step_bytes / H100_BW, F.decode(ir, 32768, 4).flops / H100_BF16)
    assert r["decode_roofline"]["step_time_lower_bound_s"] == pytest.approx(expect)
    assert r["decode_roofline"]["binding"] == "memory bandwidth"
    assert r["decode_roofline"]["tokens_per_s_upper_bound"] == pytest.approx(4 / expect)


def test_tied_lm_head_is_read_every_step():
    """A tied embedding is looked up for the input but multiplied whole as the LM head; per-layer
    embedding tables (Gemma 3n) are only looked up."""
    ir = llmarch.load("gemma-3n-e4b")
    r = serve(ir, load_gpu("h100-sxm"), Plan(1, 1, 1), ctx=4096, batch=1, weights="bf16").as_dict()
    count = llmarch.count_params(ir)
    kv = r["memory_per_gpu"]["kv_bytes"]
    expect = (count.total - count.by_component["per_layer_embedding"]) * 2 + kv
    assert count.by_component["lm_head"] == 0 and count.by_component["token_embedding"] == 262400 * 2048
    assert r["decode_roofline"]["bytes_per_step_per_gpu"] == expect
    assert kv == 4096 * 20 * 2 * 512 * 2 - 16 * (4096 - 512) * 2 * 512 * 2  # 4 global + 16 local(512) layers


def test_moe_expected_experts_and_sharding():
    ir = llmarch.load("deepseek-v3")
    r = serve(ir, load_gpu("h200"), Plan(8, 8, 1), ctx=131072, batch=8).as_dict()
    assert r["decode_roofline"]["experts_read_per_layer"] == pytest.approx(256 * (1 - (1 - 8 / 256) ** 8), abs=1e-3)
    # MLA's latent is replicated on every rank: the whole cache on each GPU
    assert r["memory_per_gpu"]["kv_bytes"] == 8 * 61 * 576 * 2 * 131072
    count = llmarch.count_params(ir)
    routed = count.by_component["routed_experts"] * (1 + 4 / (128 * 128))
    assert r["memory_per_gpu"]["weights_by_component"]["routed_experts"] == int(routed / 8)


def test_sliding_window_and_kv_head_replication():
    ir = llmarch.load("gemma-3-27b")
    r1 = serve(ir, load_gpu("h100-sxm"), Plan(1, 1, 1), ctx=32768, batch=1).as_dict()
    r2 = serve(ir, load_gpu("h100-sxm"), Plan(2, 2, 1), ctx=32768, batch=1).as_dict()
    per_layer = 16 * 256 * 2
    assert r1["memory_per_gpu"]["kv_bytes"] == per_layer * (52 * 1024 + 10 * 32768)
    assert r2["memory_per_gpu"]["kv_bytes"] == r1["memory_per_gpu"]["kv_bytes"] // 2
    m = llmarch.load("mistral-7b")  # 8 KV heads over 16 ranks: one head on each, replicated
    r = serve(m, load_gpu("h100-sxm"), Plan(16, 16, 1), ctx=8192, batch=1).as_dict()
    assert r["memory_per_gpu"]["kv_bytes"] == 32 * 1 * 256 * 2 * 4096


def test_plan_errors():
    gpu = load_gpu("h100-sxm")
    with pytest.raises(OptionError, match="does not divide"):
        serve(llmarch.load("gpt2"), gpu, Plan(8, 8, 1), ctx=1024, batch=1)  # 12 heads
    with pytest.raises(OptionError, match="must equal"):
        serve(llmarch.load("gpt2"), gpu, Plan(8, 2, 1), ctx=1024, batch=1)
    with pytest.raises(OptionError, match="^unknown gpu `h1000`"):
        load_gpu("h1000")


@pytest.mark.parametrize("name", hardware_names())
def test_profiles_validate(name):
    gpu = load_gpu(name)
    assert gpu.memory_bytes > 2**30 and gpu.bandwidth_bytes_per_s > 1e11 and gpu.source


def test_user_profile_validation(tmp_path):
    bad = tmp_path / "gpu.yaml"
    bad.write_text(
        "name: x\ndisplay_name: X\nmemory_bytes: -1\nbandwidth_bytes_per_s: 1e12\npeak_flops: {bf16: 1e14}\nsource: me\n"
    )
    result = runner.invoke(app, ["serve", "gpt2", "--gpu", str(bad)])
    assert result.exit_code == 2 and "memory_bytes" in result.output


def test_cli_json():
    result = runner.invoke(
        app,
        [
            "serve",
            "deepseek-v3",
            "--gpu",
            "h100-sxm",
            "--gpus",
            "8",
            "--ctx",
            "128k",
            "--batch",
            "8",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    assert data["models"][0]["fits"] is False  # 671B in fp8 does not fit 8 x 80 GB with a 128k cache
    table = runner.invoke(app, ["--no-color", "serve", "deepseek-v3", "--gpus", "8", "--batch", "8"])
    assert "does not fit" in table.output and "tokens/s" in table.output
