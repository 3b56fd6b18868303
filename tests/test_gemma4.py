"""Gemma 4 (issue 19): values that are keys, per-kind geometry and p-RoPE, against the vendored configs.

Expected numbers are arithmetic over the upstream config in each test (or transformers 5.23 built on meta from it,
in tests/test_counts.py), never read back from the spec or the IR.
"""

from __future__ import annotations

import pytest

import llmarch
from conftest import upstream_config
from llmarch.errors import SpecError
from llmarch.kvcache import kv_cache

BF16 = 2


def text(name: str) -> dict:
    return upstream_config(name)["text_config"]


def panel(ir) -> dict[str, str]:
    from llmarch.facts import facts

    return {f.key: f.text for f in facts(ir)}


def kinds(c: dict) -> tuple[int, int]:
    """(sliding, full) layer counts of a config's layer_types."""
    types = c["layer_types"]
    return types.count("sliding_attention"), types.count("full_attention")


def test_31b_kv_by_hand():
    """Local layers cache K and V of num_key_value_heads x head_dim; global layers (attention_k_eq_v) have
    num_global_key_value_heads x global_head_dim and cache K and V apart (V is normed, K normed and rotated),
    while the gallery-style figure counts one tensor there: 840 KiB, the gallery's figure."""
    c = text("gemma-4-31b")
    n_local, n_global = kinds(c)
    assert (n_local, n_global) == (50, 10) and c["attention_k_eq_v"] is True
    local = c["num_key_value_heads"] * c["head_dim"] * 2 * BF16  # K + V
    glob_cached = c["num_global_key_value_heads"] * c["global_head_dim"] * 2 * BF16  # K and V both stored
    glob_gallery = c["num_global_key_value_heads"] * c["global_head_dim"] * BF16  # values = keys: counted once
    ir = llmarch.load("gemma-4-31b")
    ctx = 131072
    r = kv_cache(ir, ctx)
    assert r.per_token_bytes_all_layers == n_local * local + n_global * glob_gallery == 840 * 1024
    window = c["sliding_window"]
    assert r.total_bytes == n_local * local * min(ctx, window) + n_global * glob_cached * ctx
    assert kv_cache(ir, 512).total_bytes == (n_local * local + n_global * glob_cached) * 512


def test_31b_global_geometry_and_p_rope():
    """global_head_dim, num_global_key_value_heads (applied since attention_k_eq_v is true) and proportional RoPE
    on full-attention layers only; sliding layers keep head_dim, num_key_value_heads and plain RoPE."""
    c = text("gemma-4-31b")
    full = c["rope_parameters"]["full_attention"]
    assert full["rope_type"] == "proportional"
    ir = llmarch.load("gemma-4-31b")
    for layer, kind in zip(ir.layers, c["layer_types"]):
        a = layer.attention
        if kind == "full_attention":
            assert (a.head_dim, a.n_kv_heads, a.k_eq_v) == (
                c["global_head_dim"],
                c["num_global_key_value_heads"],
                "k_and_v",
            )
            assert (a.rope.theta, a.rope.frequency_fraction, a.rope.partial) == (
                full["rope_theta"],
                full["partial_rotary_factor"],
                1.0,
            )
        else:
            assert (a.head_dim, a.n_kv_heads, a.k_eq_v, a.window) == (
                c["head_dim"],
                c["num_key_value_heads"],
                None,
                c["sliding_window"],
            )
            assert (a.rope.theta, a.rope.frequency_fraction) == (
                c["rope_parameters"]["sliding_attention"]["rope_theta"],
                1.0,
            )
    facts = panel(ir)
    assert facts["position"] == "local: RoPE; global: p-RoPE (25%)"
    assert facts["heads"] == "local: 32 / 16; global: 32 / 4"
    assert "values = keys" in facts["attention_extras"]


def test_31b_attention_by_hand():
    """Per layer: q (d -> heads x dim), k (d -> KV heads x dim), v only on sliding layers, o back, and the q/k
    norms of one head's width (v_norm has no weight)."""
    c = text("gemma-4-31b")
    d, h = c["hidden_size"], c["num_attention_heads"]
    n_local, n_global = kinds(c)
    local = d * h * c["head_dim"] * 2 + d * c["num_key_value_heads"] * c["head_dim"] * 2 + 2 * c["head_dim"]
    hd = c["global_head_dim"]
    glob = d * h * hd * 2 + d * c["num_global_key_value_heads"] * hd + 2 * hd
    count = llmarch.count_params(llmarch.load("gemma-4-31b"))
    assert count.by_component["attention"] == n_local * local + n_global * glob


SPEC = """name: p-rope
vocab_size: 1000
d_model: 256
n_layers: 2
context_length: 4096
attention:
  n_heads: 4
  n_kv_heads: 2
  head_dim: 64
  rope: {rope}
ffn: {{d_ff: 512}}
"""


def test_p_rope_and_partial_rope_are_refused_together(tmp_path):
    path = tmp_path / "p-rope.yaml"
    path.write_text(SPEC.format(rope="{theta: 10000, partial: 0.5, frequency_fraction: 0.25}"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    message = str(err.value)
    assert "p-rope.yaml" in message and "frequency_fraction" in message and "p-rope.yaml:10:" in message


@pytest.mark.parametrize("value", ["0", "1.5", "true", "'0.25'"])
def test_p_rope_fraction_is_a_fraction(tmp_path, value):
    path = tmp_path / "p-rope.yaml"
    path.write_text(SPEC.format(rope=f"{{theta: 10000, frequency_fraction: {value}}}"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "frequency_fraction" in str(err.value)
