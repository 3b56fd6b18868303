"""What every `llmarch` command shares: its options (declared once here), the answer's formats and how it
is written (stdout or an atomic file, a closed pipe ended quietly), the one place errors are caught and worded
(one paragraph, exit 2, the library's parameter names as the CLI's flags), and the prelude that loads models.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import io
import json
import os
import sys
import traceback
from enum import Enum
from functools import wraps
from typing import List, Optional

import typer

from .cli_help import HelpCommand
from .errors import LlmarchError, ParameterError, shorten
from .render.output import is_stdout, printable


class Format(str, Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"
    html = "html"


EXTENSIONS = {
    ".md": Format.markdown,
    ".markdown": Format.markdown,
    ".json": Format.json,
    ".csv": Format.csv,
    ".html": Format.html,
    ".htm": Format.html,
    ".txt": Format.table,
}


class State:
    spec_path: list[str] = []
    no_color = False
    debug = False
    quiet = False  # -q: no conventions footer under the tables


SpecPathOpt = typer.Option(None, "--spec-path", help="Extra folder of spec files (repeatable); also LLMARCH_SPEC_PATH.")
SetOpt = typer.Option(
    None,
    "--set",
    help="What-if edit of every model named, repeatable: --set attention.n_kv_heads=4 (validated like a spec); "
    "to edit one model, write 'qwen3-8b[n_layers=40,attention.n_kv_heads=4]'.",
)
FormatOpt = typer.Option(
    None, "--format", "-f", help="table | markdown | json | csv | html (default: table, or from -o's extension)."
)
# A presentation option, like --no-color: taken before the command or anywhere after it (`run` moves it)
QuietOpt = typer.Option(
    False, "--quiet", "-q", help="Leave out the conventions footer under the tables (JSON keeps every convention)."
)
NoCacheOpt = typer.Option(
    False, "--no-cache", help="Build and count on meta now instead of using the build cache (see `llmarch cache`)."
)


def output_option(what: str, default: object = None, stdout: str = "stdout"):
    """`-o/--output`, declared here once: every command writes FILE atomically, and `-o -` is stdout."""
    return typer.Option(default, "--output", "-o", help=f"{what}, atomically; `-o -` is {stdout}.")


OutputOpt = output_option("Write to FILE instead of stdout (.md, .json, .csv, .html, .txt)")


GLOBAL_FLAGS = ("--no-color", "--debug", "--quiet", "-q")


def global_flags_first(argv: list[str]) -> list[str]:
    """The command line with the app's own flags (`GLOBAL_FLAGS`) moved before the command: a user may give
    them anywhere on the line, not only before the command as click parses them."""
    for flag in GLOBAL_FLAGS:
        if argv and flag in argv[1:] and argv[0] != flag:
            argv = [flag] + [a for a in argv if a != flag]
    return argv


def _internal_error(exc: Exception) -> typer.Exit:
    if State.debug:
        traceback.print_exc()
    typer.echo(
        f"internal error: {type(exc).__name__}: {printable(shorten(str(exc), 500))} (run with --debug for a traceback)",
        err=True,
    )
    return typer.Exit(1)


def guarded(fn):
    """Turn LlmarchError into one paragraph on stderr and exit code 2; never a traceback."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            try:
                return fn(*args, **kwargs)
            finally:
                cache = sys.modules.get("llmarch.cache")  # not imported by commands that never use it
                if cache is not None:
                    cache.end_bypass()  # `--no-cache` holds for one command (tests run many in one process)
                if sys.stdout is not None:
                    sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        except BrokenPipeError:
            _quiet_exit_on_closed_pipe()
        except LlmarchError as exc:
            if State.debug:
                traceback.print_exc()
            typer.echo(f"error: {printable(_worded(exc))}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt, BrokenPipeError):
            raise
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise _internal_error(exc) from None
            # any path check on an argument the OS refuses to look up (a 131,000-character name)
            name = f"`{printable(shorten(str(exc.filename)))}`" if exc.filename is not None else "a file name"
            typer.echo(f"error: {name}: file name too long", err=True)
            raise typer.Exit(2) from None
        except Exception as exc:  # a bug in llmarch, not bad input
            raise _internal_error(exc) from None

    return wrapper


# The library names its parameters (`context`); a user typed flags (`--ctx`), so errors say the flag.
FLAGS = {
    "context": "--ctx",
    "sequence": "--seq",
    "sweep": "--sweep",
    "batch": "--batch",
    "kv_dtype": "--kv-dtype",
    "state_dtype": "--state-dtype",
    "baseline": "--baseline",
    "gpu": "--gpu",
    "gpus": "--gpus",
    "tp": "--tp",
    "ep": "--ep",
    "weights": "--weights",
    "pairs": "--pairs",
    "name": "--name",
    "output": "-o",
}


def _worded(exc: LlmarchError) -> str:
    return exc.worded(FLAGS) if isinstance(exc, ParameterError) else str(exc)


# what a shell reports for a command that SIGPIPE ended (`yes | head -1`), as C tools end
EXIT_CLOSED_PIPE = 128 + 13


def _quiet_exit_on_closed_pipe():
    """The reader of our stdout went away (`llmarch list | head -1`): stop quietly, as command-line tools do."""
    try:
        # Python flushes stdout once more at exit; point it at /dev/null so that flush cannot fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass
    raise typer.Exit(EXIT_CLOSED_PIPE)


# Integer options: at least 1, and bounded so that no product of them overflows a float downstream
MAX_BATCH = 1 << 24
MAX_GPUS = 1 << 16


def check_count(value: int, option: str, most: int) -> None:
    if value < 1:
        raise LlmarchError(f"{option} {value}: must be at least 1")
    if value > most:
        raise LlmarchError(f"{option} {shorten(str(value))}: must be at most {most:,}")


def resolve_format(format: Optional[Format], output: Optional[str]) -> Format:
    if format is not None:
        return format
    if not is_stdout(output):
        from pathlib import Path

        suffix = Path(output).suffix.lower()
        if suffix not in EXTENSIONS:
            raise LlmarchError(f"cannot tell the format of `{shorten(output)}` from its extension; give --format")
        return EXTENSIONS[suffix]
    return Format.table


def write_answer(text: str | bytes, output: Optional[str]) -> None:
    """The answer to stdout (no -o, or `-o -`), or atomically to a file."""
    if is_stdout(output):
        out = stdout_stream()
        if isinstance(text, bytes):
            out.flush()
            out.buffer.write(text)
        else:
            out.write(text)
        return
    from .render.output import write_file

    write_file(output, text)
    typer.echo(f"wrote {printable(output)}", err=True)


def stdout_stream():
    if sys.stdout is None:  # started with stdout closed (`>&-`): say so rather than lose the answer silently
        raise LlmarchError("cannot write the answer: standard output is closed; give -o FILE")
    return sys.stdout


def emit(format: Format, output: Optional[str], data: dict, doc_fn, title: str = "llmarch") -> None:
    """Render one answer: JSON from `data`, every other format from the document `doc_fn()` builds; the
    answer's warnings go to stderr in every format (JSON carries them in its `warnings` list too)."""
    for warning in data.get("warnings", []):
        typer.echo(f"warning: {printable(warning)}", err=True)
    if format == Format.json:
        write_answer(json.dumps(data, indent=2) + "\n", output)
        return
    from .render import doc as render

    doc = doc_fn()
    if State.quiet:
        doc.notes = []  # the footer; the marks' legend and the warnings stay
    if format == Format.markdown:
        write_answer(render.to_markdown(doc), output)
    elif format == Format.csv:
        write_answer(render.to_csv(doc), output)
    elif format == Format.html:
        write_answer(render.to_html(doc, title), output)
    else:
        from rich.console import Console

        if not is_stdout(output):
            console = Console(file=io.StringIO(), no_color=True, width=120, highlight=False)
            console.print(render.to_rich(doc, 120), crop=False)
            write_answer(console.file.getvalue(), output)
        else:
            from .render.output import terminal_width

            console = Console(file=stdout_stream(), no_color=State.no_color, highlight=False)
            console.width = terminal_width(console.width)
            console.on_broken_pipe = _quiet_exit_on_closed_pipe  # rich's own handler exits 1
            console.print(render.to_rich(doc, console.width), crop=False)


def emit_json(data: dict) -> None:
    stdout_stream().write(json.dumps(data, indent=2) + "\n")


@contextlib.contextmanager
def progress_bar(total: int | None, what: str, many: int = 10):
    """A transient progress display on a terminal's stderr when more than `many` steps are to go (0 for
    steps that each take seconds, as a traced count); yields the callback that advances it, naming the
    step done, or None (no terminal: pipes, files and JSON consumers get nothing, or few steps).  A spinner
    and the elapsed time show that work goes on while a long step runs.  A `total` of None is learnt from
    the first step (`callback(done, total)`: a checkpoint's shard count, known once its index is read)."""
    if sys.stderr is None or not sys.stderr.isatty() or (total is not None and total <= many):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    from rich.console import Console

    # on stderr: rich's default console is stdout, which holds the answer (and may be a pipe)
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(what, total=total)

        def step(done: str, steps: int | None = None) -> None:
            bar.update(task, advance=1, total=steps or bar.tasks[0].total, description=f"{what} (done: {done})")

        yield step


def load_registry(spec_path: Optional[List[str]]):
    from .api import registry

    reg = registry(spec_path)
    for notice in reg.notices:
        typer.echo(notice, err=True)
    reg.sink = lambda notice: typer.echo(notice, err=True)
    return reg


def bypass_cache(no_cache: bool) -> None:
    """`--no-cache`: the whole build cache is off for this run (resolved IRs and folder indexes too)."""
    if no_cache:
        from . import cache as buildcache

        buildcache.bypass()


def load_models(names: List[str], spec_path: Optional[List[str]], sets: Optional[List[str]] = None) -> list:
    """The prelude of every command over named models: the registry (its notices on stderr), then each IR."""
    from .api import load

    load_registry(spec_path)
    return [load(n, spec_path, sets) for n in names]


def emit_answer(format: Optional[Format], output: Optional[str], data: dict, doc_fn, title: str) -> None:
    """Emit one answer in the format asked for, or the one -o's extension names."""
    emit(resolve_format(format, output), output, data, doc_fn, title)


def prepare_process() -> None:
    """What the command line sets up once per process, before parsing its arguments."""
    reserve_standard_streams()
    # a command's objects (parsed specs, IRs, tables) mostly live until it exits, so the cyclic collector's
    # young-generation pass every 700 new containers finds almost nothing; every 10,000 it walks the same
    # objects a fourteenth as often (a tenth of `report`'s time over 200 specs went there). Garbage cycles
    # wait for at most that many allocations longer: memory stays bounded
    gc.set_threshold(10_000, *gc.get_threshold()[1:])


def reserve_standard_streams() -> None:
    """Started with stdin, stdout or stderr closed (`<&-`): hold the descriptor open on /dev/null, so that
    a file opened later (an -o temporary file) cannot land on descriptor 1 and take stray writes."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


class SchemaCommand(HelpCommand):
    """`schema --output` without a file once chose the answers' schema (--output was a flag); until the
    next release a bare --output still does, with a deprecation warning, and `--output FILE` writes FILE."""

    def parse_args(self, ctx, args):
        for i, arg in enumerate(args):
            if arg == "--output" and (i + 1 == len(args) or args[i + 1].startswith("-") and args[i + 1] != "-"):
                typer.echo("warning: `schema --output` without a file is deprecated; use `schema --answers`", err=True)
                args = args[:i] + ["--answers"] + args[i + 1 :]
                break
        return super().parse_args(ctx, args)
