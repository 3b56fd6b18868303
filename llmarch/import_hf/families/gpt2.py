"""OpenAI's GPT-2 (`gpt2`)."""

from __future__ import annotations

from ..common import PLAIN_FFN, TextType, _ffn_kind
from ..config import Config
from ..keys import _QUANT, _keys
from ..quant import ModuleNames


def build_gpt2(cfg: Config) -> dict:
    n_embd, n_positions = cfg.int("n_embd"), cfg.int("n_positions")
    n_inner = cfg.opt_int("n_inner")
    spec = {
        "vocab_size": cfg.int("vocab_size"),
        "d_model": n_embd,
        "n_layers": cfg.int("n_layer"),
        "context_length": n_positions,
        "learned_positions": n_positions,
        "tie_embeddings": cfg.bool("tie_word_embeddings"),
        "norm": {"kind": "layernorm", "bias": True, "placement": "pre", "eps": cfg.number("layer_norm_epsilon")},
        "attention": {"kind": "mha", "n_heads": cfg.int("n_head"), "qkv_bias": True, "o_bias": True},
        # n_inner null means 4 x n_embd
        "ffn": {"kind": _ffn_kind(cfg, "activation_function", PLAIN_FFN), "d_ff": n_inner or 4 * n_embd, "bias": True},
    }
    if n_embd % spec["attention"]["n_heads"]:
        raise cfg.error("n_head", f"does not divide n_embd ({n_embd})")
    return spec


GPT2_KEYS = {
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "n_inner": None,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5,
    "tie_word_embeddings": True,
    **_QUANT,
}


TYPES = [
    TextType(
        "gpt2",
        "gpt2",
        _keys(
            GPT2_KEYS,
            # dropouts, attention scaling flags, the sequence-classification summary head (not in an LM checkpoint)
            "n_ctx resid_pdrop embd_pdrop attn_pdrop summary_type summary_use_proj summary_activation "
            "summary_proj_to_labels summary_first_dropout scale_attn_weights scale_attn_by_inverse_layer_idx "
            "reorder_and_upcast_attn output_past",
        ),
        build_gpt2,
    ),
]


MODULE_NAMES = {
    "gpt2": ModuleNames(
        {
            "attention": ("attn.c_attn", "attn.c_proj"),
            "dense_ffn": ("mlp.c_fc", "mlp.c_proj"),
            "other": ("ln_1", "ln_2"),
        },
        model="transformer.",
        top=("wte", "wpe", "ln_f"),
        layer_list="h",
    ),
}
