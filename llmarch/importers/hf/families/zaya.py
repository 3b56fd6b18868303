"""Zyphra's ZAYA (`zaya`, ZAYA1-8B): every layer a compressed convolutional attention (CCA) and a top-1 MoE
whose MLP router may pick a skip expert, with learned residual scaling; transformers 5.23's ZayaConfig."""

from __future__ import annotations

from typing import Any

from ....limits import MAX_CONTEXT, MAX_HEAD_DIM, MAX_HEADS
from ...checkpoints.naming import Family, to
from ..common import GATED_FFN, TextType, _base, _biases, _ffn_kind, _layer_kinds, _layers, _rmsnorm
from ..config import Config, _show
from ..keys import _QUANT, Derived, Reject, _keys
from ..quant import ModuleNames

KINDS = {"hybrid": "G", "hybrid_sliding": "L"}  # attention + MoE; ZayaAttention windows "hybrid_sliding" only

# ZayaConfig.__post_init__'s rope_parameters when the config gives none, by layer type
DEFAULT_ROPE = {
    "hybrid": {"rope_type": "default", "rope_theta": 5_000_000.0, "partial_rotary_factor": 0.5},
    "hybrid_sliding": {"rope_type": "default", "rope_theta": 10_000.0, "partial_rotary_factor": 0.5},
}


def _rope_entry(cfg: Config, params: dict, layer_type: str) -> dict[str, Any]:
    """The spec `rope:` of one layer type: ZayaRotaryEmbedding reads rope_parameters[layer_type] (theta, and
    partial_rotary_factor defaulting to 1.0), and only the `default` RoPE type is modelled here."""
    entry = params.get(layer_type)
    path = ("rope_parameters", layer_type)
    if not isinstance(entry, dict):
        raise cfg.error(path, f"expected a mapping with rope_theta, got {_show(entry)}")
    if entry.get("rope_type", "default") != "default":
        raise cfg.error(
            path + ("rope_type",), f"RoPE type {_show(entry['rope_type'])} is not supported for model type `zaya`"
        )
    theta, partial = entry.get("rope_theta"), entry.get("partial_rotary_factor", 1.0)
    for key, value in (("rope_theta", theta), ("partial_rotary_factor", partial)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise cfg.error(path + (key,), f"expected a positive number, got {_show(value)}")
    if not 0 < partial <= 1:
        raise cfg.error(path + ("partial_rotary_factor",), f"expected a fraction in (0, 1], got {_show(partial)}")
    rope: dict[str, Any] = {"theta": theta}
    if partial != 1.0:
        rope["partial"] = partial
    return rope


def build_zaya(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    n_heads, n_kv = cfg.int("num_attention_heads", 1, MAX_HEADS), cfg.int("num_key_value_heads", 1, MAX_HEADS)
    if n_heads % n_kv:
        raise cfg.error("num_key_value_heads", f"{n_kv} does not divide num_attention_heads ({n_heads})")
    head_dim = cfg.int("head_dim", 2, MAX_HEAD_DIM)
    if head_dim % 2:
        raise cfg.error("head_dim", f"{head_dim} is odd: CCA splits each value head into two halves")
    mixers = _layer_kinds(cfg, "layer_types", KINDS, n)
    params = cfg.mapping("rope_parameters") or DEFAULT_ROPE  # null: ZayaConfig's default
    attention: dict[str, Any] = {
        "kind": "mha" if n_kv == n_heads else "gqa",
        "n_heads": n_heads,
        "n_kv_heads": n_kv,
        "head_dim": head_dim,
        "qk_norm": "l2",  # ZayaQKNorm: L2 to sqrt(head_dim); the key temperature is CCA's
        "cca": {"depthwise_kernel": cfg.int("cca_time0", 1, 16), "grouped_kernel": cfg.int("cca_time1", 1, 16)},
        "rope": _rope_entry(cfg, params, "hybrid"),
        **_biases(cfg),  # attention_bias: q, k, both value halves and o
    }
    if "L" in mixers:
        window = cfg.get("sliding_window")
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_CONTEXT:
            raise cfg.error("sliding_window", f"hybrid_sliding layers need a window in tokens, got {_show(window)}")
        attention["window"] = window
        attention["overrides"] = {"local": {"rope": _rope_entry(cfg, params, "hybrid_sliding")}}
    else:
        cfg.touch("sliding_window")
    spec["attention"] = attention
    spec["moe"] = {
        "n_experts": cfg.int("num_experts", 1),
        "top_k": cfg.int("num_experts_per_tok", 1),
        "d_expert": cfg.int("moe_intermediate_size"),
        "expert_kind": _ffn_kind(cfg, "hidden_act", GATED_FFN),  # ZayaExperts: act(gate) * up
        "router_mlp": {"hidden": cfg.int("router_hidden_size"), "skip_expert": True, "carried_state": True},
    }
    spec["residual_scaling"] = True
    spec["layers"] = _layers(mixers, ["E"] * n)
    return spec


# transformers 5.23's ZayaConfig (its defaults are ZAYA1-8B's)
ZAYA_KEYS = {
    "vocab_size": 262272,
    "hidden_size": 2048,
    "num_hidden_layers": 40,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "head_dim": 128,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "rope_parameters": DEFAULT_ROPE,
    "sliding_window": None,
    "attention_bias": False,
    "moe_intermediate_size": 2048,
    "num_experts_per_tok": 1,
    "num_experts": 16,
    "router_hidden_size": 256,
    "cca_time0": 2,
    "cca_time1": 2,
    "hidden_act": "silu",
    "layer_types": Derived("every layer hybrid", lambda r: ["hybrid"] * r.int("num_hidden_layers")),
    **_QUANT,
}

TYPES = [
    TextType(
        "zaya",
        "zaya",
        _keys(
            ZAYA_KEYS,
            # partial_rotary_factor beside rope_parameters: ZayaRotaryEmbedding reads the per-layer-type entries
            "partial_rotary_factor",
            {
                "lm_head_bias": Reject("llmarch's LM head has no bias"),
            },
        ),
        build_zaya,
        note="The router's skip expert computes nothing: active parameters count the top-1 expert on every layer",
    ),
]

MODULE_NAMES = {
    "zaya": ModuleNames(
        {
            "attention": (
                "self_attn.qkv_proj.q_proj",
                "self_attn.qkv_proj.k_proj",
                "self_attn.qkv_proj.v_proj_current",
                "self_attn.qkv_proj.v_proj_delayed",
                "self_attn.o_proj",
            ),
            # stored fused, as transformers' ZayaExperts holds them: one module holding every expert's weights
            "routed_experts": ("mlp.experts.gate_up_proj", "mlp.experts.down_proj"),
            "other": (
                "self_attn.qkv_proj.conv_qk_depthwise",
                "self_attn.qkv_proj.conv_qk_grouped",
                "self_attn.qk_norm",
                "mlp.gate",
                "post_attention_residual_scale",
                "post_mlp_residual_scale",
            ),
        }
    ),
}


# Checkpoint tensor names (verify). ZAYA1: the CCA attention's projections and convolutions under
# `self_attn.qkv_proj`, its temperature under `qk_norm`; the MLP router under `mlp.gate` (`router_mlp` its MLP);
# experts stacked as transformers' zaya stores them (its loader converts no per-expert layout); each block's
# residual scaling after attention and after the MLP
CHECKPOINT_NAMES = {
    "zaya": Family(
        (
            (r"attn\.temp", to("self_attn.qk_norm.temp")),
            (
                r"attn\.(q_proj|k_proj|v_proj_current|v_proj_delayed|conv_qk_depthwise|conv_qk_grouped)\.(weight|bias)",
                to("self_attn.qkv_proj.{0}.{1}"),
            ),
            (r"attn\.o_proj\.weight", to("self_attn.o_proj.weight")),
            (r"ffn\.router\.(router_states_scale|balancing_biases)", to("mlp.gate.{0}")),
            (r"ffn\.router\.down_proj\.(weight|bias)", to("mlp.gate.down_proj.{0}")),
            (r"ffn\.router\.(norm|fc1|fc2|out_proj)\.(weight|bias)", to("mlp.gate.router_mlp.{0}.{1}")),
            (r"ffn\.experts\.(gate_up|down)", to("mlp.experts.{0}_proj")),
            (r"residual_scale\.mixer\.(\w+)", to("post_attention_residual_scale.{0}")),
            (r"residual_scale\.ffn\.(\w+)", to("post_mlp_residual_scale.{0}")),
        ),
        layouts=("stacked",),
        outer={"input_scale.scale": "input_hidden_states_scale", "input_scale.bias": "input_hidden_states_bias"},
    ),
}
