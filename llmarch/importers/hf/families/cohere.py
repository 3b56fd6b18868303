"""Cohere's parallel-block models: Command R7B / Command A / Tiny Aya (`cohere2`) and Command A+ (`cohere2_moe`).

Both build the parallel block (one norm read by attention and the FFN, both added at once), sliding-window
layers with RoPE and full-attention layers without positions (NoPE), a LayerNorm without a shift (or, for
cohere2_moe with `rms_norm_eps` set, an RMSNorm)."""

from __future__ import annotations

from ....limits import MAX_D_FF, MAX_EXPERTS, MAX_HEADS
from ...checkpoints.naming import Family
from ..common import (
    _MLP,
    _SHARED_EXPERTS,
    ATTENTION_TENSORS,
    DENSE_TENSORS,
    GATED_FFN,
    MLP_TENSORS,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _heads,
    _layer_kinds,
    _layers,
    _moe,
    routed_expert_tensors,
)
from ..config import Config
from ..keys import _QUANT, KV_FROM_HEADS, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _global_local, _rope, _rope_keys

# Keys of Cohere's own configs (its training stack's switches) that transformers' cohere2 and cohere2_moe never
# read: their graph is fixed.  Accepted at the value that graph implements; any other value describes a model
# transformers (and so llmarch's import) would build wrongly.
COHERE_GRAPH = {
    "use_parallel_block": Reject("transformers' cohere2 always builds the parallel block", _only(True)),
    "use_qk_norm": Reject("transformers' cohere2 has no QK-norm", _only(False)),
    "rotary_pct": Reject("transformers' cohere2 rotates every channel of a head", _only(1.0, 1)),
    "position_embedding_type": Reject("transformers' cohere2 applies GPT-J-style RoPE", _only("rope_gptj")),
    "use_gated_activation": Reject("transformers' cohere2 builds a gated (SwiGLU) MLP", _only(True)),
    "use_parallel_embedding": Reject("transformers' cohere2 has one embedding table", _only(False)),
    "layer_norm_bias": Reject("transformers' cohere2 LayerNorm has no shift (bias)", _only(False)),
}


def _sliding_every(pattern_key: str) -> Derived:
    """transformers' default layer_types: every `pattern`-th layer full attention, the others sliding."""

    def compute(r) -> list[str]:
        every = r.int(pattern_key)
        return ["sliding_attention" if (i + 1) % every else "full_attention" for i in range(r.int("num_hidden_layers"))]

    return Derived(f"every {pattern_key}-th layer full attention, the others sliding", compute)


def _norm(cfg: Config) -> dict:
    """cohere2_moe with `rms_norm_eps` builds RMSNorm; otherwise Cohere's LayerNorm without a shift."""
    if "rms_norm_eps" in cfg.keys.mapped and cfg.opt_number("rms_norm_eps") is not None:
        cfg.touch("layer_norm_eps")
        return {"kind": "rmsnorm", "placement": "pre", "eps": cfg.number("rms_norm_eps")}
    return {"kind": "layernorm", "bias": False, "placement": "pre", "eps": cfg.number("layer_norm_eps")}


def _attention(cfg: Config, spec: dict, mixers: list[str]) -> None:
    if "L" in mixers:
        spec["attention"]["window"] = cfg.int("sliding_window")
    cfg.touch("sliding_window")
    spec["attention"] = _global_local(spec["attention"], _rope(cfg, kinds=("global", "local")), mixers)


def _cohere2_heads(cfg: Config, d_model: int) -> dict:
    """Cohere2Config.__post_init__ sets head_dim = hidden_size // num_attention_heads, whatever the file says."""
    n_heads, n_kv = cfg.int("num_attention_heads", 1, MAX_HEADS), cfg.int("num_key_value_heads", 1, MAX_HEADS)
    if n_heads % n_kv:
        raise cfg.error("num_key_value_heads", f"{n_kv} does not divide num_attention_heads ({n_heads})")
    if d_model // n_heads < 1:
        raise cfg.error("num_attention_heads", f"{n_heads} heads leave no channel of hidden_size ({d_model}) per head")
    attn: dict = {"kind": "mha" if n_kv == n_heads else "gqa", "n_heads": n_heads}
    if n_kv != n_heads:
        attn["n_kv_heads"] = n_kv
    if d_model % n_heads:
        attn["head_dim"] = d_model // n_heads  # the floor transformers takes
    return attn


def build_cohere2(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _norm(cfg)
    spec["block"] = {"residual": "parallel"}
    spec["attention"] = _cohere2_heads(cfg, spec["d_model"]) | _biases(cfg)
    # sliding layers rotate; full-attention layers have no positions (Cohere2Attention applies RoPE only when
    # it has a window)
    mixers = _layer_kinds(cfg, "layer_types", {"sliding_attention": "L", "full_attention": "N"}, spec["n_layers"])
    _attention(cfg, spec, mixers)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    spec["layers"] = _layers(mixers, ["D"] * spec["n_layers"])
    return spec


def build_cohere2_moe(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _norm(cfg)
    spec["block"] = {"residual": "parallel"}
    spec["attention"] = _heads(cfg, spec["d_model"]) | _biases(cfg)
    ffns = _layer_kinds(cfg, "mlp_layer_types", {"dense": "D", "sparse": "E"}, n)
    types = _layer_kinds(cfg, "layer_types", {"sliding_attention": "L", "full_attention": "G"}, n)
    # Cohere2MoeAttention rotates on sliding layers, and on the dense layers when
    # prefix_dense_sliding_window_pattern is 1 (`force_rope`); other full-attention layers have no positions
    force_rope = cfg.int("prefix_dense_sliding_window_pattern") == 1
    mixers = [t if t == "L" or (f == "D" and force_rope) else "N" for t, f in zip(types, ffns)]
    _attention(cfg, spec, mixers)
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    width = cfg.int("intermediate_size", 1, MAX_D_FF)
    if "D" in ffns:
        # the dense layers' Cohere2MoeMLP: prefix_dense_intermediate_size, or intermediate_size when null
        d_ff = cfg.opt_int("prefix_dense_intermediate_size", 1, MAX_D_FF) or width
        spec["ffn"] = {"kind": kind, "d_ff": d_ff}
    cfg.touch("prefix_dense_intermediate_size")
    n_shared = cfg.int("num_shared_experts", 0, MAX_EXPERTS)
    # the shared experts are one Cohere2MoeMLP of intermediate_size x num_shared_experts
    spec["moe"] = _moe(
        cfg.int("num_experts", 1, MAX_EXPERTS),
        cfg.int("num_experts_per_tok", 1, MAX_EXPERTS),
        width,
        kind,
        n_shared=n_shared,
        d_shared=width * n_shared,
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


# transformers' Cohere2Config
COHERE2_KEYS = {
    "vocab_size": 256000,
    "hidden_size": 8192,
    "intermediate_size": 22528,
    "num_hidden_layers": 40,
    "num_attention_heads": 64,
    "num_key_value_heads": KV_FROM_HEADS,
    "hidden_act": "silu",
    "max_position_embeddings": 8192,
    "layer_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "sliding_window": 4096,
    "sliding_window_pattern": 4,
    "layer_types": _sliding_every("sliding_window_pattern"),
    **_rope_keys(10000.0),
    **_QUANT,
}


# transformers' Cohere2MoeConfig: the first `first_k_dense_replace` layers dense (full attention with RoPE when
# prefix_dense_sliding_window_pattern is 1), then every sliding_window_pattern-th layer full attention
def _moe_layer_types(r) -> list[str]:
    k, n = r.int("first_k_dense_replace", 0), r.int("num_hidden_layers")
    prefix_every, every = r.int("prefix_dense_sliding_window_pattern"), r.int("sliding_window_pattern")
    prefix = ["sliding_attention" if (i + 1) % prefix_every else "full_attention" for i in range(min(k, n))]
    return prefix + ["sliding_attention" if (i + 1) % every else "full_attention" for i in range(n - len(prefix))]


COHERE2_MOE_KEYS = {
    "vocab_size": 256000,
    "hidden_size": 8192,
    "intermediate_size": 22528,
    "num_hidden_layers": 40,
    "num_attention_heads": 64,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 8192,
    "layer_norm_eps": 1e-5,
    "rms_norm_eps": None,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "sliding_window": 4096,
    "sliding_window_pattern": 4,
    "prefix_dense_sliding_window_pattern": 1,
    "first_k_dense_replace": 0,
    "prefix_dense_intermediate_size": None,
    "num_experts": 8,
    "num_experts_per_tok": 2,
    "num_shared_experts": 0,
    "layer_types": Derived("first_k_dense_replace dense layers, then every 4th full", _moe_layer_types),
    "mlp_layer_types": Derived(
        "first_k_dense_replace dense layers, then experts",
        lambda r: [
            "dense" if i < r.int("first_k_dense_replace", 0) else "sparse" for i in range(r.int("num_hidden_layers"))
        ],
    ),
    **_rope_keys(10000.0),
    **_QUANT,
}


# logit_scale: a scalar on the logits; expert_selection_fn, norm_topk_prob and shared_expert_combination_strategy:
# how router scores are turned into weights and the shared output combined (no parameter)
COHERE_IRRELEVANT = "logit_scale use_embedding_sharing"
COHERE2_MOE_IRRELEVANT = COHERE_IRRELEVANT + " expert_selection_fn norm_topk_prob shared_expert_combination_strategy"

TYPES = [
    TextType(
        "cohere2",
        "cohere",
        _keys(
            COHERE2_KEYS,
            # head_dim: Cohere2Config.__post_init__ overwrites it with hidden_size // num_attention_heads
            COHERE_IRRELEVANT + " head_dim",
            COHERE_GRAPH,
        ),
        build_cohere2,
    ),
    TextType(
        "cohere2_moe",
        "cohere",
        _keys(
            COHERE2_MOE_KEYS,
            COHERE2_MOE_IRRELEVANT,
            COHERE_GRAPH,
        ),
        build_cohere2_moe,
    ),
]


_COHERE_ATTN = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")

MODULE_NAMES = {
    "cohere2": ModuleNames({"attention": _COHERE_ATTN, "dense_ffn": _MLP, "other": ("input_layernorm",)}),
    "cohere2_moe": ModuleNames(
        {
            "attention": _COHERE_ATTN,
            "dense_ffn": _MLP,
            "routed_experts": ("mlp.experts.gate_up_proj", "mlp.experts.down_proj"),
            "shared_experts": _SHARED_EXPERTS,
            "other": ("mlp.gate", "input_layernorm"),
        }
    ),
}


# Checkpoint tensor names (verify). Cohere's parallel block: one `input_layernorm` per layer (llmarch's
# `input_norm`); Command A+'s experts stacked as transformers' cohere2_moe stores them, its shared experts one MLP
CHECKPOINT_NAMES = {
    "cohere2": DENSE_TENSORS,
    "cohere2_moe": Family(ATTENTION_TENSORS + MLP_TENSORS + routed_expert_tensors()),
}
