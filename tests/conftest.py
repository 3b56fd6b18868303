"""Shared fixtures: the shipped specs, their vendored upstream configs, transformers on meta."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import pytest

import llmarch
from llmarch.spec.registry import shipped_dir

# Every test runs the module-walk cross-check itself: the build cache is off for the suite (and for the CLI
# subprocesses it starts); tests/test_buildcache.py turns it on in a folder of its own.
os.environ["LLMARCH_NO_CACHE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "tests" / "data" / "configs"
SPEC_NAMES = sorted(p.stem for p in shipped_dir().glob("*.yaml"))


def config_path(name: str) -> Path:
    return CONFIGS / f"{name}.json"


def has_config(name: str) -> bool:
    return config_path(name).is_file()


@lru_cache(maxsize=None)
def upstream_config(name: str) -> dict:
    return json.loads(config_path(name).read_text())


def text_config(cfg: dict) -> dict:
    """The text model of a multimodal wrapper (llmarch counts the text model only)."""
    return cfg.get("text_config", cfg)


@lru_cache(maxsize=4)
def transformers_model(name: str):
    """transformers' own implementation, built on the meta device from the verbatim upstream config."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    raw = text_config(upstream_config(name))
    # Kimi K2's configs say kimi_k2 but use DeepSeek-V3's code (auto_map), which transformers names deepseek_v3;
    # transformers implements Xiaomi's mimo_v2 (MiMo-V2.5-Pro's remote code) as mimo_v2_flash
    renamed = {"kimi_k2": "deepseek_v3", "mimo_v2": "mimo_v2_flash"}
    model_type = renamed.get(raw["model_type"], raw["model_type"])
    if raw["model_type"] == "mimo_v2":
        return mimo_v2_on_meta(raw)
    cfg_class = CONFIG_MAPPING[model_type]
    cfg = cfg_class(**{k: v for k, v in raw.items() if k != "model_type"})
    return cfg, causal_lm_on_meta(cfg)


def mimo_v2_on_meta(raw: dict):
    """transformers 5.23's mimo_v2_flash built from a mimo_v2 hub config (Xiaomi's remote code), as that code reads it.

    transformers' MiMoV2FlashConfig reads neither `hybrid_layer_pattern` nor `moe_layer_freq` (it derives a global
    layer at 0 and every sixth, a dense first layer) nor `swa_num_key_value_heads` (its sliding layers get twice
    num_key_value_heads): the pattern is passed as layer_types (1 = sliding) and mlp_layer_types (1 = MoE), the model
    is built with num_key_value_heads = swa_num_key_value_heads / 2, and the global layers' k_proj and v_proj are then
    rebuilt at the config's num_key_value_heads (MiMo-V2.5-Pro: 8 on every layer)."""
    import torch
    from transformers import MiMoV2FlashConfig

    kwargs = {k: v for k, v in raw.items() if k != "model_type"}
    # MiMo-V2.5's `rope_scaling: {rope_type: default}` would replace transformers' per-layer-kind rope_parameters
    # with one flat dict (its rotary embedding then finds no "full_attention" entry); default RoPE changes no count
    assert kwargs.pop("rope_scaling", None) in (None, {"rope_type": "default", "type": "default"})
    kwargs["layer_types"] = ["sliding_attention" if p else "full_attention" for p in raw["hybrid_layer_pattern"]]
    kwargs["mlp_layer_types"] = ["sparse" if f else "dense" for f in raw["moe_layer_freq"]]
    swa_kv, kv = raw["swa_num_key_value_heads"], raw["num_key_value_heads"]
    # transformers gives both kinds head_dim and v_head_dim and its sliding layers 2 x num_key_value_heads
    assert (raw["swa_head_dim"], raw["swa_v_head_dim"]) == (raw["head_dim"], raw["v_head_dim"]) and swa_kv % 2 == 0
    cfg = MiMoV2FlashConfig(**{**kwargs, "num_key_value_heads": swa_kv // 2})
    model = causal_lm_on_meta(cfg)
    with torch.device("meta"):
        for layer, kind in zip(model.model.layers, cfg.layer_types):
            if kind == "full_attention":
                attn = layer.self_attn
                attn.k_proj = torch.nn.Linear(cfg.hidden_size, kv * raw["head_dim"], bias=cfg.attention_bias)
                attn.v_proj = torch.nn.Linear(cfg.hidden_size, kv * raw["v_head_dim"], bias=cfg.attention_bias)
    cfg.num_key_value_heads = kv
    return cfg, model


def causal_lm_on_meta(cfg):
    """transformers' causal LM for a text config, on the meta device.

    transformers 5.23's AutoModelForCausalLM does not map mistral4 (its pretraining and image-text-to-text tables
    name Mistral4ForCausalLM), so that class is named here. Step 3.5 (step3p5) has no causal LM class at all:
    its text model sits inside Step3p7ForConditionalGeneration, whose LM head is a bias-free Linear(d_model,
    vocab); the text model gets that head here, without the vision tower.
    """
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.models.mistral4.modeling_mistral4 import Mistral4ForCausalLM
    from transformers.models.step3p7.modeling_step3p7 import Step3p7TextModel

    class Step3p5WithHead(torch.nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.model = Step3p7TextModel(cfg)
            self.lm_head = torch.nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)

        def get_input_embeddings(self):
            return self.model.embed_tokens

        def get_output_embeddings(self):
            return self.lm_head

    with torch.device("meta"):
        if cfg.model_type == "mistral4":
            return Mistral4ForCausalLM(cfg)
        if cfg.model_type == "step3p5":
            return Step3p5WithHead(cfg)
        return AutoModelForCausalLM.from_config(cfg)


def multimodal_params(name: str) -> int:
    """Parameters outside the language model of a multimodal checkpoint (vision tower, projector), transformers on meta.

    From the verbatim config, or the collected values where there is none. Counted by module name rather than as a
    difference of totals: transformers may tie the wrapper's LM head where the text model alone does not (Mistral
    Small 3.1's wrapper config has no tie key).
    """
    return multimodal_params_of(upstream_config(name) if has_config(name) else collected_values(name))


def collected_values(name: str) -> dict:
    """The config values collected in <name>.values.yaml, for a spec without a verbatim config."""
    import yaml

    return yaml.safe_load((CONFIGS / f"{name}.values.yaml").read_text())["values"]


def multimodal_params_of(raw: dict) -> int:
    """`multimodal_params` of a wrapper config given as a dict."""
    import torch
    from transformers import AutoModelForImageTextToText
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    cfg = CONFIG_MAPPING[raw["model_type"]](**{k: v for k, v in raw.items() if k != "model_type"})
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(cfg)
    seen, total = set(), 0
    for pname, p in model.named_parameters():
        if "language_model" in pname or pname.startswith("lm_head") or id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def unique_params(model) -> int:
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


@pytest.fixture(params=SPEC_NAMES)
def spec_name(request) -> str:
    return request.param


__all__ = [
    "llmarch",
    "SPEC_NAMES",
    "has_config",
    "upstream_config",
    "transformers_model",
    "unique_params",
    "causal_lm_on_meta",
]
