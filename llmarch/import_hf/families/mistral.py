"""Mistral: `mistral`, `ministral3` and `mixtral`."""

from __future__ import annotations

from ...schema import MAX_CONTEXT
from ..common import _ATTN, _DENSE_NAMES, _W123, GATED_FFN, TextType, _ffn_kind, _layers, _llama_like, _moe
from ..config import Config
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, Derived, _keys
from ..quant import ModuleNames
from ..rope import _rope_keys


def build_mistral(cfg: Config) -> dict:
    return _llama_like(cfg, window_key="sliding_window", bias_key=None)


def build_mixtral(cfg: Config) -> dict:
    spec = _llama_like(cfg, window_key="sliding_window", bias_key=None)
    spec.pop("ffn")
    spec["moe"] = _moe(
        cfg.int("num_local_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("intermediate_size"),
        _ffn_kind(cfg, "hidden_act", GATED_FFN),
    )
    spec["layers"] = _layers(
        ["L" if "window" in spec["attention"] else "G"] * spec["n_layers"], ["E"] * spec["n_layers"]
    )
    return spec


MISTRAL_KEYS = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "sliding_window": 4096,
    **_rope_keys(10000.0),
    **_QUANT,
}


def _ministral3_rope(r: Config) -> dict:
    return {
        "type": "yarn",
        "rope_theta": 1000000.0,
        "factor": 16.0,
        "original_max_position_embeddings": 16384,
        "max_position_embeddings": r.int("max_position_embeddings", 1, MAX_CONTEXT),
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "mscale_all_dim": 1.0,
        "mscale": 1.0,
        "llama_4_scaling_beta": 0.1,
    }


MINISTRAL3_KEYS = MISTRAL_KEYS | {
    "vocab_size": 131072,
    "num_hidden_layers": 34,
    "head_dim": 128,
    "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-5,
    "sliding_window": None,
    # transformers fills rope_parameters (theta included) before it reads rope_theta, so 1e6 is the theta in effect
    "rope_parameters": Derived("YaRN x16 from 16,384, theta 1e6", _ministral3_rope),
    "rope_theta": 1000000.0,
}


MIXTRAL_KEYS = MISTRAL_KEYS | {
    "rms_norm_eps": 1e-5,
    "sliding_window": None,
    "num_experts_per_tok": 2,
    "num_local_experts": 8,
    **_rope_keys(1000000.0),
}


TYPES = [
    TextType("mistral", "mistral", _keys(MISTRAL_KEYS), build_mistral),
    TextType("ministral3", "mistral", _keys(MINISTRAL3_KEYS), build_mistral),
    TextType("mixtral", "mistral", _keys(MIXTRAL_KEYS), build_mixtral),
]


MODULE_NAMES = {
    **{t: ModuleNames(_DENSE_NAMES) for t in ("mistral", "ministral3")},
    "mixtral": ModuleNames({"attention": _ATTN, "routed_experts": _W123, "other": ("block_sparse_moe.gate",)}),
}
