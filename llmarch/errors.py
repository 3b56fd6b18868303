"""The one error type that user input can raise, caught once at the CLI boundary.

A `SpecError` names where the problem is (file, line, column, field path) and
what was expected, with a suggestion when one exists.  The CLI prints
`str(error)` as a single paragraph and exits with code 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LlmarchError(Exception):
    """Any failure caused by user input (a spec, a name, an option)."""

    exit_code = 2


class SpecError(LlmarchError):
    """An invalid spec file or value, located as precisely as YAML allows."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.suggestion = suggestion
        super().__init__(str(self))

    def __str__(self) -> str:
        where = shorten(self.file or "<spec>")
        if self.line is not None and not where.startswith("--set"):
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: "
        if self.field:
            text += f"field `{shorten(self.field)}`: "
        text += self.message
        if self.suggestion:
            text += f"; {self.suggestion}"
        return text


class NameError_(LlmarchError):
    """An unknown model name (kept distinct so callers can tell it from a bad spec)."""


class OptionError(LlmarchError):
    """A command-line option with an impossible value."""


def shorten(text: str, limit: int = 120) -> str:
    """User text as echoed in a message: a 131,000-character name is not one clear paragraph."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]}… ({len(text):,} characters)"


def did_you_mean(word: str, candidates: Iterable[str], n: int = 1) -> str | None:
    """'did you mean `x`?' for the closest candidates, or None when nothing is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)
    if not matches:
        return None
    return "did you mean " + " or ".join(f"`{m}`" for m in matches) + "?"
