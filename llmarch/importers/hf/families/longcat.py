"""Meituan's LongCat-Flash (`longcat_flash`, which transformers 5.23 implements) and LongCat-Flash-Lite's
`longcat_flash_ngram` (the same layers with N-gram embeddings; transformers has no such type, the publisher's
remote code does)."""

from __future__ import annotations

from ....limits import MAX_LAYERS
from ...checkpoints.naming import Family, Rules, experts, split, to
from ..common import _MLA, _MLP, GATED_FFN, MLA_DERIVED, TextType, _ffn_kind, _layers, _mla, _moe, _rmsnorm
from ..config import Config
from ..keys import _QUANT, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys

NGRAM_KEYS = ("ngram_vocab_size_ratio", "emb_neighbor_num", "emb_split_num")


def build_longcat_flash(cfg: Config) -> dict:
    """LongCat-Flash: num_layers decoder layers of two MLA sublayers each, as transformers builds them (layer i is
    llmarch's layers 2i and 2i + 1); every sublayer has a dense FFN, and the first of each pair the
    shortcut-connected MoE beside it, whose router also scores zero_expert_num identity experts."""
    n_pairs = cfg.int("num_layers", 1, MAX_LAYERS // 2)
    spec = {
        "vocab_size": cfg.int("vocab_size"),
        "d_model": cfg.int("hidden_size"),
        "n_layers": 2 * n_pairs,
        "context_length": cfg.int("max_position_embeddings"),
        "tie_embeddings": cfg.bool("tie_word_embeddings"),
        "norm": _rmsnorm(cfg),
    }
    attn = {k: v for k, v in _mla(cfg).items() if v is not None}
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    spec["ffn"] = {"kind": kind, "d_ff": cfg.int("ffn_hidden_size")}
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("moe_topk"),
        cfg.int("expert_ffn_hidden_size"),
        kind,
        zero_experts=cfg.int("zero_expert_num", 0),
        shortcut=True,
        score_correction_bias=True,  # LongcatFlashTopkRouter's e_score_correction_bias is a buffer
    )
    spec["layers"] = _layers(["G"] * (2 * n_pairs), ["E", "D"] * n_pairs)
    return spec


def build_longcat_flash_ngram(cfg: Config) -> dict:
    """LongCat-Flash-Lite: LongCat-Flash's layers and its N-gram embeddings (all three keys, or none)."""
    spec = build_longcat_flash(cfg)
    given = [k for k in NGRAM_KEYS if cfg.get(k) is not None]
    if given and len(given) < len(NGRAM_KEYS):
        missing = next(k for k in NGRAM_KEYS if k not in given)
        raise cfg.error(missing, f"the N-gram embeddings need {', '.join(NGRAM_KEYS)} together; {missing} is not set")
    if given:
        spec["ngram_embedding"] = {
            "vocab_ratio": cfg.int("ngram_vocab_size_ratio"),
            "neighbors": cfg.int("emb_neighbor_num", 2),
            "splits": cfg.int("emb_split_num"),
        }
    return spec


LONGCAT_FLASH_KEYS = {
    "vocab_size": 131072,
    "hidden_size": 6144,
    "num_layers": 28,
    "num_attention_heads": 64,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "ffn_hidden_size": 12288,
    "q_lora_rank": 1536,
    "kv_lora_rank": 512,
    "qk_nope_head_dim": 128,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "moe_topk": 12,
    "n_routed_experts": 512,
    "zero_expert_num": 256,
    "expert_ffn_hidden_size": 2048,
    **_rope_keys(10000000.0),
    **_QUANT,
}

# routing scalars, MLA's latent scales (no weights), the MQA-style KV head count MLA does not read
LONGCAT_IRRELEVANT = """
    num_key_value_heads routed_scaling_factor mla_scale_q_lora mla_scale_kv_lora output_router_logits
"""

LONGCAT_REJECTED = {
    "attention_bias": Reject("llmarch's MLA has no projection biases"),
    "router_bias": Reject("llmarch's LongCat import reads no router bias", _only(False)),
    "zero_expert_type": Reject(
        "a zero expert is the identity in transformers and the publisher's code", _only("identity")
    ),
}

# transformers derives num_hidden_layers from num_layers (decoder layers of two sublayers each)
LONGCAT_DERIVED = MLA_DERIVED | {"num_hidden_layers": Derived("2 x num_layers", lambda r: 2 * r.int("num_layers"))}

TYPES = [
    TextType(
        "longcat_flash",
        "longcat",
        _keys(LONGCAT_FLASH_KEYS, LONGCAT_IRRELEVANT, LONGCAT_REJECTED, consistent=LONGCAT_DERIVED),
        build_longcat_flash,
    ),
    TextType(
        "longcat_flash_ngram",
        "longcat",
        _keys(
            LONGCAT_FLASH_KEYS | {k: None for k in NGRAM_KEYS},
            LONGCAT_IRRELEVANT,
            LONGCAT_REJECTED,
            consistent=LONGCAT_DERIVED,
        ),
        build_longcat_flash_ngram,
        note="The publisher's checkpoint also holds an MTP block (model.mtp.*), which its config does not size",
    ),
]

# a checkpoint layer holds two sublayers: self_attn.{0,1}, mlps.{0,1}, and the shortcut MoE (mlp)
_SUBLAYERS = (0, 1)
MODULE_NAMES = {
    t.name: ModuleNames(
        {
            "attention": tuple(m.replace("self_attn.", f"self_attn.{j}.") for j in _SUBLAYERS for m in _MLA),
            "dense_ffn": tuple(m.replace("mlp.", f"mlps.{j}.") for j in _SUBLAYERS for m in _MLP),
            "routed_experts": ("mlp.experts.gate_up_proj", "mlp.experts.down_proj"),
            "other": (
                "mlp.router.classifier",
                *(f"{n}.{j}" for n in ("input_layernorm", "post_attention_layernorm") for j in _SUBLAYERS),
                *(f"self_attn.{j}.{n}" for j in _SUBLAYERS for n in ("q_a_layernorm", "kv_a_layernorm")),
            ),
        }
    )
    for t in TYPES
}


# Checkpoint tensor names (verify). LongCat (longcat_flash, longcat_flash_ngram): a checkpoint layer holds two MLA sublayers (`self_attn.{0,1}`),
# their norms (`input_layernorm.{0,1}`, `post_attention_layernorm.{0,1}`) and dense MLPs (`mlps.{0,1}`), and one
# shortcut MoE (`mlp`) whose router scores the real and the zero experts; llmarch's layer 2i holds the MoE,
# with sublayer 0's MLP beside it (`ffn.dense`), layer 2i + 1 sublayer 1's MLP (`ffn`)
LONGCAT_TENSORS: Rules = (
    (r"sub(\d)\.attn\.(q_a|q_b|kv_b|o)_proj\.weight", to("self_attn.{0}.{1}_proj.weight")),
    (r"sub(\d)\.attn\.kv_a_proj\.weight", to("self_attn.{0}.kv_a_proj_with_mqa.weight")),
    (r"sub(\d)\.attn\.(q_a|kv_a)_norm\.weight", to("self_attn.{0}.{1}_layernorm.weight")),
    (r"sub(\d)\.attn_norm\.weight", to("input_layernorm.{0}.weight")),
    (r"sub(\d)\.ffn_norm\.weight", to("post_attention_layernorm.{0}.weight")),
    (r"sub(\d)\.ffn\.(?:dense\.)?gate_up\.weight", split("mlps.{0}.gate_proj.weight", "mlps.{0}.up_proj.weight")),
    (r"sub(\d)\.ffn\.(?:dense\.)?down\.weight", to("mlps.{0}.down_proj.weight")),
    (r"sub\d\.ffn\.router\.weight", to("mlp.router.classifier.weight")),
    (r"sub\d\.ffn\.e_score_correction_bias", to("mlp.router.e_score_correction_bias")),
    # per expert only: transformers' stacked gate_up_proj also holds rows for the zero experts, no checkpoint's
    (
        r"sub\d\.ffn\.experts\.gate_up",
        experts(("mlp.experts.{e}.gate_proj.weight", "mlp.experts.{e}.up_proj.weight"), to("")),
    ),
    (r"sub\d\.ffn\.experts\.down", experts(("mlp.experts.{e}.down_proj.weight",), to(""))),
)
LONGCAT_NGRAM_TOP = {  # the n-gram tables and their projections (LongcatFlashNgramForCausalLM's names)
    **{f"ngram_embed.{i}.weight": f"ngram_embeddings.embedders.{i}.weight" for i in range(64)},
    **{f"ngram_proj.{i}.weight": f"ngram_embeddings.post_projs.{i}.weight" for i in range(64)},
}
CHECKPOINT_NAMES = {
    # where its checkpoints keep the MTP module (`model.mtp.*`, which transformers skips) is not modelled
    t: Family(LONGCAT_TENSORS, layouts=("per_expert",), mtp="unchecked", sublayers=2, outer=LONGCAT_NGRAM_TOP)
    for t in ("longcat_flash", "longcat_flash_ngram")
}
