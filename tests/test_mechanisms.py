"""The mechanism protocol (llmarch/mechanisms/): each kind's weight table is what the meta build
holds, name for name and shape for shape, and the protocol's sums are hand-checkable."""

from __future__ import annotations

import dataclasses

import pytest

import llmarch
from conftest import SPEC_NAMES
from llmarch.mechanisms.layers import layer_weights, model_mechanisms


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_weight_tables_are_the_meta_build(name):
    """Every layer's weight table (its mechanisms' weights and the block's norms) names exactly the
    parameters the meta build creates, with their shapes; the model-level weights are the model's."""
    ir = llmarch.load(name)
    model = llmarch.build(ir, with_mtp=False)
    seen = set()
    for layer in ir.layers:
        key = dataclasses.replace(layer, index=0)
        if key in seen:
            continue
        seen.add(key)
        built = {n: tuple(p.shape) for n, p in model.layers[layer.index].named_parameters()}
        table = {w.name: w.shape for w in layer_weights(ir, layer)}
        assert table == built, f"layer {layer.index} ({layer.label})"
    built = {n: tuple(p.shape) for n, p in model.named_parameters()}
    for mechanism in model_mechanisms(ir):
        for w in mechanism.model_weights(ir.d_model):
            assert built.get(w.name) == w.shape, w.name


KEQV_SPEC = """name: keys-as-values
vocab_size: 1000
d_model: 256
n_layers: 2
context_length: 4096
attention:
  n_heads: 4
  n_kv_heads: 2
  head_dim: 64
  rope: {{theta: 10000}}
  k_eq_v: {{cache: {cache}}}
ffn: {{d_ff: 512}}
"""


@pytest.mark.parametrize(
    "cache, kv_bytes_per_token_per_layer",
    [
        ("k_and_v", 2 * (64 + 64) * 2),  # Gemma 4: keys normed and rotated, values not: 2 KV heads x (K + V), bf16
        ("one", 2 * 64 * 2),  # DeepSeek V4: one tensor is both
    ],
)
def test_values_are_keys_by_hand(tmp_path, cache, kv_bytes_per_token_per_layer):
    """k_eq_v drops the V projection from the weights, the FLOPs and the meta build; what the cache
    holds is the kind's: K and V, or one tensor."""
    from llmarch.analyze.flops import decode
    from llmarch.analyze.kvcache import kv_cache

    path = tmp_path / "keys-as-values.yaml"
    path.write_text(KEQV_SPEC.format(cache=cache))
    ir = llmarch.load(str(path))
    # q (256 -> 4 x 64), k (256 -> 2 x 64), no v, o (4 x 64 -> 256), per layer
    per_layer = 256 * 256 + 256 * 128 + 256 * 256
    assert llmarch.count_params(ir).by_component["attention"] == 2 * per_layer == 327_680
    built = llmarch.build(ir, with_mtp=False)
    names = {n for n, _ in built.named_parameters()}
    assert "layers.0.attn.k_proj.weight" in names and not any("v_proj" in n for n in names)
    assert llmarch.module_params(built).by_component["attention"] == 2 * per_layer
    assert decode(ir, ctx=100).by_component["attention_proj"] == 2 * 2 * per_layer  # 2 FLOPs per entry, 2 layers
    kv = kv_cache(ir, ctx=1000)
    assert kv.total_bytes == 2 * kv_bytes_per_token_per_layer * 1000
    # the gallery-style figure counts the keys once whatever the cache stores (README, Conventions)
    assert kv.per_token_bytes_all_layers == 2 * (2 * 64 * 2)


@pytest.mark.parametrize(
    "edit",
    [
        "  v_head_dim: 32\n",
        "  kind: mla\n  kv_lora_rank: 64\n  qk_nope_head_dim: 32\n  qk_rope_head_dim: 32\n  v_head_dim: 64\n",
    ],
)
def test_values_are_keys_needs_one_width(tmp_path, edit):
    from llmarch.errors import SpecError

    path = tmp_path / "bad.yaml"
    text = KEQV_SPEC.format(cache="one").replace("  head_dim: 64\n", "  head_dim: 64\n" + edit)
    path.write_text(text.replace("  head_dim: 64\n", "") if "mla" in edit else text)
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "k_eq_v" in str(err.value) and "bad.yaml" in str(err.value)


@pytest.mark.parametrize(
    "cache, kv_note", [("k_and_v", "KV cache 512 B/token/layer (bf16)"), ("one", "KV cache 256 B/token/layer (bf16)")]
)
def test_values_are_keys_box_says_what_the_kind_caches(tmp_path, cache, kv_note):
    """The diagram's box data is the kind's: 2 KV heads x (64 + 64) x 2 bytes, or 2 x 64 x 2 cached once."""
    from llmarch.mechanisms.layers import layer_mixer

    path = tmp_path / "keys-as-values.yaml"
    path.write_text(KEQV_SPEC.format(cache=cache))
    ir = llmarch.load(str(path))
    box = layer_mixer(ir, ir.layers[0]).box()
    assert box.title == "Masked grouped-query attention" and box.block_words == "GQA"
    assert dict(box.notes)["kv"] == kv_note


def test_extras_box_lists_them_in_the_order_the_block_runs_them():
    """Gemma 3n: AltUp wraps the block, LAuReL runs beside the attention, the per-layer input after the FFN
    (the protocol lists them per-layer input first)."""
    from llmarch.render.diagram_blocks import extras_slot

    ir = llmarch.load("gemma-3n-e4b")
    assert [type(m).__name__ for m in model_mechanisms(ir)] == ["PerLayerInputs", "AltUp", "Laurel"]
    assert [n.key for n in extras_slot(ir).notes] == ["altup", "laurel", "ple"]


def test_a_layer_holds_its_mixer_and_ffn_as_tagged_unions():
    """Issue 16: no optional slot per kind; a mixer or FFN kind is one union member (ir.MixerIR, ir.FFNBlockIR)."""
    import dataclasses
    import typing

    from llmarch import ir as IR
    from llmarch.kinds import LINEAR_MIXER_KINDS
    from llmarch.mechanisms.layers import LINEAR_MIXERS

    assert [f.name for f in dataclasses.fields(IR.LayerIR)] == [
        "index",
        "mixer",
        "mixer_ir",
        "ffn_ir",
        "kv_shared_from",
    ]  # the FFN's tag is read off its member: no field can disagree with it
    members = set(typing.get_args(IR.MixerIR))
    assert members == {IR.AttentionIR} | set(LINEAR_MIXERS)
    assert len(LINEAR_MIXERS) == len(LINEAR_MIXER_KINDS)
    assert set(typing.get_args(IR.FFNBlockIR)) == {IR.FFNIR, IR.MoEIR, IR.ParallelFFNIR}
    # the tag and the member agree on every layer of every shipped spec with each kind
    for name, mixer, member in [
        ("qwen3-next-80b-a3b", "gated_deltanet", IR.GatedDeltaNetIR),
        ("kimi-linear-48b-a3b", "kda", IR.KdaIR),
        ("gemma-4-26b-a4b", "global", IR.AttentionIR),
    ]:
        layers = [layer for layer in llmarch.load(name).layers if layer.mixer == mixer]
        assert layers and all(isinstance(layer.mixer_ir, member) for layer in layers)
    tags = {IR.FFNIR: "dense", IR.MoEIR: "moe", IR.ParallelFFNIR: "parallel", type(None): "none"}
    for name in ("deepseek-v3", "gemma-4-26b-a4b", "nemotron-3-nano-30b-a3b"):
        assert all(layer.ffn == tags[type(layer.ffn_ir)] for layer in llmarch.load(name).layers)
    parallel = [layer for layer in llmarch.load("gemma-4-26b-a4b").layers if layer.ffn == "parallel"]
    assert parallel and all(isinstance(layer.ffn_ir, IR.ParallelFFNIR) for layer in parallel)
    # the views read the union: the parallel layer's dense half and experts, no attention on a GDN layer
    assert parallel[0].dense is parallel[0].ffn_ir.dense and parallel[0].moe is parallel[0].ffn_ir.moe
    gdn = next(layer for layer in llmarch.load("qwen3-next-80b-a3b").layers if layer.mixer == "gated_deltanet")
    assert gdn.attention is None and gdn.gated_deltanet is gdn.mixer_ir
