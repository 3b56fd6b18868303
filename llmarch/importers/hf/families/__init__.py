"""The model families import-hf reads: one module per family, each holding its types' key tables, builders,
checkpoint module names (`MODULE_NAMES`), checkpoint tensor names for verify (`CHECKPOINT_NAMES`) and
registration (`TYPES`).  Adding a family is one module, one entry in `FAMILY_MODULES` and its types in `HOMES`.

Loaded lazily: `verify` reads one model type's table through `checkpoint_table`, which loads that family's module
alone; `FAMILIES`, `TEXT_TYPES`, `MODULE_NAMES` and `CHECKPOINT_NAMES` load every family on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Optional

from ...checkpoints.naming import Family

if TYPE_CHECKING:
    from ..common import TextType
    from ..quant import ModuleNames

# the family modules, in the order their types are listed; loaded on first use of the registry (PEP 562)
FAMILY_MODULES = (
    "llama",
    "mistral",
    "phi",
    "qwen",
    "deepseek",
    "deepseek_v4",
    "glm",
    "kimi",
    "gemma",
    "gemma4",
    "gpt_oss",
    "olmo",
    "smollm",
    "hunyuan",
    "laguna",
    "minimax",
    "nemotron",
    "gpt2",
    "mimo",
    "step",
    "arcee",
    "cohere",
    "xlstm",
    "zaya",
    "longcat",
)
# each model type's family module: `verify` loads only the one module holding the checkpoint's naming table,
# not every family's key tables and builders; `_registry` checks it against the families' `TYPES` on load
HOMES = {
    "llama": "llama",
    "granite": "llama",
    "llama4_text": "llama",
    "mistral": "mistral",
    "ministral3": "mistral",
    "mixtral": "mistral",
    "mistral4": "mistral",
    "phi3": "phi",
    "qwen3": "qwen",
    "qwen3_moe": "qwen",
    "qwen3_next": "qwen",
    "qwen3_5_text": "qwen",
    "qwen3_5_moe_text": "qwen",
    "deepseek_v3": "deepseek",
    "kimi_k2": "deepseek",
    "deepseek_v32": "deepseek",
    "deepseek_v4": "deepseek_v4",
    "glm_moe_dsa": "glm",
    "glm4_moe": "glm",
    "kimi_linear": "kimi",
    "gemma3_text": "gemma",
    "gemma3n_text": "gemma",
    "gemma4_text": "gemma4",
    "gpt_oss": "gpt_oss",
    "olmo2": "olmo",
    "olmo3": "olmo",
    "olmoe": "olmo",
    "smollm3": "smollm",
    "hy_v3": "hunyuan",
    "laguna": "laguna",
    "minimax_m2": "minimax",
    "nemotron_h": "nemotron",
    "gpt2": "gpt2",
    "mimo_v2_flash": "mimo",
    "mimo_v2": "mimo",
    "step3p5": "step",
    "afmoe": "arcee",
    "cohere2": "cohere",
    "cohere2_moe": "cohere",
    "xlstm": "xlstm",
    "zaya": "zaya",
    "longcat_flash": "longcat",
    "longcat_flash_ngram": "longcat",
}


def checkpoint_table(model_type: str) -> Optional[Family]:
    """verify's checkpoint naming table of one model type, loading only its family's module (None: no table)."""
    home = HOMES.get(model_type)
    if home is None:
        return None
    return getattr(importlib.import_module(f".{home}", __name__), "CHECKPOINT_NAMES", {}).get(model_type)


def __getattr__(name: str):
    if name == "FAMILIES":
        globals()[name] = tuple(importlib.import_module(f".{m}", __name__) for m in FAMILY_MODULES)
        return globals()[name]
    if name in ("TEXT_TYPES", "MODULE_NAMES", "CHECKPOINT_NAMES"):
        types, names, tensors = _registry()
        globals().update(TEXT_TYPES=types, MODULE_NAMES=names, CHECKPOINT_NAMES=tensors)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _registry() -> tuple[dict[str, TextType], dict[str, ModuleNames], dict[str, Family]]:
    """Every family's types by name, their module names and their checkpoint tensor names (verify's tables);
    a type registered twice, without module names, outside its family in `HOMES`, or with a naming table of
    no registered type is a programming error caught on load."""
    families = globals()["FAMILIES"] if "FAMILIES" in globals() else __getattr__("FAMILIES")
    types: dict[str, TextType] = {}
    names: dict[str, ModuleNames] = {}
    tensors: dict[str, Family] = {}
    for family in families:
        home = family.__name__.rsplit(".", 1)[-1]
        for t in family.TYPES:
            if t.name in types:
                raise RuntimeError(f"import-hf: model type {t.name} is registered twice ({family.__name__})")
            if HOMES.get(t.name) != home:
                raise RuntimeError(f"import-hf: HOMES gives model type {t.name} no home or not {home}")
            types[t.name] = t
        names |= family.MODULE_NAMES
        tensors |= getattr(family, "CHECKPOINT_NAMES", {})
    if set(names) != set(types):
        raise RuntimeError(f"import-hf: module names and model types differ: {sorted(set(names) ^ set(types))}")
    if set(tensors) - set(types):
        raise RuntimeError(f"import-hf: checkpoint names of no model type: {sorted(set(tensors) - set(types))}")
    if set(HOMES) != set(types):
        raise RuntimeError(f"import-hf: HOMES and model types differ: {sorted(set(HOMES) ^ set(types))}")
    return types, names, tensors
