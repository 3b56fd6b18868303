"""AI2's OLMo: `olmo2`, `olmo3` and `olmoe`."""

from __future__ import annotations

from ...checkpoints.naming import Family
from ..common import (
    _ATTN,
    _DENSE_NAMES,
    _EXPERTS,
    _MLP,
    ATTENTION_TENSORS,
    DENSE_TENSORS,
    GATED_FFN,
    MLP_TENSORS,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _heads,
    _llama_like,
    _moe,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, KV_FROM_HEADS, Derived, Reject, _keys
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


def build_olmo2(cfg: Config) -> dict:
    return _llama_like(cfg, qk_norm="whole", norm="post")


def build_olmo3(cfg: Config) -> dict:
    # Olmo 3 scales RoPE (YaRN) on full-attention layers only; sliding layers keep the plain base
    return _llama_like(cfg, qk_norm="whole", norm="post", layer_types=True, rope_scaled=("global",))


def build_olmoe(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    spec["attention"] = (
        _heads(cfg, spec["d_model"])
        | _biases(cfg)
        | {"qk_norm": "whole", "rope": _rope(cfg, kinds=("global",))["global"]}
    )
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("intermediate_size"),
        _ffn_kind(cfg, "hidden_act", GATED_FFN),
    )
    return spec


OLMO2_KEYS = {
    "vocab_size": 50304,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "rms_norm_eps": 1e-5,
    **_rope_keys(10000.0),
    **_QUANT,
}


OLMO3_KEYS = OLMO2_KEYS | {
    "sliding_window": 4096,
    "rope_theta": 500000.0,
    "layer_types": Derived(
        "3 sliding-window layers, then 1 full",
        lambda r: ["sliding_attention" if (i + 1) % 4 else "full_attention" for i in range(r.int("num_hidden_layers"))],
    ),
}


OLMOE_KEYS = OLMO2_KEYS | {
    "hidden_size": 2048,
    "intermediate_size": 2048,
    "num_hidden_layers": 16,
    "num_attention_heads": 16,
    "max_position_embeddings": 4096,
    "num_experts_per_tok": 8,
    "num_experts": 64,
}


TYPES = [
    TextType(
        "olmo2",
        "olmo",
        _keys(
            OLMO2_KEYS,
            rejected={
                "sliding_window": Reject(
                    "transformers' OLMo 2 has no sliding-window layers (Olmo 3 does: model_type olmo3)"
                )
            },
        ),
        build_olmo2,
    ),
    TextType("olmo3", "olmo", _keys(OLMO3_KEYS), build_olmo3),
    TextType("olmoe", "olmo", _keys(OLMOE_KEYS, "clip_qkv norm_topk_prob"), build_olmoe),  # clip_qkv: a clamp,
]


MODULE_NAMES = {
    **{t: ModuleNames(_DENSE_NAMES) for t in ("olmo2", "olmo3")},
    "olmoe": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": _MLP,
            "routed_experts": _EXPERTS,
            "other": ("mlp.gate", "self_attn.q_norm", "self_attn.k_norm"),
        }
    ),
}


# Checkpoint tensor names (verify)
CHECKPOINT_NAMES = {
    "olmo2": DENSE_TENSORS,
    "olmo3": DENSE_TENSORS,
    "olmoe": Family(ATTENTION_TENSORS + MLP_TENSORS + routed_expert_tensors()),
}
