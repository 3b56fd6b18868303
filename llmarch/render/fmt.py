"""Number formatting shared by the human renderers (JSON always carries exact integers).

The units and their spelling are units.py's, so that what is printed reads back with the same table.
"""

from __future__ import annotations

from ..units import format_bytes as nbytes
from ..units import format_count as params
from ..units import format_flops as flops

__all__ = ["flops", "nbytes", "params"]
