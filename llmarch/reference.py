"""Check computed counts against a spec's published reference figures.

A published figure is compared in its own convention, after the spec's
adjustments, within half a unit of its last digit, capped at 5% so that a
one-digit figure still means something ("1T" -> +-0.05T).  A figure the
publisher truncated (`rounding: down`, as Meta's "70B" for 70.55B) holds when
the count lies in [figure, figure + one unit), with the same cap.  MTP modules
are added when the figure includes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ir import ModelIR, ReferenceIR
from .params import ParamCount
from .resolve import parse_count


@dataclass(frozen=True)
class ReferenceCheck:
    reference: ReferenceIR
    key: str  # "total" | "active"
    published: str
    published_value: float
    unit: float  # of the last published digit
    computed: int  # in the reference's convention, adjustments applied

    @property
    def convention(self) -> str:
        return self.reference.convention if self.key == "total" else self.reference.active_convention

    @property
    def tolerance(self) -> float:
        cap = 0.05 * self.published_value
        return min(self.unit if self.reference.rounding == "down" else self.unit / 2, cap)

    @property
    def ok(self) -> bool:
        if self.reference.rounding == "down":
            return self.published_value <= self.computed < self.published_value + self.tolerance
        return abs(self.computed - self.published_value) <= self.tolerance


def in_convention(count: ParamCount, key: str, convention: str) -> int:
    """`total` or `active` the way a publisher counts it."""
    input_table = 0 if count.tied else count.by_component["token_embedding"]
    if key == "total":
        if convention == "all":
            return count.total
        if convention == "no_input_embedding":
            return count.total - input_table
        return count.total - count.embedding - count.by_component["lm_head"]  # no_embeddings
    if convention == "all":
        return count.active_incl_embeddings
    if convention == "no_input_embedding":
        return count.active + (count.active_incl_embeddings - count.active - input_table)
    return count.active - count.active_by_component["lm_head"]  # no_embeddings


def check_references(ir: ModelIR, count: ParamCount) -> list[ReferenceCheck]:
    out = []
    for ref in ir.references:
        extra = sum(p for _, _, p in ref.adjustments)
        for key in ("total", "active"):
            published = getattr(ref, key)
            if published is None:
                continue
            value, unit = parse_count(published)
            convention = ref.convention if key == "total" else ref.active_convention
            computed = in_convention(count, key, convention)
            if key == "total":
                computed += extra + (count.mtp if ref.includes_mtp else 0)
            out.append(ReferenceCheck(ref, key, published, value, unit, computed))
    return out
