"""Lightning attention (Ling 2.5, Ling 2.6): the weight table, the state, the FLOPs and the words, by hand
from the publisher's code (inclusionAI/Ring-V2.5 models/modeling_bailing_moe_v2_5.py, whose
`BailingMoeV2_5LinearAttention` is excerpted in docs/sources/ling-2.5-lightning.md).

transformers has no class for this family (its `bailing_hybrid` is Ling 3.0's KDA + MLA model) and the
publisher's module imports flash-linear-attention's kernels at import time, so the counts below are
written out from its `__init__` rather than built from it.
"""

from __future__ import annotations

import pytest

import llmarch
from llmarch import flops
from llmarch.errors import SpecError
from llmarch.flop_counters import count_fvcore, count_torch
from llmarch.kvcache import kv_cache
from llmarch.mechanisms.layers import layer_mixer, layer_weights

# Ling 2.5's layout at a small size: MLA on every 4th layer (layer_group_size 4), Lightning elsewhere
SPEC = """name: ling-small
vocab_size: 1000
d_model: 256
n_layers: 8
context_length: 4096
attention:
  kind: mla
  n_heads: 4
  q_lora_rank: null
  kv_lora_rank: 64
  qk_nope_head_dim: 32
  qk_rope_head_dim: 16
  v_head_dim: 32
  rope: {theta: 600000}
lightning: {n_heads: 4, head_dim: 64, norm_groups: 4}
ffn: {d_ff: 512}
moe: {n_experts: 8, top_k: 2, d_expert: 64, n_shared_experts: 1, d_shared: 64, score_correction_bias: true}
layers:
  mixer: TTTGTTTG
  ffn: E
  dense_prefix: 1
"""


@pytest.fixture
def ir(tmp_path):
    path = tmp_path / "ling-small.yaml"
    path.write_text(SPEC)
    return llmarch.load(str(path))


def test_weights_by_hand_from_the_publishers_init(ir):
    """BailingMoeV2_5LinearAttention.__init__ with hidden 256, 4 heads of 64 (key/value heads forced to the
    query heads), use_qk_norm, no biases: query_key_value 256 -> (4 + 2 x 4) x 64, query_layernorm and
    key_layernorm of head_dim 64, g_proj 256 -> 4 x 64, g_norm (a GroupRMSNorm) of 4 x 64, dense 4 x 64 -> 256;
    `slope` is a non-persistent buffer and the rotary embedding holds only a buffer."""
    per_layer = 256 * 768 + 64 + 64 + 256 * 256 + 256 + 256 * 256
    assert per_layer == 328_064
    assert llmarch.count_params(ir).by_component["linear_mixer"] == 6 * per_layer
    names = {w.name: w.shape for w in layer_weights(ir, ir.layers[0]) if w.name.startswith("mixer.")}
    assert names == {
        "mixer.query_key_value.weight": (768, 256),
        "mixer.query_layernorm.weight": (64,),
        "mixer.key_layernorm.weight": (64,),
        "mixer.g_proj.weight": (256, 256),
        "mixer.g_norm.weight": (256,),
        "mixer.dense.weight": (256, 256),
    }


def test_weight_table_is_the_meta_build(ir):
    model = llmarch.build(ir, with_mtp=False)
    for layer in (ir.layers[0], ir.layers[3]):  # a Lightning layer, an MLA layer
        built = {n: tuple(p.shape) for n, p in model.layers[layer.index].named_parameters()}
        assert built == {w.name: w.shape for w in layer_weights(ir, layer)}
    assert llmarch.module_params(model).total == llmarch.count_params(ir).total


def test_biases_and_no_qk_norm(tmp_path):
    path = tmp_path / "ling-bias.yaml"
    text = "lightning: {n_heads: 4, head_dim: 64, norm_groups: 4, qk_norm: false, qkv_bias: true, out_bias: true}"
    path.write_text(SPEC.replace("lightning: {n_heads: 4, head_dim: 64, norm_groups: 4}", text))
    ir = llmarch.load(str(path))
    per_layer = (256 * 768 + 768) + 256 * 256 + 256 + (256 * 256 + 256)
    assert llmarch.count_params(ir).by_component["linear_mixer"] == 6 * per_layer
    model = llmarch.build(ir, with_mtp=False)
    assert llmarch.module_params(model).total == llmarch.count_params(ir).total


def test_state_by_hand(ir):
    """A Lightning layer keeps one key-by-value state per head and no convolution: 4 x 64 x 64 at fp32;
    the MLA layers cache kv_lora_rank + qk_rope_head_dim = 80 elements per token at bf16.  The
    gallery-style per-token figure counts the MLA layers only."""
    state = 4 * 64 * 64 * 4
    mla = 2 * (64 + 16) * 2
    kv = kv_cache(ir, ctx=1000)
    assert kv.total_bytes == 6 * state + mla * 1000
    assert kv.per_token_bytes_all_layers == mla


def test_recurrence_macs_by_hand(ir):
    """Chunks of 64: tril(Q K^T) V within a chunk (c^2 dk + c^2 dv) and Q S, S += K^T V (2 c dk dv); a decode
    step is S += k^T v and q S (2 dk dv).  300 tokens are 4 chunks of 64 and one of 44."""
    mixer = layer_mixer(ir, ir.layers[0])
    chunk = lambda c: c * c * 64 + c * c * 64 + 2 * c * 64 * 64  # noqa: E731
    assert mixer.sequence_macs(300, 300) == {"linear_recurrence": 4 * (4 * chunk(64) + chunk(44))}
    assert mixer.sequence_macs(1, 5000) == {"linear_recurrence": 4 * 2 * 64 * 64}


def test_traced_counters_agree(ir):
    """Exactly, at 300 tokens (not a multiple of the chunk) and in decode."""
    model = llmarch.build(ir, with_mtp=False)
    S = 300
    analytic = flops.prefill(ir, S).flops
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == analytic, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


def test_box_and_layer_mix(ir):
    box = layer_mixer(ir, ir.layers[0]).box()
    assert box.title == "Lightning Attention" and box.kind == "mixer"
    assert dict(box.notes)["kv"] == "fixed-size state, no KV cache"
    from llmarch.facts import layer_mix, layer_pattern

    assert layer_mix(ir) == "6 lightning + 2 global"
    assert layer_pattern(ir) == "6 Lightning, 2 global, first 1 dense, 8 blocks"


def test_norm_groups_must_divide_the_width(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("norm_groups: 4", "norm_groups: 3"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "norm_groups" in str(err.value) and "bad.yaml" in str(err.value)


def test_unused_block_is_refused(tmp_path):
    path = tmp_path / "unused.yaml"
    path.write_text(SPEC.replace("mixer: TTTGTTTG", "mixer: G"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "no layer uses the `lightning:` block" in str(err.value) and "letter T" in str(err.value)
