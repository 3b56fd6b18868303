"""Hugging Face's SmolLM3 (`smollm3`)."""

from __future__ import annotations

from ..common import (
    _DENSE_NAMES,
    DENSE_TENSORS,
    GATED_FFN,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _heads,
    _layer_kinds,
    _layers,
    _no_rope_layers,
    _rmsnorm,
)
from ..config import Config
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _rope, _rope_keys


def build_smollm3(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg)
    _layer_kinds(cfg, "layer_types", {"full_attention": "G"}, n)  # sliding layers are rejected with use_sliding_window
    uses_rope = cfg.int_list("no_rope_layers", 0, 1, n)
    cfg.touch("no_rope_layer_interval")
    mixers = ["G" if r else "N" for r in uses_rope]
    spec["attention"] = attn | {"rope": _rope(cfg, kinds=("global",))["global"]}
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    if cfg.bool("mlp_bias"):
        spec["ffn"]["bias"] = True
    spec["layers"] = _layers(mixers, ["D"] * n)
    return spec


SMOLLM3_KEYS = {
    "vocab_size": 128256,
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "mlp_bias": False,
    "no_rope_layer_interval": 4,
    "no_rope_layers": Derived("RoPE except on every no_rope_layer_interval-th layer", _no_rope_layers),
    "layer_types": Derived(
        "all full attention (no sliding window)", lambda r: ["full_attention"] * r.int("num_hidden_layers")
    ),
    **_rope_keys(2000000.0),
    **_QUANT,
}


TYPES = [
    TextType(
        "smollm3",
        "smollm",
        _keys(
            SMOLLM3_KEYS,
            "pretraining_tp sliding_window max_window_layers",
            {
                "use_sliding_window": Reject(
                    "llmarch does not model SmolLM3's sliding window on NoPE layers", _only(False)
                )
            },
        ),
        build_smollm3,
    ),
]


MODULE_NAMES = {
    "smollm3": ModuleNames(_DENSE_NAMES),
}


# Checkpoint tensor names (verify)
CHECKPOINT_NAMES = {"smollm3": DENSE_TENSORS}
