"""Arcee's Trinity (`afmoe`): gated GQA with per-head QK-norm, sliding-window layers with RoPE and global layers
without positions, four RMSNorms per block, a dense prefix, then sigmoid-routed experts and a shared expert."""

from __future__ import annotations

from ....limits import MAX_LAYERS
from ...checkpoints.naming import Family, split, to
from ..common import (
    _ATTN,
    _EXPERTS,
    _MLP,
    _SHARED_EXPERTS,
    ATTENTION_TENSORS,
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
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config
from ..keys import _QUANT, KV_FROM_HEADS, Derived, _keys
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


def _afmoe_layer_types(r: Config) -> list[str]:
    """AfmoeConfig's default: every global_attn_every_n_layers-th layer full attention, the others sliding."""
    every = r.int("global_attn_every_n_layers")
    return [
        "full_attention" if (i + 1) % every == 0 else "sliding_attention" for i in range(r.int("num_hidden_layers"))
    ]


def build_afmoe(cfg: Config) -> dict:
    """Arcee Trinity as transformers' AfmoeForCausalLM builds it: AfmoeAttention applies RoPE on sliding layers
    only (full-attention layers are NoPE), gates its output per channel with a sigmoid of its own projection
    (gate_proj, d -> heads x head_dim: counted as an element-wise output gate), and normalises each head's q
    and k; AfmoeDecoderLayer normalises before and after the attention and the MLP (four RMSNorms); the first
    num_dense_layers layers are dense, the rest a MoE whose expert_bias is an nn.Parameter."""
    spec = _base(cfg)
    n = spec["n_layers"]
    # depth-scaled: Trinity's post-norms start near 1/sqrt(L) (its technical report), an initialisation no key states
    spec["norm"] = _rmsnorm(cfg, "sandwich") | {"depth_scaled": True}
    mixers = _layer_kinds(cfg, "layer_types", {"sliding_attention": "L", "full_attention": "N"}, n)
    cfg.touch("global_attn_every_n_layers")
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head", "output_gate": "elementwise"}
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window")
        attn["rope"] = _rope(cfg, kinds=("local",))["local"]
    cfg.touch("sliding_window", "rope_theta", "rope_scaling", "rope_parameters")
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    n_dense = min(cfg.int("num_dense_layers", 0, MAX_LAYERS), n)  # layer i is dense while i < num_dense_layers
    ffns = ["D"] * n_dense + ["E"] * (n - n_dense)
    if n_dense:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    if n_dense < n:
        d_expert, n_shared = cfg.int("moe_intermediate_size"), cfg.int("num_shared_experts", 0)
        spec["moe"] = _moe(
            cfg.int("num_experts"),
            cfg.int("num_experts_per_tok"),
            d_expert,
            kind,
            n_shared=n_shared,
            d_shared=n_shared * d_expert,  # AfmoeMLP(config, moe_intermediate_size * num_shared_experts)
            score_correction_parameter=True,  # AfmoeSparseMoeBlock's expert_bias is an nn.Parameter
        )
    cfg.touch("moe_intermediate_size", "num_shared_experts", "num_experts", "num_experts_per_tok")
    spec["layers"] = _layers(mixers, ffns)
    return spec


AFMOE_KEYS = {
    "vocab_size": 200192,
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "moe_intermediate_size": 1408,
    "num_hidden_layers": 32,
    "num_dense_layers": 1,
    "num_attention_heads": 16,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 16384,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "num_experts": 64,
    "num_experts_per_tok": 6,
    "num_shared_experts": 2,
    "global_attn_every_n_layers": 4,
    "sliding_window": 1024,
    "layer_types": Derived("sliding, with every global_attn_every_n_layers-th layer full", _afmoe_layer_types),
    **_rope_keys(10000.0),
    **_QUANT,
}


TYPES = [
    TextType(
        "afmoe",
        "trinity",
        _keys(
            AFMOE_KEYS,
            # routing scalars and group-limited routing (no parameter); muP scales the embedding output;
            # use_grouped_mm is a kernel choice
            "route_scale route_norm score_func n_group topk_group num_expert_groups num_limited_groups "
            "output_router_logits mup_enabled use_grouped_mm",
            {},
        ),
        build_afmoe,
    ),
]


MODULE_NAMES = {
    "afmoe": ModuleNames(
        {
            "attention": _ATTN + ("self_attn.gate_proj",),
            "dense_ffn": _MLP,
            "routed_experts": _EXPERTS,
            "shared_experts": _SHARED_EXPERTS,
            "other": (
                "mlp.router.gate",
                "input_layernorm",
                "post_attention_layernorm",
                "pre_mlp_layernorm",
                "post_mlp_layernorm",
                "self_attn.q_norm",
                "self_attn.k_norm",
            ),
        }
    ),
}


# Checkpoint tensor names (verify). Arcee Trinity: the element-wise output gate is its own `gate_proj` (llmarch's
# q_proj holds the query, then the gate); the router is `mlp.router.gate` and its expert_bias a parameter; four
# norms per block by name
CHECKPOINT_NAMES = {
    "afmoe": Family(
        ((r"attn\.q_proj\.weight", split("self_attn.q_proj.weight", "self_attn.gate_proj.weight")),)
        + ATTENTION_TENSORS
        + ((r"ffn\.router_correction", to("mlp.expert_bias")),)
        + MLP_TENSORS
        + routed_expert_tensors(router="mlp.router.gate"),
        norms={"ffn_norm": "pre_mlp_layernorm", "ffn_post_norm": "post_mlp_layernorm"},
    ),
}
