"""Google's Gemma 3 (`gemma3_text`) and Gemma 3n (`gemma3n_text`) text models."""

from __future__ import annotations

from typing import Callable

from ....limits import MAX_CONTEXT, MAX_D_FF
from ...checkpoints.naming import Family, to
from ..common import (
    _DENSE_NAMES,
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
    _rmsnorm,
)
from ..config import Config, _int_items, _short
from ..keys import _QUANT, Derived, Reject, _keys
from ..quant import ModuleNames
from ..rope import _global_local, _rope, _rope_keys


def _gemma3_layer_types(r: Config) -> list[str]:
    period = r.int("sliding_window_pattern")
    return ["sliding_attention" if (i + 1) % period else "full_attention" for i in range(r.int("num_hidden_layers"))]


def _gemma_decoder(cfg: Config, d_ff: Callable[[Config, int], int]) -> dict:
    """Gemma 3's decoder (Gemma 3n's too): sandwich norms, per-head q/k norms, global and sliding layers,
    a gated FFN of width `d_ff(cfg, n_layers)`."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg, "sandwich")
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head"}  # Gemma 3n's v_norm has no weight
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
    cfg.touch("sliding_window_pattern")
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window", 1, MAX_CONTEXT)
    cfg.touch("sliding_window")
    # Gemma 3 scales RoPE on global layers only; local layers use rope_local_base_freq
    rope = _rope(cfg, local_theta="rope_local_base_freq", scaled=("global",), nested_only=True)
    spec["attention"] = _global_local(attn, rope, mixers)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_activation", GATED_FFN), "d_ff": d_ff(cfg, n)}
    spec["layers"] = _layers(mixers, ["D"] * n)
    return spec


def build_gemma3_text(cfg: Config) -> dict:
    return _gemma_decoder(cfg, lambda c, n: c.int("intermediate_size", 1, MAX_D_FF))


def _gemma3n_width(cfg: Config, n: int) -> int:
    """One width for every layer (a per-layer list is MatFormer's nesting, which llmarch does not model)."""
    widths = cfg.get("intermediate_size")
    if isinstance(widths, list):
        _int_items(cfg, ("intermediate_size",), widths, 1, MAX_D_FF)
    else:
        widths = [cfg.int("intermediate_size", 1, MAX_D_FF)] * n
    if len(widths) != n or len(set(widths)) != 1:
        raise cfg.error("intermediate_size", f"expected one FFN width for all {n} layers, got {_short(widths)}")
    return widths[0]


def build_gemma3n_text(cfg: Config) -> dict:
    """Gemma 3's decoder plus per-layer embeddings, AltUp, LAuReL and cross-layer KV sharing."""
    spec = _gemma_decoder(cfg, _gemma3n_width)
    n = spec["n_layers"]
    spec["per_layer_embeddings"] = {
        "dim": cfg.int("hidden_size_per_layer_input"),
        "vocab_size": cfg.int("vocab_size_per_layer_input"),
    }
    altup = cfg.int("altup_num_inputs")
    if altup < 2:
        raise cfg.error("altup_num_inputs", f"AltUp needs at least 2 residual streams, got {altup}")
    spec["altup"] = {"n_inputs": altup}
    spec["laurel"] = {"rank": cfg.int("laurel_rank")}
    shared = cfg.int("num_kv_shared_layers", 0)
    if shared >= n:
        raise cfg.error(
            "num_kv_shared_layers",
            f"{shared} shared-KV layers leave no layer of the {n} to compute KV",
            "give num_kv_shared_layers below num_hidden_layers"
            + (" (its default is 15)" if not cfg.has("num_kv_shared_layers") else ""),
        )
    if shared:
        spec["kv_shared_layers"] = shared
    return spec


GEMMA3_TEXT_KEYS = {
    "vocab_size": 262208,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "sliding_window": 4096,
    "sliding_window_pattern": 6,
    "rope_local_base_freq": 10000.0,
    "layer_types": Derived("every sliding_window_pattern-th layer global, the rest sliding", _gemma3_layer_types),
    **_rope_keys(1000000.0),
    **_QUANT,
}


GEMMA3N_TEXT_KEYS = {k: v for k, v in GEMMA3_TEXT_KEYS.items() if k != "sliding_window_pattern"} | {
    "vocab_size": 262400,
    "vocab_size_per_layer_input": 262144,
    "hidden_size": 2048,
    "hidden_size_per_layer_input": 256,
    "intermediate_size": 16384,
    "num_hidden_layers": 35,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "sliding_window": 512,
    "altup_num_inputs": 4,
    "laurel_rank": 64,
    "num_kv_shared_layers": 15,
    "layer_types": Derived(
        "every 5th layer global, the rest sliding",
        lambda r: [
            "full_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(r.int("num_hidden_layers"))
        ],
    ),
}


TYPES = [
    TextType(
        "gemma3_text",
        "gemma",
        _keys(
            GEMMA3_TEXT_KEYS,
            # a score scale, logit soft-caps and the cache class: no parameters, no cache size
            "query_pre_attn_scalar final_logit_softcapping attn_logit_softcapping cache_implementation",
            {"use_bidirectional_attention": Reject("llmarch models causal decoders only")},
            # transformers writes out its private copy of sliding_window_pattern
            consistent={
                "_sliding_window_pattern": Derived("sliding_window_pattern", lambda r: r.int("sliding_window_pattern"))
            },
        ),
        build_gemma3_text,
    ),
    TextType(
        "gemma3n_text",
        "gemma",
        _keys(
            GEMMA3N_TEXT_KEYS,
            # AltUp's active stream and clipping, and the activation sparsity of the first layers (a top-k on the
            # activation): no parameters, no cache size
            "final_logit_softcapping query_pre_attn_scalar altup_active_idx altup_coef_clip altup_correct_scale "
            # altup_lr_multiplier: a training learning-rate multiplier
            "activation_sparsity_pattern altup_lr_multiplier",
        ),
        build_gemma3n_text,
    ),
]


MODULE_NAMES = {
    "gemma3_text": ModuleNames(_DENSE_NAMES),
    "gemma3n_text": ModuleNames(
        _DENSE_NAMES
        | {
            "other": _DENSE_NAMES["other"]
            + ("altup", "laurel", "per_layer_input_gate", "per_layer_projection", "self_attn.v_norm")
        },
        top=(
            "embed_tokens",
            "norm",
            "embed_tokens_per_layer",
            "per_layer_model_projection",
            "altup_projections",
            "altup_unembed_projections",
        ),
    ),
}


# Checkpoint tensor names (verify)
PER_LAYER_TOP_TENSORS = {  # per-layer embeddings' model-level weights (Gemma 3n's and Gemma 4's names)
    "per_layer_embed.weight": "embed_tokens_per_layer.weight",
    "per_layer_input.weight": "per_layer_model_projection.weight",
    "per_layer_input_norm.weight": "per_layer_projection_norm.weight",
}
CHECKPOINT_NAMES = {
    "gemma3_text": DENSE_TENSORS,
    # Gemma 3n: AltUp, LAuReL and the per-layer inputs under transformers' names (the model keeps
    # altup_inputs - 1 AltUp projections each way: 3 for Gemma 3n's 4 inputs)
    "gemma3n_text": Family(
        ATTENTION_TENSORS
        + MLP_TENSORS
        + (
            (r"altup\.output_scale", to("altup.correct_output_scale")),
            (r"altup\.router\.weight", to("altup.modality_router.weight")),
            (r"altup\.(prediction|correction)_coefs\.weight", to("altup.{0}_coefs.weight")),
            (r"laurel\.(left|right)\.weight", to("laurel.linear_{0}.weight")),
            (r"per_layer_input\.gate\.weight", to("per_layer_input_gate.weight")),
            (r"per_layer_input\.proj\.weight", to("per_layer_projection.weight")),
        ),
        norms={
            "altup_norm": "altup.router_norm",
            "laurel_norm": "laurel.post_laurel_norm",
        },
        outer={
            **PER_LAYER_TOP_TENSORS,
            **{f"altup_in.{k}.weight": f"altup_projections.{k}.weight" for k in range(8)},
            **{f"altup_out.{k}.weight": f"altup_unembed_projections.{k}.weight" for k in range(8)},
        },
    ),
}
