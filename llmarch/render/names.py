"""A model's name where a table names it by `name` (a column header, a csv row): a what-if carries its edits,
`qwen3-8b (n_layers=40)`, so that a model and its edit never read as the same model."""

from __future__ import annotations

import json
from typing import Any, Optional


def model_label(name: str, edits: Optional[dict[str, Any]] = None) -> str:
    if not edits:
        return name
    values = (f"{key}={v if isinstance(v, str) else json.dumps(v)}" for key, v in edits.items())
    return f"{name} ({', '.join(values)})"
