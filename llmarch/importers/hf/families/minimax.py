"""MiniMax-M2 (`minimax_m2`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, by_layout, to
from ..common import (
    _ATTN,
    _W123,
    ATTENTION_TENSORS,
    GATED_FFN,
    MIXTRAL_TENSORS,
    TextType,
    _base,
    _ffn_kind,
    _heads,
    _layers,
    _moe,
    _rmsnorm,
)
from ..config import Config
from ..keys import _QUANT, REQUIRED, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


def build_minimax_m2(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | {"qk_norm": "whole"}  # RMSNorm over the whole q and k projections
    head_dim = cfg.int("head_dim")
    rotary = cfg.int("rotary_dim")
    if rotary > head_dim:
        raise cfg.error("rotary_dim", f"is larger than head_dim ({head_dim})")
    attn["rope"] = _rope(cfg, partial=rotary / head_dim, kinds=("global",))["global"]
    spec["attention"] = attn
    spec["moe"] = _moe(
        cfg.int("num_local_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("intermediate_size"),
        _ffn_kind(cfg, "hidden_act", GATED_FFN),
        score_correction_bias=True,
    )
    spec["layers"] = _layers(["G"] * n, ["E"] * n)
    if cfg.bool("use_mtp"):
        spec["mtp"] = {"n_modules": cfg.int("num_mtp_modules"), "ffn": "moe"}
    cfg.touch("num_mtp_modules")
    return spec


MINIMAX_M2_KEYS = {
    "vocab_size": 200064,
    "hidden_size": 3072,
    "intermediate_size": 1536,
    "num_hidden_layers": 62,
    "num_attention_heads": 48,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 196608,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "num_experts_per_tok": 8,
    "num_local_experts": 256,
    "rotary_dim": Derived("head_dim (RoPE on every channel)", lambda r: r.int("head_dim")),
    # MiniMax's own code reads these; transformers builds no MTP modules and has no key for them
    "use_mtp": REQUIRED,
    "num_mtp_modules": REQUIRED,
    **_rope_keys(5000000.0),
    **_QUANT,
}


TYPES = [
    TextType(
        "minimax_m2",
        "minimax",
        _keys(
            MINIMAX_M2_KEYS,
            # routing and norm scalars; mlp_intermediate_size sizes no layer (every MiniMax-M2 block is MoE)
            "scoring_func shared_moe_mode layernorm_full_attention_beta layernorm_linear_attention_beta "
            "layernorm_mlp_beta mlp_intermediate_size",
            {
                "use_qk_norm": Reject("transformers' MiniMax-M2 always normalises q and k", _only(True)),
                "qk_norm_type": Reject(
                    "transformers normalises over the whole projections (per_layer)", _only("per_layer")
                ),
                "attn_type_list": Reject(
                    "only full attention (1) is supported; 0 is MiniMax's lightning attention",
                    lambda v: v is None or (isinstance(v, list) and all(x == 1 and type(x) is int for x in v)),
                ),
                "use_routing_bias": Reject("transformers' MiniMax-M2 always has the routing bias", _only(True)),
                "shared_intermediate_size": Reject("MiniMax-M2 has no shared expert in transformers", _only(0)),
                "mtp_transformer_layers": Reject("llmarch's MTP modules hold one transformer layer", _only(1)),
                "sliding_window": Reject("MiniMax-M2 has no sliding-window layers in transformers"),
            },
        ),
        build_minimax_m2,
    ),
]


MODULE_NAMES = {
    "minimax_m2": ModuleNames(
        {
            "attention": _ATTN,
            "routed_experts": _W123,
            "other": (
                "block_sparse_moe.gate",
                "block_sparse_moe.e_score_correction_bias",
                "self_attn.q_norm",
                "self_attn.k_norm",
            ),
        }
    ),
}


# Checkpoint tensor names (verify). MiniMax-M2 names its MoE as Mixtral does, its routing bias beside the gate;
# where its checkpoints keep their MTP modules is not known here: their MTP weights are not held
MINIMAX_EXPERT_TENSORS = (
    (
        r"ffn\.e_score_correction_bias",
        by_layout(to("block_sparse_moe.e_score_correction_bias"), to("mlp.e_score_correction_bias")),
    ),
) + MIXTRAL_TENSORS
CHECKPOINT_NAMES = {"minimax_m2": Family(ATTENTION_TENSORS + MINIMAX_EXPERT_TENSORS, mtp="unchecked")}
