"""The model families import-hf reads: one module per family, each holding its types' key tables, builders,
checkpoint module names (`MODULE_NAMES`), checkpoint tensor names for verify (`CHECKPOINT_NAMES`) and
registration (`TYPES`).  Adding a family is one module and one entry in `FAMILIES`."""

from __future__ import annotations

from ...verify.naming import Family
from ..common import TextType
from ..quant import ModuleNames
from . import (
    arcee,
    cohere,
    deepseek,
    deepseek_v4,
    gemma,
    gemma4,
    glm,
    gpt2,
    gpt_oss,
    hunyuan,
    kimi,
    laguna,
    llama,
    longcat,
    mimo,
    minimax,
    mistral,
    nemotron,
    olmo,
    phi,
    qwen,
    smollm,
    step,
    xlstm,
    zaya,
)

FAMILIES = (
    llama,
    mistral,
    phi,
    qwen,
    deepseek,
    deepseek_v4,
    glm,
    kimi,
    gemma,
    gemma4,
    gpt_oss,
    olmo,
    smollm,
    hunyuan,
    laguna,
    minimax,
    nemotron,
    gpt2,
    mimo,
    step,
    arcee,
    cohere,
    xlstm,
    zaya,
    longcat,
)


def _registry() -> tuple[dict[str, TextType], dict[str, ModuleNames], dict[str, Family]]:
    """Every family's types by name, their module names and their checkpoint tensor names (verify's tables);
    a type registered twice, without module names, or with a naming table of no registered type is a
    programming error caught on import."""
    types: dict[str, TextType] = {}
    names: dict[str, ModuleNames] = {}
    tensors: dict[str, Family] = {}
    for family in FAMILIES:
        for t in family.TYPES:
            if t.name in types:
                raise RuntimeError(f"import-hf: model type {t.name} is registered twice ({family.__name__})")
            types[t.name] = t
        names |= family.MODULE_NAMES
        tensors |= getattr(family, "CHECKPOINT_NAMES", {})
    if set(names) != set(types):
        raise RuntimeError(f"import-hf: module names and model types differ: {sorted(set(names) ^ set(types))}")
    if set(tensors) - set(types):
        raise RuntimeError(f"import-hf: checkpoint names of no model type: {sorted(set(tensors) - set(types))}")
    return types, names, tensors


TEXT_TYPES, MODULE_NAMES, CHECKPOINT_NAMES = _registry()
