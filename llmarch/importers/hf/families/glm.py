"""Z.ai's GLM: `glm4_moe` and GLM-5's `glm_moe_dsa` (DeepSeek V3.2's layout, built on its builder)."""

from __future__ import annotations

from ...checkpoints.naming import Family
from ..common import (
    _ATTN,
    _DEEPSEEK_NAMES,
    _MLA,
    ATTENTION_TENSORS,
    DEEPSEEK_IRRELEVANT,
    DEEPSEEK_REJECTED,
    INDEXER_TENSORS,
    MLA_DERIVED,
    MLA_TENSORS,
    MLP_TENSORS,
    TextType,
    _base,
    _biases,
    _deepseek_moe,
    _heads,
    _layer_kinds,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config, _show
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, Derived, Reject, _keys
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys
from .deepseek import DEEPSEEK_V32_KEYS, build_deepseek_v32


def _glm_indexer_types(r: Config) -> list[str]:
    """GlmMoeDsaConfig's default: `index_topk_pattern` ("F"/"S" letters) when given, else a full indexer every
    `index_topk_freq`-th layer from `index_skip_topk_offset` on (every layer with the defaults)."""
    n = r.int("num_hidden_layers")
    pattern = r.get("index_topk_pattern")
    if pattern is not None:
        if isinstance(pattern, str):
            letters = {"F": "full", "S": "shared"}
            if len(pattern) != n or any(c not in letters for c in pattern):
                raise r.error(
                    "index_topk_pattern", f"expected {n} letters F (full) or S (shared), got {_show(pattern)}"
                )
            return [letters[c] for c in pattern]
        return r.str_list("index_topk_pattern", n)
    freq = max(r.int("index_topk_freq", 0), 1)
    offset = r.int("index_skip_topk_offset", 0)
    return ["full" if max(i - offset + 1, 0) % freq == 0 else "shared" for i in range(n)]


def build_glm_moe_dsa(cfg: Config) -> dict:
    """GLM-5: DeepSeek V3.2's MLA + sparse-attention indexer and DeepSeekMoE blocks, Zhipu's MTP layer."""
    spec = build_deepseek_v32(cfg)
    n = spec["n_layers"]
    kinds = _layer_kinds(cfg, "indexer_types", {"full": "F", "shared": "S"}, n)
    if "S" in kinds:
        if kinds[0] == "S":
            raise cfg.error(("indexer_types", 0), "the first layer has no earlier indexer to share")
        # a shared layer reuses the previous full layer's top-k: no indexer weights, no indexer key cached
        spec["attention"]["indexer"]["layers"] = "".join(kinds)
    cfg.touch("index_topk_pattern", "index_topk_freq", "index_skip_topk_offset")
    n_mtp = cfg.int("num_nextn_predict_layers", 0)
    spec.pop("mtp", None)
    if n_mtp:
        # as GLM-4.5's: the MTP layer (model.layers.78) reuses the main embedding and output head
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe"}
    return spec


def build_glm4_moe(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg, o_bias=False)  # GLM's o_proj never has a bias
    if cfg.bool("use_qk_norm"):
        attn["qk_norm"] = "per_head"
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    _deepseek_moe(cfg, spec, n_shared=cfg.int("n_shared_experts", 0))
    n_mtp = cfg.int("num_nextn_predict_layers", 0)
    if n_mtp:
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe"}
    return spec


GLM_MOE_DSA_KEYS = DEEPSEEK_V32_KEYS | {
    "vocab_size": 154880,
    "hidden_size": 6144,
    "intermediate_size": 12288,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 78,
    "num_attention_heads": 64,
    "kv_lora_rank": 512,
    "q_lora_rank": 2048,
    "qk_rope_head_dim": 64,
    "v_head_dim": 256,
    "qk_nope_head_dim": 192,
    "max_position_embeddings": 202752,
    "rms_norm_eps": 1e-5,
    "index_n_heads": 32,
    # GlmMoeDsaConfig has no MTP key and builds no MTP module (Zhipu's configs state it)
    "num_nextn_predict_layers": 0,
    # keyword arguments GlmMoeDsaConfig derives indexer_types from, when the config does not state it
    "index_topk_pattern": None,
    "index_topk_freq": 1,
    "index_skip_topk_offset": 2,
    "indexer_types": Derived("index_topk_pattern, or index_topk_freq and index_skip_topk_offset", _glm_indexer_types),
}


GLM4_MOE_KEYS = {
    "vocab_size": 151552,
    "hidden_size": 4096,
    "intermediate_size": 10944,
    "num_hidden_layers": 46,
    "num_attention_heads": 96,
    "num_key_value_heads": 8,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "partial_rotary_factor": 0.5,
    "moe_intermediate_size": 1408,
    "num_experts_per_tok": 8,
    "n_shared_experts": 1,
    "n_routed_experts": 128,
    "first_k_dense_replace": 1,
    "use_qk_norm": False,
    "num_nextn_predict_layers": 1,
    **_rope_keys(10000.0),
    **_QUANT,
}


TYPES = [
    TextType(
        "glm_moe_dsa",
        "glm",
        _keys(
            GLM_MOE_DSA_KEYS,
            # routing details and the router's precision; the interleaved RoPE layouts of the attention and the
            # indexer change no count; head_dim: GlmMoeDsaConfig overwrites it with qk_rope_head_dim (GLM-5.2's
            # config says 192, which nothing reads)
            DEEPSEEK_IRRELEVANT
            + " rope_interleave indexer_rope_interleave index_share_for_mtp_iteration moe_router_dtype head_dim",
            {
                **DEEPSEEK_REJECTED,
                "mlp_bias": Reject("llmarch's DeepSeek experts have no biases"),
                "layer_types": Reject(
                    "every GLM-5 layer is sparse (indexed) attention",
                    lambda v: v is None or (isinstance(v, list) and all(x == "indexed_attention" for x in v)),
                ),
            },
            consistent={"qk_head_dim": MLA_DERIVED["qk_head_dim"]},
            # num_experts: an older name GlmMoeDsaConfig routes to n_routed_experts
            aliases={"num_local_experts": "n_routed_experts", "num_experts": "n_routed_experts"},
        ),
        build_glm_moe_dsa,
    ),
    TextType(
        "glm4_moe",
        "glm",
        _keys(GLM4_MOE_KEYS, "routed_scaling_factor n_group topk_group norm_topk_prob"),
        build_glm4_moe,
    ),
]


MODULE_NAMES = {
    "glm4_moe": ModuleNames(_DEEPSEEK_NAMES | {"attention": _ATTN}),
    "glm_moe_dsa": ModuleNames(
        _DEEPSEEK_NAMES
        | {
            "attention": _MLA + ("self_attn.indexer.wq_b", "self_attn.indexer.wk", "self_attn.indexer.weights_proj"),
            "other": _DEEPSEEK_NAMES["other"] + ("self_attn.indexer.k_norm",),
        }
    ),
}


# Checkpoint tensor names (verify)
CHECKPOINT_NAMES = {
    # GLM-4.5's MTP layer sits at `model.layers.{n_layers}` as DeepSeek's does, but whether it stores its own
    # embedding and head no source here settles (transformers' glm4_moe builds no MTP): its tensors are listed
    # apart, the spec's MTP weights not expected
    "glm4_moe": Family(ATTENTION_TENSORS + MLP_TENSORS + routed_expert_tensors(), mtp="unchecked"),
    "glm_moe_dsa": Family(MLA_TENSORS + INDEXER_TENSORS + MLP_TENSORS + routed_expert_tensors(), mtp="deepseek"),
}
