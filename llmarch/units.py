"""Quantities written with units: one table per quantity, parsed exactly, formatted one way.

  COUNT   parameters and FLOPs, decimal: K = 10^3, M = 10^6, B = G = 10^9, T = 10^12, P = 10^15
          ("8B" parameters and "20G" FLOPs are both 10^9: people say B for parameters, G for FLOPs)
  BYTES   binary KiB/MiB/GiB/TiB (2^10 ...) and decimal KB/MB/GB/TB (10^3 ...); B is one byte
          (BINARY_BYTES, its binary half, reads published figures: a publisher's "KB" may mean either)
  TOKENS  k = 1024, m = 1024^2, as context lengths are said (128k = 131,072)

Units are matched without regard to case ("4gib", "128K"); B means billions in COUNT and bytes in BYTES,
so a text is always read against the one table of its quantity.  Numbers are read as Decimal, never
through a float, so "32.856305664B" is 32,856,305,664 to the unit.  Thousands commas are allowed
("1,000B").  Errors name the parameter being read (`context`, `budget`, `published figure`); the CLI
words them with its own flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, localcontext

from .errors import ParameterError, shorten

COUNT = {"K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9, "T": 10**12, "P": 10**15}
BYTES = {
    "B": 1,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
}
TOKENS = {"k": 2**10, "m": 2**20}
# published byte figures: binary only, since a publisher's "KB" may mean either
BINARY_BYTES = {unit: scale for unit, scale in BYTES.items() if unit == "B" or unit.endswith("iB")}

# what each table reads, for error messages
_DESCRIBED = {
    id(COUNT): "a count: use a number and K, M, B, G, T or P (decimal, B = G = 10^9), e.g. 671B",
    id(BYTES): "a size in bytes: use a number and B, KiB, MiB, GiB, TiB (binary) or KB, MB, GB, TB (decimal), "
    "e.g. 4GiB",
    id(BINARY_BYTES): "a size in bytes: use a number and B, KiB, MiB, GiB or TiB (a published KB may mean "
    "either 1000 or 1024), e.g. 68.6 KiB",
    id(TOKENS): "a token count: use an integer or a k/m suffix (k = 1024), e.g. 4096, 128k, 1m",
}
# a number of more digits than this is a typo, not a quantity (and bounds the work of reading it)
MAX_DIGITS = 40
MAX_TOKENS = 1 << 34

# A comma only as a thousands separator ("1,000B"): "1,5B" is a decimal comma, never read as 15B.
_NUMBER = re.compile(r"\s*((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*")


class UnitError(ParameterError):
    """A text that is not a quantity of the expected kind, worded with the parameter being read."""

    def __init__(self, parameter: str, problem: str, text: object) -> None:
        # the parameter's name in braces: the CLI words it as its flag (`context` -> `--ctx`)
        super().__init__(f"{{{parameter}}} `{{text}}` {problem}", text=shorten(str(text)))


@dataclass(frozen=True)
class Quantity:
    """An exact quantity and the precision it was written with ("68.6 KiB": 70,246.4 bytes, to 102.4)."""

    value: Decimal
    last_digit: Decimal  # the worth of one unit in the last written digit


def parse(text: str | int, table: dict[str, int], parameter: str, *, unit_required: bool = False) -> Quantity:
    """`text` read exactly against one unit table; `parameter` names it in errors (e.g. "context")."""
    text = str(text)
    m = _NUMBER.fullmatch(text)
    written, unit = (m.group(1), m.group(2)) if m else ("", "")
    digits = written.replace(",", "")
    scale = _lookup(table, unit)
    # a token count is whole, and takes no thousands comma (`--sweep 1,024` is two contexts)
    whole = table is not TOKENS or written.isdigit()
    if not digits.strip(".") or scale is None or (unit_required and not unit) or not whole:
        raise UnitError(parameter, f"is not {_DESCRIBED[id(table)]}", text)
    significant = digits.replace(".", "").lstrip("0")
    if len(significant) > MAX_DIGITS:
        raise UnitError(parameter, f"has {len(significant):,} digits; no model measures that", text)
    decimals = len(digits.partition(".")[2])
    with localcontext() as exact:
        exact.prec = 2 * MAX_DIGITS  # the default 28 significant digits would round a long number
        return Quantity(Decimal(digits) * scale, Decimal(scale).scaleb(-decimals))


def _lookup(table: dict[str, int], unit: str) -> int | None:
    if not unit:
        return 1
    if table is BYTES or table is BINARY_BYTES:
        if unit[-1] == "b":  # a lowercase b is bits (4Gb is 0.5 GB): never read as bytes
            return None
    return next((scale for name, scale in table.items() if name.upper() == unit.upper()), None)


def parse_tokens(text: str | int, parameter: str = "context") -> int:
    """'128k' -> 131072, '1m' -> 1048576, '4096' -> 4096: a positive whole number of tokens up to 2^34."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        leading = re.match(r"\s*0*([0-9]*)", str(text)).group(1)
        if len(leading) > 12:  # 5,000 digits are no context: say so before reading them
            raise UnitError(parameter, "is larger than 2^34 tokens", text)
        quantity = parse(text, TOKENS, parameter)
        if quantity.value > MAX_TOKENS:
            raise UnitError(parameter, "is larger than 2^34 tokens", text)
        value = int(quantity.value)
    if value <= 0:
        raise UnitError(parameter, "must be a positive number of tokens", text)
    if value > MAX_TOKENS:
        raise UnitError(parameter, "is larger than 2^34 tokens", text)
    return value


# ---------------------------------------------------------------------------
# Formatting for people (JSON and csv always carry the exact integers)
#
# One formatter per quantity.  A number shows at least SIGNIFICANT significant digits, so that numbers
# a table sets side by side compare ("8.191B" against "8.030B", not "8.2B" against "8.0B").  Numbers that
# compare (one quantity of several models) share a unit: `like` names the value whose unit they take, and
# `alike` picks it for a group.

SIGNIFICANT = 4
COUNT_UNITS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K"))
FLOP_UNITS = ((10**15, " P"), (10**12, " T"), (10**9, " G"), (10**6, " M"))
BYTE_UNITS = ((1 << 40, " TiB"), (1 << 30, " GiB"), (1 << 20, " MiB"), (1 << 10, " KiB"))


def _scaled(n: int, units: tuple, plain: str, like: int | None) -> str:
    reference = abs(like if like else n)
    for i, (scale, suffix) in enumerate(units):
        if reference >= scale:
            # 999.96M rounds to 1,000M: a number alone says 1.000B instead (a group keeps its unit)
            if like is None and i and _exponent(n / scale) >= 3:
                scale, suffix = units[i - 1]
            return _digits(n / scale) + suffix
    return f"{n:,}{plain}"


def _exponent(x: float) -> int:
    """The power of ten of `x`'s first digit once rounded to SIGNIFICANT digits (999.96 -> 3)."""
    return int(f"{x:.{SIGNIFICANT - 1}e}".split("e")[1])


def _digits(x: float) -> str:
    """`x` with at least SIGNIFICANT significant digits and thousands commas: 8.191, 235.1, 1,043, 0.03000."""
    if x == 0:
        return "0"
    return f"{x:,.{max(0, SIGNIFICANT - 1 - _exponent(x))}f}"


def format_count(n: int | None, like: int | None = None, *, short: bool = False) -> str:
    """Parameters, decimal suffixes: 235.1B, 8.191B, 596.0M, 1.043T; `like`: a value whose unit to take.
    `short`: one decimal (three for T), for a figure's notes, where room is short and nothing sits beside."""
    if n is not None and short:
        return _short(n, COUNT_UNITS, "", {"T": 3})
    return "—" if n is None else _scaled(n, COUNT_UNITS, "", like)


def format_bytes(n: int | None, like: int | None = None, *, short: bool = False) -> str:
    """Bytes, binary units: 10.41 GiB, 144.0 KiB, 512 B; `like`: a value whose unit to take; `short`: one
    decimal, for a figure's notes."""
    if n is not None and short:
        return _short(n, BYTE_UNITS, " B", {})
    return "—" if n is None else _scaled(n, BYTE_UNITS, " B", like)


def _short(n: int, units: tuple, plain: str, decimals: dict[str, int]) -> str:
    for scale, suffix in units:
        if abs(n) >= scale:
            return f"{n / scale:.{decimals.get(suffix.strip(), 1)}f}{suffix}"
    return f"{n}{plain}"


def format_flops(n: int | None, like: int | None = None) -> str:
    """FLOPs, decimal: 12.37 T, 19.33 G, 103.1 M; `like`: a value whose unit to take."""
    return "—" if n is None else _scaled(n, FLOP_UNITS, "", like)


def alike(values: list[int | None], formatter) -> list[str]:
    """`values` that compare, formatted by `formatter` in one unit: the largest unit in which the smallest
    non-zero value still reads 0.1 or more (437.9 GiB beside 1.2 TiB: 0.4276 TiB and 1.200 TiB; 8.2B
    beside 1.0T: 8.191B and 1,026B, not 0.008191T)."""
    present = [abs(v) for v in values if v]
    if not present:
        return [formatter(v) for v in values]
    units = {format_count: COUNT_UNITS, format_bytes: BYTE_UNITS, format_flops: FLOP_UNITS}[formatter]
    like = None
    for scale, _ in units:
        if scale <= max(present) and 10 * min(present) >= scale:
            like = scale
            break
    return [formatter(v, like or min(present)) for v in values]


def format_as(n: int, written: str, table: dict[str, int]) -> str:
    """`n` in the unit a person wrote in `written` ("8B", "4GiB", "10G"), as they wrote it; exact when
    `written` has no unit."""
    unit = re.sub(r"[0-9.,\s]", "", written)
    scale = _lookup(table, unit) if unit else None
    if not scale:  # no unit written (or none of this quantity's): the exact number
        return f"{n:,}"
    if scale == 1:  # bytes, written in B
        return f"{n:,} B"
    name = next(name for name in table if name.upper() == unit.upper())
    text = _digits(n / scale)
    try:
        limit = parse(written, table, "budget").value
    except UnitError:
        limit = None
    if limit is not None and limit != n:
        # beside the limit it is measured against, never a text that reads as the limit or past it on the
        # wrong side (7,568,405,504 against 7.5683B is 7.5684B, not 7.568B): at least the limit's decimals,
        # more while rounding lands on the limit
        exact, places = Decimal(n) / scale, len(written.split(unit)[0].partition(".")[2].strip())
        places = max(places, len(text.partition(".")[2]))
        while places < len(str(scale)) and round(exact, places) == limit / scale:
            places += 1
        text = f"{round(exact, places):,.{places}f}"
    return text + ("" if table is COUNT else " ") + name


def format_tokens(n: int, written: str | None = None) -> str:
    """A context length as the user wrote it, with the exact count tables promise: "128k (131,072)";
    131,072 when it was written in digits (or not at all)."""
    if written is not None and written.strip().lower().endswith(("k", "m")):
        try:
            if parse_tokens(written) == n:
                return f"{written.strip()} ({n:,})"
        except UnitError:
            pass
    return f"{n:,}"


def published_count(text: str) -> Quantity:
    """A published figure ("671B", "116.83B", "1T"), exact, with the worth of its last digit.

    A figure rounded to nearest holds within half a unit of its last digit (see `reference.py`).
    """
    return parse(text, COUNT, "published figure", unit_required=True)


def published_bytes(text: str) -> Quantity:
    """A published byte figure ("68.6 KiB", "6 KiB", "300 KiB"), exact, with the worth of its last digit."""
    return parse(text, BINARY_BYTES, "published byte figure", unit_required=True)
