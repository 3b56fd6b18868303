"""`quantization_config` -> the spec's `weights:` block: the weight format of each quantised component, with
the ignore lists read against the checkpoint's module names (a family's `ModuleNames`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

from ...errors import did_you_mean
from .config import Config, _show


@dataclass(frozen=True)
class ModuleNames:
    """How a model type's checkpoints name the modules of its text model."""

    layers: Mapping[str, tuple[str, ...]]  # component (or "other") -> module names inside `layers.{i}.`
    model: str = "model."  # the text model's prefix in a text-only checkpoint
    top: tuple[str, ...] = ("embed_tokens", "norm")  # modules of the text model outside its layers
    layer_list: str = "layers"


# Where a multimodal wrapper's checkpoints put the text model and its LM head (transformers 5, the older layout)
WRAPPER_LAYOUTS = (("model.language_model.", "lm_head"), ("language_model.model.", "language_model.lm_head"))


# Entries naming the parts of a multimodal checkpoint outside its text model (vision tower, projector, audio)
NON_TEXT_ENTRY = re.compile(
    r"vision|multi_modal|multimodal|mm_|patch_merger|audio|embed_vision|embed_audio|"
    r"image|projector|visual"
)


LINEAR_COMPONENTS = ("attention", "linear_mixer", "dense_ffn", "routed_experts", "shared_experts")


@dataclass(frozen=True)
class QuantMethod:
    keys: frozenset[str]  # keys read
    irrelevant: frozenset[str]
    candidates: tuple[str, ...]  # components the method quantises unless told otherwise


QUANT_METHODS = {
    # transformers' FineGrainedFP8: every nn.Linear but the LM head; scale_fmt (ue8m0: 1-byte scales) is
    # within the fp8_block128 format's allowance of one fp32 scale per 128 x 128 block
    "fp8": QuantMethod(
        frozenset(
            {"quant_method", "weight_block_size", "fmt", "store_dtype", "modules_to_not_convert", "ignored_layers"}
        ),
        frozenset({"activation_scheme", "scale_fmt"}),
        LINEAR_COMPONENTS,
    ),
    # transformers' Mxfp4: the MoE experts only
    "mxfp4": QuantMethod(frozenset({"quant_method", "modules_to_not_convert"}), frozenset(), ("routed_experts",)),
    # compressed-tensors: the `targets` (Linear) of its config group, minus `ignore`
    "compressed-tensors": QuantMethod(
        frozenset({"quant_method", "config_groups", "ignore"}),
        frozenset(
            {
                "format",
                "quantization_status",
                "global_compression_ratio",
                "kv_cache_scheme",
                "version",
                "sparsity_config",
                "transform_config",
            }
        ),
        LINEAR_COMPONENTS + ("lm_head",),
    ),
}


CT_GROUP_KEYS = frozenset({"targets", "weights", "input_activations", "output_activations", "format"})


CT_WEIGHT_KEYS = frozenset(
    {
        "num_bits",
        "type",
        "strategy",
        "group_size",
        "block_structure",
        "symmetric",
        "dynamic",
        "actorder",
        "observer",
        "observer_kwargs",
        "zp_dtype",
        "scale_dtype",
    }
)


def _weights(cfg: Config, model, scheme: ModuleNames, text_type: str, model_type: str) -> Optional[dict]:
    """The spec's `weights:` block from quantization_config: the format of each quantised component; `scheme`
    names the text type's modules, to read the ignore lists against."""
    q = cfg.mapping("quantization_config")
    if not q:
        return None
    path = ("quantization_config",)
    method_name = q.get("quant_method")
    if not isinstance(method_name, str) or method_name not in QUANT_METHODS:
        raise cfg.error(
            path + ("quant_method",),
            f"quantization method {_show(method_name)} is not supported",
            f"supported: {', '.join(QUANT_METHODS)}",
        )
    method = QUANT_METHODS[method_name]
    for key in q:
        if key not in method.keys | method.irrelevant:
            raise cfg.error(
                path + (key,),
                f"unknown key `{key}` for quant_method {method_name}",
                did_you_mean(str(key), method.keys | method.irrelevant),
            )
    if method_name == "fp8":
        fmt = q.get("fmt", "e4m3")
        # both element formats are one byte; MiniMax's configs name them by torch dtype ("float8_e4m3fn")
        if fmt not in FP8_ELEMENT_FORMATS:
            raise cfg.error(
                path + ("fmt",), f"fp8 format {_show(fmt)} is not supported", " or ".join(FP8_ELEMENT_FORMATS)
            )
        # MiMo-V2.5 writes store_dtype "fp8": the weights are stored in the format, not upcast
        if q.get("store_dtype", "fp8") != "fp8":
            raise cfg.error(
                path + ("store_dtype",), f"stored dtype {_show(q['store_dtype'])} is not supported", "fp8 (or no key)"
            )
        block = q.get("weight_block_size")
        if block not in (None, [128, 128]):
            raise cfg.error(
                path + ("weight_block_size",),
                f"block {_show(block)} has no llmarch format",
                "fp8 with [128, 128] blocks (fp8_block128) or per-tensor scales (fp8)",
            )
        fmt_name = "fp8_block128" if block else "fp8"
        lists = ("modules_to_not_convert", "ignored_layers")
    elif method_name == "mxfp4":
        fmt_name, lists = "mxfp4", ("modules_to_not_convert",)
    else:
        fmt_name, lists = _compressed_tensors(cfg, q), ("ignore",)
    ignore: list[tuple[tuple, str]] = []  # (config path, entry)
    for key in lists:
        entries = q.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise cfg.error(path + (key,), f"expected a list of module names or patterns, got {_show(entries)}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                raise cfg.error(path + (key, i), f"expected a module name or pattern, got {_show(entry)}")
            if entry.startswith("re:"):
                try:
                    re.compile(entry[3:])
                except re.error as exc:
                    raise cfg.error(
                        path + (key, i), f"pattern {_show(entry)} is not a valid regular expression ({exc})"
                    ) from None
            ignore.append((path + (key, i), entry))
    layouts = WRAPPER_LAYOUTS if model_type != text_type else ((scheme.model, "lm_head"),)
    # one naming per checkpoint layout: an entry names modules of one layout or the other
    namings = [_module_names(model, scheme, prefix, head) for prefix, head in layouts]
    for where, entry in ignore:
        if NON_TEXT_ENTRY.search(entry):
            continue  # the vision tower, projector or audio encoder: outside the text model
        if not any(_matches(entry, n) for names in namings for group in names.values() for n in group):
            example = namings[0]
            raise cfg.error(
                where,
                f"ignore entry {_show(entry)} names no module of a `{model_type}` checkpoint "
                "that import-hf knows, so it cannot tell which weights the entry keeps unquantised",
                f"module names look like {example['attention'][0] if example.get('attention') else ''} "
                f"and {example['lm_head'][0] if example.get('lm_head') else 'lm_head'}; if the entry "
                "names nothing in this model, remove it from a copy of the config",
            )
    overrides = {}
    for comp in method.candidates:
        if not namings[0].get(comp):
            continue
        covered = False
        for names in namings:
            skipped = [n for n in names[comp] if any(_matches(p, n) for _, p in ignore)]
            if skipped and len(skipped) < len(names[comp]):
                kept = [n for n in names[comp] if n not in skipped]
                raise cfg.error(
                    path,
                    f"the ignore list keeps part of `{comp}` unquantised ({', '.join(skipped[:3])}"
                    f"{', ...' if len(skipped) > 3 else ''}) but not the rest ({kept[0]}"
                    f"{', ...' if len(kept) > 1 else ''}); llmarch's weight formats are per component",
                )
            covered = covered or bool(skipped)
        if not covered:
            overrides[comp] = fmt_name
    return {"dtype": "bf16", "overrides": overrides} if overrides else None


def _module_names(model, scheme: ModuleNames, prefix: str, head: str) -> dict[str, list[str]]:
    """Every module name of each component the model has (in each layer holding it; first and last expert) under
    one checkpoint layout; "other" holds the modules no weight format covers, "lm_head" the untied head."""
    out: dict[str, list[str]] = {"other": [prefix + m for m in scheme.top] + ([head] if model.tie_embeddings else [])}
    if not model.tie_embeddings:
        out["lm_head"] = [head]
    for layer in model.layers:
        moe = layer.moe
        present = {
            "attention": layer.attention is not None,
            "linear_mixer": any(x is not None for x in (layer.gated_deltanet, layer.kda, layer.mamba2)),
            "dense_ffn": layer.dense is not None,
            "routed_experts": moe is not None,
            "shared_experts": moe is not None and moe.shared is not None,
            "other": True,
        }
        experts = sorted({0, moe.n_experts - 1}) if moe is not None else [0]
        for comp, here in present.items():
            if not here:
                continue
            for module in scheme.layers.get(comp, ()):
                for e in experts if "{e}" in module else [0]:
                    out.setdefault(comp, []).append(f"{prefix}{scheme.layer_list}.{layer.index}.{module.format(e=e)}")
    return out


def _matches(pattern: str, name: str) -> bool:
    """compressed-tensors' `re:` patterns, or module names with `*` wildcards matched as a suffix (transformers)."""
    if pattern.startswith("re:"):
        return re.match(pattern[3:], name) is not None
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.search(rf"(^|\.){regex}($|\.)", name) is not None


FP8_ELEMENT_FORMATS = ("e4m3", "e5m2", "float8_e4m3fn", "float8_e5m2")


def _compressed_tensors(cfg: Config, q: dict) -> str:
    path = ("quantization_config", "config_groups")
    groups = q.get("config_groups")
    if not isinstance(groups, dict) or len(groups) != 1:
        raise cfg.error(path, "exactly one config group is supported (one weight format for the quantised layers)")
    ((group_name, group),) = groups.items()
    path += (group_name,)
    if not isinstance(group, dict):
        raise cfg.error(path, f"expected a mapping (targets, weights), got {_show(group)}")
    for key in group:
        if key not in CT_GROUP_KEYS:
            raise cfg.error(
                path + (key,),
                f"unknown key `{key}` in a compressed-tensors config group",
                did_you_mean(str(key), CT_GROUP_KEYS),
            )
    if group.get("targets") != ["Linear"]:
        raise cfg.error(
            path + ("targets",), f"targets {_show(group.get('targets'))} are not supported", 'targets: ["Linear"]'
        )
    w = group.get("weights") or {}
    if not isinstance(w, dict):
        raise cfg.error(path + ("weights",), f"expected a mapping (num_bits, type, strategy...), got {_show(w)}")
    for key in w:
        if key not in CT_WEIGHT_KEYS:
            raise cfg.error(
                path + ("weights", key),
                f"unknown key `{key}` in compressed-tensors weights",
                did_you_mean(str(key), CT_WEIGHT_KEYS),
            )
    bits, kind, strategy = w.get("num_bits"), w.get("type"), w.get("strategy")
    if (bits, kind, strategy) == (4, "int", "group") and w.get("group_size") in (32, 128):
        return f"int4_g{w['group_size']}"
    if (bits, kind, strategy) == (8, "float", "block") and w.get("block_structure") == [128, 128]:
        return "fp8_block128"
    if (bits, kind) == (8, "float") and strategy in ("tensor", "channel"):
        return "fp8"
    if (bits, kind) == (8, "int"):
        return "int8"
    raise cfg.error(
        path + ("weights",),
        f"{bits}-bit {kind} weights with strategy {_show(strategy)} have no llmarch format",
        "supported: int4 groups of 32 or 128, fp8 blocks of 128 x 128, fp8 per tensor/channel, int8",
    )
