"""Poolside's Laguna (`laguna`)."""

from __future__ import annotations

from typing import Any

from ....limits import MAX_HEAD_DIM, MAX_HEADS
from ...checkpoints.naming import Family, to
from ..common import (
    _GATED_MOE_NAMES,
    ATTENTION_TENSORS,
    GATED_FFN,
    MLP_TENSORS,
    ONE_DENSE_THEN_EXPERTS,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _layer_kinds,
    _layers,
    _mlp_layer_ffns,
    _moe,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config, _show
from ..keys import _QUANT, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _global_local, _rope

LAGUNA_GATES = {True: "headwise", "per-head": "headwise", "per-element": "elementwise", False: None}


def _laguna_heads(r: Config) -> list[int]:
    return [r.int("num_attention_heads", 1, MAX_HEADS)] * r.int("num_hidden_layers")


def build_laguna(cfg: Config) -> dict:
    """Poolside Laguna: GQA with per-head QK-norm and a softplus output gate, query heads per layer kind,
    sliding-window and full layers with their own RoPE; a dense first layer, then experts (a router whose
    correction bias is a parameter) and a shared expert."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
    heads = cfg.int_list("num_attention_heads_per_layer", 1, MAX_HEADS, n)
    per_kind: dict[str, int] = {}
    for i, (letter, h) in enumerate(zip(mixers, heads)):
        if per_kind.setdefault(letter, h) != h:
            raise cfg.error(
                ("num_attention_heads_per_layer", i),
                f"layer {i} has {h} query heads where an earlier {'full' if letter == 'G' else 'sliding'}-attention "
                f"layer has {per_kind[letter]}: llmarch sets query heads per layer kind",
            )
    n_kv, head_dim = cfg.int("num_key_value_heads", 1, MAX_HEADS), cfg.int("head_dim", 1, MAX_HEAD_DIM)
    for h in per_kind.values():
        if h % n_kv:
            raise cfg.error("num_key_value_heads", f"{n_kv} does not divide the {h} query heads of some layers")
    cfg.touch("num_attention_heads")  # sizes no layer once num_attention_heads_per_layer is given
    base_heads = per_kind[mixers[0]]  # the block's count; the other kind's, when it differs, is an override
    mha = all(h == n_kv for h in per_kind.values())
    attn: dict[str, Any] = {"kind": "mha" if mha else "gqa", "n_heads": base_heads}
    if not mha:
        attn["n_kv_heads"] = n_kv
    if head_dim * base_heads != spec["d_model"]:
        attn["head_dim"] = head_dim
    attn |= _biases(cfg) | {"qk_norm": "per_head"}
    gating = cfg.get("gating")
    if not any(gating == k and type(gating) is type(k) for k in LAGUNA_GATES):
        raise cfg.error("gating", f"expected true, false, per-head or per-element, got {_show(gating)}")
    if LAGUNA_GATES[gating]:
        attn["output_gate"] = LAGUNA_GATES[gating]
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window")
    cfg.touch("sliding_window")
    params = cfg.mapping("rope_parameters") or {}
    for key, letter in (("full_attention", "G"), ("sliding_attention", "L")):
        if letter in mixers and not (isinstance(params.get(key), dict) and "rope_theta" in params[key]):
            raise cfg.error(
                ("rope_parameters", key) if key in params else ("rope_parameters",),
                f"Laguna reads each layer kind's RoPE from rope_parameters.{key}, which needs a rope_theta",
            )
    rope = _rope(cfg, nested_only=True, ignored_keys=("original_max_position_embeddings",))
    attn = _global_local(attn, rope, mixers)
    if per_kind.get("L", base_heads) != base_heads:
        attn.setdefault("overrides", {}).setdefault("local", {})["n_heads"] = per_kind["L"]
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _mlp_layer_ffns(cfg, spec, kind)
    d_shared = cfg.int("shared_expert_intermediate_size", 0)
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("moe_intermediate_size"),
        kind,
        n_shared=1 if d_shared else 0,
        d_shared=d_shared,
        score_correction_parameter=True,  # LagunaTopKRouter's e_score_correction_bias is an nn.Parameter
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


LAGUNA_KEYS = {
    "vocab_size": 100352,
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 40,
    "num_attention_heads": 48,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "gating": True,
    "sliding_window": 512,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "num_experts_per_tok": 8,
    "num_experts": 256,
    "layer_types": Derived("every layer full attention", lambda r: ["full_attention"] * r.int("num_hidden_layers")),
    "mlp_layer_types": ONE_DENSE_THEN_EXPERTS,
    "num_attention_heads_per_layer": Derived("num_attention_heads in every layer", _laguna_heads),
    "rope_scaling": None,
    "rope_parameters": {
        "full_attention": {"rope_type": "default", "rope_theta": 500000.0, "partial_rotary_factor": 0.5},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 1.0},
    },
    **_QUANT,
}


TYPES = [
    TextType(
        "laguna",
        "laguna",
        _keys(
            LAGUNA_KEYS,
            # routing scalars; partial_rotary_factor: transformers reads the per-kind one in rope_parameters
            "moe_routed_scaling_factor moe_router_logit_softcapping partial_rotary_factor",
            {
                "use_bidirectional_attention": Reject("llmarch models causal decoders only", _only(False)),
                "moe_apply_router_weight_on_input": Reject(
                    "transformers' Laguna does not implement it (it raises NotImplementedError)", _only(False)
                ),
            },
            aliases={"num_local_experts": "num_experts"},
        ),
        build_laguna,
    ),
]


MODULE_NAMES = {"laguna": ModuleNames(_GATED_MOE_NAMES)}


# Checkpoint tensor names (verify). Laguna: a per-head output gate `g_proj`; its routing bias a (frozen)
# parameter under DeepSeek's name
CHECKPOINT_NAMES = {
    "laguna": Family(
        ATTENTION_TENSORS
        + (
            (r"attn\.gate_proj\.weight", to("self_attn.g_proj.weight")),
            (r"ffn\.router_correction", to("mlp.gate.e_score_correction_bias")),
        )
        + MLP_TENSORS
        + routed_expert_tensors()
    ),
}
