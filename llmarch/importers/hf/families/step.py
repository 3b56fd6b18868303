"""StepFun's Step 3.5 (`step3p5`), which transformers 5.23 implements in its step3p7 folder (Step3p7TextConfig)."""

from __future__ import annotations

from typing import Any, Optional

from ....limits import MAX_HEAD_DIM, MAX_HEADS, MAX_LAYERS
from ...checkpoints.naming import Family, to
from ..common import (
    _GATED_MOE_NAMES,
    ATTENTION_TENSORS,
    MLP_TENSORS,
    TextType,
    _base,
    _biases,
    _layers,
    _moe,
    _rmsnorm,
    routed_expert_tensors,
)
from ..config import Config, _show
from ..keys import _QUANT, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _global_local, _rope, _scaling

KINDS = {"full_attention": "G", "sliding_attention": "L"}
FFNS = {"dense": "D", "sparse": "E"}


def _n_mtp(cfg: Config) -> int:
    return cfg.int("num_nextn_predict_layers", 0, MAX_LAYERS)


def _per_layer(cfg: Config, key: str) -> tuple[Optional[list], Optional[list]]:
    """A per-layer list as transformers splits it: the model's layers and, when the hub config pads it with one
    entry per MTP layer (Step 3.5's legacy form), the MTP layers' entries. None where the key is not given."""
    value = cfg.get(key)
    if value is None:
        return None, None
    n, n_mtp = cfg.int("num_hidden_layers", 1, MAX_LAYERS), _n_mtp(cfg)
    if not isinstance(value, list):
        raise cfg.error(key, f"expected a list with one entry per layer, got {_show(value)}")
    if len(value) == n:
        return value, None
    if n_mtp and len(value) == n + n_mtp:
        return value[:n], value[n:]
    padded = f" or {n + n_mtp} (with the {n_mtp} MTP layers)" if n_mtp else ""
    raise cfg.error(key, f"expected one entry per layer ({n}{padded}), got {len(value)}")


def _indexed(cfg: Config, key: str) -> Optional[list]:
    """A per-layer RoPE list as transformers reads it: indexed by layer (the MTP layers' entries after the
    model's), so it may be longer than the stack but not shorter."""
    value = cfg.get(key)
    if value is None:
        return None
    n = cfg.int("num_hidden_layers", 1, MAX_LAYERS)
    if not isinstance(value, list) or len(value) < n:
        shown = f"{len(value)} entries" if isinstance(value, list) else _show(value)
        raise cfg.error(key, f"expected a list with an entry for each of the {n} layers, got {shown}")
    return value


def _letters(cfg: Config, key: str, table: dict[str, str], values: list, offset: int = 0) -> list[str]:
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, str) or v not in table:
            raise cfg.error(
                (key, offset + i),
                f"layer kind {_show(v)} is not supported for model type `{cfg.type_name}`",
                f"supported: {', '.join(table)}",
            )
        out.append(table[v])
    return out


def _moe_set(cfg: Config) -> set[int]:
    """The MoE layers of the legacy `moe_layers_enum` (a comma-separated string or a list of indices, which may
    name MTP layers), as transformers reads it; the model's layers 3 on when it is absent (MTP layers dense)."""
    value = cfg.get("moe_layers_enum")
    if value is None:
        return set(range(3, cfg.int("num_hidden_layers", 1, MAX_LAYERS)))
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise cfg.error(
            "moe_layers_enum", f"expected layer indices (a list or a comma-separated string), got {_show(value)}"
        )
    out = set()
    for i, item in enumerate(items):
        text = str(item).strip() if isinstance(item, (str, int)) and not isinstance(item, bool) else None
        if text == "":
            continue
        if text is None or not text.isdigit():
            raise cfg.error(("moe_layers_enum", i), f"expected a layer index, got {_show(item)}")
        out.add(int(text))
    return out


def _ffn_letters(cfg: Config, n: int, n_mtp: int) -> tuple[list[str], list[str]]:
    """Dense or experts per layer and per MTP layer: `mlp_layer_types`, else the legacy `moe_layers_enum`."""
    layers, mtp = _per_layer(cfg, "mlp_layer_types") if cfg.has("mlp_layer_types") else (None, None)
    cfg.touch("mlp_layer_types")
    cfg.touch("mtp_mlp_layer_types")
    if layers is not None:
        ffns = _letters(cfg, "mlp_layer_types", FFNS, layers)
        if mtp is None and cfg.get("mtp_mlp_layer_types") is not None:
            return ffns, _letters(cfg, "mtp_mlp_layer_types", FFNS, cfg.list("mtp_mlp_layer_types", n_mtp))
        return ffns, _letters(cfg, "mlp_layer_types", FFNS, mtp, n) if mtp else ["D"] * n_mtp
    moe = _moe_set(cfg)
    letters = ["E" if i in moe else "D" for i in range(n + n_mtp)]
    return letters[:n], letters[n:]


def _mixer_letters(cfg: Config, n: int, n_mtp: int) -> tuple[list[str], list[str]]:
    layers, mtp = _per_layer(cfg, "layer_types") if cfg.has("layer_types") else (None, None)
    cfg.touch("layer_types", "mtp_layer_types")
    if layers is None:
        return ["G"] * n, ["G"] * n_mtp
    mixers = _letters(cfg, "layer_types", KINDS, layers)
    if mtp is None and cfg.get("mtp_layer_types") is not None:
        return mixers, _letters(cfg, "mtp_layer_types", KINDS, cfg.list("mtp_layer_types", n_mtp))
    return mixers, _letters(cfg, "layer_types", KINDS, mtp, n) if mtp else ["G"] * n_mtp


def _sliding_heads(cfg: Config) -> int:
    """Query heads of sliding-window layers: num_sliding_attention_heads, else the legacy
    attention_other_setting's num_attention_heads (transformers reads nothing else there)."""
    if cfg.has("num_sliding_attention_heads"):
        cfg.touch("attention_other_setting")
        return cfg.int("num_sliding_attention_heads", 1, MAX_HEADS)
    cfg.touch("num_sliding_attention_heads")
    other = cfg.mapping("attention_other_setting") or {}
    heads = other.get("num_attention_heads", cfg.int("num_attention_heads", 1, MAX_HEADS))
    if isinstance(heads, bool) or not isinstance(heads, int) or not 1 <= heads <= MAX_HEADS:
        raise cfg.error(
            ("attention_other_setting", "num_attention_heads"), f"expected a head count, got {_show(heads)}"
        )
    for key, same_as in (("num_attention_groups", "num_key_value_heads"), ("head_dim", "head_dim")):
        if key in other and other[key] != cfg.get(same_as):
            # StepFun's own code would build these; transformers builds every layer with the model's values
            raise cfg.error(
                ("attention_other_setting", key),
                f"{_show(other[key])} differs from {same_as} ({_show(cfg.get(same_as))}): transformers 5.23's step3p7 "
                "reads only num_attention_heads here and builds sliding layers with the model's KV heads and width",
            )
    return heads


def _heads_per_kind(cfg: Config, mixers: list[str]) -> dict[str, int]:
    """Query heads of full ("G") and sliding ("L") layers. transformers sizes each layer from `per_layer_config`
    (layer index -> {num_attention_heads}) when the config gives it, else sliding layers from
    num_sliding_attention_heads; llmarch sets heads per layer kind, so a kind must have one count."""
    heads = {"G": cfg.int("num_attention_heads", 1, MAX_HEADS), "L": _sliding_heads(cfg)}
    per_layer = cfg.mapping("per_layer_config") or {}
    if not per_layer:
        return heads
    found: dict[str, int] = {}
    for index, entry in per_layer.items():
        i = int(index) if isinstance(index, str) and index.isdigit() else index
        if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(mixers):
            raise cfg.error(
                ("per_layer_config", index), f"expected a layer index below {len(mixers)}, got {_show(index)}"
            )
        if not isinstance(entry, dict) or set(entry) - {"num_attention_heads"}:
            raise cfg.error(
                ("per_layer_config", index),
                f"expected {{num_attention_heads: ...}}, got {_show(entry)}: llmarch reads only query heads per layer",
            )
        h = entry.get("num_attention_heads", heads["G"])
        if isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= MAX_HEADS:
            raise cfg.error(
                ("per_layer_config", index, "num_attention_heads"), f"expected a head count, got {_show(h)}"
            )
        found.setdefault(mixers[i], h)
        if found[mixers[i]] != h:
            raise cfg.error(
                ("per_layer_config", index),
                f"layer {i} has {h} query heads where another layer of its kind has {found[mixers[i]]}: llmarch "
                "sets query heads per layer kind",
            )
    for letter in ("G", "L"):
        listed = {int(k) if isinstance(k, str) else k for k in per_layer}
        layers = [i for i, m in enumerate(mixers) if m == letter]
        if layers and letter in found and not set(layers) <= listed:
            # layers of the kind without an entry keep num_attention_heads
            if found[letter] != cfg.int("num_attention_heads", 1, MAX_HEADS):
                raise cfg.error("per_layer_config", "layers of one kind have different query head counts")
        if letter in found:
            heads[letter] = found[letter]
        elif letter == "L" and layers:
            heads["L"] = cfg.int("num_attention_heads", 1, MAX_HEADS)  # per_layer_config replaces the sliding count
    return heads


def _per_kind_rope(cfg: Config, mixers: list[str]) -> dict[str, dict]:
    """Each layer kind's RoPE as transformers takes it: `rope_parameters` nested by layer type (the form
    transformers writes) as given; else base and rotary share from the first layer of that kind (`rope_theta`
    and `partial_rotary_factors` are one value or per-layer lists) and rope_scaling on full layers."""
    if cfg.has("rope_parameters"):
        params = cfg.mapping("rope_parameters") or {}
        kinds = tuple(kind for kind, letter in (("global", "G"), ("local", "L")) if letter in mixers)
        for kind in kinds:
            key = "full_attention" if kind == "global" else "sliding_attention"
            if not isinstance(params.get(key), dict) or "rope_theta" not in params[key]:
                raise cfg.error(
                    ("rope_parameters", key) if key in params else ("rope_parameters",),
                    f"Step 3.5 reads each layer kind's RoPE from rope_parameters.{key}, which needs a rope_theta",
                )
        # with rope_parameters nested by type, transformers ignores rope_theta, partial_rotary_factors, rope_scaling
        cfg.touch("rope_theta", "partial_rotary_factors", "rope_scaling")
        return _rope(cfg, nested_only=True, scaled=(), kinds=kinds)
    theta_list = _indexed(cfg, "rope_theta") if isinstance(cfg.get("rope_theta"), list) else None
    partials = _indexed(cfg, "partial_rotary_factors")
    scaling = cfg.mapping("rope_scaling")
    out = {}
    for kind, letter in (("global", "G"), ("local", "L")):
        if letter not in mixers:
            continue
        i = mixers.index(letter)  # an MTP layer's index (past the model's layers) when only MTP layers have the kind
        for key, values in (("rope_theta", theta_list), ("partial_rotary_factors", partials)):
            if values is not None and i >= len(values):
                raise cfg.error(key, f"no entry for the MTP layers, whose kind ({kind}) no model layer has")
        theta = theta_list[i] if theta_list is not None else cfg.get("rope_theta")
        path: tuple = ("rope_theta", i) if theta_list is not None else ("rope_theta",)
        if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not theta > 0:
            raise cfg.error(path, f"expected a positive number, got {_show(theta)}")
        block: dict[str, Any] = {"theta": theta}
        if partials is not None:
            p = partials[i]
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
                raise cfg.error(("partial_rotary_factors", i), f"expected a fraction in (0, 1], got {_show(p)}")
            if p != 1:
                block["partial"] = p
        if scaling and kind == "global":
            found = _scaling(cfg, ("rope_scaling",), scaling)
            if found:
                block["scaling"] = found
        out[kind] = block
    cfg.touch("rope_theta", "partial_rotary_factors", "rope_scaling")
    return out


def build_step3p5(cfg: Config) -> dict:
    """Step 3.5: GQA with per-head QK-norm and a sigmoid gate per query head (g_proj), query heads per layer
    kind, full and sliding-window layers with their own RoPE; dense layers, then routed experts (sigmoid router,
    its correction bias a buffer) beside a shared expert; MTP layers counted apart."""
    spec = _base(cfg)
    n, n_mtp = spec["n_layers"], _n_mtp(cfg)
    spec["norm"] = _rmsnorm(cfg)  # zero-centred (1 + weight): the same parameters
    mixers, mtp_mixers = _mixer_letters(cfg, n, n_mtp)
    every = mixers + mtp_mixers  # the MTP layers' attention is sized by the same keys
    heads = _heads_per_kind(cfg, mixers)
    n_kv, head_dim = cfg.int("num_key_value_heads", 1, MAX_HEADS), cfg.int("head_dim", 1, MAX_HEAD_DIM)
    used = [m for m in ("G", "L") if m in every]
    for letter in used:
        if heads[letter] % n_kv:
            what = "full" if letter == "G" else "sliding"
            raise cfg.error(
                "num_key_value_heads", f"{n_kv} does not divide the {heads[letter]} query heads of {what} layers"
            )
    base_heads = heads[mixers[0]]
    mha = all(heads[m] == n_kv for m in used)
    attn: dict[str, Any] = {"kind": "mha" if mha else "gqa", "n_heads": base_heads}
    if not mha:
        attn["n_kv_heads"] = n_kv
    if head_dim * base_heads != spec["d_model"]:
        attn["head_dim"] = head_dim
    attn |= _biases(cfg) | {"qk_norm": "per_head", "output_gate": "headwise"}
    if "L" in every:
        attn["window"] = cfg.int("sliding_window", 1)
    cfg.touch("sliding_window")
    attn = _global_local(attn, _per_kind_rope(cfg, every), every)
    if "L" in every and heads["L"] != base_heads:
        attn.setdefault("overrides", {}).setdefault("local", {})["n_heads"] = heads["L"]
    spec["attention"] = attn
    ffns, mtp_ffns = _ffn_letters(cfg, n, n_mtp)
    if "D" in ffns or "D" in mtp_ffns:
        spec["ffn"] = {"kind": "swiglu", "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_shared = cfg.int("share_expert_dim", 0)
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("moe_intermediate_size"),
        "swiglu",
        n_shared=1 if d_shared else 0,
        d_shared=d_shared,
        score_correction_bias=True,  # Step3p7TopKRouter's e_score_correction_bias is a buffer
    )
    spec["layers"] = _layers(mixers, ffns)
    if n_mtp:
        # llmarch's MTP modules share one attention kind and one FFN kind
        for what, letters, table in (("layer_types", mtp_mixers, KINDS), ("mlp_layer_types", mtp_ffns, FFNS)):
            if len(set(letters)) > 1:
                raise cfg.error(what, f"the {n_mtp} MTP layers mix kinds ({', '.join(sorted(set(letters)))})")
        spec["mtp"] = {
            "n_modules": n_mtp,
            "ffn": "moe" if mtp_ffns[0] == "E" else "dense",
            "attention": "local" if mtp_mixers[0] == "L" else "global",
        }
    return spec


def _mlp_layer_types_default(r: Config) -> list[str]:
    moe = _moe_set(r)
    return ["sparse" if i in moe else "dense" for i in range(r.int("num_hidden_layers"))]


def _sliding_heads_default(r: Config) -> int:
    other = r.mapping("attention_other_setting") or {}
    return other.get("num_attention_heads", r.int("num_attention_heads"))


# transformers 5.23's Step3p7TextConfig defaults (its checkpoint is stepfun-ai/Step-3.7-Flash) and the legacy hub
# keys it reads in __post_init__ (Step 3.5's config.json uses those)
STEP3P5_KEYS = {
    "vocab_size": 128815,
    "hidden_size": 4096,
    "intermediate_size": 11264,
    "num_hidden_layers": 45,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 128000,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "num_experts_per_tok": 8,
    "n_routed_experts": 288,
    "moe_intermediate_size": 1280,
    "share_expert_dim": 1280,
    "sliding_window": None,
    "num_sliding_attention_heads": Derived(
        "attention_other_setting's num_attention_heads, else num_attention_heads", _sliding_heads_default
    ),
    "attention_other_setting": None,
    "per_layer_config": None,
    "layer_types": Derived("every layer full attention", lambda r: ["full_attention"] * r.int("num_hidden_layers")),
    "mlp_layer_types": Derived("moe_layers_enum's layers, else layers 3 on, as experts", _mlp_layer_types_default),
    "mtp_layer_types": None,
    "mtp_mlp_layer_types": None,
    "moe_layers_enum": None,
    "num_nextn_predict_layers": 0,
    "rope_theta": 10000.0,
    "partial_rotary_factors": None,
    "rope_scaling": None,
    "rope_parameters": None,
    **_QUANT,
}


TYPES = [
    TextType(
        "step3p5",
        "step",
        _keys(
            STEP3P5_KEYS,
            # hidden_act: transformers computes the gate inline and always uses silu; routing details (the router is
            # a sigmoid with a correction buffer whatever these say); SwiGLU clamps (no parameter); the query
            # scale; the hub's duplicates of transformers' keys and StepFun's kernel switches
            "hidden_act swiglu_limits swiglu_limits_shared moe_router_activation moe_router_scaling_factor "
            "use_moe_router_bias norm_expert_weight need_fp32_gate query_pre_attn_scalar max_seq_len "
            "use_qk_norm zero_centered att_impl_type yarn_only_types use_rope_layers moe_every_n_layer "
            "moe_layer_offset use_moe sink",
            {
                "use_bidirectional_attention": Reject("llmarch models causal decoders only", _only(False)),
                "gating": Reject(
                    "transformers 5.23's step3p7 gates per head (g_proj, one gate per query head) only when gating "
                    "is true or per-head; other values are not supported",
                    _only(True, "per-head"),
                ),
                "use_head_wise_attn_gate": Reject(
                    "transformers 5.23's step3p7 ignores this key and always builds the per-head gate",
                    _only(True),
                ),
                "mlp_bias": Reject("llmarch's experts have no biases", _only(False)),
            },
            aliases={
                "num_attention_groups": "num_key_value_heads",
                "moe_num_experts": "n_routed_experts",
                "num_local_experts": "n_routed_experts",
                "moe_top_k": "num_experts_per_tok",
                "share_expert_dims": "share_expert_dim",
            },
        ),
        build_step3p5,
    ),
]


MODULE_NAMES = {"step3p5": ModuleNames(_GATED_MOE_NAMES)}


# Checkpoint tensor names (verify). Step 3.5 Flash: the per-head output gate is `g_proj`, the MoE DeepSeek's
# names with experts stacked as transformers' step3p5 saves them; its MTP layers (num_nextn_predict_layers) are
# built by neither transformers nor known here: their weights are not held
CHECKPOINT_NAMES = {
    "step3p5": Family(
        ((r"attn\.gate_proj\.weight", to("self_attn.g_proj.weight")),)
        + ATTENTION_TENSORS
        + MLP_TENSORS
        + routed_expert_tensors(),
        mtp="unchecked",
    ),
}
