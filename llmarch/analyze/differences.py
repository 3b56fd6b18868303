"""Which cells of a row of models differ: the one rule of compare's tables (every format), report's pairs,
the JSON `differences` list and the diagram's highlights (issue 24).

A cell differs when its value is not the row's majority value, the value more than half of the present
cells hold; when no value holds a majority, the first present model's value is the reference (with two
models that differ, the second model's cell is marked, never both).  `None` is a cell that is not there (a
block a model lacks in the diagram): it neither votes nor differs.  A cell shown as `—` is a value like any
other, so a model lacking a fact that the others have differs from them.

Exact values decide, never the text a format prints: callers pass the exact value (an integer count, a
byte count, a fact's JSON value), so that the JSON answer and every format mark the same cells, whatever
their rounding or width.  Two cells that read alike after rounding (`8.2B` and `8.2B` for 8,190,735,360
and 8,234,123,456) are marked as different: the exact values in JSON and csv show the difference.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence


def reference(values: Sequence[Optional[Any]]) -> Optional[Any]:
    """The row's reference value: the majority of the present values, else the first present one."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    best = max(present, key=present.count)  # the first of the most frequent, by ==: no hashing needed
    return best if present.count(best) * 2 > len(present) else present[0]


def differing(values: Sequence[Optional[Any]]) -> list[bool]:
    """Per value, whether it differs from the row's reference value (absent values never differ)."""
    if sum(v is not None for v in values) < 2:
        return [False] * len(values)
    ref = reference(values)
    return [v is not None and v != ref for v in values]
