"""Tencent's Hunyuan Hy3 (`hy_v3`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, Rules, by_layout, split, to
from ..common import (
    _ATTN,
    _EXPERTS,
    _MLP,
    ATTENTION_TENSORS,
    GATED_FFN,
    MLP_TENSORS,
    ONE_DENSE_THEN_EXPERTS,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _heads,
    _layer_kinds,
    _layers,
    _mlp_layer_ffns,
    _moe,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config
from ..keys import _QUANT, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


def _leading_dense(r: Config) -> int:
    ffns = _layer_kinds(r, "mlp_layer_types", {"dense": "D", "sparse": "E"}, r.int("num_hidden_layers"))
    return ffns.index("E") if "E" in ffns else len(ffns)


def build_hy_v3(cfg: Config) -> dict:
    """Tencent Hy3: GQA with per-head QK-norm; a dense first layer, then 192 routed experts (sigmoid router, an
    expert-bias buffer) and a shared expert; one MTP layer."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head"}
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _mlp_layer_ffns(cfg, spec, kind)
    d_expert = cfg.int("moe_intermediate_size")
    n_shared = cfg.int("num_shared_experts", 0)
    # HYV3MoE keeps e_score_correction_bias (the checkpoint's mlp.expert_bias) as a buffer
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(["G"] * n, ffns)
    n_mtp = cfg.int("num_nextn_predict_layers", 0)
    if n_mtp:
        # the MTP layer (model.layers.80: enorm, hnorm, eh_proj, a MoE decoder layer) reuses the embedding and head
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe"}
    return spec


HY_V3_KEYS = {
    "vocab_size": 120832,
    "hidden_size": 4096,
    "intermediate_size": 13312,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "num_experts": 192,
    "num_experts_per_tok": 8,
    "num_shared_experts": 1,
    "moe_intermediate_size": 1536,
    "mlp_layer_types": ONE_DENSE_THEN_EXPERTS,
    # HYV3Config has no MTP key and builds no MTP module (Tencent's configs state it)
    "num_nextn_predict_layers": 0,
    **_rope_keys(11158840.0),
    **_QUANT,
}


TYPES = [
    TextType(
        "hy_v3",
        "hunyuan",
        _keys(
            HY_V3_KEYS,
            # routing details (the router is always sigmoid), fp32 kernel switches, a kernel choice, a token id
            "moe_router_use_sigmoid route_norm router_scaling_factor enable_attention_fp32_softmax "
            "enable_moe_fp32_combine enable_lm_head_fp32 use_grouped_mm eod_token_id",
            {
                "qk_norm": Reject("transformers' hy_v3 always normalises q and k per head", _only(True)),
                "moe_router_enable_expert_bias": Reject(
                    "transformers' hy_v3 always keeps the expert bias", _only(True)
                ),
                "mlp_bias": Reject("llmarch's MoE layers have no FFN biases"),
            },
            aliases={"num_local_experts": "num_experts"},
            consistent={
                # Tencent's names of values transformers takes from moe_intermediate_size and mlp_layer_types
                "expert_hidden_dim": Derived("moe_intermediate_size", lambda r: r.int("moe_intermediate_size")),
                "first_k_dense_replace": Derived("the dense layers leading mlp_layer_types", _leading_dense),
            },
        ),
        build_hy_v3,
    ),
]


MODULE_NAMES = {
    "hy_v3": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": _MLP,
            "routed_experts": _EXPERTS,
            "shared_experts": ("mlp.shared_mlp.gate_proj", "mlp.shared_mlp.up_proj", "mlp.shared_mlp.down_proj"),
            "other": (
                "mlp.router.gate",
                "mlp.expert_bias",
                "input_layernorm",
                "post_attention_layernorm",
                "self_attn.q_norm",
                "self_attn.k_norm",
            ),
        }
    ),
}


# Checkpoint tensor names (verify). Hy3: the router under `mlp.router.gate`, the routing bias `mlp.expert_bias`,
# the shared expert `shared_mlp` (transformers' own state dict renames them DeepSeek's way)
HY_V3_EXPERT_TENSORS: Rules = (
    (r"ffn\.router\.weight", by_layout(to("mlp.router.gate.weight"), to("mlp.gate.weight"))),
    (r"ffn\.e_score_correction_bias", by_layout(to("mlp.expert_bias"), to("mlp.e_score_correction_bias"))),
    (
        r"ffn\.shared\.gate_up\.weight",
        by_layout(
            split("mlp.shared_mlp.gate_proj.weight", "mlp.shared_mlp.up_proj.weight"),
            split("mlp.shared_experts.gate_proj.weight", "mlp.shared_experts.up_proj.weight"),
        ),
    ),
    (
        r"ffn\.shared\.down\.weight",
        by_layout(to("mlp.shared_mlp.down_proj.weight"), to("mlp.shared_experts.down_proj.weight")),
    ),
) + routed_expert_tensors()
# where Hy3's checkpoints keep its MTP modules is not known here: their MTP weights are not held
CHECKPOINT_NAMES = {"hy_v3": Family(ATTENTION_TENSORS + HY_V3_EXPERT_TENSORS + MLP_TENSORS, mtp="unchecked")}
