"""Xiaomi's MiMo-V2-Flash (`mimo_v2_flash`) and MiMo-V2.5's text model (`mimo_v2`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, by_layout, fused_qkv, to
from ..common import (
    _ATTN,
    _DEEPSEEK_NAMES,
    ATTENTION_TENSORS,
    GATED_FFN,
    MLP_TENSORS,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _layers,
    _moe,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config
from ..keys import _QUANT, REQUIRED, Reject, _keys
from ..quant import ModuleNames
from ..rope import _rope


def build_mimo_v2_flash(cfg: Config) -> dict:
    """MiMo-V2-Flash as its hub config.json states it (the names of Xiaomi's code, not transformers 5's)."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg, eps="layernorm_epsilon")
    pattern = cfg.list("hybrid_layer_pattern", n)
    if any(p not in (0, 1) for p in pattern):
        raise cfg.error("hybrid_layer_pattern", "expected 0 (global) or 1 (sliding window) per layer")
    mixers = ["L" if p else "G" for p in pattern]
    full = {
        "kind": "gqa",
        "n_heads": cfg.int("num_attention_heads"),
        "n_kv_heads": cfg.int("num_key_value_heads"),
        "head_dim": cfg.int("head_dim"),
        "v_head_dim": cfg.int("v_head_dim"),
    }
    swa = {
        "n_heads": cfg.int("swa_num_attention_heads"),
        "n_kv_heads": cfg.int("swa_num_key_value_heads"),
        "head_dim": cfg.int("swa_head_dim"),
        "v_head_dim": cfg.int("swa_v_head_dim"),
    }
    attn = full | _biases(cfg, o_bias=False)
    if cfg.bool("add_full_attention_sink_bias"):
        attn["sinks"] = True
    local = {k: v for k, v in swa.items() if v != full[k]}
    if cfg.bool("add_swa_attention_sink_bias"):
        local["sinks"] = True
    # sliding_window_size counts earlier tokens only: the reference SGLang code attends that many plus the
    # query, and transformers' MiMoV2FlashConfig turns it into sliding_window = size + 1
    attn["window"] = cfg.int("sliding_window_size")
    attn["window_excludes_query"] = True
    rope = _rope(cfg, local_theta="swa_rope_theta")
    attn["rope"] = rope["global"]
    local["rope"] = rope["local"]
    if "L" in mixers:
        attn["overrides"] = {"local": local}
    spec["attention"] = attn
    freq = cfg.list("moe_layer_freq", n)
    if any(f not in (0, 1) for f in freq):
        raise cfg.error("moe_layer_freq", "expected 0 (dense) or 1 (experts) per layer")
    ffns = ["E" if f else "D" for f in freq]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    n_shared = cfg.opt_int("n_shared_experts", 0) or 0
    d_expert = cfg.int("moe_intermediate_size")
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


MIMO_V2_FLASH_KEYS = {
    "vocab_size": 152576,
    "hidden_size": 4096,
    "intermediate_size": 16384,
    "num_hidden_layers": 48,
    "num_attention_heads": 64,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "moe_intermediate_size": 2048,
    "num_experts_per_tok": 8,
    "n_routed_experts": 256,
    "head_dim": 192,
    "v_head_dim": 128,
    # transformers 5 stores RoPE nested by layer type with these values
    "rope_theta": 5000000.0,
    "swa_rope_theta": 10000.0,
    "partial_rotary_factor": 0.334,
    "rope_scaling": None,
    "rope_parameters": None,
    # the names of Xiaomi's code, which transformers 5 does not read: no default
    "swa_num_attention_heads": REQUIRED,
    "swa_num_key_value_heads": REQUIRED,
    "swa_head_dim": REQUIRED,
    "swa_v_head_dim": REQUIRED,
    "hybrid_layer_pattern": REQUIRED,
    "moe_layer_freq": REQUIRED,
    "sliding_window_size": REQUIRED,
    "add_swa_attention_sink_bias": REQUIRED,
    "add_full_attention_sink_bias": REQUIRED,
    "layernorm_epsilon": REQUIRED,
    "n_shared_experts": REQUIRED,
    **_QUANT,
}


TYPES = [
    TextType(
        "mimo_v2_flash",
        "mimo",
        _keys(
            MIMO_V2_FLASH_KEYS,
            # routing details; sliding_window: transformers' window + 1 (the window is sliding_window_size);
            # attention_chunk_size: a kernel tile of Xiaomi's code; attention_value_scale: a scalar
            "scoring_func topk_method n_group topk_group routed_scaling_factor norm_topk_prob sliding_window "
            "attention_chunk_size attention_value_scale",
        ),
        build_mimo_v2_flash,
        note="MiMo-V2-Flash configs have no key for MTP modules; add an `mtp:` block if the checkpoint holds them",
    ),
    TextType(
        "mimo_v2",
        "mimo",
        _keys(
            MIMO_V2_FLASH_KEYS,
            # MiMo-V2.5's config is MiMo-V2-Flash's with these: q/k/v stored as one fused tensor (the same
            # parameters), the router's compute dtype; the encoders' configs, their input preprocessing and the
            # tokens that mark their input (the encoders are not counted: the note says so)
            "scoring_func topk_method n_group topk_group routed_scaling_factor norm_topk_prob sliding_window "
            "attention_chunk_size attention_value_scale attention_projection_layout moe_router_dtype "
            "vision_config audio_config vision_model_type processor_config image_token_id video_token_id "
            "audio_token_id vision_start_token_id vision_end_token_id",
            # MiMo-V2.5's config writes it null; no source says how Xiaomi's code reads a value, so only
            # hybrid_layer_pattern decides the layer schedule
            rejected={
                "hybrid_block_size": Reject("a hybrid schedule by block size: only hybrid_layer_pattern is read")
            },
        ),
        build_mimo_v2_flash,
        note=(
            "model_type mimo_v2 (MiMo-V2.5, MiMo-V2.5-Pro) is MiMo-V2-Flash's text model; vision and audio "
            "encoders, where the config has them (vision_config, audio_config: MiMo-V2.5), are not counted. The "
            "config has no key for MTP modules; add an `mtp:` block if the checkpoint holds them"
        ),
    ),
]


MODULE_NAMES = {
    **{t: ModuleNames(_DEEPSEEK_NAMES | {"attention": _ATTN}) for t in ("mimo_v2_flash", "mimo_v2")},
}


# Checkpoint tensor names (verify): the sinks as `attention_sink_bias`; where the checkpoints keep their MTP
# modules is not known here: their MTP weights are not held
MIMO_TENSORS = (
    ((r"attn\.sinks", by_layout(to("self_attn.attention_sink_bias"), to("self_attn.sinks"))),)
    + ATTENTION_TENSORS
    + MLP_TENSORS
    + routed_expert_tensors()
)


def _kv_heads(layer) -> int:
    attention = layer.attention if layer is not None else None
    return attention.n_kv_heads if attention is not None else 1


# MiMo-V2.5-Pro's checkpoint (config `attention_projection_layout: fused_qkv`) stores q, k and v as one
# `qkv_proj` [q; k; v rows]; its fp8 scale has 216 rows for 27,136 (not ceil(27,136 / 128) = 212): eight row
# groups of 3,392 (16 query heads, one key and one value head: one KV head's) blocked apart, 8 x 27
MIMO_V2_TENSORS = (
    (r"attn\.(q|k|v)_proj\.weight", fused_qkv(to("self_attn.{0}_proj.weight"), "self_attn.qkv_proj.weight", _kv_heads)),
) + MIMO_TENSORS
CHECKPOINT_NAMES = {
    "mimo_v2_flash": Family(MIMO_TENSORS, mtp="unchecked"),
    "mimo_v2": Family(
        MIMO_V2_TENSORS,
        mtp="unchecked",
        layouts=("per_expert", "stacked", "per_expert/fused_qkv", "stacked/fused_qkv"),
    ),
}
