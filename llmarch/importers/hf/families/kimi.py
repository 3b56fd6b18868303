"""Moonshot's Kimi Linear (`kimi_linear`): KDA layers and MLA layers, DeepSeek's MoE."""

from __future__ import annotations

from ....errors import did_you_mean
from ...checkpoints.naming import Family, experts, split, to
from ..common import (
    _DEEPSEEK_NAMES,
    GATED_FFN,
    MLA_DERIVED,
    MLA_TENSORS,
    MLP_TENSORS,
    TextType,
    _base,
    _deepseek_ffns,
    _ffn_kind,
    _first_k_dense,
    _layer_kinds,
    _layers,
    _mla,
    _moe,
    _rmsnorm,
)
from ..config import Config, _int_items, _show
from ..keys import _QUANT, Derived, Reject, _keys, _only
from ..quant import ModuleNames


def _kimi_linear_config(r: Config) -> dict:
    n = r.int("num_hidden_layers")
    full = [i + 1 for i in range(n) if i and i % 4 == 0]  # transformers' default: every 4th layer from layer 4
    return {
        "full_attn_layers": full,
        "kda_layers": [i + 1 for i in range(n) if i + 1 not in full],
        **{key: r.int(flat) for key, flat in LINEAR_ATTN_FLAT.items()},
    }


LINEAR_ATTN_KEYS = ("full_attn_layers", "kda_layers", "head_dim", "num_heads", "short_conv_kernel_size")


LINEAR_ATTN_FLAT = {
    "head_dim": "linear_head_dim",
    "num_heads": "linear_num_heads",
    "short_conv_kernel_size": "linear_conv_kernel_dim",
}


def _kimi_layer_lists(r: Config) -> tuple[list[int], list[int]]:
    """linear_attn_config's full_attn_layers and kda_layers (1-based), checked."""
    n = r.int("num_hidden_layers")
    linear = r.mapping("linear_attn_config") or {}
    return tuple(
        _int_items(r, ("linear_attn_config", key), linear.get(key, []), 1, n)  # type: ignore[return-value]
        for key in ("full_attn_layers", "kda_layers")
    )


def _kimi_layer_types(r: Config) -> list[str]:
    types = ["linear_attention"] * r.int("num_hidden_layers")
    for layer in _kimi_layer_lists(r)[0]:
        types[layer - 1] = "full_attention"  # 1-based in the checkpoint
    return types


def build_kimi_linear(cfg: Config) -> dict:
    spec = _base(cfg, context="model_max_length")
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    linear = cfg.mapping("linear_attn_config") or {}
    for key in linear:
        if key not in LINEAR_ATTN_KEYS:
            raise cfg.error(
                ("linear_attn_config", key),
                f"unknown key `{key}` in linear_attn_config",
                did_you_mean(key, LINEAR_ATTN_KEYS),
            )
    if cfg.has("layer_types"):
        mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "linear_attention": "K"}, n)
    else:
        full, kda = map(set, _kimi_layer_lists(cfg))
        if full & kda or full | kda != set(range(1, n + 1)):
            raise cfg.error("linear_attn_config", "full_attn_layers and kda_layers must split layers 1..n_layers")
        mixers = ["G" if i + 1 in full else "K" for i in range(n)]
        cfg.touch("layer_types")
    # Kimi Linear's MLA layers carry no positional encoding (mla_use_nope); the KDA layers supply position
    spec["attention"] = {k: v for k, v in _mla(cfg).items() if v is not None} | {"position": "nope"}
    spec["kda"] = {
        "n_heads": _sub_int(cfg, linear, "num_heads"),
        "head_dim": _sub_int(cfg, linear, "head_dim"),
        "conv_kernel": _sub_int(cfg, linear, "short_conv_kernel_size"),
    }
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    if cfg.has("mlp_layer_types"):
        ffns = _layer_kinds(cfg, "mlp_layer_types", {"dense": "D", "sparse": "E"}, n)
    else:
        ffns = _deepseek_ffns(cfg)
    cfg.touch("mlp_layer_types", "first_k_dense_replace")
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_expert = cfg.int("moe_intermediate_size")
    n_shared = cfg.int("num_shared_experts", 0)
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_token"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


def _sub_int(cfg: Config, mapping: dict, key: str) -> int:
    """An entry of linear_attn_config; transformers takes it from there, else from its flat key (or that default)."""
    flat = LINEAR_ATTN_FLAT[key]
    if key not in mapping:
        return cfg.int(flat)
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise cfg.error(("linear_attn_config", key), f"expected a positive integer, got {_show(value)}")
    if cfg.has(flat) and cfg.int(flat) != value:
        raise cfg.error(flat, f"{cfg.data[flat]} disagrees with linear_attn_config.{key} ({value})")
    cfg.touch(flat)
    return value


KIMI_LINEAR_KEYS = {
    "vocab_size": 163840,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "moe_intermediate_size": 1024,
    "num_hidden_layers": 27,
    "num_attention_heads": 32,
    "num_shared_experts": 1,
    "num_experts": 256,
    "num_experts_per_token": 8,
    "kv_lora_rank": 512,
    "q_lora_rank": None,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 128,
    "hidden_act": "silu",
    "model_max_length": 1048576,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "first_k_dense_replace": 1,
    # transformers 5's flat names of linear_attn_config's head_dim, num_heads and short_conv_kernel_size
    "linear_head_dim": 128,
    "linear_num_heads": 32,
    "linear_conv_kernel_dim": 4,
    "linear_attn_config": Derived(
        "transformers' defaults: 32 heads x 128, kernel 4, every 4th layer MLA", _kimi_linear_config
    ),
    "layer_types": Derived("from linear_attn_config", _kimi_layer_types),
    "mlp_layer_types": Derived("first_k_dense_replace dense layers, then experts", _first_k_dense),
    **_QUANT,
}


TYPES = [
    TextType(
        "kimi_linear",
        "kimi",
        _keys(
            KIMI_LINEAR_KEYS,
            # head_dim: transformers overwrites it with qk_rope_head_dim (Moonshot's config says 72, which nothing
            # reads); rope_*: the MLA layers use no RoPE
            "head_dim num_key_value_heads moe_renormalize moe_router_activation_func num_expert_group topk_group "
            "routed_scaling_factor use_grouped_topk pretraining_tp rope_theta rope_scaling",
            {
                "mla_use_nope": Reject("transformers' Kimi Linear applies no RoPE in its MLA layers", _only(True)),
                "moe_layer_freq": Reject(
                    "transformers places experts in every layer after first_k_dense_replace", _only(1)
                ),
                "num_nextn_predict_layers": Reject("Kimi Linear has no MTP modules in transformers", _only(0)),
                "attention_bias": Reject("llmarch's MLA has no projection biases"),
            },
            consistent={"qk_head_dim": MLA_DERIVED["qk_head_dim"]},
        ),
        build_kimi_linear,
    ),
]


MODULE_NAMES = {
    "kimi_linear": ModuleNames(
        _DEEPSEEK_NAMES
        | {
            "attention": (
                "self_attn.q_proj",
                "self_attn.kv_a_proj_with_mqa",
                "self_attn.kv_b_proj",
                "self_attn.o_proj",
            ),
            "linear_mixer": (
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.o_proj",
                "self_attn.f_a_proj",
                "self_attn.f_b_proj",
                "self_attn.b_proj",
                "self_attn.g_a_proj",
                "self_attn.g_b_proj",
            ),
            "routed_experts": ("mlp.experts.gate_up_proj", "mlp.experts.down_proj"),  # fused, as transformers has them
            "other": _DEEPSEEK_NAMES["other"]
            + (
                "self_attn.f_proj",
                "self_attn.g_proj",
                "self_attn.q_conv1d",
                "self_attn.k_conv1d",
                "self_attn.v_conv1d",
                "self_attn.A_log",
                "self_attn.dt_bias",
                "self_attn.o_norm",
            ),
        }
    ),
}


# Checkpoint tensor names (verify). Kimi Linear (Moonshot's modeling_kimi.py): the KDA block under `self_attn`,
# its q/k/v convolutions apart and `A_log` `[1, 1, heads, 1]`; MoE layers' FFN under `block_sparse_moe`
# (Mixtral's w1/w2/w3 experts, DeepSeek's gate and shared experts), dense layers' under `mlp`
KIMI_LINEAR_TENSORS = (
    (
        (r"mixer\.(q|k|v|o|f_a|f_b|b|g_a|g_b)_proj\.weight", to("self_attn.{0}_proj.weight")),
        (
            r"mixer\.conv1d\.weight",
            split("self_attn.q_conv1d.weight", "self_attn.k_conv1d.weight", "self_attn.v_conv1d.weight"),
        ),
        (r"mixer\.dt_bias", to("self_attn.dt_bias")),
        (r"mixer\.A_log", to("self_attn.A_log", shape=lambda s, layer: (1, 1) + s + (1,))),
        (r"mixer\.o_norm\.weight", to("self_attn.o_norm.weight")),
        (r"ffn\.router\.weight", to("block_sparse_moe.gate.weight")),
        (r"ffn\.e_score_correction_bias", to("block_sparse_moe.gate.e_score_correction_bias")),
        (
            r"ffn\.experts\.gate_up",
            experts(("block_sparse_moe.experts.{e}.w1.weight", "block_sparse_moe.experts.{e}.w3.weight"), to("")),
        ),
        (r"ffn\.experts\.down", experts(("block_sparse_moe.experts.{e}.w2.weight",), to(""))),
        (
            r"ffn\.shared\.gate_up\.weight",
            split("block_sparse_moe.shared_experts.gate_proj.weight", "block_sparse_moe.shared_experts.up_proj.weight"),
        ),
        (r"ffn\.shared\.down\.weight", to("block_sparse_moe.shared_experts.down_proj.weight")),
    )
    + MLA_TENSORS
    + MLP_TENSORS
)
CHECKPOINT_NAMES = {"kimi_linear": Family(KIMI_LINEAR_TENSORS, layouts=("per_expert",))}
