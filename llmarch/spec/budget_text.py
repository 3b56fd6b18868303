"""A budget as a spec's `budgets:` block or `llmarch check` states it: its kind, its limit and the context it
is measured at, parsed (units as in units.py).  The spec layer checks a spec's budgets with it; budgets.py
measures and judges them.

Limits are read exactly (units.parse, never through a float: "32.856305664B" is 32,856,305,664) and
floored to a whole number, since every measure is one; a budget above 10^30 or of more than 40 digits
is refused as a typo.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionError, shorten
from ..units import BYTES, COUNT, parse, parse_tokens

# A ceiling above any conceivable measure: 10^30 parameters, bytes or FLOPs per token. It keeps the
# verdict's float ratio finite and turns a mistyped run of digits into an error instead of a pass.
MAX_LIMIT = 10**30
KINDS = ("max_total", "max_active", "max_kv", "max_prefill_flops_per_token", "max_decode_flops_per_token")


@dataclass(frozen=True)
class Budget:
    kind: str
    limit: int
    at_tokens: int | None
    text: str


def parse_budget(kind: str, text: str) -> Budget:
    kind = kind.replace("-", "_")
    if kind not in KINDS:
        raise OptionError(f"unknown budget `{kind}`; one of: {', '.join(KINDS)}")
    text = str(text)
    needs_at = kind in ("max_kv", "max_prefill_flops_per_token", "max_decode_flops_per_token")
    value, _, at = text.partition("@")
    if needs_at and not at:
        raise OptionError(
            f"budget {kind} `{shorten(text)}` needs a context, e.g. `{'4GiB@128k' if kind == 'max_kv' else '20G@4096'}`"
        )
    if not needs_at and at:
        raise OptionError(f"budget {kind} `{shorten(text)}` takes no `@context`")
    if kind == "max_kv":  # a size names its unit: a bare "4096" could mean bytes or KiB
        exact = parse(value, BYTES, f"budget {kind}", unit_required=True).value
    else:
        exact = parse(value, COUNT, f"budget {kind}").value
    if exact <= 0:
        raise OptionError(f"budget {kind} `{shorten(text)}` must be positive")
    if exact > MAX_LIMIT:
        raise OptionError(f"budget {kind} `{shorten(text)}` is above 10^30, more than any model measures")
    # measures are whole numbers, so `measured <= exact` exactly when `measured <= floor(exact)`
    limit = int(exact)
    if limit < 1:
        raise OptionError(f"budget {kind} `{shorten(text)}` is less than 1 (every measure is a whole number)")
    return Budget(kind, limit, parse_tokens(at, f"budget {kind} context") if at else None, text)
