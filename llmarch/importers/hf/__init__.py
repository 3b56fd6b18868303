"""`llmarch import-hf`: a Hugging Face `config.json` -> a llmarch spec.

Every supported model type reads its config through a key table with three lists:

- **mapped** keys become spec fields; each carries the default transformers applies when the key is
  absent (`REQUIRED` where transformers has none), and the spec records every default it took;
- **irrelevant** keys change nothing llmarch models (token ids, dropout, initialisation, routing
  details, kernels);
- **rejected** keys name features llmarch cannot represent, with the reason; such a key is accepted
  only at a value that leaves the feature off (or at the one value transformers implements).

A key on none of the lists is an error naming it, so a config from an unknown variant fails loudly
instead of yielding a silently wrong spec.  Multimodal wrappers (gemma3, llama4, mistral3) import their
`text_config`; the vision tower and projector are counted in closed form and recorded as a
`vision_tower` reference adjustment.  `quantization_config` becomes the spec's `weights:` block.

No transformers or torch here: the defaults are transformers 5's, written out per type, and
tests/test_import_hf.py checks them against transformers' config classes.

The package, bottom to top (each module imports only the ones above it in this list; tests/test_structure.py
checks it with its `IMPORT_HF_LAYERS`):

- `keys`: the key tables (`KeyTable`, `Derived`, `Reject`, `REQUIRED`) and the keys every type shares;
- `config`: `Config`, one config mapping read through its key table, with located errors;
- `rope`: RoPE and its scaling block; `jsonfile`: reading a config.json (bounded, located) and the spec name a
  path gives; `writer`: the result (`Imported`) and the YAML it is written as; `quant`:
  `quantization_config` -> the spec's `weights:` block, read against a type's `ModuleNames`; `vision`: the
  multimodal wrappers and their vision towers and projectors, counted in closed form;
- `common`: the spec pieces several families build with (heads, norms, layer patterns, MoE, MLA),
  `TextType`, and the checkpoint module names several families share;
- `families/`: one module per model family: its key tables, builders, `MODULE_NAMES` and `TYPES`;
  `families/__init__.py` lists the families and merges their registrations into `TEXT_TYPES`;
- `driver`: dispatch by `model_type`, wrappers, the spec's notes and order (`import_config`, `import_file`);
  `checkpoint`: given a checkpoint folder, the spec written held against its shards (through `verify`).

Adding a model type: docs/architecture.md ("Adding a model type").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# public name -> the module of this package defining it, loaded on first use (PEP 562): `verify` reads the
# families' checkpoint names (`families.CHECKPOINT_NAMES`) without the driver, the wrappers and the schema
_EXPORTS = {
    "TextType": "common",
    "_pattern": "common",
    "Config": "config",
    "_Source": "config",
    "NAME_RE": "driver",
    "SUPPORTED_TYPES": "driver",
    "import_config": "driver",
    "import_file": "driver",
    "FAMILIES": "families",
    "MODULE_NAMES": "families",
    "TEXT_TYPES": "families",
    "MAX_CONFIG_BYTES": "jsonfile",
    "MAX_CONFIG_DEPTH": "jsonfile",
    "MAX_CONFIG_VALUES": "jsonfile",
    "clean_name": "jsonfile",
    "default_name": "jsonfile",
    "read_config": "jsonfile",
    "spec_name": "jsonfile",
    "REQUIRED": "keys",
    "Derived": "keys",
    "KeyTable": "keys",
    "Reject": "keys",
    "QUANT_METHODS": "quant",
    "ModuleNames": "quant",
    "VISION_TYPES": "vision",
    "WRAPPER_TYPES": "vision",
    "VisionType": "vision",
    "WrapperType": "vision",
    "Imported": "writer",
    "spec_yaml": "writer",
}


def __getattr__(name: str):
    if name == "Located":
        from ...spec.yamlsafe import Located

        return Located
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups find it directly
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
    from ...spec.yamlsafe import Located
    from .common import TextType, _pattern
    from .config import Config, _Source
    from .driver import NAME_RE, SUPPORTED_TYPES, import_config, import_file
    from .families import FAMILIES, MODULE_NAMES, TEXT_TYPES
    from .jsonfile import (
        MAX_CONFIG_BYTES,
        MAX_CONFIG_DEPTH,
        MAX_CONFIG_VALUES,
        clean_name,
        default_name,
        read_config,
        spec_name,
    )
    from .keys import REQUIRED, Derived, KeyTable, Reject
    from .quant import QUANT_METHODS, ModuleNames
    from .vision import VISION_TYPES, WRAPPER_TYPES, VisionType, WrapperType
    from .writer import Imported, spec_yaml

__all__ = [
    "FAMILIES",
    "MAX_CONFIG_BYTES",
    "MAX_CONFIG_DEPTH",
    "MAX_CONFIG_VALUES",
    "MODULE_NAMES",
    "NAME_RE",
    "QUANT_METHODS",
    "REQUIRED",
    "SUPPORTED_TYPES",
    "TEXT_TYPES",
    "VISION_TYPES",
    "WRAPPER_TYPES",
    "Config",
    "Derived",
    "Imported",
    "KeyTable",
    "Located",
    "ModuleNames",
    "Reject",
    "TextType",
    "VisionType",
    "WrapperType",
    "_Source",
    "_pattern",
    "clean_name",
    "default_name",
    "import_config",
    "import_file",
    "read_config",
    "spec_name",
    "spec_yaml",
]
