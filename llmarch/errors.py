"""The one error type that user input can raise, caught once at the CLI boundary.

A `SpecError` names where the problem is (file, line, column, field path) and
what was expected, with a suggestion when one exists.  The CLI prints
`str(error)` as a single paragraph and exits with code 2.
"""

from __future__ import annotations

import difflib
import string
from collections.abc import Iterable, Mapping


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
        # a what-if edit (`--set x=1`, `qwen3-8b[x=1]`) is one line the user typed: no line or column
        if self.line is not None and not where.startswith("--set") and not where.endswith("]"):
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


class ParameterError(OptionError):
    """A library call's parameter with an impossible value, worded with the parameter's name.

    `template` marks each parameter's name in braces (`"{tp} {tp_value} does not divide ..."`); the other
    braces are `values`, user text inserted as is.  `str()` words a parameter by its own name (`tp`); the
    CLI words it by its flag (`--tp`) through `worded`, so the library never names a command's options.
    """

    def __init__(self, template: str, **values: object) -> None:
        self.template = template
        self.values = values
        super().__init__(self.worded({}))

    @property
    def parameters(self) -> list[str]:
        return [f for _, f, _, _ in string.Formatter().parse(self.template) if f and f not in self.values]

    def worded(self, names: Mapping[str, str]) -> str:
        """The message with each parameter called by `names` (a parameter not in `names` by its own name)."""
        return self.template.format(**{p: names.get(p, p) for p in self.parameters}, **self.values)


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
