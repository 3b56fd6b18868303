"""RoPE: `rope_theta` and the scaling block (`rope_scaling` / `rope_parameters`) -> the spec's `rope:` block,
per attention kind."""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ...errors import did_you_mean
from ...limits import MAX_CONTEXT
from .config import Config, _show


def _rope_keys(theta: float, scaling: Any = None) -> dict:
    return {"rope_theta": theta, "rope_scaling": scaling, "rope_parameters": None}


ROPE_KINDS = {
    "default": None,
    "linear": "linear",
    "dynamic": "dynamic",
    "yarn": "yarn",
    "llama3": "llama3",
    "longrope": "longrope",
}


SCALING_FIELDS = {
    "factor": "factor",
    "original_max_position_embeddings": "original_context_length",
    "low_freq_factor": "low_freq_factor",
    "high_freq_factor": "high_freq_factor",
    "beta_fast": "beta_fast",
    "beta_slow": "beta_slow",
    "mscale": "mscale",
    "mscale_all_dim": "mscale_all_dim",
    "truncate": "truncate",
}


# Inside rope_scaling / rope_parameters: keys that change no parameter, cache or context figure.
SCALING_IRRELEVANT = frozenset(
    {
        "attention_factor",  # a logit temperature (Olmo 3)
        "llama_4_scaling_beta",  # Mistral's attention temperature
        "apply_scale",
        "short_factor",
        "long_factor",
        "max_position_embeddings",
        # multimodal RoPE (Qwen3.5): how the rotary dims are shared among time, height and width positions
        "mrope_section",
        "mrope_interleaved",
    }
)


# transformers' layer types as the IR's attention kinds (chunked layers take the full-attention RoPE)
ATTENTION_TYPES = {"full_attention": "global", "sliding_attention": "local", "chunked_attention": "global"}


def _rope(
    cfg: Config,
    *,
    local_theta: Optional[str] = None,
    scaled: tuple[str, ...] = ("global", "local"),
    partial: Optional[float] = None,
    kinds: tuple[str, ...] = ("global", "local"),
    nested_only: bool = False,
    ignored_keys: tuple[str, ...] = (),
) -> dict[str, dict]:
    """The spec `rope:` block of full-attention ("global") and sliding-window ("local") layers, by IR kind.

    Reads transformers 5's `rope_parameters` (flat, or nested by layer type) and the older `rope_theta`,
    `rope_scaling` and `partial_rotary_factor`; `rope_scaling` (older key) applies to the kinds in `scaled`.
    `nested_only`: transformers reads only the nested form (Gemma 3 and 3n look up `full_attention` and
    `sliding_attention` and ignore every flat key), so a flat one is an error rather than a guess.
    `ignored_keys`: keys beside the nested entries that transformers never reads (Laguna's
    `original_max_position_embeddings`).
    """
    params = cfg.mapping("rope_parameters")
    if params and ignored_keys:
        params = {k: v for k, v in params.items() if k not in ignored_keys}
    legacy = cfg.mapping("rope_scaling")
    nested = bool(params) and set(params) <= set(ATTENTION_TYPES)
    if nested_only and params and not nested:
        flat = sorted(str(k) for k in params if k not in ATTENTION_TYPES)
        raise cfg.error(
            "rope_parameters",
            f"flat keys ({', '.join(flat)}) are ignored by transformers for model type "
            f"`{cfg.type_name}`, which reads only `full_attention` and "
            "`sliding_attention` entries",
            "nest them under `full_attention` (and `sliding_attention`), or use rope_scaling",
        )
    if partial is None and "partial_rotary_factor" in cfg.keys.mapped:
        partial = cfg.number("partial_rotary_factor")
    out = {}
    for kind in kinds:
        if nested:
            key = next((k for k, v in ATTENTION_TYPES.items() if v == kind and k in params), None)
            given, path = (params[key] or {}, ("rope_parameters", key)) if key else ({}, ("rope_parameters",))
        else:
            given, path = params or {}, ("rope_parameters",)
        if not isinstance(given, dict):
            raise cfg.error(path, f"expected a mapping, got {_show(given)}")
        scaling_source, scaling_path = given, path
        if legacy is not None and kind in scaled:
            scaling_source, scaling_path = legacy, ("rope_scaling",)
        theta = given.get("rope_theta")
        if theta is None:
            theta = cfg.number(local_theta) if kind == "local" and local_theta else cfg.number("rope_theta")
        block: dict[str, Any] = {"theta": _number(cfg, path + ("rope_theta",), theta)}
        p = given.get("partial_rotary_factor", partial)
        if p is not None and p != 1:
            block["partial"] = _number(cfg, path + ("partial_rotary_factor",), p)
        scaling = _scaling(cfg, scaling_path, scaling_source)
        if scaling:
            block["scaling"] = scaling
        out[kind] = block
    cfg.touch("rope_theta", "rope_scaling", "rope_parameters", *(k for k in (local_theta,) if k))
    return out


def _number(cfg: Config, path: tuple, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise cfg.error(path, f"expected a positive number, got {_show(value)}")
    return value


# Each scaling value's type, as the spec's RopeScaling checks it (positive numbers unless said otherwise)
SCALING_INTS = frozenset({"original_max_position_embeddings"})


SCALING_BOOLS = frozenset({"truncate"})


SCALING_ANY_NUMBER = frozenset({"mscale_all_dim"})


def _scaling_value(cfg: Config, path: tuple, key: str, value: Any) -> Any:
    if key in SCALING_BOOLS:
        if not isinstance(value, bool):
            raise cfg.error(path, f"expected true or false, got {_show(value)}")
        return value
    if key in SCALING_INTS:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTEXT:
            raise cfg.error(path, f"expected a positive integer (at most {MAX_CONTEXT:,}), got {_show(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        raise cfg.error(path, f"expected a number, got {_show(value)}")
    if key not in SCALING_ANY_NUMBER and value <= 0:
        raise cfg.error(path, f"expected a positive number, got {_show(value)}")
    return value


def _scaling(cfg: Config, path: tuple, given: Mapping[str, Any]) -> Optional[dict]:
    for k in ("rope_type", "type"):
        if given.get(k) is not None and not isinstance(given[k], str):
            raise cfg.error(
                path + (k,), f"expected a RoPE type name, got {_show(given[k])}", f"supported: {', '.join(ROPE_KINDS)}"
            )
    names = {given[k] for k in ("rope_type", "type") if given.get(k) is not None}
    if len(names) > 1:
        raise cfg.error(path, f"rope_type and type disagree ({' vs '.join(sorted(map(str, names)))})")
    name = names.pop() if names else "default"
    if name not in ROPE_KINDS:
        raise cfg.error(
            path + ("rope_type",),
            f"RoPE type `{name}` is not supported",
            did_you_mean(str(name), ROPE_KINDS) or f"supported: {', '.join(ROPE_KINDS)}",
        )
    kind = ROPE_KINDS[name]
    out: dict[str, Any] = {"kind": kind}
    for key, value in given.items():
        if key in ("rope_type", "type", "rope_theta", "partial_rotary_factor") or key in SCALING_IRRELEVANT:
            continue
        if key not in SCALING_FIELDS:
            raise cfg.error(
                path + (key,),
                f"unknown RoPE key `{key}`",
                did_you_mean(str(key), list(SCALING_FIELDS) + sorted(SCALING_IRRELEVANT)),
            )
        if kind is not None and value is not None:
            out[SCALING_FIELDS[key]] = _scaling_value(cfg, path + (key,), key, value)
    if kind is None:
        return None
    order = ["kind", *SCALING_FIELDS.values()]
    if kind in ("llama3", "yarn", "longrope") and "original_context_length" not in out:
        # transformers' standardize_rope_params: the pretraining length defaults to max_position_embeddings
        out["original_context_length"] = cfg.int("max_position_embeddings", 1, MAX_CONTEXT)
        record = (
            ".".join(map(str, cfg.path + path + ("original_max_position_embeddings",))),
            f"{out['original_context_length']} (max_position_embeddings)",
        )
        if record not in cfg.source.defaulted:
            cfg.source.defaulted.append(record)
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0])))


def _attention_with_rope(attn: dict, rope: dict[str, dict], kinds_used: set[str]) -> dict:
    """Put the full-attention RoPE on the block and the sliding one in `overrides.local` when it differs."""
    attn = dict(attn)
    attn["rope"] = rope["global"] if "global" in kinds_used or "local" not in kinds_used else rope["local"]
    if "local" in kinds_used and rope["local"] != attn["rope"]:
        attn.setdefault("overrides", {}).setdefault("local", {})["rope"] = rope["local"]
    return attn


def _global_local(attn: dict, rope: dict[str, dict], mixers: list[str]) -> dict:
    """`_attention_with_rope` for per-layer mixer letters."""
    used = {"G": "global", "L": "local", "C": "chunked", "N": "nope"}
    return _attention_with_rope(attn, rope, {used[m] for m in mixers if m in used})
