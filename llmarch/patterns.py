"""A sequence of layers as people say it: the one layer-pattern formatter that `show --layers`, the tables'
layer mix and the diagrams' headers share.

    36 global                                   one kind throughout
    (5 local + 1 global) × 10, then 2 local     a unit repeated, with what is left after it
    3 dense, then 58 MoE                        a few runs, in order
    1 global, then 4 local, then (5 local + 1 global) × 7 ...   what comes before the repeats, then them

A sequence with no repeating unit that says it shorter is its runs in order. The words are given (the
caller maps kinds to words); nothing here knows a kind.
"""

from __future__ import annotations

from typing import Sequence

MAX_PERIOD = 32  # the longest repeating unit looked for, in layers


def runs(words: Sequence[str]) -> list[tuple[str, int]]:
    """Consecutive equal words as (word, how many): ['a', 'a', 'b'] → [('a', 2), ('b', 1)]."""
    out: list[tuple[str, int]] = []
    for word in words:
        if out and out[-1][0] == word:
            out[-1] = (word, out[-1][1] + 1)
        else:
            out.append((word, 1))
    return out


def _said(parts: list[tuple[str, int]]) -> list[str]:
    return [f"{n} {word}" for word, n in parts]


def _best_repeat(words: Sequence[str]) -> tuple[int, int, int] | None:
    """(lead, period, repeats) of the repeating unit that says `words` in the fewest runs: what comes before
    the unit, the unit repeated at least twice, and what is left after it, each counted in runs. None when
    no unit says it in fewer runs than the plain runs do."""
    n, plain = len(words), len(runs(words))
    best, best_key = None, None
    if plain < 3:  # a run or two: no repeat says it shorter
        return None
    # a unit of at most MAX_PERIOD layers: the search is cubic in the layers, and 1,024 irregular layers took
    # half a minute with every period tried; people name units of a few layers (the longest shipped: 11)
    for period in range(2, min(n // 2, MAX_PERIOD) + 1):
        for lead in range(0, n - 2 * period + 1):
            unit = list(words[lead : lead + period])
            unit_runs = len(runs(unit))
            if unit_runs < 2 or (best_key is not None and unit_runs > best_key[0]):
                continue  # a run, not a unit; or a unit that cannot say it in fewer runs than the best
            repeats = 1
            while list(words[lead + repeats * period : lead + (repeats + 1) * period]) == unit:
                repeats += 1
            if repeats < 2:
                continue
            end = lead + repeats * period
            said = len(runs(words[:lead])) + unit_runs + len(runs(words[end:]))
            # fewest runs; then the unit covering most layers, the earliest start, the least left over
            key = (said, -(end - lead), lead, n - end, period)
            if said < plain and (best_key is None or key < best_key):
                best, best_key = (lead, period, repeats), key
                if said == unit_runs and end - lead == n:
                    return best  # the whole sequence one unit repeated: nothing says it shorter
    return best


def _segments(words: Sequence[str]) -> list[str]:
    """`words` said as segments in order: runs ('2 local') and repeated units ('(5 local + 1 global) × 10'),
    a unit's inside and what comes before and after it said the same way (nested where it repeats too)."""
    repeat = _best_repeat(words)
    if repeat is None:
        return _said(runs(words))
    lead, period, repeats = repeat
    end = lead + repeats * period
    unit = "(" + " + ".join(_segments(words[lead : lead + period])) + f") × {repeats}"
    return _segments(words[:lead]) + [unit] + _segments(words[end:])


def pattern_text(words: Sequence[str]) -> str:
    """The layers' words as people say them (see the module's docstring); '' for no layers."""
    return ", then ".join(_segments(words))
