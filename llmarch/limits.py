"""Upper bounds on a spec's numbers, documented in docs/spec-format.md ("Limits").

Defined here, with no imports, so that the import-hf families (whose key tables bound each config value)
and `verify` (which reads the families' checkpoint names) need not load the schema and pydantic;
`schema` re-exports them and builds its field types from them.
"""

from __future__ import annotations

MAX_LAYERS = 1_024
MAX_D_MODEL = 131_072
MAX_HEADS = 4_096
MAX_HEAD_DIM = 8_192
MAX_D_FF = 1_048_576
MAX_EXPERTS = 16_384
MAX_VOCAB = 16_777_216
MAX_CONTEXT = 1 << 30
MAX_TOTAL_PARAMS = 100 * 10**12  # 100T, checked on the resolved IR
# Metadata lists: a real spec has a handful; every entry becomes a table row, so bound them
MAX_ENTRIES = 64
MAX_ADJUSTMENTS = 16  # per reference figure
