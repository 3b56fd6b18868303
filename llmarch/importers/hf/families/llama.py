"""Meta's Llama family: Llama 2/3 (`llama`), IBM's Granite dense (`granite`, Llama's layers) and Llama 4's
text model (`llama4_text`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, Rules, split, to
from ..common import (
    _ATTN,
    _DENSE_NAMES,
    ATTENTION_TENSORS,
    DENSE_TENSORS,
    GATED_FFN,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _heads,
    _layers,
    _llama_like,
    _moe,
    _no_rope_layers,
    _rmsnorm,
)
from ..config import Config, _short
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, KV_FROM_HEADS, Derived, _keys
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


def build_llama(cfg: Config) -> dict:
    return _llama_like(cfg, mlp_bias_key="mlp_bias")


def build_granite(cfg: Config) -> dict:
    """Granite 3 and 4.1 dense: Llama's layers; its μP multipliers scale activations and weigh nothing."""
    return _llama_like(cfg, mlp_bias_key="mlp_bias")


def _llama4_moe_layers(r: Config) -> list[int]:
    step = r.int("interleave_moe_layer_step")
    return list(range(step - 1, r.int("num_hidden_layers"), step))


def build_llama4_text(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg)
    # an empty no_rope_layers means "the default" in transformers (it tests the list's truth)
    uses_rope = cfg.get("no_rope_layers")
    if uses_rope == []:
        uses_rope = _no_rope_layers(cfg)
        cfg.source.defaulted.append(
            (cfg.where("no_rope_layers"), f"{_short(uses_rope)} (empty: transformers' default)")
        )
    else:
        uses_rope = cfg.int_list("no_rope_layers", 0, 1, n)
    cfg.touch("no_rope_layer_interval", "layer_types")
    chunk = cfg.opt_int("attention_chunk_size")
    rope_letter = "C" if chunk else "G"
    mixers = [rope_letter if r else "N" for r in uses_rope]
    if cfg.has("layer_types"):
        expected = {"C": "chunked_attention", "G": "chunked_attention", "N": "full_attention"}
        if cfg.list("layer_types", n) != [expected[m] for m in mixers]:
            raise cfg.error("layer_types", "disagrees with no_rope_layers (chunked layers use RoPE, full ones none)")
    if chunk:
        attn["chunk"] = chunk
    if cfg.bool("use_qk_norm"):
        attn["qk_norm"] = "l2"  # a weightless L2 norm, on RoPE layers only
        if "N" in mixers:
            attn.setdefault("overrides", {})["nope"] = {"qk_norm": "none"}
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    moe_layers = set(cfg.int_list("moe_layers", 0, n - 1))
    cfg.touch("interleave_moe_layer_step")
    ffns = ["E" if i in moe_layers else "D" for i in range(n)]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size_mlp")}
    cfg.touch("intermediate_size_mlp")
    d_expert = cfg.int("intermediate_size")
    spec["moe"] = _moe(
        cfg.int("num_local_experts"), cfg.int("num_experts_per_tok"), d_expert, kind, n_shared=1, d_shared=d_expert
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


LLAMA_KEYS = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    **_rope_keys(10000.0),
    **_QUANT,
}


# transformers' GraniteConfig (Granite 3.x dense, Granite 4.1): its defaults for these keys are LlamaConfig's
# (the defaults test holds each table to its own config class); its multipliers are irrelevant keys
GRANITE_KEYS = dict(LLAMA_KEYS)


LLAMA4_TEXT_KEYS = {
    "vocab_size": 202048,
    "hidden_size": 5120,
    "intermediate_size": 8192,
    "intermediate_size_mlp": 16384,
    "num_hidden_layers": 48,
    "num_attention_heads": 40,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "num_experts_per_tok": 1,
    "num_local_experts": 16,
    "interleave_moe_layer_step": 1,
    "use_qk_norm": True,
    "no_rope_layer_interval": 4,
    "attention_chunk_size": 8192,
    "attention_bias": False,
    "moe_layers": Derived("every interleave_moe_layer_step-th layer", _llama4_moe_layers),
    "no_rope_layers": Derived("RoPE except on every no_rope_layer_interval-th layer", _no_rope_layers),
    "layer_types": Derived(
        "chunked attention on RoPE layers, full attention on the others",
        lambda r: ["chunked_attention" if rope else "full_attention" for rope in _no_rope_layers(r)],
    ),
    **_rope_keys(500000.0),
    **_QUANT,
}


TYPES = [
    TextType("llama", "llama", _keys(LLAMA_KEYS, "pretraining_tp"), build_llama),
    TextType(
        "granite",
        "granite",
        # μP scalars: the embedding, each residual branch and the logits are multiplied, attention's softmax
        # scale is set; no parameters, no cache
        _keys(GRANITE_KEYS, "embedding_multiplier residual_multiplier attention_multiplier logits_scaling"),
        build_granite,
    ),
    TextType(
        "llama4_text",
        "llama",
        _keys(
            LLAMA4_TEXT_KEYS,
            # attention temperature tuning: scalars, no parameters
            "attn_temperature_tuning floor_scale attn_scale for_llm_compressor cache_implementation",
        ),
        build_llama4_text,
    ),
]


MODULE_NAMES = {
    **{t: ModuleNames(_DENSE_NAMES) for t in ("llama", "granite")},
    "llama4_text": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": ("feed_forward.gate_proj", "feed_forward.up_proj", "feed_forward.down_proj"),
            "routed_experts": ("feed_forward.experts.gate_up_proj", "feed_forward.experts.down_proj"),
            "shared_experts": (
                "feed_forward.shared_expert.gate_proj",
                "feed_forward.shared_expert.up_proj",
                "feed_forward.shared_expert.down_proj",
            ),
            "other": ("feed_forward.router", "input_layernorm", "post_attention_layernorm"),
        }
    ),
}


# Checkpoint tensor names (verify). Llama 4 ships its routed experts stacked and stored `[n, in, out]`, under
# `feed_forward`
LLAMA4_FFN_TENSORS: Rules = (
    (r"ffn\.router\.weight", to("feed_forward.router.weight")),
    (r"ffn\.experts\.(gate_up|down)", to("feed_forward.experts.{0}_proj", True)),
    (
        r"ffn\.shared\.gate_up\.weight",
        split("feed_forward.shared_expert.gate_proj.weight", "feed_forward.shared_expert.up_proj.weight"),
    ),
    (r"ffn\.shared\.down\.weight", to("feed_forward.shared_expert.down_proj.weight")),
    (r"ffn\.gate_up\.weight", split("feed_forward.gate_proj.weight", "feed_forward.up_proj.weight")),
    (r"ffn\.down\.weight", to("feed_forward.down_proj.weight")),
)
CHECKPOINT_NAMES = {
    "llama": DENSE_TENSORS,
    "granite": DENSE_TENSORS,
    "llama4_text": Family(ATTENTION_TENSORS + LLAMA4_FFN_TENSORS, layouts=("stacked",)),
}
