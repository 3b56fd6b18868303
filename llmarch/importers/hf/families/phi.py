"""Microsoft's Phi-3 / 3.5 / 4 (`phi3`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, to
from ..common import TextType, _llama_like
from ..config import Config
from ..keys import _QUANT, HEAD_DIM_FROM_WIDTH, KV_FROM_HEADS, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _rope_keys


def build_phi3(cfg: Config) -> dict:
    """Phi-3 / Phi-4: Llama's layers with q/k/v and gate/up each fused into one matrix (the same weights), no
    biases; `sliding_window`, when set, applies to every layer."""
    spec = _llama_like(cfg, window_key="sliding_window", bias_key=None)
    if "scaling" in spec["attention"]["rope"]:
        # transformers' LongRoPE for phi3 reads original_max_position_embeddings and per-dimension factors;
        # the spec format states neither, so a scaled config is refused rather than imported half-read
        raise cfg.error(
            "rope_scaling" if cfg.mapping("rope_scaling") is not None else "rope_parameters",
            "RoPE scaling is not supported for model type `phi3` (LongRoPE's factors have no spec field)",
            "import a config without rope_scaling, or write the spec by hand",
        )
    return spec


# transformers' Phi3Config (Phi-3, Phi-3.5, Phi-4)
PHI3_KEYS = {
    "vocab_size": 32064,
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "sliding_window": None,
    "partial_rotary_factor": 1.0,
    **_rope_keys(10000.0),
    **_QUANT,
}


TYPES = [
    TextType(
        "phi3",
        "phi",
        _keys(
            PHI3_KEYS,
            # resid_pdrop, embd_pdrop: dropout; original_max_position_embeddings: read by LongRoPE only, which
            # build_phi3 refuses
            "resid_pdrop embd_pdrop original_max_position_embeddings",
            {
                "attention_bias": Reject(
                    "transformers' phi3 builds its fused qkv_proj and o_proj without biases", _only(False)
                )
            },
        ),
        build_phi3,
    ),
]


MODULE_NAMES = {
    # Phi-3's checkpoints fuse q/k/v into qkv_proj and gate/up into gate_up_proj
    "phi3": ModuleNames(
        {
            "attention": ("self_attn.qkv_proj", "self_attn.o_proj"),
            "dense_ffn": ("mlp.gate_up_proj", "mlp.down_proj"),
            "other": ("input_layernorm", "post_attention_layernorm"),
        }
    ),
}


# Checkpoint tensor names (verify). Phi-3 fuses q, k and v into one `qkv_proj` (llmarch's three parts, stacked
# in that order) and keeps gate/up fused as llmarch does
CHECKPOINT_NAMES = {
    "phi3": Family(
        (
            (r"attn\.(q|k|v)_proj\.weight", to("self_attn.qkv_proj.weight")),
            (r"attn\.o_proj\.weight", to("self_attn.o_proj.weight")),
            (r"ffn\.gate_up\.weight", to("mlp.gate_up_proj.weight")),
            (r"ffn\.down\.weight", to("mlp.down_proj.weight")),
        )
    ),
}
