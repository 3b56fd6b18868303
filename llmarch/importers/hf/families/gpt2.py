"""OpenAI's GPT-2 (`gpt2`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, to
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


# Checkpoint tensor names (verify). GPT-2: `transformer.h.{i}`, q/k/v fused in `c_attn`, every linear a Conv1D
# stored `[in, out]`
GPT2_TENSORS = (
    (r"attn\.(q|k|v)_proj\.weight", to("attn.c_attn.weight", True)),
    (r"attn\.(q|k|v)_proj\.bias", to("attn.c_attn.bias")),
    (r"attn\.o_proj\.weight", to("attn.c_proj.weight", True)),
    (r"attn\.o_proj\.bias", to("attn.c_proj.bias")),
    (r"ffn\.gate_up\.weight", to("mlp.c_fc.weight", True)),
    (r"ffn\.gate_up\.bias", to("mlp.c_fc.bias")),
    (r"ffn\.down\.weight", to("mlp.c_proj.weight", True)),
    (r"ffn\.down\.bias", to("mlp.c_proj.bias")),
)
CHECKPOINT_NAMES = {
    "gpt2": Family(
        GPT2_TENSORS,
        prefixes=(("transformer.", "lm_head"), ("", "lm_head")),
        layers="h",
        norms={"attn_norm": "ln_1", "ffn_norm": "ln_2"},
        outer={
            "embed_tokens.weight": "wte.weight",
            "pos_embed.weight": "wpe.weight",
            "norm.weight": "ln_f.weight",
            "norm.bias": "ln_f.bias",
        },
    ),
}
