"""ZAYA1-8B (issue 23): compressed convolutional attention, the MLP router with a skip expert, learned
residual scaling.  Counts held to transformers 5.23's ZayaForCausalLM built on meta from the collected
config values (tests/data/configs/zaya1-8b.values.yaml) and to hand arithmetic."""

from __future__ import annotations

import pytest

import llmarch
from conftest import causal_lm_on_meta, collected_values, unique_params
from llmarch.kvcache import kv_cache
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
