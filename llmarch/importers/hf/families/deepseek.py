"""DeepSeek: `deepseek_v3`, Kimi K2's `kimi_k2` (which ships DeepSeek-V3's code) and `deepseek_v32`."""

from __future__ import annotations

from ...checkpoints.naming import Family
from ..common import (
    _DEEPSEEK_NAMES,
    _MLA,
    DEEPSEEK_IRRELEVANT,
    DEEPSEEK_REJECTED,
    INDEXER_TENSORS,
    MLA_DERIVED,
    MLA_TENSORS,
    MLP_TENSORS,
    TextType,
    _base,
    _deepseek_moe,
    _first_k_dense,
    _layer_kinds,
    _layers,
    _mla,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config
from ..keys import _QUANT, Derived, Reject, _keys
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


def build_deepseek_v3(cfg: Config) -> dict:
    """DeepSeek-V3 (and Kimi K2, which ships DeepSeek-V3's code): MLA + DeepSeekMoE, dense prefix, MTP."""
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = {k: v for k, v in _mla(cfg).items() if v is not None}
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    _deepseek_moe(cfg, spec, n_shared=cfg.opt_int("n_shared_experts", 0) or 0)
    n_mtp = cfg.int("num_nextn_predict_layers", 0)
    if n_mtp:
        # DeepSeek's MTP module stores its own embedding and output head (model.layers.61 in the checkpoint)
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe", "stores_embedding": True, "stores_head": True}
    return spec


def build_deepseek_v32(cfg: Config) -> dict:
    spec = build_deepseek_v3(cfg)
    spec["attention"]["indexer"] = {
        "n_heads": cfg.int("index_n_heads"),
        "head_dim": cfg.int("index_head_dim"),
        "topk": cfg.int("index_topk"),
    }
    n = spec["n_layers"]
    ffns = _layer_kinds(cfg, "mlp_layer_types", {"dense": "D", "sparse": "E"}, n)
    if "ffn" not in spec and "D" in ffns:
        spec["ffn"] = {"kind": spec["moe"]["expert_kind"], "d_ff": cfg.int("intermediate_size")}
    spec["layers"] = _layers(["G"] * n, ffns)
    return spec


DEEPSEEK_V3_KEYS = {
    "vocab_size": 129280,
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_attention_heads": 128,
    "n_shared_experts": 1,
    "n_routed_experts": 256,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 128,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "hidden_act": "silu",
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "num_nextn_predict_layers": 1,
    **_rope_keys(10000.0),
    **_QUANT,
}


DEEPSEEK_V32_KEYS = DEEPSEEK_V3_KEYS | {
    "max_position_embeddings": 163840,
    "index_topk": 2048,
    "index_head_dim": 128,
    "index_n_heads": 64,
    # transformers' DeepseekV32Config has no MTP key and builds no MTP module (DeepSeek's configs state it)
    "num_nextn_predict_layers": 0,
    "mlp_layer_types": Derived("first_k_dense_replace dense layers, then experts", _first_k_dense),
}


TYPES = [
    TextType(
        "deepseek_v3",
        "deepseek",
        _keys(DEEPSEEK_V3_KEYS, DEEPSEEK_IRRELEVANT, DEEPSEEK_REJECTED, consistent=MLA_DERIVED),
        build_deepseek_v3,
    ),
    # Kimi K2's configs say kimi_k2 but ship DeepSeek-V3's code (auto_map), so DeepSeek-V3's table applies
    TextType(
        "kimi_k2",
        "kimi",
        _keys(DEEPSEEK_V3_KEYS, DEEPSEEK_IRRELEVANT, DEEPSEEK_REJECTED, consistent=MLA_DERIVED),
        build_deepseek_v3,
    ),
    TextType(
        "deepseek_v32",
        "deepseek",
        _keys(
            DEEPSEEK_V32_KEYS,
            DEEPSEEK_IRRELEVANT,
            DEEPSEEK_REJECTED
            | {
                "mlp_bias": Reject("llmarch's DeepSeek experts have no biases"),
                "layer_types": Reject(
                    "every DeepSeek V3.2 layer is sparse (indexed) attention",
                    lambda v: v is None or (isinstance(v, list) and all(x == "indexed_attention" for x in v)),
                ),
            },
            consistent=MLA_DERIVED,
        ),
        build_deepseek_v32,
    ),
]


MODULE_NAMES = {
    **{t: ModuleNames(_DEEPSEEK_NAMES) for t in ("deepseek_v3", "kimi_k2")},
    "deepseek_v32": ModuleNames(
        _DEEPSEEK_NAMES
        | {"attention": _MLA + ("self_attn.indexer.wq_b", "self_attn.indexer.wk", "self_attn.indexer.weights_proj")}
    ),
}


# Checkpoint tensor names (verify): DeepSeek's MTP layer `model.layers.{n_layers}` (README_WEIGHTS)
CHECKPOINT_NAMES = {
    "deepseek_v3": Family(MLA_TENSORS + MLP_TENSORS + routed_expert_tensors(), mtp="deepseek"),
    "kimi_k2": Family(MLA_TENSORS + MLP_TENSORS + routed_expert_tensors(), mtp="deepseek"),
    "deepseek_v32": Family(MLA_TENSORS + INDEXER_TENSORS + MLP_TENSORS + routed_expert_tensors(), mtp="deepseek"),
}
