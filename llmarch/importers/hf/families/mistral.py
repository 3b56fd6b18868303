"""Mistral: `mistral`, `ministral3`, `mixtral` and `mistral4` (Mistral Small 4's text model)."""

from __future__ import annotations

from ....limits import MAX_CONTEXT
from ...checkpoints.naming import Family
from ..common import (
    _ATTN,
    _DEEPSEEK_NAMES,
    _DENSE_NAMES,
    _W123,
    ATTENTION_TENSORS,
    DENSE_TENSORS,
    GATED_FFN,
    MIXTRAL_TENSORS,
    MLA_TENSORS,
    MLP_TENSORS,
    TextType,
    _base,
    _deepseek_ffns,
    _ffn_kind,
    _layers,
    _llama_like,
    _mla,
    _moe,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config, _show
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, Derived, Reject, _keys
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


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


# ---------------------------------------------------------------------------
# Mistral 4 (Mistral Small 4, inside the mistral3 wrapper): DeepSeek-V3's MLA and DeepSeekMoE in transformers'
# mistral4 classes, with a softmax router that has no correction bias (Mistral4TopkRouter, DeepSeek-V2's).


def build_mistral4(cfg: Config) -> dict:
    """Mistral 4: MLA on every layer, first_k_dense_replace dense blocks, then routed experts and
    n_shared_experts shared ones of moe_intermediate_size each; no MTP module in transformers' classes."""
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = {k: v for k, v in _mla(cfg).items() if v is not None}
    params = cfg.mapping("rope_parameters") or {}
    rope_share = attn["qk_rope_head_dim"] / (attn["qk_nope_head_dim"] + attn["qk_rope_head_dim"])
    if params.get("partial_rotary_factor", rope_share) != rope_share:
        # transformers rotates head_dim * partial_rotary_factor channels of a query part that has qk_rope_head_dim
        raise cfg.error(
            ("rope_parameters", "partial_rotary_factor"),
            f"{_show(params['partial_rotary_factor'])} does not rotate the qk_rope_head_dim "
            f"({attn['qk_rope_head_dim']}) channels MLA rotates",
            f"use {rope_share} (qk_rope_head_dim / (qk_nope_head_dim + qk_rope_head_dim)) or leave it out",
        )
    # MLA's rotated width is qk_rope_head_dim; the factor above only restates it
    attn["rope"] = _rope(cfg, kinds=("global",), ignored_keys=("partial_rotary_factor",))["global"]
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _deepseek_ffns(cfg)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_expert = cfg.int("moe_intermediate_size")
    n_shared = cfg.int("n_shared_experts", 0)
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
    )
    spec["layers"] = _layers(["G"] * spec["n_layers"], ffns)
    return spec


def _mistral4_rope(r: Config) -> dict:
    share = r.int("qk_rope_head_dim") / (r.int("qk_nope_head_dim") + r.int("qk_rope_head_dim"))
    return {
        "type": "yarn",
        "rope_theta": 10000.0,
        "factor": 128.0,
        "original_max_position_embeddings": 8192,
        "max_position_embeddings": r.int("max_position_embeddings", 1, MAX_CONTEXT),
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "mscale_all_dim": 1.0,
        "mscale": 1.0,
        "llama_4_scaling_beta": 0.1,
        "partial_rotary_factor": share,
    }


# transformers 5.23's Mistral4Config defaults (its docstring names mistralai/Mistral-Small-4-119B-2603)
MISTRAL4_KEYS = {
    "vocab_size": 131072,
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "n_shared_experts": 1,
    "n_routed_experts": 128,
    "kv_lora_rank": 256,
    "q_lora_rank": 1024,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 64,
    "num_experts_per_tok": 4,
    "first_k_dense_replace": 0,
    "hidden_act": "silu",
    "max_position_embeddings": 1048576,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    **_rope_keys(10000.0),
    "rope_parameters": Derived("YaRN x128 from 8,192, theta 10,000", _mistral4_rope),
    **_QUANT,
}


# MLA head widths transformers' Mistral4Config writes out itself (head_dim is the query/key width here, not
# DeepSeek's qk_rope_head_dim)
MISTRAL4_DERIVED = {
    name: Derived(
        "qk_nope_head_dim + qk_rope_head_dim", lambda r: r.int("qk_nope_head_dim") + r.int("qk_rope_head_dim")
    )
    for name in ("head_dim", "qk_head_dim")
}


TYPES = [
    TextType("mistral", "mistral", _keys(MISTRAL_KEYS), build_mistral),
    TextType("ministral3", "mistral", _keys(MINISTRAL3_KEYS), build_mistral),
    TextType("mixtral", "mistral", _keys(MIXTRAL_KEYS), build_mixtral),
    TextType(
        "mistral4",
        "mistral",
        _keys(
            MISTRAL4_KEYS,
            # routing (softmax over n_group groups, top-k scaling) and kernel layout change no parameter; MLA has
            # no KV-head count of its own
            "num_key_value_heads n_group topk_group routed_scaling_factor norm_topk_prob rope_interleave "
            "pretraining_tp",
            {
                "attention_bias": Reject("llmarch's MLA has no projection biases"),
            },
            consistent=MISTRAL4_DERIVED,
        ),
        build_mistral4,
    ),
]


MODULE_NAMES = {
    **{t: ModuleNames(_DENSE_NAMES) for t in ("mistral", "ministral3")},
    "mixtral": ModuleNames({"attention": _ATTN, "routed_experts": _W123, "other": ("block_sparse_moe.gate",)}),
    # transformers' Mistral4 modules are DeepSeek-V3's
    "mistral4": ModuleNames(_DEEPSEEK_NAMES),
}


# Checkpoint tensor names (verify)
CHECKPOINT_NAMES = {
    "mistral": DENSE_TENSORS,
    "ministral3": DENSE_TENSORS,
    "mixtral": Family(ATTENTION_TENSORS + MIXTRAL_TENSORS),
    # Mistral 4 (Mistral Small 4's text model): DeepSeek-V3's module names, no MTP module
    "mistral4": Family(MLA_TENSORS + MLP_TENSORS + routed_expert_tensors()),
}
