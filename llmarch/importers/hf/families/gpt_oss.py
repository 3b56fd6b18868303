"""OpenAI's gpt-oss (`gpt_oss`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, by_layout, to
from ..common import (
    _ATTN,
    ATTENTION_TENSORS,
    TextType,
    _base,
    _biases,
    _ffn_kind,
    _heads,
    _layer_kinds,
    _layers,
    _moe,
    _rmsnorm,
)
from ..config import Config
from ..keys import _QUANT, Derived, _keys
from ..quant import ModuleNames
from ..rope import _global_local, _rope, _rope_keys


def _alternating(r: Config) -> list[str]:
    return ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(r.int("num_hidden_layers"))]


def build_gpt_oss(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    # gpt-oss's attention has per-head sinks; its router and experts have biases (transformers' GptOss*)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"sinks": True}
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window")
    cfg.touch("sliding_window")
    spec["attention"] = _global_local(attn, _rope(cfg), mixers)
    top_k = cfg.int("num_experts_per_tok")
    if cfg.int("experts_per_token") != top_k:
        raise cfg.error("experts_per_token", f"disagrees with num_experts_per_tok ({top_k})")
    _ffn_kind(cfg, "hidden_act", {"silu": "swiglu"})
    kind = "swiglu_clamped" if cfg.opt_number("swiglu_limit") else "swiglu"
    spec["moe"] = _moe(
        cfg.int("num_local_experts"), top_k, cfg.int("intermediate_size"), kind, router_bias=True, expert_bias=True
    )
    spec["layers"] = _layers(mixers, ["E"] * n)
    return spec


GPT_OSS_KEYS = {
    "num_hidden_layers": 36,
    "num_local_experts": 128,
    "vocab_size": 201088,
    "hidden_size": 2880,
    "intermediate_size": 2880,
    "head_dim": 64,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "sliding_window": 128,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "num_experts_per_tok": 4,
    "swiglu_limit": 7.0,
    "attention_bias": True,
    "experts_per_token": Derived("num_experts_per_tok", lambda r: r.int("num_experts_per_tok")),  # OpenAI's name
    "layer_types": Derived("alternating sliding and full attention", _alternating),
    **_rope_keys(
        150000.0,
        {
            "rope_type": "yarn",
            "factor": 32.0,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "truncate": False,
            "original_max_position_embeddings": 4096,
        },
    ),
    **_QUANT,
}


TYPES = [
    # initial_context_length: OpenAI's name for YaRN's original length, which rope_scaling also states
    TextType("gpt_oss", "gpt-oss", _keys(GPT_OSS_KEYS, "swiglu_alpha initial_context_length"), build_gpt_oss),
]


MODULE_NAMES = {
    # gpt-oss and Llama 4 store their experts fused: one module holding every expert's weights
    "gpt_oss": ModuleNames(
        {
            "attention": _ATTN,
            "routed_experts": ("mlp.experts.gate_up_proj", "mlp.experts.down_proj"),
            "other": ("mlp.router", "self_attn.sinks"),
        }
    ),
}


# Checkpoint tensor names (verify). gpt-oss ships its experts stacked (MXFP4 `_blocks`/`_scales`
# `[n, out, in/32, 16]`); transformers' own bf16 state dict stores them `[n, in, out]`
GPT_OSS_EXPERT_TENSORS = (
    (r"ffn\.router\.(weight|bias)", to("mlp.router.{0}")),
    (r"ffn\.experts\.(gate_up|down)$", by_layout(to("mlp.experts.{0}_proj"), to("mlp.experts.{0}_proj", True))),
    (r"ffn\.experts\.(gate_up|down)_bias", to("mlp.experts.{0}_proj_bias")),
)
CHECKPOINT_NAMES = {"gpt_oss": Family(ATTENTION_TENSORS + GPT_OSS_EXPERT_TENSORS, layouts=("mxfp4", "stacked"))}
