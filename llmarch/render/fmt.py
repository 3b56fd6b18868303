"""Number formatting shared by the human renderers (JSON always carries exact integers)."""

from __future__ import annotations


def params(n: int | None) -> str:
    """Decimal suffixes: 235.1B, 22.2B, 596.0M."""
    if n is None:
        return "—"
    for div, suffix in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= div:
            return f"{n / div:.{3 if suffix == 'T' else 1}f}{suffix}" if suffix == "T" else f"{n / div:.1f}{suffix}"
    return str(n)


def nbytes(n: int | None) -> str:
    """Binary units: 10.4 GiB."""
    if n is None:
        return "—"
    for div, suffix in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(n) >= div:
            return f"{n / div:.1f} {suffix}"
    return f"{n} B"
