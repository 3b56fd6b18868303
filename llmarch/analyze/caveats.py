"""Caveats an answer carries beside its numbers: a context past the model's own context length.

The formulas go on past a model's context length (a KV cache of 2M tokens is well defined arithmetic),
but the model was not trained, and may not run, there.  Each command that takes a token count says so
once per model and count: on stderr for people, in the `warnings` list of its JSON answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..ir import ModelIR


def beyond_context(ir: ModelIR, counts: Iterable[tuple[str, int]]) -> list[str]:
    """One warning per token count past `ir`'s context length, in the order given, worded as first given."""
    out: list[str] = []
    warned: set[int] = set()
    for what, tokens in counts:
        if tokens > ir.context_length and tokens not in warned:  # a sweep point equal to --ctx: said once
            warned.add(tokens)
            text = (
                f"{ir.edited_name}: {what} of {tokens:,} tokens is beyond its context length of "
                f"{ir.context_length:,} tokens (the numbers there extrapolate the architecture)"
            )
            out.append(text)
    return out


def beyond_context_of(irs: Iterable[ModelIR], counts: list[tuple[str, int]], sweep: Iterable[int] = ()) -> list[str]:
    """`beyond_context` for several models, sweep points included (worded `sweep point`)."""
    points = counts + [("sweep point", tokens) for tokens in sweep]
    return [warning for ir in irs for warning in beyond_context(ir, points)]
