"""ZAYA1-8B (issue 23): compressed convolutional attention, the MLP router with a skip expert, learned
residual scaling.  Counts held to transformers 5.23's ZayaForCausalLM built on meta from the collected
config values (tests/data/configs/zaya1-8b.values.yaml) and to hand arithmetic."""

from __future__ import annotations

import pytest

import llmarch
from conftest import causal_lm_on_meta, collected_values, unique_params
from llmarch.analyze.kvcache import kv_cache
from llmarch.mechanisms.layers import layer_weights


@pytest.fixture(scope="module")
def ir():
    return llmarch.load("zaya1-8b")


@pytest.fixture(scope="module")
def hf_model():
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    raw = collected_values("zaya1-8b")
    cfg = CONFIG_MAPPING[raw["model_type"]](**{k: v for k, v in raw.items() if k != "model_type"})
    return causal_lm_on_meta(cfg)


def test_total_is_transformers_meta_build(ir, hf_model):
    assert type(hf_model).__name__ == "ZayaForCausalLM"
    assert llmarch.count_params(ir).total == unique_params(hf_model) == 8_840_488_784


def test_components_by_hand(ir, hf_model):
    """d 2048, 8 query and 2 KV heads of 128, experts of 2048, router width 256, 16 experts + 1 skip."""
    d, hd, r = 2048, 128, 256
    channels = (8 + 2) * hd  # q and k through CCA's convolutions
    cca = (
        d * 8 * hd  # q_proj
        + d * 2 * hd  # k_proj
        + 2 * d * (2 * hd // 2)  # v_proj_current, v_proj_delayed: half of the value heads each
        + channels * 2
        + channels  # depthwise conv (taps 2) and its bias
        + channels * hd * 2
        + channels  # grouped conv, one group per head (taps 2), and its bias
        + 2  # the key temperature per KV head
        + 8 * hd * d  # o_proj
    )
    router = (d * r + r) + r + (r * r + r) * 2 + r * 17  # down_proj, norm, fc1, fc2, out_proj (17 classes)
    count = llmarch.count_params(ir).by_component
    assert count["attention"] == 40 * cca
    assert count["router"] == 40 * router + 39 * r  # router_states_scale on every layer but the first
    assert count["routed_experts"] == 40 * 16 * 3 * d * 2048
    # per layer: 2 block norms and 2 x 4 residual-scaling vectors; the final norm and the input scale and shift
    assert count["norms"] == 40 * (2 + 8) * d + 3 * d
    hf = {n: p.numel() for n, p in hf_model.named_parameters()}
    assert sum(n for k, n in hf.items() if "residual_scale" in k or "input_hidden_states" in k) == 40 * 8 * d + 2 * d
    assert sum(n for k, n in hf.items() if ".mlp.gate." in k) == count["router"]
    assert sum(n for k, n in hf.items() if ".self_attn." in k) == count["attention"]


def test_weight_table_is_the_meta_build(ir):
    model = llmarch.build(ir, with_mtp=False)
    for layer in (ir.layers[0], ir.layers[1]):  # the first router carries no state; the others scale it
        built = {n: tuple(p.shape) for n, p in model.layers[layer.index].named_parameters()}
        assert built == {w.name: w.shape for w in layer_weights(ir, layer)}
    assert "ffn.router.router_states_scale" not in dict(model.layers[0].named_parameters())
    assert llmarch.module_params(model).total == llmarch.count_params(ir).total


def test_active_by_hand(ir):
    """Top-1 of 16 experts on every layer (a token routed to the skip expert uses one fewer there), the tied
    matrix counted once as the LM head, as llmarch's active convention says."""
    count = llmarch.count_params(ir)
    expert = 3 * 2048 * 2048
    assert count.active == count.total - 40 * 15 * expert  # 15 of 16 experts idle; the table counted once
    assert count.active == 8_840_488_784 - 7_549_747_200 == 1_290_741_584


def test_kv_by_hand(ir):
    """K and V of 2 KV heads x 128 per layer at bf16: 40 x 2 x 256 x 2 B = 40,960 B = the gallery's 40 KiB."""
    kv = kv_cache(ir, ctx=1000)
    assert kv.per_token_bytes_all_layers == 40 * 2 * (128 + 128) * 2 == 40 * 1024


def test_cca_state_by_hand(ir):
    """Each layer also holds CCA's fixed state at bf16, as transformers' cache holds it: the convolutions'
    last (2 - 1) + (2 - 1) = 2 inputs of the (8 + 2) x 128 q/k channels (update_conv_state) and the previous
    token's delayed value half, 2 x 128 / 2 (update_recurrent_state)."""
    state = (2 * (8 + 2) * 128 + 2 * 128 // 2) * 2
    assert state == 5_376
    assert kv_cache(ir, ctx=1000).total_bytes == 40 * (2 * 256 * 2 * 1000 + state) == 41_175_040


SMALL = """
name: zaya-small
vocab_size: 1000
d_model: 256
n_layers: 3
context_length: 4096
tie_embeddings: true
attention:
  kind: gqa
  n_heads: 4
  n_kv_heads: 2
  head_dim: 64
  qk_norm: l2
  cca: {depthwise_kernel: 2, grouped_kernel: 2}
  rope: {theta: 5000000, partial: 0.5}
moe:
  n_experts: 4
  top_k: 1
  d_expert: 128
  expert_kind: swiglu
  router_mlp: {hidden: 32, skip_expert: true, carried_state: true}
residual_scaling: true
layers: {mixer: G, ffn: E}
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = tmp_path_factory.mktemp("zaya") / "zaya-small.yaml"
    path.write_text(SMALL)
    return llmarch.load(str(path))


def test_small_count_is_transformers(small):
    """The same mechanisms at a small size, against ZayaForCausalLM built from the matching config."""
    from transformers import ZayaConfig

    cfg = ZayaConfig(
        vocab_size=1000,
        hidden_size=256,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=64,
        moe_intermediate_size=128,
        num_experts=4,
        router_hidden_size=32,
    )
    assert llmarch.count_params(small).total == unique_params(causal_lm_on_meta(cfg))


def test_small_macs_by_hand(small):
    """One token's multiply-adds per layer: q 256x256, k 256x128, the value halves 2 x 256x64, o 256x256; the
    router 256x32, 32x32 twice, 32x5 (4 experts + skip); one SwiGLU expert 3 x 256x128.  The convolutions, the
    residual scaling and the norms are element-wise or short convolutions, outside the FLOP convention."""
    from llmarch.mechanisms.layers import layer_mechanisms

    macs: dict[str, int] = {}
    for m in layer_mechanisms(small, small.layers[1]):
        for k, v in m.token_macs(small.d_model).items():
            macs[k] = macs.get(k, 0) + v
    assert macs.get("attention_proj") == 256 * 256 + 256 * 128 + 2 * 256 * 64 + 256 * 256
    assert macs.get("router") == 256 * 32 + 2 * 32 * 32 + 32 * 5
    assert macs.get("routed_experts") == 3 * 256 * 128


def test_traced_counters_agree(small):
    """Traced == analytic exactly, prefill of 300 tokens and a decode step at 2000."""
    from llmarch.analyze import flops
    from llmarch.analyze.flop_trace import count_fvcore, count_torch

    model = llmarch.build(small, with_mtp=False)
    analytic = flops.prefill(small, 300).flops
    for fn in (count_torch, count_fvcore):
        assert fn(model, small, 300).normalised == analytic, fn.__name__
    assert count_fvcore(model, small, 300, decode_ctx=2000).normalised == flops.decode(small, 2000).flops


def test_import_hf_of_the_collected_values_is_the_shipped_spec(ir):
    """import-hf reads the collected config into the same model: every layer, its count and its cache."""
    from llmarch.importers.hf import import_config, spec_yaml
    from llmarch.spec.resolve import to_ir
    from llmarch.spec.validate import validate
    from llmarch.spec.yamlsafe import load_text

    imported = import_config(collected_values("zaya1-8b"), name="zaya1-8b", source="zaya1-8b.values.yaml")
    located = load_text(spec_yaml(imported), "imported.yaml")
    got = to_ir(validate(located), located)
    assert got.layers == ir.layers and got.residual_scaling and got.tie_embeddings
    assert llmarch.count_params(got).total == 8_840_488_784
    assert kv_cache(got, ctx=1000).total_bytes == kv_cache(ir, ctx=1000).total_bytes


def test_diagram_boxes(ir):
    """The attention box names CCA, the MoE box its MLP router and skip expert, and the 40 layers are one
    block (the first router lacks only the carried state's scale)."""
    from llmarch.mechanisms.layers import layer_ffn, layer_mixer

    attn = dict(layer_mixer(ir, ir.layers[1]).box().notes)
    assert attn["cca"] == "CCA: q, k convolved (2 + 2 taps), half of V delayed"
    moe = dict(layer_ffn(ir, ir.layers[1]).box().notes)
    assert moe["router"] == "MLP router, width 256 + a skip expert"
    assert layer_ffn(ir, ir.layers[0]).identity == layer_ffn(ir, ir.layers[1]).identity
    assert ir.layers[0].moe != ir.layers[1].moe  # their weights do differ by that vector


@pytest.mark.parametrize(
    "change",
    [
        ("head_dim: 64", "head_dim: 64\n  v_head_dim: 32"),  # the value halves need V as wide as K
        ("head_dim: 64", "head_dim: 63"),  # an odd head cannot be halved
    ],
)
def test_cca_refuses_what_it_cannot_build(tmp_path, change):
    from llmarch.errors import SpecError

    path = tmp_path / "zaya-bad.yaml"
    path.write_text(SMALL.replace("name: zaya-small", "name: zaya-bad").replace(*change))
    with pytest.raises(SpecError, match=r"zaya-bad\.yaml.*cca.*compressed convolutional attention needs"):
        llmarch.load(str(path))


def test_router_mlp_refuses_a_linear_routers_flags(tmp_path):
    from llmarch.errors import SpecError

    path = tmp_path / "zaya-bias.yaml"
    text = SMALL.replace("name: zaya-small", "name: zaya-bias").replace("top_k: 1", "top_k: 1\n  router_bias: true")
    path.write_text(text)
    with pytest.raises(SpecError, match="router_bias describes a linear router"):
        llmarch.load(str(path))
