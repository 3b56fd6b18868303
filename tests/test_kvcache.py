"""KV-cache sizes: expectations are arithmetic over the vendored upstream configs, never over specs or the IR."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import llmarch
from conftest import collected_values, has_config, transformers_model, upstream_config
from llmarch.analyze.kvcache import baseline, kv_cache
from llmarch.cli import app
from llmarch.errors import OptionError
from llmarch.units import parse_tokens

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
    """Engines store the DSA indexer's key beside the latent (total); the gallery leaves it out (per token)."""
    c = text("deepseek-v3.2-exp")
    latent = c["kv_lora_rank"] + c["qk_rope_head_dim"]
    engine = c["num_hidden_layers"] * (latent + c["index_head_dim"]) * BF16
    r = kv("deepseek-v3.2-exp")
    assert r.total_bytes == engine * K128
    assert r.per_token_bytes_all_layers == c["num_hidden_layers"] * latent * BF16 == 61 * 576 * 2
    assert round(r.per_token_bytes_all_layers / 1024, 1) == 68.6  # the gallery's DeepSeek V3.2 figure
    assert round(engine / 1024, 1) == 83.9  # what llmarch printed before it followed the gallery


@pytest.mark.parametrize("name", ["glm-5", "glm-5.1"])
def test_glm_5_latent_and_indexer_key(name):
    """Engines store each layer's latent (kv_lora_rank + qk_rope_head_dim) and its indexer's key (index_head_dim);
    with no indexer_types every GLM-5 layer has its own indexer."""
    c = text(name)
    assert "indexer_types" not in c and "index_topk_freq" not in c
    per_token = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"] + c["index_head_dim"]) * BF16
    assert per_token == 78 * (512 + 64 + 128) * 2
    assert kv(name).total_bytes == per_token * K128


@pytest.mark.parametrize("name", ["glm-5", "glm-5.1"])
def test_glm_5_gallery_figure_leaves_the_indexer_key_out(name):
    """The gallery's 87.8 KiB is the latent alone: 78 x (512 + 64) x 2 B = 87.75 KiB, printed rounded half up."""
    c = text(name)
    per_token = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * BF16
    assert per_token == 78 * 576 * 2 == 89_856
    assert kv(name).per_token_bytes_all_layers == per_token
    assert f"{per_token / 1024:.2f}" == "87.75"


@pytest.mark.parametrize(
    "name,values,per_token_kib",
    [
        ("qwen3-coder-30b-a3b", False, 48 * 4 * 2 * 128 * 2 / 1024),  # the gallery's Qwen3 Coder Flash: 96 KiB
        ("minimax-m2.5", True, 62 * 8 * 2 * 128 * 2 / 1024),  # the gallery's MiniMax-M2.5: 248 KiB
        ("glm-4.7", True, 92 * 8 * 2 * 128 * 2 / 1024),  # the gallery's GLM-4.7: 368 KiB
    ],
)
def test_2026_gqa_specs(name, values, per_token_kib):
    """Every layer full attention: layers x KV heads x (K + V) x head_dim, from the config (or, with no verbatim
    config, its collected values). GLM-4.7's num_hidden_layers (92) leaves its MTP layer out, as the gallery does."""
    c = collected_values(name) if values else text(name)
    assert not has_config(name) if values else has_config(name)
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    assert per_token == per_token_kib * 1024
    for ctx in (4096, K128):
        r = kv(name, ctx)
        assert r.per_token_bytes_all_layers == per_token
        assert r.total_bytes == per_token * ctx


def test_mistral_small_4_mla_latent():
    """Mistral Small 4 (collected values, no verbatim config): each of its 36 MLA layers caches the latent
    (kv_lora_rank) and the rotary key (qk_rope_head_dim); the gallery's 22.5 KiB."""
    c = collected_values("mistral-small-4-119b")["text_config"]
    assert not has_config("mistral-small-4-119b")
    per_token = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * BF16
    assert per_token == 36 * (256 + 64) * 2 == 22.5 * 1024
    for ctx in (4096, K128):
        r = kv("mistral-small-4-119b", ctx)
        assert r.per_token_bytes_all_layers == per_token
        assert r.total_bytes == per_token * ctx


@pytest.mark.parametrize("ctx", [4096, K128])
def test_longcat_flash_lite_two_mla_sublayers_per_layer(ctx):
    """LongCat-Flash-Lite (collected values): each of num_layers (14) decoder layers holds two MLA sublayers, each
    caching its latent (kv_lora_rank 512) and the shared RoPE key (64), as transformers' cache layers do
    (layer_idx 2i and 2i + 1): 28 x 576 elements per token.  The gallery's 63 KiB is 56 x 576 x 2 B: it reads
    "28 logical layers / 56 MLA sublayers", twice the config's; the spec documents the difference."""
    c = collected_values("longcat-flash-lite")
    per_token = 2 * c["num_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * BF16
    assert per_token == 28 * 576 * 2 == 31.5 * 1024
    assert 56 * 576 * 2 == 63 * 1024
    r = kv("longcat-flash-lite", ctx)
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * ctx


@pytest.mark.parametrize("ctx", [4096, K128])
def test_step_3_5_flash_sliding_and_per_kind_heads(ctx):
    """Step 3.5 Flash (collected values, no verbatim config): 8 KV heads of 128 on every layer (query heads differ
    per kind, KV heads do not); full-attention layers where layer_types says so (every 4th), the others hold the
    512-token window. layer_types lists 48 kinds: the 45 layers and the 3 MTP layers, which the gallery counts."""
    c = collected_values("step-3.5-flash")
    assert not has_config("step-3.5-flash")
    n = c["num_hidden_layers"]
    kinds = c["layer_types"][:n]
    other = c["attention_other_setting"]
    assert other["num_attention_groups"] == c["num_attention_groups"] and other["head_dim"] == c["head_dim"]
    per_layer = c["num_attention_groups"] * 2 * c["head_dim"] * BF16
    n_global, n_local = kinds.count("full_attention"), kinds.count("sliding_attention")
    assert (n_global, n_local) == (12, 33)
    r = kv("step-3.5-flash", ctx)
    assert r.per_token_bytes_all_layers == n * per_layer == 180 * 1024  # the model's layers, windows ignored
    assert len(c["layer_types"]) * per_layer == 192 * 1024  # the gallery's figure: MTP layers included
    assert r.total_bytes == (n_global * ctx + n_local * min(ctx, c["sliding_window"])) * per_layer


def test_kimi_k25_latent_inside_its_wrapper():
    """Kimi K2.5's config wraps Kimi K2's text model (text_config): MLA's latent and rotary key per layer."""
    c = text("kimi-k2.5")
    assert upstream_config("kimi-k2.5")["model_type"] == "kimi_k25"
    per_token = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * BF16
    assert per_token == 61 * 576 * 2  # the gallery's Kimi K2.5: 68.6 KiB
    r = kv("kimi-k2.5")
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


def test_hy3_preview_gqa():
    """No verbatim config: the arithmetic reads the collected values (tests/data/configs/hy3-preview.values.yaml)."""
    import yaml

    from conftest import CONFIGS

    c = yaml.safe_load((CONFIGS / "hy3-preview.values.yaml").read_text())["values"]
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    assert per_token == 80 * 8 * 256 * 2
    r = kv("hy3-preview")
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


def test_phi_4_gqa():
    """No verbatim config: the arithmetic reads the collected values (tests/data/configs/phi-4.values.yaml)."""
    import yaml

    from conftest import CONFIGS

    c = yaml.safe_load((CONFIGS / "phi-4.values.yaml").read_text())["values"]
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * head_dim * BF16
    assert per_token == 40 * 10 * (128 + 128) * 2 == 200 * 1024  # the gallery's 200 KiB
    r = kv("phi-4", c["max_position_embeddings"])
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * 16384


def test_nanbeige_4_1_3b_gqa():
    """No verbatim config: the arithmetic reads the collected values (tests/data/configs/nanbeige-4.1-3b.values.yaml)."""
    import yaml

    from conftest import CONFIGS

    c = yaml.safe_load((CONFIGS / "nanbeige-4.1-3b.values.yaml").read_text())["values"]
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    assert per_token == 32 * 4 * (128 + 128) * 2 == 64 * 1024  # the gallery's 64 KiB
    r = kv("nanbeige-4.1-3b")
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


def test_intellect_3_gqa():
    """No verbatim config: the arithmetic reads the collected values (tests/data/configs/intellect-3.values.yaml)."""
    c = collected_values("intellect-3")
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    assert per_token == 46 * 8 * (128 + 128) * 2 == 184 * 1024  # the gallery's 184 KiB
    r = kv("intellect-3")
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


def test_sarvam_30b_gqa():
    """No verbatim config: the arithmetic reads the collected values (tests/data/configs/sarvam-30b.values.yaml)."""
    c = collected_values("sarvam-30b")
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    assert per_token == 19 * 4 * (64 + 64) * 2 == 19 * 1024  # the gallery's 19 KiB
    r = kv("sarvam-30b")
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


def test_sarvam_105b_mla_latent():
    """No verbatim config: the arithmetic reads the collected values (tests/data/configs/sarvam-105b.values.yaml)."""
    c = collected_values("sarvam-105b")
    per_token = c["num_hidden_layers"] * (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * BF16
    assert per_token == 32 * (512 + 64) * 2 == 36 * 1024  # the gallery's 36 KiB
    r = kv("sarvam-105b")
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


def test_granite_4_1_30b_gqa():
    """No verbatim config: the arithmetic reads the collected values (tests/data/configs/granite-4.1-30b.values.yaml)."""
    import yaml

    from conftest import CONFIGS

    c = yaml.safe_load((CONFIGS / "granite-4.1-30b.values.yaml").read_text())["values"]
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    per_token = c["num_hidden_layers"] * c["num_key_value_heads"] * 2 * head_dim * BF16
    assert per_token == 64 * 8 * (128 + 128) * 2 == 256 * 1024  # the gallery's 256 KiB
    r = kv("granite-4.1-30b")
    assert r.per_token_bytes_all_layers == per_token
    assert r.total_bytes == per_token * K128


@pytest.mark.parametrize("ctx", [300, 4096, K128])
def test_laguna_xs2_sliding_and_per_layer_heads(ctx):
    """Per-layer query-head counts change no cache (8 KV heads everywhere); sliding layers hold the window."""
    c = text("laguna-xs.2")
    per_layer = c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    n_local = c["layer_types"].count("sliding_attention")
    n_global = c["layer_types"].count("full_attention")
    assert (n_local, n_global) == (30, 10)
    assert kv("laguna-xs.2", ctx).per_token_bytes_all_layers == (n_local + n_global) * per_layer  # windows ignored
    expect = (n_local * min(ctx, c["sliding_window"]) + n_global * ctx) * per_layer
    assert kv("laguna-xs.2", ctx).total_bytes == expect
    assert kv("laguna-xs.2", ctx, kv_dtype="fp8").total_bytes == expect // 2  # its kv_cache_scheme: 8 bits


@pytest.mark.parametrize("ctx", [300, 4096, K128])
def test_trinity_large_sliding_and_nope_layers(ctx):
    """Arithmetic over the collected values (no verbatim config): every fourth layer global (NoPE), the others
    sliding with a 4,096 window; 8 KV heads x 128 everywhere. The gallery counts all 60 layers, windows ignored."""
    c = collected_values("trinity-large")
    n = c["num_hidden_layers"]
    n_global = sum(1 for i in range(n) if (i + 1) % c["global_attn_every_n_layers"] == 0)  # AfmoeConfig's rule
    n_local = n - n_global
    assert (n_local, n_global) == (45, 15)  # the gallery's "45 sliding-window + 15 global"
    per_layer = c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    assert kv("trinity-large", ctx).per_token_bytes_all_layers == n * per_layer == 240 * 1024  # the gallery's 240 KiB
    expect = (n_local * min(ctx, c["sliding_window"]) + n_global * ctx) * per_layer
    assert kv("trinity-large", ctx).total_bytes == expect


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
    assert state + conv == 2_146_304  # vLLM's Gated DeltaNet page for this model (docs/sources/kv-engines.md)
    r = kv("qwen3-next-80b-a3b")
    assert r.total_bytes == attn * K128 + n_linear * (state + conv)
    assert r.per_token_bytes_all_layers == attn == 24 * 1024  # gallery: 24 KiB


@pytest.mark.parametrize(
    "name,per_token_kib",
    [
        ("qwen3.5-397b-a17b", 15 * 2 * 2 * 256 * 2 / 1024),
        ("qwen3.6-35b-a3b", 10 * 2 * 2 * 256 * 2 / 1024),
        ("qwen3.6-27b", 16 * 4 * 2 * 256 * 2 / 1024),
        ("qwen3.5-122b-a10b", 12 * 2 * 2 * 256 * 2 / 1024),  # no gallery row: 12 layers x 2 KV heads x 256, K and V
    ],
)
def test_qwen3_5_hybrid_linear_state(name, per_token_kib):
    """Qwen3.5 / 3.6: the layer_types list decides which layers cache keys and values (full attention) and which
    hold a Gated DeltaNet state; Qwen3.6-35B-A3B's config is the collected values."""
    c = text(name) if has_config(name) else collected_values(name)["text_config"]
    n_full, n_linear = c["layer_types"].count("full_attention"), c["layer_types"].count("linear_attention")
    assert n_full + n_linear == c["num_hidden_layers"]
    attn = n_full * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    key_dim = c["linear_num_key_heads"] * c["linear_key_head_dim"]
    value_dim = c["linear_num_value_heads"] * c["linear_value_head_dim"]
    state = c["linear_num_value_heads"] * c["linear_key_head_dim"] * c["linear_value_head_dim"] * 4  # fp32
    conv = (c["linear_conv_kernel_dim"] - 1) * (2 * key_dim + value_dim) * BF16
    for ctx in (4096, K128):
        r = kv(name, ctx)
        assert r.total_bytes == attn * ctx + n_linear * (state + conv)
    assert r.per_token_bytes_all_layers == attn == per_token_kib * 1024


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


@pytest.mark.parametrize("name,per_token_kib", [("nemotron-3-nano-30b-a3b", 6), ("nemotron-3-super-120b-a12b", 8)])
def test_nemotron_mamba_state(name, per_token_kib):
    c = text(name)
    pattern = c["hybrid_override_pattern"]
    n_attn, n_mamba = pattern.count("*"), pattern.count("M")
    attn = n_attn * c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    inner = c["mamba_num_heads"] * c["mamba_head_dim"]
    state = c["mamba_num_heads"] * c["mamba_head_dim"] * c["ssm_state_size"] * 4
    conv = (c["conv_kernel"] - 1) * (inner + 2 * c["n_groups"] * c["ssm_state_size"]) * BF16
    r = kv(name)
    assert r.total_bytes == attn * K128 + n_mamba * (state + conv)
    assert r.per_token_bytes_all_layers == attn == per_token_kib * 1024  # the gallery's 6 KiB (Nano), 8 KiB (Super)


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

    from llmarch.render.output_schema import OUTPUT_SCHEMA

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
    window = (
        c["sliding_window_size"] + 1
    )  # 128 earlier tokens + the query (test_mimo_window_counts_earlier_tokens_only)
    assert r.total_bytes == n_local * local * window + n_global * glob * K128
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


# The LLM Architecture Gallery's fact sheet, vendored verbatim (tests/data/gallery/source.yaml): each shipped
# spec it lists carries the gallery's KV figure as a reference, checked to its printed precision.
GALLERY = Path(__file__).parent / "data" / "gallery"
GALLERY_URL = "https://sebastianraschka.com/llm-architecture-gallery/"
GALLERY_TITLES = {
    "gpt2-xl": "GPT-2 XL (1.5B)",
    "llama-3-8b": "Llama 3 (8B)",
    "llama-3.2-1b": "Llama 3.2 (1B)",
    "llama-3.2-3b": "Llama 3.2 (3B)",
    "olmo-2-7b": "OLMo 2 (7B)",
    "deepseek-v3": "DeepSeek V3 (671B)",
    "deepseek-r1": "DeepSeek R1 (671B)",
    "gemma-3-27b": "Gemma 3 (27B)",
    "mistral-small-3.1-24b": "Mistral Small 3.1 (24B)",
    "llama-4-maverick": "Llama 4 Maverick (400B)",
    "qwen3-0.6b": "Qwen3 (0.6B)",
    "qwen3-235b-a22b": "Qwen3 (235B-A22B)",
    "qwen3-30b-a3b": "Qwen3 (30B-A3B)",
    "qwen3-32b": "Qwen3 (32B)",
    "qwen3-4b": "Qwen3 (4B)",
    "qwen3-8b": "Qwen3 (8B)",
    "smollm3-3b": "SmolLM3 (3B)",
    "kimi-k2": "Kimi K2 (1T)",
    "glm-4.5": "GLM-4.5 (355B)",
    "glm-4.5-air": "GLM-4.5-Air (106B)",
    "gpt-oss-120b": "GPT-OSS (120B)",
    "gpt-oss-20b": "GPT-OSS (20B)",
    "grok-2.5": "Grok 2.5 (270B)",
    "qwen3-next-80b-a3b": "Qwen3 Next (80B-A3B)",
    "minimax-m2": "MiniMax M2 (230B)",
    "kimi-linear-48b-a3b": "Kimi Linear (48B-A3B)",
    "olmo-3-32b": "OLMo 3 (32B)",
    "olmo-3-7b": "OLMo 3 (7B)",
    "deepseek-v3.2-exp": "DeepSeek V3.2 (671B)",  # the gallery lists V3.2; same attention and layers
    "mistral-large-3": "Mistral Large 3 (673B)",
    "nemotron-3-nano-30b-a3b": "Nemotron 3 Nano (30B-A3B)",
    "nemotron-3-super-120b-a12b": "Nemotron 3 Super (120B-A12B)",
    "mimo-v2-flash": "Xiaomi MiMo-V2-Flash (309B)",
    "qwen3-coder-30b-a3b": "Qwen3 Coder Flash (30B-A3B)",
    "kimi-k2.5": "Kimi K2.5 (1T)",
    "minimax-m2.5": "MiniMax-M2.5 (230B)",
    "glm-4.7": "GLM-4.7 (355B)",
    "minimax-m2.7": "MiniMax M2.7 (230B)",
    "kimi-k2.6": "Kimi K2.6 (1T)",
    "gemma-3-270m": "Gemma 3 (270M)",
    "nemotron-3-nano-4b": "Nemotron 3 Nano (4B)",
    "glm-5": "GLM-5 (744B)",
    "glm-5.1": "GLM-5.1 (744B)",
    "qwen3.5-397b-a17b": "Qwen3.5 (397B)",
    "qwen3.6-35b-a3b": "Qwen3.6 (35B-A3B)",
    "qwen3.6-27b": "Qwen3.6 (27B)",
    "hy3-preview": "Tencent Hy3-preview (295B-A21B)",
    "laguna-xs.2": "Laguna XS.2 (33B)",
    "trinity-large": "Arcee AI Trinity Large (400B)",
    "phi-4": "Phi-4 (14B)",
    "nanbeige-4.1-3b": "Nanbeige 4.1 (3B)",
    "granite-4.1-30b": "Granite 4.1 (30B)",
    "intellect-3": "INTELLECT-3 (106B)",
    "sarvam-30b": "Sarvam (30B)",
    "sarvam-105b": "Sarvam (105B)",
    "mimo-v2.5": "Xiaomi MiMo-V2.5 (310B)",
    "mistral-small-4-119b": "Mistral Small 4 (119B)",
    "step-3.5-flash": "Step 3.5 Flash (196B)",
    "zaya1-8b": "ZAYA1-8B (8.4B)",
    "tiny-aya": "Tiny Aya (3.35B)",
    "command-a-plus": "Command A+ (218B-A25B)",
    "xlstm-7b": "xLSTM (7B)",
    "deepseek-v4-flash": "DeepSeek V4-Flash (284B)",
    "deepseek-v4-pro": "DeepSeek V4-Pro (1.6T)",
    "gemma-4-26b-a4b": "Gemma 4 (26B-A4B)",
    "gemma-4-31b": "Gemma 4 (31B)",
    "gemma-4-e2b": "Gemma 4 (E2B)",  # the config's 18 KiB against the gallery's 35 KiB, documented in the spec
    "gemma-4-e4b": "Gemma 4 (E4B)",  # the config's 56 KiB against the gallery's 84 KiB, documented in the spec
    "longcat-flash-lite": "LongCat-Flash-Lite (68.5B-A3B)",
    "mimo-v2.5-pro": "Xiaomi MiMo-V2.5-Pro (1.02T)",  # 70 layers x 8 KV heads x (192 + 128) x 2 B, as the config
}


# Every other gallery row, audited by hand: no shipped spec is that model (issue 23 allows at most two; both wait for
# a config.json, see llmarch/gallery.py). A spec added for one of them moves its title to GALLERY_TITLES with a
# kv_per_token.
GALLERY_NOT_SHIPPED = {
    "Ling 2.5 (1T)",
    "Ling 2.6 (1T)",
}  # fmt: skip


def gallery_rows() -> dict[str, dict]:
    import csv

    with (GALLERY / "llm-list.tsv").open(encoding="utf-8", newline="") as f:
        return {row["title"]: row for row in csv.DictReader(f, delimiter="\t")}


def gallery_kv(title: str) -> str:
    """'68.6 KiB · Low' -> '68.6 KiB' (the figure, without the gallery's size class)."""
    return gallery_rows()[title]["KV cache / token (bf16) info"].split(" · ")[0]


def kv_checks(name: str) -> list:
    from llmarch.analyze.reference import check_references

    ir = llmarch.load(name)
    return [c for c in check_references(ir, llmarch.count_params(ir)) if c.key == "kv_per_token"]


def test_gallery_fact_sheet_is_the_pinned_copy():
    import hashlib

    import yaml

    source = yaml.safe_load((GALLERY / "source.yaml").read_text())
    data = (GALLERY / source["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == source["sha256"]
    assert "@" in source["copy_found_at"] and len(source["copy_found_at"].split("@")[1]) == 40
    assert len(gallery_rows()) == 72  # the gallery's model count at that commit


@pytest.mark.parametrize("name", sorted(GALLERY_TITLES))
def test_gallery_kv_reference(name):
    (check,) = kv_checks(name)
    assert check.published == gallery_kv(GALLERY_TITLES[name])
    assert check.reference.source == GALLERY_URL
    assert GALLERY_TITLES[name] in check.reference.note
    assert check.ok, f"{name}: computed {check.computed:,} B vs the gallery's {check.published}"


def test_every_gallery_row_is_a_shipped_spec_or_audited():
    titles = list(GALLERY_TITLES.values())
    assert len(set(titles)) == len(titles)
    assert set(titles).isdisjoint(GALLERY_NOT_SHIPPED)
    assert set(titles) | GALLERY_NOT_SHIPPED == set(gallery_rows())


def test_unsourced_notes_name_unshipped_gallery_rows():
    """docs/gallery.md's notes on models left out for want of sources name gallery rows that no spec ships."""
    from llmarch.gallery import NOT_SHIPPED_UNSOURCED

    assert NOT_SHIPPED_UNSOURCED and set(NOT_SHIPPED_UNSOURCED) <= GALLERY_NOT_SHIPPED


def test_every_unshipped_gallery_row_says_where_its_config_was_searched():
    """Issue 23's done-when: every gallery model ships except at most two, each listed in docs/gallery.md with the
    places searched for its config (generated from llmarch/gallery.py; test_article checks the file is current)."""
    from llmarch.gallery import NOT_SHIPPED, NOT_SHIPPED_UNSOURCED

    assert len(GALLERY_NOT_SHIPPED) <= 2
    assert set(NOT_SHIPPED) == set(NOT_SHIPPED_UNSOURCED) == GALLERY_NOT_SHIPPED
    docs = (Path(__file__).resolve().parent.parent / "docs" / "gallery.md").read_text()
    for title in GALLERY_NOT_SHIPPED:
        assert "Searched" in NOT_SHIPPED_UNSOURCED[title] and "config.json" in NOT_SHIPPED_UNSOURCED[title]
        assert f"**{title}, not shipped.**" in docs and f"- **{title}**:" in docs


def test_every_kv_reference_is_a_gallery_row():
    from conftest import SPEC_NAMES

    assert {name for name in SPEC_NAMES if kv_checks(name)} == set(GALLERY_TITLES)


def test_gallery_kv_precision():
    """A figure holds within half a unit of its last printed digit: 68.6 KiB is 68.55..68.65 KiB."""
    (check,) = kv_checks("deepseek-v3")
    assert check.computed == 61 * (512 + 64) * 2 == 70_272  # 68.625 KiB
    assert check.tolerance == Decimal(1024) / 10 / 2  # 51.2 bytes exactly
    from dataclasses import replace

    assert not replace(check, published_value=Decimal("68.7") * 1024).ok
    assert not replace(check, computed=70_272 + 52).ok
    assert replace(check, computed=70_272 - 51).ok


def test_mimo_documented_kv_disagreement():
    """The gallery's 144 KiB = 48 x 4 x (192 + 192) x 2 B; the config's per-kind heads and V dim 128 give
    217.5 KiB. The check holds while the spec's documented figure is what llmarch computes and the gallery's
    is not; it fails once either side changes."""
    import yaml

    from conftest import CONFIGS

    c = yaml.safe_load((CONFIGS / "mimo-v2-flash.values.yaml").read_text())["values"]
    assert gallery_kv(GALLERY_TITLES["mimo-v2-flash"]) == "144 KiB" == f"{48 * 4 * (192 + 192) * 2 // 1024} KiB"
    pattern = c["hybrid_layer_pattern"]
    config = (
        pattern.count(1) * c["swa_num_key_value_heads"] * (c["swa_head_dim"] + c["swa_v_head_dim"])
        + pattern.count(0) * c["num_key_value_heads"] * (c["head_dim"] + c["v_head_dim"])
    ) * BF16
    (check,) = kv_checks("mimo-v2-flash")
    assert check.computed == config == 222_720
    assert check.documented == "217.5 KiB" == f"{config / 1024} KiB"
    assert check.ok and not check.matches_published
    from dataclasses import replace

    assert not replace(check, computed=144 * 1024).ok  # agreeing with the gallery would need the note removed
    assert not replace(check, documented="200 KiB").ok


def test_mimo_v2_5_documented_kv_disagreement():
    """MiMo-V2.5 keeps MiMo-V2-Flash's attention; the gallery applies the same 48 x 4 x (192 + 192) x 2 B."""
    c = upstream_config("mimo-v2.5")
    assert gallery_kv(GALLERY_TITLES["mimo-v2.5"]) == "144 KiB" == f"{48 * 4 * (192 + 192) * 2 // 1024} KiB"
    pattern = c["hybrid_layer_pattern"]
    assert (pattern.count(1), pattern.count(0)) == (39, 9)
    local = c["swa_num_key_value_heads"] * (c["swa_head_dim"] + c["swa_v_head_dim"]) * BF16
    glob = c["num_key_value_heads"] * (c["head_dim"] + c["v_head_dim"]) * BF16
    (check,) = kv_checks("mimo-v2.5")
    assert check.computed == 39 * local + 9 * glob == 222_720
    assert check.documented == "217.5 KiB" and check.ok and not check.matches_published
    r = kv("mimo-v2.5", ctx=c["max_position_embeddings"])
    window = c["sliding_window_size"] + 1  # 128 earlier tokens + the query, as MiMo-V2-Flash
    assert r.total_bytes == 39 * local * window + 9 * glob * c["max_position_embeddings"]


def test_mimo_v2_5_pro_kv_equals_the_gallery():
    """MiMo-V2.5-Pro has 8 KV heads on its global and its sliding layers alike (num_key_value_heads and
    swa_num_key_value_heads), so the gallery's every-layer figure is the config's: 70 x 8 x (192 + 128) x 2 B."""
    c = upstream_config("mimo-v2.5-pro")
    assert gallery_kv(GALLERY_TITLES["mimo-v2.5-pro"]) == "350 KiB" == f"{70 * 8 * (192 + 128) * 2 // 1024} KiB"
    pattern = c["hybrid_layer_pattern"]
    assert (pattern.count(1), pattern.count(0)) == (60, 10)
    local = c["swa_num_key_value_heads"] * (c["swa_head_dim"] + c["swa_v_head_dim"]) * BF16
    glob = c["num_key_value_heads"] * (c["head_dim"] + c["v_head_dim"]) * BF16
    (check,) = kv_checks("mimo-v2.5-pro")
    assert check.computed == 60 * local + 10 * glob == 358_400 and check.ok and check.matches_published
    r = kv("mimo-v2.5-pro", ctx=c["max_position_embeddings"])
    window = c["sliding_window_size"] + 1  # 128 earlier tokens + the query, as MiMo-V2-Flash
    assert r.total_bytes == 60 * local * window + 10 * glob * c["max_position_embeddings"]


def test_show_prints_the_kv_reference():
    result = CliRunner().invoke(app, ["show", "deepseek-v3.2-exp", "--format", "json"])
    assert result.exit_code == 0, result.output
    (ref,) = [r for r in json.loads(result.output)["models"][0]["references"] if r["figure"] == "kv_per_token"]
    assert (ref["published"], ref["computed"], ref["ok"]) == ("68.6 KiB", 61 * 576 * 2, True)
    table = CliRunner().invoke(app, ["--no-color", "show", "mimo-v2-flash"], env={"COLUMNS": "250"}).output
    assert "differs (config: 217.5 KiB)" in table


# Window semantics per family. transformers 5.23 masks a sliding-window layer with `kv > q - sliding_window`
# (masking_utils.sliding_window_overlay) on every shipped family (Gemma 3, Gemma 3n, gpt-oss, Mistral, OLMo 3, Laguna,
# MiMo-V2-Flash, Step 3.5's step3p7), so a query attends `sliding_window` keys, itself included; MiMo-V2-Flash's
# config class turns the hub's sliding_window_size (earlier tokens only) into sliding_window = size + 1. Llama 4's
# chunked layers (chunked_overlay) attend at most `attention_chunk_size` keys. llmarch must cache and attend exactly
# that.
def reference_text_config(name: str):
    """transformers' text config of a shipped spec, built by its config class from the vendored config."""
    import yaml
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    from conftest import CONFIGS, has_config

    if has_config(name):
        raw = upstream_config(name)
    else:
        raw = yaml.safe_load((CONFIGS / f"{name}.values.yaml").read_text())["values"]
    # transformers implements Xiaomi's mimo_v2 (MiMo-V2.5) as mimo_v2_flash
    model_type = {"mimo_v2": "mimo_v2_flash"}.get(raw["model_type"], raw["model_type"])
    cfg = CONFIG_MAPPING[model_type](**{k: v for k, v in raw.items() if k != "model_type"})
    return cfg.get_text_config()


def keys_seen(mask_function, q: int) -> int:
    import torch

    return int(mask_function(0, 0, torch.tensor(q), torch.arange(q + 1)).sum())


WINDOWED = ["gemma-3-1b", "gemma-3-4b", "gemma-3-12b", "gemma-3-27b", "gemma-3n-e4b", "gpt-oss-20b"]
WINDOWED += ["gpt-oss-120b", "mistral-7b", "olmo-3-7b", "olmo-3-32b", "mimo-v2-flash", "laguna-xs.2"]
WINDOWED += ["gemma-3-270m"]  # its values file, as Gemma 3 1B: window 512
WINDOWED += ["mimo-v2.5"]  # its config, as MiMo-V2-Flash: 128 earlier tokens + the query
WINDOWED += ["mimo-v2.5-pro"]  # its config, as MiMo-V2.5
WINDOWED += ["step-3.5-flash"]  # its values file; transformers' step3p7 masks as every family above
WINDOWED += ["tiny-aya", "command-a-plus"]  # their values files: Cohere's 4,096-token window (cohere2, cohere2_moe)


# DeepSeek V4's window (every layer) is checked in tests/test_deepseek_v4.py: it attends `sliding_window` keys
# as the others do, but its cache keeps the window's last sliding_window - 1 tokens, as issue 20 defines it
COMPRESSED_WINDOWED = ["deepseek-v4-flash", "deepseek-v4-pro"]
WINDOWED += ["gemma-4-31b", "gemma-4-e2b", "gemma-4-26b-a4b", "gemma-4-e4b"]  # text causal ("vision" or null)
WINDOWED += ["trinity-large"]  # its values file: window 4096 on three layers of four


def test_every_windowed_spec_is_checked_against_its_family():
    from conftest import SPEC_NAMES

    windowed = {n for n in SPEC_NAMES if any(l.attention and l.attention.window for l in llmarch.load(n).layers)}
    assert windowed == set(WINDOWED) | set(COMPRESSED_WINDOWED)
    chunked = {n for n in SPEC_NAMES if any(l.attention and l.attention.chunk for l in llmarch.load(n).layers)}
    assert chunked == {"llama-4-maverick", "llama-4-scout"}


@pytest.mark.parametrize("name", WINDOWED)
def test_window_holds_what_transformers_attends(name):
    from transformers.masking_utils import sliding_window_causal_mask_function

    from llmarch.mechanisms.attention import keys_seen as attention_keys

    cfg = reference_text_config(name)
    keys = keys_seen(sliding_window_causal_mask_function(cfg.sliding_window), q=3 * cfg.sliding_window)
    assert keys == cfg.sliding_window  # the query and sliding_window - 1 earlier tokens
    ir = llmarch.load(name)
    local = [l.attention for l in ir.layers if l.attention is not None and l.attention.window]
    assert local and all(a.window_keys == keys for a in local)
    assert all(attention_keys(a, K128) == keys for a in local)
    rows = [r for r in kv(name).rows if r.kind.split(" x ")[1].startswith("local(")]
    assert rows and all(r.tokens_cached == keys for r in rows)
    assert kv(name, ctx=keys - 1).rows[0].tokens_cached == keys - 1  # never more than the context


def test_mimo_window_counts_earlier_tokens_only():
    """The hub config's sliding_window_size 128 means 128 earlier tokens + the query: 129 keys."""
    import yaml

    from conftest import CONFIGS

    c = yaml.safe_load((CONFIGS / "mimo-v2-flash.values.yaml").read_text())["values"]
    assert reference_text_config("mimo-v2-flash").sliding_window == c["sliding_window_size"] + 1 == 129
    (a,) = {l.attention for l in llmarch.load("mimo-v2-flash").layers if l.attention.window}
    assert (a.window, a.window_excludes_query, a.window_keys) == (128, True, 129)


@pytest.mark.parametrize("name", ["llama-4-maverick", "llama-4-scout"])
def test_chunk_holds_what_transformers_attends(name):
    import torch
    from transformers.masking_utils import chunked_causal_mask_function

    cfg = reference_text_config(name)
    chunk = cfg.attention_chunk_size
    mask = chunked_causal_mask_function(chunk, torch.zeros(1, dtype=torch.long))
    assert max(keys_seen(mask, q) for q in (chunk - 2, chunk - 1, chunk, 2 * chunk - 1)) == chunk
    assert keys_seen(mask, chunk) == 1  # a chunk's first token sees only itself
    rows = [r for r in kv(name).rows if "chunked(" in r.kind]
    assert rows and all(r.tokens_cached == chunk for r in rows)


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


def test_kv_command_is_the_answer_the_cli_prints_and_the_table_reads_only_it():
    """One path: `kv_report.kv_command` gives the typed answer; the CLI's JSON is its `as_dict()` and the table
    is drawn from the answer alone (the what-if's edits and the context as written included)."""
    from llmarch.kv_report import kv_command
    from llmarch.render.doc import to_markdown
    from llmarch.render.kv import kv_doc

    irs = [llmarch.load("qwen3-8b"), llmarch.load("qwen3-8b[n_layers=40]")]
    answer = kv_command(irs, 1024, 2, sweep=[1024, 2048], ctx_text="1k")
    # qwen3-8b (config literals): 36 layers x 8 KV heads x (128 + 128) x 2 bytes per token, 1,024 tokens, batch 2
    per_token = 8 * (128 + 128) * BF16
    assert [r.total_bytes for r in answer.results] == [2 * 36 * per_token * 1024, 2 * 40 * per_token * 1024]
    assert [r.sweep[1]["total_bytes"] for r in answer.results] == [2 * 36 * per_token * 2048, 2 * 40 * per_token * 2048]
    assert answer.names[1]["edits"] == {"n_layers": 40} and answer.plot == []
    cli = CliRunner().invoke(
        app,
        [
            "kvcache",
            "qwen3-8b",
            "qwen3-8b[n_layers=40]",
            "--ctx",
            "1k",
            "--batch",
            "2",
            "--sweep",
            "1k,2k",
            "-f",
            "json",
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output) == answer.as_dict()
    table = to_markdown(kv_doc(answer))
    assert "### Qwen3 8B (n_layers=40): KV cache at 1k (1,024) tokens (batch 2," in table
    assert "| 40 x global GQA 8 KV x 128 | 4.000 KiB | 1,024 | — | 320.0 MiB |" in table  # 40 x 4 KiB x 1k x 2


def test_the_smallest_cache_is_said_in_words_when_piped():
    """Issue 24: the side-by-side total names the smallest cache in plain text, not by colour alone.
    At 8k: Qwen3 8B 36 x 2 x 8 x 128 x 2 B x 8,192 = 1,207,959,552 B (1.125 GiB); Llama 3 8B 32 layers:
    32 x 2 x 8 x 128 x 2 x 8,192 = 1,073,741,824 B (1.000 GiB), the smaller."""
    result = CliRunner().invoke(app, ["--no-color", "kvcache", "qwen3-8b", "llama-3-8b", "--ctx", "8k"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    side = lines[next(i for i, line in enumerate(lines) if line.startswith("Side by side")) :]
    total = next(line for line in side if line.strip().startswith("total"))
    assert total.split()[1:] == ["1.125", "GiB", "1.000", "GiB", "(smallest)"]
    assert "highlighted: the smallest cache" not in result.stdout
