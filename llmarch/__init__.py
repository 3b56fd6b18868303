"""llmarch: compare the architectures of large language models from YAML specs.

See `llmarch.api` for the Python API; nothing here imports torch.
"""

__version__ = "0.1.0"

from .api import build, compare, describe, load, module_params, registry  # noqa: E402
from .errors import LlmarchError, SpecError  # noqa: E402
from .params import ParamCount, count_params  # noqa: E402

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
