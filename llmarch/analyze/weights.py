"""Weight memory: bytes of the parameters at a given storage format."""

from __future__ import annotations

from fractions import Fraction

from ..ir import ModelIR
from .params import ParamCount

# bytes per parameter, scales included where the format has them
BYTES_PER_PARAM: dict[str, Fraction] = {
    "fp32": Fraction(4),
    "bf16": Fraction(2),
    "fp16": Fraction(2),
    "fp8": Fraction(1),
    "int8": Fraction(1),
    "fp8_block128": Fraction(1) + Fraction(4, 128 * 128),  # fp32 scale per 128x128 block
    "mxfp4": Fraction(17, 32),  # 4 bits + one 8-bit scale per 32 values
    "int4_g32": Fraction(1, 2) + Fraction(2, 32),  # 4 bits + a bf16 scale per 32 values
    "int4_g128": Fraction(1, 2) + Fraction(2, 128),
}


def weight_bytes(ir: ModelIR, count: ParamCount, dtype: str | None = None) -> int:
    """Bytes of all `total` parameters: at `dtype` for every component, or as the checkpoint ships."""
    overrides = {} if dtype else dict(ir.weight_overrides)
    default = dtype or ir.weight_dtype
    total = Fraction(0)
    for comp, n in count.by_component.items():
        total += n * BYTES_PER_PARAM[overrides.get(comp, default)]
    return int(total)  # rounded down: scales are whole bytes per block in practice


def shipped_label(ir: ModelIR) -> str:
    if not ir.weight_overrides:
        return ir.weight_dtype
    parts = {}
    for comp, fmt in ir.weight_overrides:
        parts.setdefault(fmt, []).append(comp)
    return ir.weight_dtype + "; " + "; ".join(f"{fmt}: {', '.join(c)}" for fmt, c in parts.items())
