"""Qwen: `qwen3`, `qwen3_moe`, `qwen3_next` and Qwen3.5's `qwen3_5_text` / `qwen3_5_moe_text` (Qwen3-Next's
hybrid of Gated DeltaNet and gated attention)."""

from __future__ import annotations

from ...checkpoints.naming import Family, Rules, split, split_parts, to
from ..common import (
    _ATTN,
    _DENSE_NAMES,
    _EXPERTS,
    _MLP,
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
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config, _show
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _global_local, _rope, _rope_keys


def _qwen3_mixers(cfg: Config, n: int) -> list[str]:
    cfg.touch("use_sliding_window", "sliding_window", "max_window_layers")
    return _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)


def _qwen3_layer_types(r: Config) -> list[str]:
    window = r.opt_int("sliding_window") if r.bool("use_sliding_window") else None
    first = r.int("max_window_layers", 0) if window is not None else 0
    return [
        "sliding_attention" if window is not None and i >= first else "full_attention"
        for i in range(r.int("num_hidden_layers"))
    ]


def build_qwen3(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head"}
    mixers = _qwen3_mixers(cfg, spec["n_layers"])
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window")
    spec["attention"] = _global_local(attn, _rope(cfg), mixers)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    spec["layers"] = _layers(mixers, ["D"] * spec["n_layers"])
    return spec


def _sparse_layers(cfg: Config, n: int) -> list[str]:
    """Qwen's MoE placement: a layer has experts unless listed in mlp_only_layers or off the sparse step."""
    dense = set(cfg.int_list("mlp_only_layers", 0, n - 1))
    step = cfg.int("decoder_sparse_step")
    return ["D" if i in dense or (i + 1) % step else "E" for i in range(n)]


def build_qwen3_moe(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    spec["attention"] = (
        _heads(cfg, spec["d_model"])
        | _biases(cfg)
        | {"qk_norm": "per_head", "rope": _rope(cfg, kinds=("global",))["global"]}
    )
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _sparse_layers(cfg, spec["n_layers"])
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    spec["moe"] = _moe(cfg.int("num_experts"), cfg.int("num_experts_per_tok"), cfg.int("moe_intermediate_size"), kind)
    spec["layers"] = _layers(["G"] * spec["n_layers"], ffns)
    return spec


# The keys that size a qwen3_next / qwen3_5_moe config's experts: a config stating none of them is not an MoE config
EXPERT_SHAPE_KEYS = ("num_experts", "num_experts_per_tok", "moe_intermediate_size", "shared_expert_intermediate_size")


def _require_experts(cfg: Config) -> None:
    """Refuse an MoE type whose config states its width but no expert key: transformers would fill every one from its
    defaults and build a model that exists nowhere (Qwen3.6-27B, a dense Gated DeltaNet hybrid, read as qwen3_next
    comes out a 512-expert MoE of 268B)."""
    # a config stating no shape at all is transformers' own default model, which has its experts
    if cfg.has("hidden_size") and not any(cfg.has(k) for k in EXPERT_SHAPE_KEYS):
        dense = " (its intermediate_size suggests a dense FFN)" if cfg.has("intermediate_size") else ""
        raise cfg.error(
            "model_type" if "model_type" in cfg.data else "hidden_size",
            f"model type `{cfg.type_name}` is a mixture of experts, but the config states none of "
            f"{', '.join(EXPERT_SHAPE_KEYS)}{dense}: transformers' defaults would invent "
            f"{_show(cfg.keys.mapped['num_experts'])} experts per layer",
            "a Qwen3.5 / Qwen3.6 dense Gated DeltaNet hybrid (e.g. Qwen3.6-27B) is model type qwen3_5_text "
            "(inside a qwen3_5 wrapper); otherwise state the experts",
        )


def build_qwen3_next(cfg: Config) -> dict:
    _require_experts(cfg)
    spec, mixers = _gated_deltanet_hybrid(cfg)
    n = spec["n_layers"]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _sparse_layers(cfg, n)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_shared = cfg.int("shared_expert_intermediate_size", 0)
    if d_shared == 0:
        # transformers' Qwen3NextSparseMoeBlock always builds the shared expert and its gate
        raise cfg.error(
            "shared_expert_intermediate_size",
            "0 leaves transformers' Qwen3-Next a shared-expert gate without a shared expert, "
            "which llmarch cannot describe",
            "give the shared expert's width",
        )
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("moe_intermediate_size"),
        kind,
        n_shared=1,
        d_shared=d_shared,
        shared_gate=True,
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


def _gated_deltanet_hybrid(cfg: Config) -> tuple[dict, list[str]]:
    """Qwen3-Next's and Qwen3.5's text model without its FFN: Gated DeltaNet and gated-attention layers as
    `layer_types` lists them, and the mixer letter of each layer.

    transformers' qwen3_5 splits the Gated DeltaNet input projection into in_proj_qkv, in_proj_z, in_proj_b and
    in_proj_a (qwen3_next fuses them as in_proj_qkvz and in_proj_ba): the same matrices, so the same spec.
    """
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head", "output_gate": "elementwise"}
    params = cfg.mapping("rope_parameters") or {}
    if (
        cfg.has("partial_rotary_factor")
        and "partial_rotary_factor" in params
        and params["partial_rotary_factor"] != cfg.get("partial_rotary_factor")
    ):
        raise cfg.error(
            ("rope_parameters", "partial_rotary_factor"),
            f"{_show(params['partial_rotary_factor'])} disagrees with the top-level partial_rotary_factor "
            f"({_show(cfg.get('partial_rotary_factor'))})",
            "state the rotary fraction once",
        )
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    spec["gated_deltanet"] = {
        "n_k_heads": cfg.int("linear_num_key_heads"),
        "n_v_heads": cfg.int("linear_num_value_heads"),
        "head_k_dim": cfg.int("linear_key_head_dim"),
        "head_v_dim": cfg.int("linear_value_head_dim"),
        "conv_kernel": cfg.int("linear_conv_kernel_dim"),
    }
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "linear_attention": "D"}, spec["n_layers"])
    cfg.touch("full_attention_interval")
    return spec, mixers


def _qwen3_5_mtp(cfg: Config, spec: dict, ffn: str) -> None:
    """Qwen's MTP module (two input norms, fc 2d -> d, one gated-attention layer, a norm) has llmarch's MTP shape;
    transformers builds none (it drops the checkpoint's mtp.* weights), so it is reported apart from the total."""
    n_mtp = cfg.int("mtp_num_hidden_layers", 0)
    if n_mtp:
        spec["mtp"] = {"n_modules": n_mtp, "ffn": ffn}


def build_qwen3_5(cfg: Config) -> dict:
    """Qwen3.5 / 3.6 dense (27B, 9B, ...): the hybrid with a dense SwiGLU FFN in every layer, no experts."""
    spec, mixers = _gated_deltanet_hybrid(cfg)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    _qwen3_5_mtp(cfg, spec, "dense")
    spec["layers"] = _layers(mixers, ["D"] * spec["n_layers"])
    return spec


def build_qwen3_5_moe(cfg: Config) -> dict:
    """Qwen3.5 / 3.6 MoE: the hybrid with experts and a gated shared expert in every layer (transformers reads
    neither mlp_only_layers nor decoder_sparse_step for this type)."""
    _require_experts(cfg)
    spec, mixers = _gated_deltanet_hybrid(cfg)
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    d_shared = cfg.int("shared_expert_intermediate_size")
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("moe_intermediate_size"),
        kind,
        n_shared=1,
        d_shared=d_shared,
        shared_gate=True,
    )
    _qwen3_5_mtp(cfg, spec, "moe")
    spec["layers"] = _layers(mixers, ["E"] * spec["n_layers"])
    return spec


QWEN3_KEYS = {
    "vocab_size": 151936,
    "hidden_size": 4096,
    "intermediate_size": 22016,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "use_sliding_window": False,
    "sliding_window": 4096,
    "max_window_layers": 28,
    "layer_types": Derived("from use_sliding_window, sliding_window, max_window_layers", _qwen3_layer_types),
    **_rope_keys(10000.0),
    **_QUANT,
}


QWEN_MOE_KEYS = {"decoder_sparse_step": 1, "mlp_only_layers": []}


QWEN3_MOE_KEYS = {
    k: v
    for k, v in QWEN3_KEYS.items()
    if k not in ("use_sliding_window", "sliding_window", "max_window_layers", "layer_types")
} | {
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "num_hidden_layers": 24,
    "num_key_value_heads": 4,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "moe_intermediate_size": 768,
    "num_experts_per_tok": 8,
    "num_experts": 128,
    **QWEN_MOE_KEYS,
}


# Keys of Qwen's own training config that some released configs carry (Qwen3-Coder-30B-A3B-Instruct);
# transformers' qwen3_moe reads none of them, so each is accepted only at what transformers builds anyway
QWEN_INTERNAL_KEYS = {
    "qkv_bias": Reject("transformers' qwen3_moe reads attention_bias; a q/k/v bias here would be dropped"),
    "use_qk_norm": Reject("transformers' qwen3_moe always normalises q and k", _only(True)),
    "shared_expert_intermediate_size": Reject("transformers' qwen3_moe has no shared expert", _only(0)),
}


NO_SLIDING = Reject("transformers' implementation of this type has no sliding-window layers", _only(False))


QWEN3_NEXT_KEYS = {k: v for k, v in QWEN3_MOE_KEYS.items()} | {
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "head_dim": 256,
    "partial_rotary_factor": 0.25,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_value_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "num_experts_per_tok": 10,
    "num_experts": 512,
    "full_attention_interval": 4,
    "layer_types": Derived(
        "every full_attention_interval-th layer full attention, the rest Gated DeltaNet",
        lambda r: [
            "linear_attention" if (i + 1) % r.int("full_attention_interval") else "full_attention"
            for i in range(r.int("num_hidden_layers"))
        ],
    ),
}


# Qwen3.5 / 3.6 (transformers' Qwen3_5TextConfig, Qwen3_5MoeTextConfig): Qwen3-Next's hybrid
QWEN3_5_TEXT_KEYS = {
    "vocab_size": 248320,
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "partial_rotary_factor": 0.25,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_value_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "full_attention_interval": 4,
    "layer_types": QWEN3_NEXT_KEYS["layer_types"],
    # Qwen's MTP modules: transformers has no such key and builds none (0: no `mtp:` block)
    "mtp_num_hidden_layers": 0,
    **_rope_keys(10000.0),
    **_QUANT,
}


QWEN3_5_MOE_TEXT_KEYS = {k: v for k, v in QWEN3_5_TEXT_KEYS.items() if k != "intermediate_size"} | {
    "hidden_size": 2048,
    "num_hidden_layers": 40,
    "num_key_value_heads": 2,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "num_experts_per_tok": 8,
    "num_experts": 256,
}


# Keys Qwen's configs write that transformers' qwen3_5 code never reads
QWEN3_5_IRRELEVANT = "mamba_ssm_dtype"  # the recurrent state's dtype: `kvcache --state-dtype` (default fp32)


QWEN3_5_REJECTED = {
    "attn_output_gate": Reject(
        "transformers' qwen3_5 attention always has its sigmoid output gate (q_proj twice as wide)", _only(True)
    ),
    "output_gate_type": Reject(
        "transformers' qwen3_5 gates the Gated DeltaNet output with SiLU", _only("swish", "silu")
    ),
    "use_sliding_window": NO_SLIDING,
    # no checkpoint with it was seen: where such a module's own embedding sits is not known
    "mtp_use_dedicated_embeddings": Reject("llmarch's Qwen3.5 MTP module shares the model's embedding"),
}


QWEN3_5_MOE_REJECTED = QWEN3_5_REJECTED | {
    "mlp_only_layers": Reject(
        "transformers' qwen3_5_moe puts experts in every layer and ignores this list", lambda v: v is None or v == []
    ),
    "decoder_sparse_step": Reject(
        "transformers' qwen3_5_moe puts experts in every layer and ignores this step", lambda v: v is None or v == 1
    ),
}


_QWEN3_NEXT_NAMES = {
    "attention": _ATTN,
    "dense_ffn": _MLP,
    "routed_experts": _EXPERTS,
    "linear_mixer": ("linear_attn.in_proj_qkvz", "linear_attn.in_proj_ba", "linear_attn.out_proj"),
    "shared_experts": ("mlp.shared_expert.gate_proj", "mlp.shared_expert.up_proj", "mlp.shared_expert.down_proj"),
    "other": (
        "mlp.gate",
        "mlp.shared_expert_gate",
        "linear_attn.conv1d",
        "linear_attn.norm",
        "self_attn.q_norm",
        "self_attn.k_norm",
    ),
}


_QWEN3_5_GDN = (
    "linear_attn.in_proj_qkv",
    "linear_attn.in_proj_z",
    "linear_attn.in_proj_b",
    "linear_attn.in_proj_a",
    "linear_attn.out_proj",
)


TYPES = [
    TextType("qwen3", "qwen3", _keys(QWEN3_KEYS), build_qwen3),
    TextType(
        "qwen3_moe",
        "qwen3",
        _keys(
            QWEN3_MOE_KEYS,
            "norm_topk_prob sliding_window max_window_layers",
            {"use_sliding_window": NO_SLIDING} | QWEN_INTERNAL_KEYS,
            aliases={"num_local_experts": "num_experts"},
        ),  # transformers' attribute_map: num_experts -> num_local_experts
        build_qwen3_moe,
    ),
    TextType(
        "qwen3_next",
        "qwen3",
        _keys(QWEN3_NEXT_KEYS, "norm_topk_prob", {"use_sliding_window": NO_SLIDING}),
        build_qwen3_next,
    ),
    TextType(
        "qwen3_5_text",
        "qwen3.5",
        # mlp_only_layers: Qwen3.5-27B's config writes [] (the MoE sibling's key); every layer is dense anyway
        _keys(QWEN3_5_TEXT_KEYS, QWEN3_5_IRRELEVANT + " mlp_only_layers", QWEN3_5_REJECTED),
        build_qwen3_5,
    ),
    TextType(
        "qwen3_5_moe_text",
        "qwen3.5",
        # intermediate_size: Qwen3_5MoeTextConfig has none; no layer is dense
        _keys(QWEN3_5_MOE_TEXT_KEYS, QWEN3_5_IRRELEVANT + " norm_topk_prob intermediate_size", QWEN3_5_MOE_REJECTED),
        build_qwen3_5_moe,
    ),
]


MODULE_NAMES = {
    "qwen3": ModuleNames(_DENSE_NAMES),
    "qwen3_moe": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": _MLP,
            "routed_experts": _EXPERTS,
            "other": ("mlp.gate", "self_attn.q_norm", "self_attn.k_norm"),
        }
    ),
    "qwen3_next": ModuleNames(_QWEN3_NEXT_NAMES),
    # Qwen3.5 splits the Gated DeltaNet input projection; its MoE type has no dense layers, its dense type no experts
    "qwen3_5_moe_text": ModuleNames(
        {k: v for k, v in _QWEN3_NEXT_NAMES.items() if k != "dense_ffn"} | {"linear_mixer": _QWEN3_5_GDN}
    ),
    "qwen3_5_text": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": _MLP,
            "linear_mixer": _QWEN3_5_GDN,
            "other": ("linear_attn.conv1d", "linear_attn.norm", "self_attn.q_norm", "self_attn.k_norm"),
        }
    ),
}


# Checkpoint tensor names (verify): Qwen3-Next's Gated DeltaNet under `linear_attn`
GATED_DELTANET_TENSORS: Rules = (
    (r"mixer\.(in_proj_qkvz|in_proj_ba|out_proj)\.weight", to("linear_attn.{0}.weight")),
    (r"mixer\.conv1d\.weight", to("linear_attn.conv1d.weight")),
    (r"mixer\.(dt_bias|A_log)", to("linear_attn.{0}")),
    (r"mixer\.norm\.weight", to("linear_attn.norm.weight")),
)
# Qwen3.5 keeps Qwen3-Next's Gated DeltaNet but stores its input projections apart: q, k, v (`in_proj_qkv`)
# and the gate z (the widths the kind states), beta and the decay input a
QWEN3_5_DELTANET_TENSORS: Rules = (
    (
        r"mixer\.in_proj_qkvz\.weight",
        split_parts("mixer.in_proj_qkvz.weight", "linear_attn.in_proj_qkv.weight", "linear_attn.in_proj_z.weight"),
    ),
    (r"mixer\.in_proj_ba\.weight", split("linear_attn.in_proj_b.weight", "linear_attn.in_proj_a.weight")),
) + GATED_DELTANET_TENSORS
CHECKPOINT_NAMES = {
    "qwen3": DENSE_TENSORS,
    "qwen3_moe": Family(ATTENTION_TENSORS + MLP_TENSORS + routed_expert_tensors()),
    "qwen3_next": Family(
        ATTENTION_TENSORS + GATED_DELTANET_TENSORS + MLP_TENSORS + routed_expert_tensors("shared_expert"), mtp="qwen"
    ),
    "qwen3_5_text": Family(ATTENTION_TENSORS + QWEN3_5_DELTANET_TENSORS + MLP_TENSORS, mtp="qwen"),
    "qwen3_5_moe_text": Family(
        ATTENTION_TENSORS + QWEN3_5_DELTANET_TENSORS + MLP_TENSORS + routed_expert_tensors("shared_expert"),
        mtp="qwen",
    ),
}
