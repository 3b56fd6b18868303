"""Help that reads like a person wrote it.

typer words a parameter by its Python type (`--ctx <str>`, `names... <list[str]>`, `{names}...` in the
usage line) and the top-level `--help` cuts every command's summary to fit one line ("KV-cache memory of
one sequence at a context length, per..."). Here each value is named by what the user types (`--ctx CTX`,
`MODEL...`, `-o FILE`, `--set KEY=VALUE`), in one table, so that an option means the same word in every
command, and a command's summary is its first sentence, never cut.  click's wrapper breaks words at hyphens
and cuts words wider than the column (`--max-` / `total`); here text breaks only at spaces.
"""

from __future__ import annotations

import sys
import textwrap

import typer
from typer.core import TyperCommand, TyperGroup

# What the user types for each option's value, by its long flag; every command's `--ctx` reads `--ctx CTX`.
# A flag missing here reads as its name in capitals (`--model-type` → MODEL-TYPE), never as a Python type.
OPTION_METAVARS = {
    "--family": "FAMILY",
    "--spec-path": "DIR",
    "--set": "KEY=VALUE",
    "--format": "FORMAT",
    "--output": "FILE",
    "--ctx": "CTX",
    "--seq": "SEQ",
    "--batch": "N",
    "--kv-dtype": "DTYPE",
    "--state-dtype": "DTYPE",
    "--sweep": "CTX,CTX,...",
    "--plot": "FILE",
    "--baseline": "BASELINE",
    "--counter": "COUNTER",
    "--pairs": "A:B,...",
    "--max-total": "COUNT",
    "--max-active": "COUNT",
    "--max-kv": "BYTES@CTX",
    "--max-prefill-flops-per-token": "FLOPS@SEQ",
    "--max-decode-flops-per-token": "FLOPS@CTX",
    "--budgets": "FILE",
    "--gpu": "GPU",
    "--gpus": "N",
    "--tp": "N",
    "--ep": "N",
    "--weights": "WEIGHTS",
    "--model-type": "TYPE",
    "--limit": "N",
    "--name": "NAME",
}

# The same for arguments, by the parameter's name in cli.py: a spec name, alias or file is a MODEL.
ARGUMENT_METAVARS = {
    "name": "MODEL",
    "names": "MODEL",
    "spec": "MODEL",
    "targets": "TARGET",
    "checkpoint": "CHECKPOINT",
    "config": "CONFIG",
    "action": "ACTION",
}


def option_metavar(param) -> str:
    long = max(param.opts, key=len)
    return OPTION_METAVARS.get(long, long.lstrip("-").upper())


def argument_metavar(param) -> str:
    """An argument as the usage line and the Arguments section show it: `MODEL...`, `[TARGET]...`."""
    word = param.metavar
    if not param.required:
        word = f"[{word}]"
    return word + ("..." if param.nargs != 1 else "")


def wrap_words(text: str, width: int, indent: str = "") -> str:
    """Help text wrapped as click wraps it, paragraphs kept (a blank line parts them; a paragraph opened by a
    `\\b` line is kept as written, indented), but breaking lines only at spaces: an option (`--max-total`),
    an example (`4GiB@128k`) or a spec name stays whole, and a word wider than the column runs past it whole
    (click breaks at hyphens and cuts long words).  The help holds no colour codes: `len` is the width."""
    paragraphs, lines = [], []
    for line in text.expandtabs().splitlines() + [""]:
        if line:
            lines.append(line)
        elif lines:
            paragraphs.append(lines)
            lines = []
    out = []
    for first, *rest in paragraphs:
        left = indent + " " * (len(first) - len(first.lstrip()))
        if first.strip() == "\b":
            out.append("\n".join(left + line for line in rest))
            continue
        wrapper = textwrap.TextWrapper(
            max(width, len(left) + 1),
            initial_indent=left,
            subsequent_indent=left,
            replace_whitespace=False,
            break_on_hyphens=False,
            break_long_words=False,
        )
        out.append(wrapper.fill(" ".join([first.lstrip(), *rest])))
    return "\n\n".join(out)


class WholeWordsFormatter(typer.Context.formatter_class):  # the HelpFormatter of the click typer runs on
    """click's help layout, its text and definition lists wrapped by `wrap_words`."""

    def write_text(self, text: str) -> None:
        self.write(wrap_words(text, self.width, " " * self.current_indent) + "\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_col = min(max((len(first) for first, _ in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if len(first) <= first_col - col_spacing:
                self.write(" " * (first_col - len(first)))
            else:  # a long option: its text starts on the next line, in the column
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = wrap_words(second, max(self.width - first_col - 2, 10)).splitlines() or [""]
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n" if line else "\n")


class HelpContext(typer.Context):
    formatter_class = WholeWordsFormatter


class HelpCommand(TyperCommand):
    """A command whose usage line and help name each value by what the user types."""

    context_class = HelpContext

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # set on the parameter, so that click's errors name it the same way ("Missing argument 'MODEL'")
        for param in self.params:
            if param.metavar is not None:
                continue
            if param.param_type_name == "argument":
                param.metavar = ARGUMENT_METAVARS.get(param.name, param.name.upper())
            elif param.param_type_name == "option" and not param.is_flag:  # a flag (`--layers`) takes no value
                param.metavar = option_metavar(param)

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        return pieces + [argument_metavar(p) for p in self.get_params(ctx) if p.param_type_name == "argument"]

    def format_options(self, ctx, formatter) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                arguments.append((argument_metavar(param), record[1]))
            elif param.param_type_name == "option":
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


class HelpGroup(TyperGroup):
    """The top level: each command's summary is its first sentence whole, wrapped if the terminal is narrow
    (click cuts it to one line with "..."); the summaries are written to fit one line at 80 columns."""

    context_class = HelpContext

    def format_commands(self, ctx, formatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class HelpTyper(typer.Typer):
    """The app: its commands default to `HelpCommand` (a command's own class must derive from it)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cls=HelpGroup, **kwargs)

    def command(self, name=None, *, cls=None, **kwargs):
        return super().command(name, cls=cls or HelpCommand, **kwargs)
