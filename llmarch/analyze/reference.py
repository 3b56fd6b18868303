"""Check computed counts against a spec's published reference figures.

A published figure is compared in its own convention, after the spec's
adjustments, within half a unit of its last digit, capped at 5% so that a
one-digit figure still means something ("1T" -> +-0.05T).  A figure the
publisher truncated (`rounding: down`, as Meta's "70B" for 70.55B) holds when
the count lies in [figure, figure + one unit), with the same cap.  MTP modules
are added when the figure includes them.

A published KV figure (`kv_per_token`, e.g. the gallery's "68.6 KiB") is
compared with `per_token_bytes_all_layers` at bf16 by the same rule.  Where the
spec documents a disagreement (`kv_per_token_config`, llmarch's figure from the
config), the check holds when the computed figure matches the documented one and
still differs from the published one, so that a fix on either side is noticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Optional

from ..ir import ModelIR, ReferenceIR
from ..units import published_bytes, published_count
from .kvcache import kv_cache
from .params import ParamCount

KV_CONVENTION = "gallery-style, bf16"


@dataclass(frozen=True)
class ReferenceCheck:
    reference: ReferenceIR
    key: str  # "total" | "active" | "kv_per_token"
    published: str
    published_value: Decimal  # exact, as written (units.py)
    unit: Decimal  # of the last published digit
    computed: int  # in the reference's convention, adjustments applied
    documented: Optional[str] = None  # llmarch's side of a documented disagreement (kv_per_token_config)

    @property
    def convention(self) -> str:
        if self.key == "kv_per_token":
            return KV_CONVENTION
        return self.reference.convention if self.key == "total" else self.reference.active_convention

    @property
    def tolerance(self) -> Decimal:
        return _tolerance(self.published_value, self.unit, self.reference.rounding)

    @property
    def matches_published(self) -> bool:
        return _holds(self.computed, self.published_value, self.unit, self.reference.rounding)

    @property
    def ok(self) -> bool:
        if self.documented is None:
            return self.matches_published
        documented = published_bytes(self.documented)
        return _holds(self.computed, documented.value, documented.last_digit, "nearest") and not self.matches_published


def _tolerance(value: Decimal, unit: Decimal, rounding: str) -> Decimal:
    # exact decimal arithmetic: a count exactly half a unit away holds, whatever a float would round it to
    return min(unit if rounding == "down" else unit / 2, Decimal("0.05") * value)


def _holds(computed: int, value: Decimal, unit: Decimal, rounding: str) -> bool:
    tolerance = _tolerance(value, unit, rounding)
    if rounding == "down":
        return value <= computed < value + tolerance
    return abs(computed - value) <= tolerance


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


def references_skipped(ir: ModelIR) -> Optional[str]:
    """Why an edited spec's published figures are not checked (a what-if is not the published model, so a
    MISMATCH would say nothing), or None when they are."""
    if not (ir.edits and ir.references):
        return None
    edits = ", ".join(f"{key}={written}" for key, written, _ in ir.edits)
    return f"published figures not checked: the spec was edited ({edits})"


def check_references(ir: ModelIR, count: ParamCount) -> list[ReferenceCheck]:
    """Each published figure held against the count; none for an edited spec (`references_skipped`)."""
    if ir.edits:
        return []
    out = []
    for ref in ir.references:
        extra = sum(p for _, _, p in ref.adjustments)
        for key in ("total", "active"):
            published = getattr(ref, key)
            if published is None:
                continue
            figure = published_count(published)
            convention = ref.convention if key == "total" else ref.active_convention
            computed = in_convention(count, key, convention)
            if key == "total":
                computed += extra + (count.mtp if ref.includes_mtp else 0)
            out.append(ReferenceCheck(ref, key, published, figure.value, figure.last_digit, computed))
        if ref.kv_per_token is not None:
            figure = published_bytes(ref.kv_per_token)
            computed = kv_cache(ir, 1, kv_dtype="bf16").per_token_bytes_all_layers
            out.append(
                ReferenceCheck(
                    ref,
                    "kv_per_token",
                    ref.kv_per_token,
                    figure.value,
                    figure.last_digit,
                    computed,
                    documented=ref.kv_per_token_config,
                )
            )
    return out
