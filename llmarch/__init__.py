"""llmarch: compare the architectures of large language models from YAML specs.

See `llmarch.api` for the Python API; nothing here imports torch.  The API's names are loaded on first
use (PEP 562), so a command or tool that imports one submodule (`llmarch.importers.checkpoints.safetensors` reading
checkpoint headers) does not pay for the spec schema, pydantic and the resolver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> the submodule defining it
_EXPORTS = {
    "build": "api",
    "compare": "api",
    "describe": "api",
    "load": "api",
    "module_params": "api",
    "LlmarchError": "errors",
    "SpecError": "errors",
    "ParamCount": "analyze.params",
    "count_params": "analyze.params",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups find it directly
        return value
    raise AttributeError(f"module 'llmarch' has no attribute {name!r}")


def registry(spec_paths: list[str] | None = None) -> Registry:
    """The registry of shipped specs and those on `spec_paths` and in $LLMARCH_SPEC_PATH (`api.registry`)."""
    from .api import registry as api_registry

    return api_registry(spec_paths)


if TYPE_CHECKING:
    from .analyze.params import ParamCount, count_params
    from .api import build, compare, describe, load, module_params
    from .errors import LlmarchError, SpecError
    from .spec.registry import Registry

__all__ = [
    "build",
    "compare",
    "count_params",
    "describe",
    "load",
    "module_params",
    "registry",
    "LlmarchError",
    "ParamCount",
    "SpecError",
]
