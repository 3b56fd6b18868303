"""Every shipped spec counts exactly: closed form == module walk == transformers, and its published figures hold."""

from __future__ import annotations

from fractions import Fraction

import pytest

import llmarch
from conftest import (
    CONFIGS,
    SPEC_NAMES,
    causal_lm_on_meta,
    collected_values,
    has_config,
    multimodal_params,
    transformers_model,
    unique_params,
    upstream_config,
)
from llmarch.analyze.reference import check_references

# llmarch's mixer kinds as transformers' `layer_types` names them
LAYER_TYPE = {
    "global": "full_attention",
    "nope": "full_attention",
    "local": "sliding_attention",
    "chunked": "chunked_attention",
    "gated_deltanet": "linear_attention",
    "kda": "linear_attention",
    "mamba2": "linear_attention",
    "mlstm": "mlstm",
}


def layer_type(layer) -> str:
    """transformers' name for a layer; a layer without a mixer is named after its FFN (Nemotron-H)."""
    if layer.mixer == "none":
        return {"moe": "moe", "dense": "mlp"}[layer.ffn]
    if layer.mixer in ("csa", "hca"):  # DeepSeek V4's compressed layers
        return {"csa": "compressed_sparse_attention", "hca": "heavily_compressed_attention"}[layer.mixer]
    if layer.attention is not None and layer.attention.indexer_topk:
        return "indexed_attention"  # DeepSeek sparse attention (own or shared indexer)
    return LAYER_TYPE[layer.mixer]


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_closed_form_equals_module_walk(name):
    ir = llmarch.load(name)
    closed = llmarch.count_params(ir)
    walked = llmarch.module_params(llmarch.build(ir))
    assert walked.by_component == closed.by_component
    assert walked.active_by_component == closed.active_by_component
    assert walked.mtp == closed.mtp
    assert walked.buffers == closed.buffers
    assert walked.active_fewest == closed.active_fewest
    assert closed.total == sum(closed.by_component.values())
    assert closed.active <= closed.total


WITH_CONFIG = [n for n in SPEC_NAMES if has_config(n)]


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_total_equals_transformers(name):
    """transformers omits MTP modules and keeps DeepSeek's e_score_correction_bias (and DeepSeek V4's hash-routing
    table, tid2eid) as buffers, as llmarch does."""
    ir = llmarch.load(name)
    cfg, model = transformers_model(name)
    assert llmarch.count_params(ir).total == unique_params(model)
    # the same buffers that are not parameters (RoPE frequencies are computed, not loaded: left out):
    # DeepSeek's routing bias, DeepSeek V4's hash table, Gemma 4's per-layer output scalar
    loaded = ("e_score_correction_bias", "tid2eid", "layer_scalar")
    hf_buffers = sum(b.numel() for n, b in model.named_buffers() if n.endswith(loaded))
    assert llmarch.count_params(ir).buffers == hf_buffers


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_embedding_and_head_equal_transformers(name):
    ir = llmarch.load(name)
    _, model = transformers_model(name)
    count = llmarch.count_params(ir)
    assert count.by_component["token_embedding"] == model.get_input_embeddings().weight.numel()
    head = model.get_output_embeddings().weight
    tied = head is model.get_input_embeddings().weight
    assert tied == ir.tie_embeddings
    assert count.by_component["lm_head"] == (0 if tied else head.numel())


def config_layer_types(cfg) -> list[str]:
    """transformers' kind of every layer: the config's `layer_types`, else what its modelling code reads.

    A family whose config lists no `layer_types` (Llama, Mistral, Mixtral, Ministral 3, Qwen3 MoE, OLMo 2,
    OLMoE, GPT-2, DeepSeek V3, GLM-4.5, MiniMax M2) builds one mask for all its layers: a sliding-window
    mask when the built config has a `sliding_window` (`create_sliding_window_causal_mask`), else a causal
    one (Qwen3 MoE's config drops the window unless `use_sliding_window`).
    """
    if getattr(cfg, "model_type", None) == "zaya":
        # ZAYA's layers are all attention + MoE ("hybrid"); ZayaAttention gives the window to "hybrid_sliding" only
        kinds = {"hybrid": "full_attention", "hybrid_sliding": "sliding_attention"}
        return [kinds[t] for t in cfg.layer_types]
    if getattr(cfg, "layer_types", None):
        return list(cfg.layer_types)
    if cfg.model_type == "xlstm":  # transformers' xLSTMBlock is an mLSTM block (no sLSTM, no attention)
        return ["mlstm"] * cfg.num_hidden_layers
    if getattr(cfg, "attn_type_list", None) is not None:
        # MiniMax M2 lists 1 (softmax attention) per layer; its modelling code has no other kind
        assert set(cfg.attn_type_list) == {1}, cfg.attn_type_list
    kind = "full_attention" if getattr(cfg, "sliding_window", None) is None else "sliding_attention"
    return [kind] * cfg.num_hidden_layers


def test_config_layer_types_reads_windows():
    """The derivation can tell the kinds apart: Mistral 7B's 4096 window makes every layer sliding."""
    from transformers import MistralConfig, Qwen3MoeConfig

    assert config_layer_types(MistralConfig(num_hidden_layers=3, sliding_window=4096)) == ["sliding_attention"] * 3
    assert config_layer_types(MistralConfig(num_hidden_layers=2, sliding_window=None)) == ["full_attention"] * 2
    unused = Qwen3MoeConfig(num_hidden_layers=2, sliding_window=4096, use_sliding_window=False)
    assert config_layer_types(unused) == ["full_attention"] * 2


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_layer_kinds_equal_config(name):
    ir = llmarch.load(name)
    cfg, _ = transformers_model(name)
    assert [layer_type(l) for l in ir.layers] == config_layer_types(cfg)


@pytest.mark.parametrize("name", WITH_CONFIG)
def test_shape_equals_config(name):
    """The spec's main dimensions are the upstream config's (text model)."""
    ir = llmarch.load(name)
    cfg, _ = transformers_model(name)
    assert ir.vocab_size == cfg.vocab_size
    assert ir.d_model == cfg.hidden_size
    assert ir.n_layers == cfg.num_hidden_layers


def _reference_cases():
    for name in SPEC_NAMES:
        for i, check in enumerate(check_references(llmarch.load(name), llmarch.count_params(llmarch.load(name)))):
            yield pytest.param(name, i, id=f"{name}-{check.key}-{check.published}")


@pytest.mark.parametrize("name,index", list(_reference_cases()))
def test_published_reference(name, index):
    ir = llmarch.load(name)
    check = check_references(ir, llmarch.count_params(ir))[index]
    assert check.ok, (
        f"{name}: computed {check.computed:,} ({check.reference.convention}) vs published {check.published} "
        f"(+-{check.tolerance:,.0f}) from {check.reference.source}"
    )


def test_every_spec_has_reference_or_says_none():
    for name in SPEC_NAMES:
        ir = llmarch.load(name)
        assert ir.references, f"{name}: no published reference; add one with its source"


@pytest.mark.parametrize("name", SPEC_NAMES)
def test_adjustments_are_machine_checked(name):
    import math

    ir = llmarch.load(name)
    for ref in ir.references:
        for kind, what, params in ref.adjustments:
            if kind == "fp8_block_scales":
                model = llmarch.build(ir)
                blocks = 0
                for pname, p in model.named_parameters():
                    if (
                        p.dim() < 2
                        or pname.split(".")[-2:-1] == ["router"]
                        or any(s in pname for s in ("embed_tokens", "lm_head", "eh_proj", ".head."))
                        or (pname.startswith("mtp.") and not ref.includes_mtp)  # a checkpoint without MTP weights
                    ):
                        continue
                    experts = p.shape[0] if p.dim() == 3 else 1
                    blocks += experts * math.ceil(p.shape[-2] / 128) * math.ceil(p.shape[-1] / 128)
                assert params == blocks, what
            elif kind == "vision_tower":
                assert params == multimodal_params(name), what
            elif "e_score_correction_bias" in what:  # buffers a checkpoint stores beside its parameters
                assert params == llmarch.count_params(ir).buffers, what


VALUES = sorted(n for n in (p.name[: -len(".values.yaml")] for p in CONFIGS.glob("*.values.yaml")) if n in SPEC_NAMES)


@pytest.mark.parametrize("name", VALUES)
def test_total_equals_transformers_from_collected_values(name):
    """Specs without a verbatim upstream config: transformers built from the values collected, with their
    sources, in tests/data/configs/<name>.values.yaml (a weaker check than a verbatim config)."""
    import yaml

    collected = yaml.safe_load((CONFIGS / f"{name}.values.yaml").read_text())
    if collected.get("no_transformers_implementation"):
        pytest.skip("transformers does not implement this architecture")
    _, model = collected_values_model(name)
    assert llmarch.count_params(llmarch.load(name)).total == unique_params(model)


@pytest.mark.parametrize("name", VALUES)
def test_layer_kinds_equal_collected_values(name):
    """The layer-kind check for specs without a verbatim config, from the values collected (as above)."""
    import yaml

    collected = yaml.safe_load((CONFIGS / f"{name}.values.yaml").read_text())
    ir = llmarch.load(name)
    if collected.get("no_transformers_implementation"):
        values = collected["values"]
        if "sliding_window_size" in values:
            # Grok 2.5 (SGLang's Grok1): `sliding_window_size: -1` is no window, so every layer is global
            assert values["sliding_window_size"] == -1 and values.get("global_attn_every_n", 1) == 1
        else:
            # Sarvam's remote code (sarvam_moe, sarvam_mla) has no sliding-window attention: no window key is set
            assert not {k for k in values if k in ("sliding_window", "layer_types", "attention_chunk_size")}
        # LongCat's num_layers counts decoder layers of two attention sublayers (transformers: 2 x num_layers)
        n_layers = values["num_hidden_layers"] if "num_hidden_layers" in values else 2 * values["num_layers"]
        assert [layer_type(l) for l in ir.layers] == ["full_attention"] * n_layers
        return
    assert [layer_type(l) for l in ir.layers] == config_layer_types(collected_values_config(name))


def test_layer_kind_check_covers_every_spec():
    """Every shipped spec has its layer kinds checked: from a verbatim config or from collected values."""
    assert set(WITH_CONFIG) | set(VALUES) == set(SPEC_NAMES)


def collected_values_config(name: str):
    """transformers' config from the values collected in tests/data/configs/<name>.values.yaml."""
    import yaml
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    values = yaml.safe_load((CONFIGS / f"{name}.values.yaml").read_text())["values"]
    raw = values.get("text_config", values)
    # Kimi K2 ships DeepSeek-V3's code; transformers implements Xiaomi's mimo_v2 (MiMo-V2.5) as mimo_v2_flash
    renamed = {"kimi_k2": "deepseek_v3", "mimo_v2": "mimo_v2_flash"}
    model_type = renamed.get(raw.get("model_type"), raw.get("model_type") or "deepseek_v3")
    cfg = CONFIG_MAPPING[model_type](**{k: v for k, v in raw.items() if k != "model_type"})
    if "tie_word_embeddings" in values and "text_config" in values:
        cfg.tie_word_embeddings = values["tie_word_embeddings"]
    return cfg


def collected_values_model(name: str):
    """transformers' model on meta from the values collected in tests/data/configs/<name>.values.yaml."""
    cfg = collected_values_config(name)
    return cfg, causal_lm_on_meta(cfg)


# The models issue 18 ships. Active parameters are checked exactly against transformers' own model under the
# convention llmarch states (llmarch/conventions.py): every parameter once, a routed expert's at top_k / n_experts,
# the input lookup table left out unless it is the tied LM head. Shared experts, routers and Laguna's router
# correction bias (a parameter there) count fully; DeepSeek-style correction biases are buffers, not counted.
ISSUE_18 = ["glm-4.7", "glm-5", "glm-5.1", "hy3-preview", "kimi-k2.5", "laguna-xs.2", "minimax-m2.5"]
ISSUE_18 += ["qwen3-coder-30b-a3b", "qwen3.5-397b-a17b", "qwen3.6-27b", "qwen3.6-35b-a3b"]
# and issue 21's
ISSUE_18 += ["mistral-small-4-119b", "step-3.5-flash"]


def active_by_convention(cfg, model) -> Fraction:
    import re

    n_experts = next(
        (getattr(cfg, k) for k in ("n_routed_experts", "num_local_experts", "num_experts") if getattr(cfg, k, None)),
        None,
    )
    top_k = getattr(cfg, "num_experts_per_tok", None)
    lookup = model.get_input_embeddings().weight
    tied = lookup is model.get_output_embeddings().weight
    routed = re.compile(r"\.experts\.")  # not shared_experts / shared_expert
    seen, active = set(), Fraction(0)
    for pname, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if p is lookup and not tied:
            continue
        active += Fraction(p.numel() * top_k, n_experts) if routed.search(pname) else p.numel()
    return active


# Issue 20's DeepSeek V4: the hash-routed layers' experts count at top_k / n_experts as the learned layers' do
ISSUE_20 = ["deepseek-v4-flash", "deepseek-v4-pro"]
# Issue 21's models: Nemotron 3 Super (its latent projections count fully, the experts by top_k / n_experts)
ISSUE_21 = ["nemotron-3-super-120b-a12b", "trinity-large", "qwen3.5-122b-a10b"]


@pytest.mark.parametrize("name", ISSUE_18 + ISSUE_20 + ISSUE_21)
def test_active_equals_transformers_under_the_stated_convention(name):
    cfg, model = transformers_model(name) if has_config(name) else collected_values_model(name)
    expect = active_by_convention(cfg, model)
    assert expect.denominator == 1
    # the routed experts are found by name in every MoE family here (a renamed module would count fully)
    routed = any(".experts." in pname for pname, _ in model.named_parameters())
    assert routed == bool(getattr(cfg, "num_experts_per_tok", None))
    count = llmarch.count_params(llmarch.load(name))
    assert count.active == expect
    assert count.active < count.total or not getattr(cfg, "num_experts_per_tok", None)


# ---------------------------------------------------------------------------
# Gemma 3n: no verbatim config could be vendored; its collected values (tests/data/configs/
# gemma-3n-e4b.values.yaml, with sources) drive transformers' implementation instead.


def _gemma_3n_values() -> dict:
    import yaml

    return yaml.safe_load((CONFIGS / "gemma-3n-e4b.values.yaml").read_text())["values"]


@pytest.fixture(scope="module")
def gemma_3n():
    import torch
    from transformers import Gemma3nForCausalLM, Gemma3nTextConfig

    text = {k: v for k, v in _gemma_3n_values()["text_config"].items() if k != "model_type"}
    cfg = Gemma3nTextConfig(**text)
    with torch.device("meta"):
        model = Gemma3nForCausalLM(cfg)
    return cfg, model


def test_gemma_3n_components_equal_transformers(gemma_3n):
    """Each Gemma 3n mechanism against the transformers modules that implement it."""
    cfg, model = gemma_3n
    ir = llmarch.load("gemma-3n-e4b")
    count = llmarch.count_params(ir)
    by_name: dict[str, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = parts[3] if parts[1] == "layers" else parts[1]
        if parts[1] == "layers" and parts[3] in ("altup", "laurel") and parts[4].endswith("norm"):
            key = "norm"  # the router and LAuReL norms are norms in llmarch
        by_name[key] = by_name.get(key, 0) + p.numel()
    assert count.by_component["per_layer_embedding"] == by_name["embed_tokens_per_layer"]
    assert count.by_component["attention"] == by_name["self_attn"]
    assert count.by_component["dense_ffn"] == by_name["mlp"]
    assert (
        count.by_component["altup"]
        == by_name["altup"] + by_name["altup_projections"] + by_name["altup_unembed_projections"]
    )
    assert count.by_component["laurel"] == by_name["laurel"]
    assert count.by_component["per_layer_input"] == (
        by_name["per_layer_input_gate"] + by_name["per_layer_projection"] + by_name["per_layer_model_projection"]
    )
    norms = sum(v for k, v in by_name.items() if k.endswith("norm") or k.endswith("layernorm"))
    assert count.by_component["norms"] == norms


def test_gemma_3n_kv_sharing_equals_transformers(gemma_3n):
    cfg, model = gemma_3n
    ir = llmarch.load("gemma-3n-e4b")
    modes = cfg.kv_sharing_modes
    assert [l.kv_shared_from is not None for l in ir.layers] == [m == "reuse" for m in modes]
    producers = {l.kv_shared_from for l in ir.layers if l.kv_shared_from is not None}
    assert producers == {i for i, m in enumerate(modes) if m == "store"}
    for layer in ir.layers:
        if layer.kv_shared_from is not None:
            assert ir.layers[layer.kv_shared_from].mixer == layer.mixer
            assert not hasattr(model.model.layers[layer.index].self_attn, "k_proj")
    assert [layer_type(l) for l in ir.layers] == list(cfg.layer_types)


def test_gemma_3n_published_figure_adjustments():
    """The 8B raw figure's parts outside the text decoder, recomputed where CI can build them (the timm
    vision tower needs torchvision, so its count stays the one measured once, named in the spec)."""
    import torch
    from transformers import Gemma3nAudioConfig, Gemma3nTextConfig, Gemma3nVisionConfig
    from transformers.models.gemma3n.modeling_gemma3n import Gemma3nAudioEncoder, Gemma3nMultimodalEmbedder

    values = _gemma_3n_values()
    strip = lambda d: {k: v for k, v in d.items() if k not in ("model_type", "architecture")}  # noqa: E731
    text = Gemma3nTextConfig(**strip(values["text_config"]))
    audio = Gemma3nAudioConfig(**strip(values["audio_config"]))
    vision = Gemma3nVisionConfig(**strip(values["vision_config"]))
    with torch.device("meta"):
        encoder = Gemma3nAudioEncoder(audio)
        embedders = [Gemma3nMultimodalEmbedder(vision, text), Gemma3nMultimodalEmbedder(audio, text)]
    adjustments = {what: params for _, what, params in llmarch.load("gemma-3n-e4b").references[0].adjustments}
    found = {w.split(" ")[0]: p for w, p in adjustments.items()}
    assert found["USM"] == sum(p.numel() for p in encoder.parameters())
    assert found["vision"] == sum(p.numel() for m in embedders for p in m.parameters())
    # the checkpoint's unused K/V: transformers' model without KV sharing holds exactly these beside the shared one
    from transformers import Gemma3nForCausalLM

    with torch.device("meta"):
        unshared = Gemma3nForCausalLM(Gemma3nTextConfig(**{**strip(values["text_config"]), "num_kv_shared_layers": 0}))
        shared = Gemma3nForCausalLM(text)
    assert found["unused"] == unique_params(unshared) - unique_params(shared)


# ---------------------------------------------------------------------------
# Hy3-preview's MTP layer: transformers builds none, so its count is checked against transformers' own MoE
# decoder layer plus the MTP wrapper's parts (enorm, hnorm, eh_proj 2d -> d, a final norm), and against the card.


def test_minimax_m27_total_equals_the_checkpoint_tensors():
    """A model report of a MiniMax-M2.7 checkout (tests/data/configs/minimax-m2.7.source.yaml) sums its
    safetensors to 228,703,644,928 elements, no MTP weights among them. Less what is not a parameter: the FP8
    weight_scale_inv tensors (one per 128x128 block: experts' w1/w3 [12, 24] and w2 [24, 12]; q [48, 24],
    k and v [8, 24], o [24, 48]) and the router's e_score_correction_bias [256], a buffer."""
    scales = 62 * 256 * 3 * (12 * 24) + 62 * (48 * 24 + 2 * 8 * 24 + 24 * 48)
    count = llmarch.count_params(llmarch.load("minimax-m2.7"))
    assert count.total == 228_703_644_928 - scales - 62 * 256


def test_hy3_mtp_layer_equals_transformers_layer_plus_wrapper():
    import torch
    import yaml
    from transformers import HYV3Config
    from transformers.models.hy_v3.modeling_hy_v3 import HYV3DecoderLayer

    values = yaml.safe_load((CONFIGS / "hy3-preview.values.yaml").read_text())["values"]
    cfg = HYV3Config(**{k: v for k, v in values.items() if k != "model_type"})
    with torch.device("meta"):
        layer = HYV3DecoderLayer(cfg, layer_idx=1)  # a sparse (MoE) layer, as the MTP layer is
    d = cfg.hidden_size
    wrapper = 2 * d * d + 3 * d  # eh_proj (no bias); enorm, hnorm, final norm
    expected = values["num_nextn_predict_layers"] * (unique_params(layer) + wrapper)
    mtp = llmarch.count_params(llmarch.load("hy3-preview")).mtp
    assert mtp == expected
    # Hy3's card: "3.8B MTP layer parameters"
    assert abs(mtp - 3.8e9) <= 0.05e9


# GLM-4.7, GLM-5 and GLM-5.1's MTP layer (num_nextn_predict_layers: 1), reported apart from total and active:
# transformers builds none, so it is checked against transformers' own sparse decoder layer (GLM-5's with its
# indexer) plus the DeepSeek-style wrapper (enorm, hnorm, eh_proj 2d -> d without bias, shared_head.norm); the
# embedding and head the checkpoint's MTP layer refers to are the model's own, not counted again.
@pytest.mark.parametrize("name", ["glm-4.7", "glm-5", "glm-5.1"])
def test_glm_mtp_layer_equals_transformers_layer_plus_wrapper(name):
    cfg, model = transformers_model(name) if has_config(name) else collected_values_model(name)
    layer = model.model.layers[cfg.first_k_dense_replace]  # the first sparse (MoE) layer, as the MTP layer is
    assert ".experts." in "".join(f".{n}" for n, _ in layer.named_parameters())
    d = cfg.hidden_size
    expected = cfg.num_nextn_predict_layers * (unique_params(layer) + 2 * d * d + 3 * d)
    assert cfg.num_nextn_predict_layers == 1
    assert llmarch.count_params(llmarch.load(name)).mtp == expected


# ---------------------------------------------------------------------------
# Laguna XS.2: query heads per layer, a head-wise gate, a router correction bias that is a parameter


def test_laguna_per_layer_attention_equals_transformers():
    import torch

    ir = llmarch.load("laguna-xs.2")
    cfg, model = transformers_model("laguna-xs.2")
    for layer, hf in zip(ir.layers, model.model.layers):
        a, attn = layer.attention, hf.self_attn
        assert a.n_heads == attn.num_heads == cfg.num_attention_heads_per_layer[layer.index]
        assert attn.g_proj.out_features == a.n_heads  # gating: one softplus gate per head
        assert (a.window is not None) == (cfg.layer_types[layer.index] == "sliding_attention")
    router = model.model.layers[1].mlp.gate
    assert isinstance(router.e_score_correction_bias, torch.nn.Parameter)
    count = llmarch.count_params(ir)
    hf_router = sum(p.numel() for n, p in model.named_parameters() if ".mlp.gate." in n)
    assert count.by_component["router"] == hf_router
    assert count.buffers == 0


# ---------------------------------------------------------------------------
# Sarvam 30B: model_type sarvam_moe is Sarvam's remote code, which transformers 5.23 lacks. Its modules, as the
# publisher's modelling file builds them (tests/data/configs/sarvam-30b.values.yaml quotes it), are counted by
# hand, and by transformers' GLM-4.5 MoE classes, which build the same modules (per-head QK-norm, a dense first
# layer, a sigmoid router, one shared expert) except that GLM keeps the expert bias as a buffer where Sarvam's
# code holds an nn.Parameter.


def test_grok_2_5_total_equals_the_publisher_code_by_hand():
    """Grok 2.5 has no transformers implementation (its model_type `git` names an unrelated transformers model):
    SGLang's grok.py as its values file quotes it, written out over the collected values: per layer q/k/v/o with
    no biases, four RMSNorms (pre/post attention, pre/post MoE), a bias-free router, num_local_experts SwiGLU
    experts of moe_intermediate_size and, with residual_moe, an always-on SwiGLU MLP of intermediate_size; untied
    embeddings and LM head. The sum is the community's exact count on the model's discussion board."""
    c = collected_values("grok-2.5")
    d, v, n, hd = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["head_dim"]
    heads, kv, e = c["num_attention_heads"], c["num_key_value_heads"], c["num_local_experts"]
    assert c["residual_moe"] is True and c["tie_word_embeddings"] is False
    attention = d * (heads + 2 * kv) * hd + heads * hd * d
    swiglu = lambda width: 3 * d * width  # noqa: E731 - w1 (gate), w3 (up), w2 (down), no biases
    layer = attention + 4 * d + d * e + e * swiglu(c["moe_intermediate_size"]) + swiglu(c["intermediate_size"])
    total = 2 * v * d + n * layer + d  # embed_tokens, lm_head, the final norm
    assert total == 269_515_497_472  # huggingface.co/xai-org/grok-2/discussions/6
    assert llmarch.count_params(llmarch.load("grok-2.5")).total == total


def test_sarvam_30b_total_equals_the_publisher_code_by_hand():
    c = collected_values("sarvam-30b")
    d, v, n, hd = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["head_dim"]
    heads, kv, e = c["num_attention_heads"], c["num_key_value_heads"], c["num_experts"]
    n_moe = n - c["first_k_dense_replace"]
    attention = d * (heads + 2 * kv) * hd + heads * hd * d + 2 * hd  # query_key_value, dense, q/k layernorms
    mlp = lambda width: 3 * d * width  # noqa: E731 - gate, up, down projections, no biases
    moe = e * mlp(c["moe_intermediate_size"]) + mlp(c["moe_intermediate_size"] * c["num_shared_experts"])
    router = e * d + e  # gate.weight and gate.expert_bias, both nn.Parameter
    total = (
        2 * v * d  # word_embeddings and the untied lm_head
        + n * (attention + 2 * d)  # input_layernorm, post_attention_layernorm
        + c["first_k_dense_replace"] * mlp(c["intermediate_size"])
        + n_moe * (moe + router)
        + d  # final norm
    )
    assert total == 32_152_650_368
    count = llmarch.count_params(llmarch.load("sarvam-30b"))
    assert count.total == total
    assert count.buffers == 0  # the expert bias is a parameter, not a buffer


def test_sarvam_30b_total_equals_transformers_twin_plus_the_bias_parameter():
    import torch
    from transformers import AutoModelForCausalLM, Glm4MoeConfig

    c = collected_values("sarvam-30b")
    twin = Glm4MoeConfig(
        vocab_size=c["vocab_size"],
        hidden_size=c["hidden_size"],
        intermediate_size=c["intermediate_size"],
        num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=c["num_attention_heads"],
        num_key_value_heads=c["num_key_value_heads"],
        head_dim=c["head_dim"],
        use_qk_norm=c["use_qk_norm"],
        attention_bias=c["use_qkv_bias"],
        moe_intermediate_size=c["moe_intermediate_size"],
        n_routed_experts=c["num_experts"],
        num_experts_per_tok=c["num_experts_per_tok"],
        n_shared_experts=c["num_shared_experts"],
        first_k_dense_replace=c["first_k_dense_replace"],
        tie_word_embeddings=c["tie_word_embeddings"],
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(twin)
    bias = sum(b.numel() for name, b in model.named_buffers() if name.endswith("e_score_correction_bias"))
    assert bias == (c["num_hidden_layers"] - c["first_k_dense_replace"]) * c["num_experts"]
    assert llmarch.count_params(llmarch.load("sarvam-30b")).total == unique_params(model) + bias


# Sarvam 105B: model_type sarvam_mla, Sarvam's remote code as well; its attention is DeepSeek-V2's MLA without query
# compression, so transformers' DeepSeek-V3 classes build the same modules, the expert bias again aside.


def test_sarvam_105b_total_equals_the_publisher_code_by_hand():
    c = collected_values("sarvam-105b")
    d, v, n, heads = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"], c["num_attention_heads"]
    latent, rope, nope, vd = c["kv_lora_rank"], c["qk_rope_head_dim"], c["qk_nope_head_dim"], c["v_head_dim"]
    e, n_moe = c["num_experts"], n - c["first_k_dense_replace"]
    attention = (
        d * heads * (nope + rope)  # q_proj (q_lora_rank null)
        + d * (latent + rope)  # kv_a_proj_with_mqa
        + latent  # kv_a_layernorm
        + latent * heads * (nope + vd)  # kv_b_proj
        + heads * vd * d  # o_proj
    )
    mlp = lambda width: 3 * d * width  # noqa: E731 - gate, up, down projections, no biases
    moe = e * mlp(c["moe_intermediate_size"]) + mlp(c["moe_intermediate_size"] * c["num_shared_experts"])
    router = e * d + e  # gate.weight and gate.e_score_correction_bias, both nn.Parameter
    total = (
        2 * v * d  # embed_tokens and the untied lm_head
        + n * (attention + 2 * d)  # input_layernorm, post_attention_layernorm
        + c["first_k_dense_replace"] * mlp(c["intermediate_size"])
        + n_moe * (moe + router)
        + d  # final norm
    )
    assert total == 106_031_767_424
    count = llmarch.count_params(llmarch.load("sarvam-105b"))
    assert count.total == total
    assert count.buffers == 0


def test_sarvam_105b_total_equals_transformers_twin_plus_the_bias_parameter():
    import torch
    from transformers import AutoModelForCausalLM, DeepseekV3Config

    c = collected_values("sarvam-105b")
    twin = DeepseekV3Config(
        vocab_size=c["vocab_size"],
        hidden_size=c["hidden_size"],
        intermediate_size=c["intermediate_size"],
        moe_intermediate_size=c["moe_intermediate_size"],
        num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=c["num_attention_heads"],
        num_key_value_heads=c["num_attention_heads"],
        n_routed_experts=c["num_experts"],
        n_shared_experts=c["num_shared_experts"],
        num_experts_per_tok=c["num_experts_per_tok"],
        first_k_dense_replace=c["first_k_dense_replace"],
        q_lora_rank=c["q_lora_rank"],
        kv_lora_rank=c["kv_lora_rank"],
        qk_nope_head_dim=c["qk_nope_head_dim"],
        qk_rope_head_dim=c["qk_rope_head_dim"],
        v_head_dim=c["v_head_dim"],
        tie_word_embeddings=c["tie_word_embeddings"],
        n_group=1,
        topk_group=1,
    )
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(twin)
    bias = sum(b.numel() for name, b in model.named_buffers() if name.endswith("e_score_correction_bias"))
    assert bias == (c["num_hidden_layers"] - c["first_k_dense_replace"]) * c["num_experts"]
    assert llmarch.count_params(llmarch.load("sarvam-105b")).total == unique_params(model) + bias


def _longcat_flash_on_meta(c: dict):
    """transformers 5.23's longcat_flash (LongCat-Flash without n-gram embeddings) built on meta from the collected
    LongCat-Flash-Lite values: the n-gram keys are left out, the rest passed as transformers names them."""
    import torch
    from transformers import AutoModelForCausalLM, LongcatFlashConfig

    keys = ("vocab_size", "hidden_size", "ffn_hidden_size", "expert_ffn_hidden_size", "num_layers")
    keys += ("num_attention_heads", "kv_lora_rank", "q_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim")
    keys += ("v_head_dim", "n_routed_experts", "moe_topk", "zero_expert_num", "max_position_embeddings")
    cfg = LongcatFlashConfig(**{k: c[k] for k in keys})
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(cfg)


def _longcat_ngram_by_hand(c: dict) -> tuple[int, int]:
    """LongCat's n-gram embeddings (modeling_longcat_ngram.py; llama.cpp's port writes the same shapes out):
    k = emb_split_num tables per order, orders 2..n (n = emb_neighbor_num), so k (n - 1) tables; table i is
    Embedding(m + 2i + 1, d / (k (n - 1))) with m = ngram_vocab_size_ratio x vocab_size, each followed by a
    bias-free Linear(d / (k (n - 1)), d).  Returns (lookup-table entries, projection entries)."""
    tables = c["emb_split_num"] * (c["emb_neighbor_num"] - 1)
    dim = c["hidden_size"] // tables
    m = c["ngram_vocab_size_ratio"] * c["vocab_size"]
    return sum((m + 2 * i + 1) * dim for i in range(tables)), tables * dim * c["hidden_size"]


def test_longcat_flash_lite_total_equals_transformers_plus_ngram_tables():
    """LongCat-Flash-Lite = transformers 5.23's longcat_flash of the same values (every MLA sublayer, dense MLP,
    router, norm, embedding and head as transformers builds them), less the gate_up_proj rows transformers gives
    the zero experts, plus the n-gram tables and projections by hand.  transformers' LongcatFlashExperts sizes
    gate_up_proj over n_routed_experts + zero_expert_num (its down_proj over n_routed_experts only); a zero
    expert is an identity (its forward never reads those rows) and the checkpoint holds 256 experts per layer."""
    c = collected_values("longcat-flash-lite")
    model = _longcat_flash_on_meta(c)
    phantom = c["num_layers"] * c["zero_expert_num"] * 2 * c["expert_ffn_hidden_size"] * c["hidden_size"]
    assert phantom == 14 * 128 * 2 * 1024 * 3072
    gate_up = model.model.layers[0].mlp.experts.gate_up_proj
    assert tuple(gate_up.shape) == (256 + 128, 2 * 1024, 3072)  # the phantom rows are there
    tables, projections = _longcat_ngram_by_hand(c)
    assert (tables, projections) == (31_406_985_216, 9_437_184)
    count = llmarch.count_params(llmarch.load("longcat-flash-lite"))
    assert count.total == unique_params(model) - phantom + tables + projections
    assert count.by_component["ngram_embedding"] == tables
    assert count.by_component["ngram_projection"] == projections
    # the router scores the real and the zero experts; its correction bias (a buffer) covers both
    router = model.model.layers[0].mlp.router
    assert router.classifier.weight.numel() == count.by_component["router"] // c["num_layers"]
    assert count.buffers == c["num_layers"] * router.e_score_correction_bias.numel() == 14 * 384


def test_longcat_flash_lite_active_range_by_hand():
    """Active under llmarch's convention (lookup tables out, LM head in): a token's 12 router slots may all be
    zero experts (128 >= 12) or all real ones, so routed experts contribute 0 to 12 of 256; `active` is the
    upper end.  By hand: per MoE layer a real expert is 3 x 3072 x 1024 (SwiGLU), 14 MoE layers."""
    c = collected_values("longcat-flash-lite")
    count = llmarch.count_params(llmarch.load("longcat-flash-lite"))
    expert = 3 * c["hidden_size"] * c["expert_ffn_hidden_size"]
    always = count.active - count.active_by_component["routed_experts"]
    assert count.active_by_component["routed_experts"] == c["num_layers"] * c["moe_topk"] * expert
    assert count.active == always + 14 * 12 * 3 * 3072 * 1024
    assert count.active_fewest == always  # 12 zero experts chosen in every MoE layer
    # what a token always multiplies, by hand: 28 MLA sublayers, 28 dense MLPs, 14 routers, the norms,
    # the 12 n-gram projections and the LM head
    d, h = 3072, 32
    mla = d * 1536 + 1536 + 1536 * h * 192 + d * (512 + 64) + 512 + 512 * h * (128 + 128) + h * 128 * d
    assert always == (28 * mla + 28 * 3 * d * 6144 + 14 * d * 384 + (2 * 28 + 1) * d + 12 * 256 * d + 131072 * d)


# ---------------------------------------------------------------------------
# Nemotron 3 Super (issue 21): latent MoE and the MTP module of the hybrid


def test_nemotron_3_super_latent_moe_equals_transformers():
    """The latent MoE against transformers' NemotronHMoE, module by module: the router and the shared expert
    at d (4,096), the experts sized in the latent l (1,024), the two projections d -> l and l -> d."""
    cfg, model = transformers_model("nemotron-3-super-120b-a12b")
    d, latent, n, width = cfg.hidden_size, cfg.moe_latent_size, cfg.n_routed_experts, cfg.moe_intermediate_size
    assert (d, latent, n, width) == (4096, 1024, 512, 2688)
    moe = model.model.layers[cfg.layers_block_type.index("moe")].mixer
    assert moe.experts.up_proj.numel() == moe.experts.down_proj.numel() == n * width * latent
    assert moe.fc1_latent_proj.weight.numel() == moe.fc2_latent_proj.weight.numel() == d * latent
    n_moe = cfg.layers_block_type.count("moe")
    count = llmarch.count_params(llmarch.load("nemotron-3-super-120b-a12b"))
    assert count.by_component["routed_experts"] == n_moe * 2 * n * width * latent
    assert count.by_component["dense_ffn"] == n_moe * 2 * d * latent  # the latent projections: every token's
    assert count.by_component["shared_experts"] == n_moe * 2 * d * cfg.moe_shared_expert_intermediate_size
    assert count.by_component["router"] == n_moe * d * n
    # without the latent the experts would be sized in d: the 458.6B of the issue
    plain = (
        count.total - count.by_component["routed_experts"] * (latent - d) // latent - count.by_component["dense_ffn"]
    )
    assert round(plain / 1e9, 1) == 458.6


def test_nemotron_3_super_mtp_module_by_hand():
    """One MTP module (num_nextn_predict_layers 1, mtp_hybrid_override_pattern "*E"), as vLLM's NemotronHMTP
    builds it: enorm and hnorm, eh_proj (2d -> d, no bias), an attention block and a MoE block each as the
    model's own (transformers' blocks, with their pre-norm), a final norm; the embedding and the LM head are
    the model's. transformers does not build it, so the blocks are taken from the main stack."""
    cfg, model = transformers_model("nemotron-3-super-120b-a12b")
    raw = upstream_config("nemotron-3-super-120b-a12b")
    assert (raw["num_nextn_predict_layers"], raw["mtp_hybrid_override_pattern"]) == (1, "*E")
    d, types = cfg.hidden_size, cfg.layers_block_type
    block = {kind: sum(p.numel() for p in model.model.layers[types.index(kind)].parameters()) for kind in types}
    expect = 2 * d + 2 * d * d + block["full_attention"] + block["moe"] + d
    count = llmarch.count_params(llmarch.load("nemotron-3-super-120b-a12b"))
    assert count.mtp == expect
    assert count.total == unique_params(model)  # the MTP module is counted apart, never in the total


def test_mimo_v2_5_pro_equals_its_checkpoint_tensor_list():
    """MiMo-V2.5-Pro against its released checkpoint: the tensor families of the model report that quotes the
    vendored config (tests/data/configs/mimo-v2.5-pro.source.yaml: 34 files, 1,023,244,718,976 elements),
    written out here by hand. fp8 tensors carry a float32 weight_scale_inv of ceil(out/128) x ceil(in/128); the
    checkpoint stores q, k and v fused (qkv_proj: 128 x 192 + 8 x 192 + 8 x 128 rows), o_proj in bf16, the
    router in fp32 beside its e_score_correction_bias, and three MTP layers (model.mtp.layers.0-2)."""
    h, vocab, experts = 6144, 152576, 384
    qkv = 128 * 192 + 8 * 192 + 8 * 128
    assert qkv == 27136
    families = {  # name: (elements, of which fp8 scales)
        "embed_tokens + lm_head": (2 * vocab * h, 0),
        "input/post_attention_layernorm x 70": (2 * 70 * h, 0),
        "o_proj x 70": (70 * h * 16384, 0),
        "qkv_proj x 70": (70 * qkv * h + 70 * 216 * 48, 70 * 216 * 48),
        "layer 0 gate/up/down": (3 * 16384 * h + 3 * 128 * 48, 3 * 128 * 48),
        "attention_sink_bias x 60": (60 * 128, 0),
        "experts x 69 x 384": (69 * experts * 3 * 2048 * h + 69 * experts * 3 * 16 * 48, 69 * experts * 3 * 16 * 48),
        "gate.weight + e_score_correction_bias x 69": (69 * experts * h + 69 * experts, 0),
        "mtp eh_proj + 5 norms x 3": (3 * h * 2 * h + 3 * 5 * h, 0),
        "mtp mlp x 3": (3 * 3 * 16384 * h + 3 * 3 * 128 * 48, 3 * 3 * 128 * 48),
        "mtp attention x 3": (3 * 128 + 3 * h * 16384 + 3 * qkv * h + 3 * 216 * 48, 3 * 216 * 48),
        "norm": (h, 0),
    }
    assert sum(n for n, _ in families.values()) == 1_023_244_718_976  # the report's total
    scales = sum(s for _, s in families.values())
    count = llmarch.count_params(llmarch.load("mimo-v2.5-pro"))
    assert count.buffers == 69 * experts
    assert count.total + count.mtp + count.buffers == 1_023_244_718_976 - scales
    assert count.mtp == 3 * (2 * h * h + 5 * h + 3 * 16384 * h + 128 + h * 16384 + qkv * h)


def test_parallel_ffn_with_zero_experts_active_fewest_by_hand():
    """Review of issue 23: a dense FFN in parallel with experts (Gemma 4 26B-A4B, `ffn: P`) that are given
    zero-computation experts by a what-if: the closed form's active_fewest must drop the routed experts as the
    module walk does (the parallel FFN once answered `active` for it).  By hand from Gemma 4 26B-A4B's config:
    30 MoE layers, top_k 8, a GeGLU expert of 3 x 2816 x 704 = 5,947,392; with 8 zero experts a token's 8
    slots may all be zero experts, so active_fewest = active - 30 x 8 x 5,947,392 = active - 1,427,374,080."""
    ir = llmarch.load("gemma-4-26b-a4b", sets=["moe.zero_experts=8"])
    closed = llmarch.count_params(ir)
    # the shipped spec's 3,822,530,560 plus the router's 8 more outputs in each of 30 layers: 30 x 2816 x 8 = 675,840
    assert closed.active == 3_822_530_560 + 30 * 2816 * 8 == 3_823_206_400
    assert closed.active_fewest == 3_823_206_400 - 30 * 8 * 3 * 2816 * 704 == 2_395_832_320
    walked = llmarch.module_params(llmarch.build(ir))
    assert walked.active_fewest == closed.active_fewest


def test_mimo_v2_5_equals_its_checkpoint_tensor_list():
    """MiMo-V2.5 against its released checkpoint: the tensor families of the model report that quotes the vendored
    config (tests/data/configs/mimo-v2.5.source.yaml: 17 files, 310,775,040,000 elements), written out here by hand.
    As MiMo-V2.5-Pro: fp8 tensors carry a float32 weight_scale_inv of ceil(out/128) x ceil(in/128), q, k and v are
    fused (qkv_proj: 64 x 192 + 4 x 192 + 4 x 128 rows on the 9 global layers, 64 x 192 + 8 x 192 + 8 x 128 on the
    39 sliding ones), o_proj is bf16, three MTP layers. The checkpoint also holds a vision encoder (visual.*), an
    audio encoder (audio_encoder.*) and 20 speech embeddings, which llmarch does not count."""
    h, vocab, experts = 4096, 152576, 256
    full, sliding = 64 * 192 + 4 * 192 + 4 * 128, 64 * 192 + 8 * 192 + 8 * 128
    assert (full, sliding) == (13568, 14848)
    families = {  # name: (elements, of which fp8 scales)
        "embed_tokens + lm_head": (2 * vocab * h, 0),
        "input/post_attention_layernorm x 48": (2 * 48 * h, 0),
        "o_proj x 48": (48 * h * 8192, 0),
        "qkv_proj x 9 global": (9 * full * h + 9 * 108 * 32, 9 * 108 * 32),
        "qkv_proj x 39 sliding": (39 * sliding * h + 39 * 116 * 32, 39 * 116 * 32),
        "layer 0 gate/up/down": (3 * 16384 * h + 3 * 128 * 32, 3 * 128 * 32),
        "attention_sink_bias x 39": (39 * 64, 0),
        "experts x 47 x 256": (47 * experts * 3 * 2048 * h + 47 * experts * 3 * 16 * 32, 47 * experts * 3 * 16 * 32),
        "gate.weight + e_score_correction_bias x 47": (47 * experts * h + 47 * experts, 0),
        "mtp eh_proj + 5 norms x 3": (3 * h * 2 * h + 3 * 5 * h, 0),
        "mtp mlp x 3": (3 * 3 * 16384 * h + 3 * 3 * 128 * 32, 3 * 3 * 128 * 32),
        "mtp attention x 3": (3 * 64 + 3 * h * 8192 + 3 * sliding * h + 3 * 116 * 32, 3 * 116 * 32),
        "norm": (h, 0),
    }
    # 6 local layers (2 norms, gate/up/down 1024 <-> 4096, q/k/v/o 1024 x 1024, q/k/v biases), a norm, a projection
    audio = 6 * (2 * 1024 + 3 * 1024 * 4096 + 4 * 1024 * 1024 + 3 * 1024) + 1024 + 2 * 16384 * 4096
    speech_embeddings = 20 * 1280 * 1024
    vision_block = 1280 + 1280 * 2048 + 3072 + 3072 * 1280 + 1280 + 4608 + 4608 + 3 * 4608 * 1280 + 2 * 1280
    vision = 28 * vision_block + 24 * 32 + 1280 + 5120 * 5120 + 4096 * 5120 + 1280 * 3 * 2 * 16 * 16
    assert sum(n for n, _ in families.values()) + audio + speech_embeddings + vision == 310_775_040_000
    assert round((audio + speech_embeddings) / 1e6) == 261 and round(vision / 1e6) == 729  # the vLLM recipe's sizes
    (reference,) = [r for r in llmarch.load("mimo-v2.5").references if r.adjustments]
    assert [params for _, _, params in reference.adjustments] == [audio + speech_embeddings + vision]
    scales = sum(s for _, s in families.values())
    count = llmarch.count_params(llmarch.load("mimo-v2.5"))
    assert count.buffers == 47 * experts
    assert count.total + count.mtp + count.buffers == sum(n for n, _ in families.values()) - scales
    assert count.mtp == 3 * (2 * h * h + 5 * h + 3 * 16384 * h + 64 + h * 8192 + sliding * h)
