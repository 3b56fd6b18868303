"""Google's Gemma 4 text model (`gemma4_text`): Gemma 3's sandwich-norm decoder with per-kind geometry on
full-attention layers (`global_head_dim`, `num_global_key_value_heads`), values that are the keys there
(`attention_k_eq_v`), proportional RoPE (p-RoPE), and the options of its sizes: per-layer embeddings and
cross-layer KV sharing with a double-wide FFN (E2B, E4B), a dense MLP beside the experts (26B-A4B)."""

from __future__ import annotations

from typing import Any

from ....limits import MAX_CONTEXT, MAX_D_FF, MAX_EXPERTS, MAX_HEAD_DIM, MAX_HEADS, MAX_VOCAB
from ...checkpoints.naming import Family, Rules, split, to
from ..common import (
    _ATTN,
    _MLP,
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
)
from ..config import Config, _show
from ..keys import _QUANT, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from .gemma import PER_LAYER_TOP_TENSORS


def _gemma4_layer_types(r: Config) -> list[str]:
    """Gemma4TextConfig's default: 5 sliding : 1 full, and the last layer full whatever the pattern."""
    n = r.int("num_hidden_layers")
    return ["sliding_attention" if (i + 1) % 6 and i != n - 1 else "full_attention" for i in range(n)]


# transformers' rope_parameters when the config has none (Gemma4TextConfig.__post_init__)
DEFAULT_ROPE = {
    "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
    "full_attention": {"rope_type": "proportional", "partial_rotary_factor": 0.25, "rope_theta": 1000000.0},
}


def _gemma4_rope(cfg: Config, kind: str) -> dict:
    """One layer type's RoPE: `default` (all frequency pairs), or `proportional` (p-RoPE: the head's frequencies,
    `partial_rotary_factor` of the pairs rotating), as Gemma 4's rotary embedding computes them."""
    params = cfg.get("rope_parameters")
    if not isinstance(params, dict):
        raise cfg.error("rope_parameters", f"expected a mapping by layer type, got {_show(params)}")
    extra = sorted(str(k) for k in params if k not in DEFAULT_ROPE)
    if extra:
        raise cfg.error(
            ("rope_parameters", extra[0]),
            f"`{extra[0]}` is not a layer type: Gemma 4 reads `full_attention` and `sliding_attention` entries",
        )
    path = ("rope_parameters", kind)
    given = params.get(kind)
    if not isinstance(given, dict):
        raise cfg.error(path, f"expected a mapping, got {_show(given)}", "give rope_theta and rope_type")
    unknown = sorted(str(k) for k in given if k not in ("rope_type", "rope_theta", "partial_rotary_factor", "factor"))
    if unknown:
        raise cfg.error(path + (unknown[0],), f"unknown RoPE key `{unknown[0]}` for Gemma 4")
    theta = given.get("rope_theta")
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not theta > 0 or theta == float("inf"):
        raise cfg.error(path + ("rope_theta",), f"expected a positive number, got {_show(theta)}")
    rope_type = given.get("rope_type", "default")
    if rope_type not in ("default", "proportional"):
        raise cfg.error(
            path + ("rope_type",),
            f"RoPE type {_show(rope_type)} is not supported for Gemma 4",
            "supported: default, proportional",
        )
    if given.get("factor", 1.0) != 1.0:
        raise cfg.error(path + ("factor",), "a scaled proportional RoPE is not supported", "give factor 1.0")
    block: dict[str, Any] = {"theta": theta}
    fraction = given.get("partial_rotary_factor", 1.0)
    if rope_type == "proportional":
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
            raise cfg.error(path + ("partial_rotary_factor",), f"expected a fraction in (0, 1], got {_show(fraction)}")
        if fraction != 1:
            block["frequency_fraction"] = fraction
    elif fraction != 1.0:
        # Gemma 4's default RoPE rotates the whole head whatever the factor says
        raise cfg.error(
            path + ("partial_rotary_factor",),
            "transformers' Gemma 4 ignores partial_rotary_factor for rope_type default (it rotates the whole head)",
            "use rope_type proportional for p-RoPE, or drop the factor",
        )
    return block


def _global_geometry(cfg: Config, mixers: list[str], attn: dict, k_eq_v: bool) -> tuple[int, int]:
    """Full-attention layers' head_dim and KV heads.  transformers builds `per_layer_config` from
    `global_head_dim` and (with attention_k_eq_v) `num_global_key_value_heads`, and writes only the table; a
    config that states the table is read from it, and then the two keys are not read."""
    base_dim, base_kv = attn.get("head_dim"), attn.get("n_kv_heads", attn["n_heads"])
    if not cfg.has("per_layer_config"):
        global_kv = cfg.opt_int("num_global_key_value_heads", 1, MAX_HEADS)
        return cfg.int("global_head_dim", 1, MAX_HEAD_DIM), (global_kv if k_eq_v and global_kv is not None else base_kv)
    cfg.touch("global_head_dim", "num_global_key_value_heads")
    table = cfg.mapping("per_layer_config") or {}
    full = {i for i, m in enumerate(mixers) if m == "G"}
    found: dict[int, tuple[int, int]] = {}
    for key, entry in table.items():
        path = ("per_layer_config", key)
        index = int(key) if isinstance(key, str) and key.isdigit() else None
        if index not in full:
            raise cfg.error(path, f"overrides layer {_show(key)}, which is not a full-attention layer")
        if not isinstance(entry, dict) or set(entry) - {"head_dim", "num_key_value_heads"}:
            raise cfg.error(path, "expected a mapping of head_dim and num_key_value_heads")
        values = []
        for field, default in (("head_dim", base_dim), ("num_key_value_heads", base_kv)):
            v = entry.get(field, default)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_HEAD_DIM:
                raise cfg.error(path + (field,), f"expected a positive integer, got {_show(v)}")
            values.append(v)
        found[index] = (values[0], values[1])
    if set(found) != full or len(set(found.values())) != 1:
        raise cfg.error(
            "per_layer_config",
            "expected one head_dim / num_key_value_heads override for every full-attention layer "
            f"(layers {', '.join(map(str, sorted(full)))})",
        )
    return next(iter(found.values()))


def build_gemma4_text(cfg: Config) -> dict:
    spec = _base(cfg)
    n, d = spec["n_layers"], spec["d_model"]
    spec["norm"] = _rmsnorm(cfg, "sandwich") | {"layer_scalar": True}  # every Gemma 4 layer has the buffer
    attn = _heads(cfg, d) | _biases(cfg) | {"qk_norm": "per_head"}  # v_norm has no weight
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
    if mixers[-1] != "G":
        # Gemma4TextConfig forces the last layer to full attention (with a warning); the spec says what it builds
        mixers[-1] = "G"
        where = ".".join(map(str, cfg.path + ("layer_types", n - 1)))
        cfg.source.defaulted.append((where, "full_attention (transformers forces the last layer to full attention)"))
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window", 1, MAX_CONTEXT)
    cfg.touch("sliding_window")
    k_eq_v = cfg.bool("attention_k_eq_v")
    global_dim, global_kv = _global_geometry(cfg, mixers, attn, k_eq_v)
    if cfg.get("rope_scaling") is not None:
        raise cfg.error("rope_scaling", "transformers' Gemma 4 reads rope_parameters only", "give rope_parameters")
    local_rope = _gemma4_rope(cfg, "sliding_attention") if "L" in mixers else None
    global_rope = _gemma4_rope(cfg, "full_attention") if "G" in mixers else None
    overrides: dict[str, dict] = {}
    if "G" in mixers:
        over: dict[str, Any] = {}
        if global_dim != attn.get("head_dim", d // attn["n_heads"]):
            over["head_dim"] = global_dim
        # num_global_key_value_heads applies only with attention_k_eq_v (Gemma4TextConfig.__post_init__)
        if global_kv != attn.get("n_kv_heads", attn["n_heads"]):
            if attn["n_heads"] % global_kv:
                raise cfg.error("num_global_key_value_heads", f"{global_kv} does not divide num_attention_heads")
            over["n_kv_heads"] = global_kv
        if k_eq_v:
            over["k_eq_v"] = {"cache": "k_and_v"}  # V is the normed K output, without RoPE: both are cached
        if local_rope is not None and global_rope != local_rope:
            over["rope"] = global_rope
        if over:
            overrides["global"] = over
    attn["rope"] = local_rope if local_rope is not None else global_rope
    if overrides:
        attn["overrides"] = overrides
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_activation", GATED_FFN)
    d_ff = cfg.int("intermediate_size", 1, MAX_D_FF)
    spec["ffn"] = {"kind": kind, "d_ff": d_ff}
    ffns = ["D"] * n
    if cfg.bool("enable_moe_block"):
        spec["moe"] = _moe(
            cfg.int("num_experts", 1, MAX_EXPERTS),
            cfg.int("top_k_experts", 1, MAX_EXPERTS),
            cfg.int("moe_intermediate_size", 1, MAX_D_FF),
            kind,
            router_scale=True,
            per_expert_scale=True,
        )
        if spec["moe"]["top_k"] > spec["moe"]["n_experts"]:
            raise cfg.error("top_k_experts", f"{spec['moe']['top_k']} is more than num_experts")
        ffns = ["P"] * n  # the dense MLP and the experts side by side in every layer
    cfg.touch("num_experts", "top_k_experts", "moe_intermediate_size")
    ple = cfg.opt_int("hidden_size_per_layer_input", 0, MAX_HEAD_DIM)
    if ple:  # 0 or null: no per-layer embeddings (the 31B and 26B-A4B)
        spec["per_layer_embeddings"] = {
            "dim": ple,
            "vocab_size": cfg.int("vocab_size_per_layer_input", 1, MAX_VOCAB),
        }
    cfg.touch("vocab_size_per_layer_input")
    shared = cfg.int("num_kv_shared_layers", 0)
    if shared >= n:
        raise cfg.error(
            "num_kv_shared_layers",
            f"{shared} shared-KV layers leave no layer of the {n} to compute KV",
            "give num_kv_shared_layers below num_hidden_layers",
        )
    if shared:
        spec["kv_shared_layers"] = shared
        if cfg.bool("use_double_wide_mlp"):  # twice the width on the KV-sharing layers only
            if "moe" in spec:
                raise cfg.error("use_double_wide_mlp", "a double-wide MLP beside experts is not supported")
            spec["kv_shared_d_ff"] = 2 * d_ff
    cfg.touch("use_double_wide_mlp")
    spec["layers"] = _layers(mixers, ffns)
    return spec


GEMMA4_TEXT_KEYS = {
    "vocab_size": 262144,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 30,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "global_head_dim": 512,
    "num_global_key_value_heads": None,
    "hidden_activation": "gelu_pytorch_tanh",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "sliding_window": 512,
    "layer_types": Derived("5 sliding : 1 full, the last layer full", _gemma4_layer_types),
    "rope_parameters": DEFAULT_ROPE,
    "rope_scaling": None,
    "per_layer_config": None,
    "vocab_size_per_layer_input": 262144,
    "hidden_size_per_layer_input": 256,
    "attention_k_eq_v": False,
    "num_kv_shared_layers": 0,
    "enable_moe_block": False,
    "use_double_wide_mlp": False,
    "num_experts": None,
    "top_k_experts": None,
    "moe_intermediate_size": None,
    **_QUANT,
}


TYPES = [
    TextType(
        "gemma4_text",
        "gemma",
        _keys(
            GEMMA4_TEXT_KEYS,
            # logit soft-capping: no parameters, no cache size
            "final_logit_softcapping",
            {
                "use_bidirectional_attention": Reject(
                    "llmarch models causal decoders (`all` makes every layer bidirectional and rewrites "
                    "sliding_window; `vision` keeps text causal)",
                    _only("vision"),
                ),
                "expert_intermediate_size": Reject(
                    "transformers 5.23's Gemma 4 does not read it (moe_intermediate_size is the experts' width)"
                ),
            },
        ),
        build_gemma4_text,
    ),
]


MODULE_NAMES = {
    "gemma4_text": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": _MLP,
            "routed_experts": ("experts.gate_up_proj", "experts.down_proj"),
            "other": (
                "router.proj",
                "input_layernorm",
                "post_attention_layernorm",
                "pre_feedforward_layernorm",
                "post_feedforward_layernorm",
                "pre_feedforward_layernorm_2",
                "post_feedforward_layernorm_1",
                "post_feedforward_layernorm_2",
                "router.scale",
                "router.per_expert_scale",
                "self_attn.q_norm",
                "self_attn.k_norm",
                "per_layer_input_gate",
                "per_layer_projection",
                "post_per_layer_input_norm",
                "layer_scalar",
            ),
        },
        top=(
            "embed_tokens",
            "norm",
            "embed_tokens_per_layer",
            "per_layer_model_projection",
            "per_layer_projection_norm",
        ),
    ),
}


# Checkpoint tensor names (verify). Gemma 4: the dense MLP beside the experts (26B-A4B: `ffn.dense` / `ffn.moe`
# in llmarch, `mlp` / `router` / `experts` beside it in the checkpoint, stacked experts only), per-layer inputs
# (E2B, E4B), the layer's scalar
GEMMA4_TENSORS: Rules = (
    (r"ffn\.dense\.gate_up\.weight", split("mlp.gate_proj.weight", "mlp.up_proj.weight")),
    (r"ffn\.dense\.down\.weight", to("mlp.down_proj.weight")),
    (r"ffn\.moe\.router\.weight", to("router.proj.weight")),
    (r"ffn\.moe\.router_scale", to("router.scale")),
    (r"ffn\.moe\.per_expert_scale", to("router.per_expert_scale")),
    (r"ffn\.moe\.experts\.(gate_up|down)", to("experts.{0}_proj")),
    (r"ffn\.moe_norm\.weight", to("pre_feedforward_layernorm_2.weight")),
    (r"ffn\.dense_post_norm\.weight", to("post_feedforward_layernorm_1.weight")),
    (r"ffn\.moe_post_norm\.weight", to("post_feedforward_layernorm_2.weight")),
    (r"per_layer_input\.gate\.weight", to("per_layer_input_gate.weight")),
    (r"per_layer_input\.proj\.weight", to("per_layer_projection.weight")),
    (r"layer_scalar\.scalar", to("layer_scalar")),  # llmarch's LayerScalar part holds it as `scalar`
)
CHECKPOINT_NAMES = {
    "gemma4_text": Family(
        ATTENTION_TENSORS + MLP_TENSORS + GEMMA4_TENSORS, layouts=("stacked",), outer=PER_LAYER_TOP_TENSORS
    ),
}
