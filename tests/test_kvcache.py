"""KV-cache sizes: expectations are arithmetic over the vendored upstream configs, never over specs or the IR."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.cli import app
from llmarch.errors import OptionError
from llmarch.kvcache import baseline, kv_cache, parse_tokens

from conftest import transformers_model, upstream_config

K128 = 131072
BF16 = 2


def kv(name: str, ctx: int = K128, **kw):
    return kv_cache(llmarch.load(name), ctx, **kw)


def text(name: str) -> dict:
    cfg = upstream_config(name)
    return cfg.get("text_config", cfg)


def test_parse_tokens():
    assert parse_tokens("128k") == 131072
    assert parse_tokens("1m") == 1048576
    assert parse_tokens("4096") == 4096
    for bad in ("12q", "-1", "0", "1.5k", ""):
        with pytest.raises(OptionError):
            parse_tokens(bad)


@pytest.mark.parametrize("name", ["llama-3-8b", "llama-3-70b", "qwen3-235b-a22b", "qwen3-8b"])
def test_full_attention_gqa(name):
    c = text(name)
    head_dim = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * head_dim * BF16
    r = kv(name)
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


def test_llama_3_8b_literal():
    # 32 layers x 8 KV heads x (128 + 128) x 2 B = 128 KiB per token (article Fig. 10: 128 KiB)
    assert kv("llama-3-8b").per_token_bytes_all_layers == 32 * 8 * 256 * 2 == 128 * 1024


@pytest.mark.parametrize("name", ["deepseek-v3", "kimi-k2"])
def test_mla_latent(name):
    c = text(name)
    per_token = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * BF16
    r = kv(name)
    assert r.per_token_bytes_all_layers == per_token == 61 * 576 * 2  # 68.6 KiB, the gallery's figure
    assert r.total_bytes == per_token * K128


def test_mla_indexer_key():
    c = text("deepseek-v3.2-exp")
    per_token = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"] + c["index_head_dim"]) * BF16
    assert kv("deepseek-v3.2-exp").per_token_bytes_all_layers == per_token


@pytest.mark.parametrize("ctx", [4096, K128])
def test_gemma_3_27b_sliding(ctx):
    cfg, _ = transformers_model("gemma-3-27b")
    types = cfg.layer_types
    per_layer = cfg.num_key_value_heads * 2 * cfg.head_dim * BF16
    n_local = types.count("sliding_attention")
    n_global = types.count("full_attention")
    expect = n_local * per_layer * min(ctx, cfg.sliding_window) + n_global * per_layer * ctx
    r = kv("gemma-3-27b", ctx)
    assert r.total_bytes == expect
    assert r.per_token_bytes_all_layers == 62 * 16 * 256 * 2 == 496 * 1024  # the gallery's 496 KiB
    assert (n_local, n_global) == (52, 10)


def test_gemma_3_1b_window_512():
    c = text("gemma-3-1b")
    per_layer = c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    # 26 layers, global when (i + 1) % 6 == 0
    n_global = sum(1 for i in range(c["num_hidden_layers"]) if (i + 1) % c["sliding_window_pattern"] == 0)
    n_local = c["num_hidden_layers"] - n_global
    assert kv("gemma-3-1b").total_bytes == (n_local * c["sliding_window"] + n_global * K128) * per_layer


def test_gpt_oss_120b_alternating_window():
    c = text("gpt-oss-120b")
    per_layer = c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    n_local = c["layer_types"].count("sliding_attention")
    n_global = c["layer_types"].count("full_attention")
    assert kv("gpt-oss-120b").total_bytes == (n_local * c["sliding_window"] + n_global * K128) * per_layer
    assert kv("gpt-oss-120b").per_token_bytes_all_layers == 72 * 1024  # gallery: 72 KiB


def test_mistral_7b_window_everywhere():
    c = text("mistral-7b")
    per_layer = c["num_key_value_heads"] * 2 * (c["hidden_size"] // c["num_attention_heads"]) * BF16
    assert kv("mistral-7b").total_bytes == c["num_hidden_layers"] * per_layer * c["sliding_window"]


def test_llama_4_maverick_chunked_and_nope():
    c = text("llama-4-maverick")
    per_layer = c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    n_nope = c["no_rope_layers"].count(0)  # global NoPE layers hold the whole context
    n_chunked = c["num_hidden_layers"] - n_nope
    expect = (n_chunked * c["attention_chunk_size"] + n_nope * K128) * per_layer
    assert kv("llama-4-maverick").total_bytes == expect
    assert kv("llama-4-maverick").per_token_bytes_all_layers == 192 * 1024  # gallery: 192 KiB


def test_qwen3_next_linear_state():
    c = text("qwen3-next-80b-a3b")
    n_full = c["num_hidden_layers"] // c["full_attention_interval"]
    n_linear = c["num_hidden_layers"] - n_full
    attn = n_full * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    key_dim = c["linear_num_key_heads"] * c["linear_key_head_dim"]
    value_dim = c["linear_num_value_heads"] * c["linear_value_head_dim"]
    state = c["linear_num_value_heads"] * c["linear_key_head_dim"] * c["linear_value_head_dim"] * 4  # fp32
    conv = (c["linear_conv_kernel_dim"] - 1) * (2 * key_dim + value_dim) * BF16
    assert state + conv == 2_146_304  # vLLM's Gated DeltaNet page for this model (shared/research/peers.md)
    r = kv("qwen3-next-80b-a3b")
    assert r.total_bytes == attn * K128 + n_linear * (state + conv)
    assert r.per_token_bytes_all_layers == attn == 24 * 1024  # gallery: 24 KiB


def test_kimi_linear_kda_state_and_mla():
    c = text("kimi-linear-48b-a3b")
    la = c["linear_attn_config"]
    n_mla, n_kda = len(la["full_attn_layers"]), len(la["kda_layers"])
    mla = n_mla * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * BF16
    inner = la["num_heads"] * la["head_dim"]
    state = (
        la["num_heads"] * la["head_dim"] * la["head_dim"] * 4 + (la["short_conv_kernel_size"] - 1) * 3 * inner * BF16
    )
    r = kv("kimi-linear-48b-a3b")
    assert r.total_bytes == mla * K128 + n_kda * state
    assert r.per_token_bytes_all_layers == mla  # gallery: 7.9 KiB
    assert round(mla / 1024, 1) == 7.9


def test_nemotron_mamba_state():
    c = text("nemotron-3-nano-30b-a3b")
    pattern = c["hybrid_override_pattern"]
    n_attn, n_mamba = pattern.count("*"), pattern.count("M")
    attn = n_attn * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    inner = c["mamba_num_heads"] * c["mamba_head_dim"]
    state = c["mamba_num_heads"] * c["mamba_head_dim"] * c["ssm_state_size"] * 4
    conv = (c["conv_kernel"] - 1) * (inner + 2 * c["n_groups"] * c["ssm_state_size"]) * BF16
    r = kv("nemotron-3-nano-30b-a3b")
    assert r.total_bytes == attn * K128 + n_mamba * (state + conv)
    assert r.per_token_bytes_all_layers == attn == 6 * 1024  # gallery: 6 KiB


def test_dtypes_batch_and_state_dtype():
    base = kv("llama-3-8b", 4096)
    assert kv("llama-3-8b", 4096, kv_dtype="fp8").total_bytes * 2 == base.total_bytes
    assert kv("llama-3-8b", 4096, kv_dtype="int4").total_bytes * 4 == base.total_bytes
    assert kv("llama-3-8b", 4096, batch=8).total_bytes == 8 * base.total_bytes
    a = kv("qwen3-next-80b-a3b", 4096, state_dtype="bf16")
    b = kv("qwen3-next-80b-a3b", 4096)
    assert b.total_bytes - a.total_bytes == 36 * 32 * 128 * 128 * 2


def test_kv_monotone_in_context():
    for name in ("gemma-3-27b", "qwen3-next-80b-a3b", "deepseek-v3"):
        sizes = [kv(name, t).total_bytes for t in (1024, 4096, 32768, K128, 1 << 20)]
        assert sizes == sorted(sizes)


def test_baselines():
    ir = llmarch.load("gemma-3-27b")
    r = kv_cache(ir, 32768)
    g = baseline(ir, r, "global")
    assert g["total_bytes"] == 62 * 16 * 256 * 2 * 32768
    ds = llmarch.load("deepseek-v3")
    r = kv_cache(ds, 4096)
    m = baseline(ds, r, "mha")
    assert m["total_bytes"] == 61 * 128 * (192 + 128) * 2 * 4096
    assert m["factor"] == round(m["total_bytes"] / r.total_bytes, 3)


def test_cli_json_sweep_and_plot(tmp_path):
    import jsonschema

    from llmarch.output_schema import OUTPUT_SCHEMA

    png = tmp_path / "kv.png"
    result = CliRunner().invoke(
        app,
        [
            "kvcache",
            "gemma3",
            "deepseek-v3",
            "qwen3-next",
            "llama-3-8b",
            "--ctx",
            "128k",
            "--sweep",
            "1k,4k,32k,128k",
            "--baseline",
            "global",
            "--format",
            "json",
            "--plot",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    gemma = data["models"][0]
    assert gemma["ctx_tokens"] == 131072 and gemma["kv_dtype"] == "bf16"
    assert [p["ctx_tokens"] for p in gemma["sweep"]] == [1024, 4096, 32768, 131072]
    assert gemma["baseline"]["kind"] == "global"
    assert sum(k["bytes"] for k in gemma["by_layer_kind"]) == gemma["total_bytes"]
    assert png.stat().st_size > 10_000


def test_plot_lines_read_back(tmp_path):
    """The figure has one labelled line per model, at the sweep's contexts and the JSON's byte values."""
    import matplotlib

    matplotlib.use("Agg")
    from llmarch.render import plot as plot_mod

    irs = [llmarch.load(n) for n in ("gemma-3-27b", "deepseek-v3")]
    results = []
    for ir in irs:
        r = kv_cache(ir, K128)
        for t in (1024, 8192, K128):
            r.sweep.append({"ctx_tokens": t, "total_bytes": kv_cache(ir, t).total_bytes})
        results.append(r)
    import matplotlib.pyplot as plt

    path = tmp_path / "kv.svg"
    # draw into a figure we keep, to read its lines back
    orig_close = plt.close
    plt.close = lambda *a, **k: None
    try:
        plot_mod.plot_kv(results, [1024, 8192, K128], str(path))
        fig = plt.gcf()
    finally:
        plt.close = orig_close
    lines = fig.axes[0].get_lines()
    assert [l.get_label() for l in lines] == ["gemma-3-27b", "deepseek-v3"]
    for line, r in zip(lines, results):
        assert list(line.get_xdata()) == [1024, 8192, K128]
        assert list(line.get_ydata()) == [p["total_bytes"] / 2**30 for p in r.sweep]
    assert path.read_text().startswith("<?xml")


def test_cli_errors():
    runner = CliRunner()
    for args in (
        ["kvcache", "gpt2", "--ctx", "12q"],
        ["kvcache", "gpt2", "--ctx", "-1"],
        ["kvcache", "gpt2", "--kv-dtype", "fp7"],
        ["kvcache", "gpt2", "--plot", "x.jpg"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output


def test_cli_table_explain():
    result = CliRunner().invoke(app, ["--no-color", "kvcache", "deepseek-v3", "--ctx", "128k", "--explain"])
    assert result.exit_code == 0, result.output
    assert "61 x (512 + 64) x 2 B x 131,072" in result.output
    assert "MLA latent" in result.output


def test_mimo_mixed_head_geometry():
    """MiMo-V2-Flash: K 192 / V 128; 8 KV heads on sliding layers (window 128), 4 on global ones.
    Values from tests/data/configs/mimo-v2-flash.values.yaml (no verbatim config was found)."""
    import yaml

    from conftest import CONFIGS

    c = yaml.safe_load((CONFIGS / "mimo-v2-flash.values.yaml").read_text())["values"]
    pattern = c["hybrid_layer_pattern"]  # 1 = sliding window, 0 = global
    n_local, n_global = pattern.count(1), pattern.count(0)
    local = c["swa_num_key_value_heads"] * (c["swa_head_dim"] + c["swa_v_head_dim"]) * BF16
    glob = c["num_key_value_heads"] * (c["head_dim"] + c["v_head_dim"]) * BF16
    r = kv("mimo-v2-flash")
    assert r.total_bytes == n_local * local * c["sliding_window"] + n_global * glob * K128
    assert r.per_token_bytes_all_layers == n_local * local + n_global * glob
    assert (n_local, n_global) == (39, 9)


def _gemma_3n_text() -> dict:
    import yaml

    from conftest import CONFIGS

    return yaml.safe_load((CONFIGS / "gemma-3n-e4b.values.yaml").read_text())["values"]["text_config"]


@pytest.mark.parametrize("ctx", [4096, 32768])
def test_gemma_3n_shared_kv_layers_hold_nothing(ctx):
    """The last num_kv_shared_layers layers reuse earlier KV: only the first 20 layers cache anything."""
    c = _gemma_3n_text()
    producing = c["layer_types"][: c["num_hidden_layers"] - c["num_kv_shared_layers"]]
    per_layer = c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    expect = (
        producing.count("sliding_attention") * min(ctx, c["sliding_window"]) + producing.count("full_attention") * ctx
    ) * per_layer
    r = kv("gemma-3n-e4b", ctx)
    assert r.total_bytes == expect
    assert r.per_token_bytes_all_layers == len(producing) * per_layer == 20 * 2 * 512 * 2
    assert sum(row.layers for row in r.rows) == c["num_hidden_layers"]
    assert sum(row.layers for row in r.rows if row.bytes == 0) == c["num_kv_shared_layers"]


@pytest.mark.parametrize(
    "name,block,n_linear",
    [
        ("qwen3-next-80b-a3b", "gated_deltanet", lambda c: c["num_hidden_layers"] * 3 // 4),
        ("kimi-linear-48b-a3b", "kda", lambda c: len(c["linear_attn_config"]["kda_layers"])),
        ("nemotron-3-nano-30b-a3b", "mamba2", lambda c: c["hybrid_override_pattern"].count("M")),
    ],
)
def test_conv_kernel_of_one_keeps_no_conv_state(name, block, n_linear):
    """A short convolution of kernel 1 caches no past token (issue 26: it once divided by zero in kvcache and
    serve): only the recurrent state remains, in fp32."""
    c = text(name)
    if block == "gated_deltanet":
        state = c["linear_num_value_heads"] * c["linear_key_head_dim"] * c["linear_value_head_dim"] * 4
    elif block == "kda":
        la = c["linear_attn_config"]
        state = la["num_heads"] * la["head_dim"] * la["head_dim"] * 4
    else:
        state = c["mamba_num_heads"] * c["mamba_head_dim"] * c["ssm_state_size"] * 4
    edit = ["--set", f"{block}.conv_kernel=1"]
    result = CliRunner().invoke(app, ["kvcache", name, "--ctx", "4k", "--format", "json", *edit])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["models"][0]["by_layer_kind"]
    (linear,) = [r for r in rows if "state" in r["kind"]]
    assert linear["bytes"] == n_linear(c) * state
    served = CliRunner().invoke(app, ["serve", name, "--gpus", "8", "--ctx", "4k", "--format", "json", *edit])
    assert served.exit_code == 0, served.output
