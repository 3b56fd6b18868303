"""The `llmarch` command line: a thin layer over `llmarch.api`.

Data goes to stdout, messages to stderr.  Every user-input failure is a
`LlmarchError`, caught once here: one paragraph on stderr, exit code 2.
torch is imported only by commands that build a module (show, compare).
"""

from __future__ import annotations

import errno
import io
import json
import os
import sys
import traceback
from enum import Enum
from functools import wraps
from typing import List, Optional

import typer
from typer.core import TyperCommand

from . import __version__
from .errors import LlmarchError, ParameterError, shorten
from .output import is_stdout, printable

app = typer.Typer(
    help="Compare LLM architectures from YAML specs: parameters, active parameters, side-by-side tables.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


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


class _State:
    spec_path: list[str] = []
    no_color = False
    debug = False


SpecPathOpt = typer.Option(None, "--spec-path", help="Extra folder of spec files (repeatable); also LLMARCH_SPEC_PATH.")
SetOpt = typer.Option(
    None, "--set", help="What-if edit, repeatable: --set attention.n_kv_heads=4 (validated like a spec)."
)
FormatOpt = typer.Option(
    None, "--format", "-f", help="table | markdown | json | csv | html (default: table, or from -o's extension)."
)
NoCacheOpt = typer.Option(
    False, "--no-cache", help="Build and count on meta now instead of using the build cache (see `llmarch cache`)."
)
OutputOpt = typer.Option(
    None,
    "--output",
    "-o",
    help="Write to FILE instead of stdout (.md, .json, .csv, .html, .txt), atomically; `-o -` is stdout.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"llmarch {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    no_color: bool = typer.Option(False, "--no-color", help="Plain text without colour (also when not a terminal)."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on internal errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    _State.no_color = no_color
    _State.debug = debug


def _internal_error(exc: Exception) -> typer.Exit:
    if _State.debug:
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
                cache = sys.modules.get("llmarch.buildcache")  # not imported by commands that never use it
                if cache is not None:
                    cache.end_bypass()  # `--no-cache` holds for one command (tests run many in one process)
                if sys.stdout is not None:
                    sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        except BrokenPipeError:
            _quiet_exit_on_closed_pipe()
        except LlmarchError as exc:
            if _State.debug:
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


def _check_count(value: int, option: str, most: int) -> None:
    if value < 1:
        raise LlmarchError(f"{option} {value}: must be at least 1")
    if value > most:
        raise LlmarchError(f"{option} {shorten(str(value))}: must be at most {most:,}")


def _resolve_format(format: Optional[Format], output: Optional[str]) -> Format:
    if format is not None:
        return format
    if not is_stdout(output):
        from pathlib import Path

        suffix = Path(output).suffix.lower()
        if suffix not in EXTENSIONS:
            raise LlmarchError(f"cannot tell the format of `{shorten(output)}` from its extension; give --format")
        return EXTENSIONS[suffix]
    return Format.table


def _write(text: str | bytes, output: Optional[str]) -> None:
    """The answer to stdout (no -o, or `-o -`), or atomically to a file."""
    if is_stdout(output):
        out = _stdout()
        if isinstance(text, bytes):
            out.flush()
            out.buffer.write(text)
        else:
            out.write(text)
        return
    from .output import write_file

    write_file(output, text)
    typer.echo(f"wrote {printable(output)}", err=True)


def _stdout():
    if sys.stdout is None:  # started with stdout closed (`>&-`): say so rather than lose the answer silently
        raise LlmarchError("cannot write the answer: standard output is closed; give -o FILE")
    return sys.stdout


def _emit(format: Format, output: Optional[str], data: dict, doc_fn, title: str = "llmarch") -> None:
    """Render one answer: JSON from `data`, every other format from the document `doc_fn()` builds; the
    answer's warnings go to stderr in every format (JSON carries them in its `warnings` list too)."""
    for warning in data.get("warnings", []):
        typer.echo(f"warning: {printable(warning)}", err=True)
    if format == Format.json:
        _write(json.dumps(data, indent=2) + "\n", output)
        return
    from .render import doc as render

    doc = doc_fn()
    if format == Format.markdown:
        _write(render.to_markdown(doc), output)
    elif format == Format.csv:
        _write(render.to_csv(doc), output)
    elif format == Format.html:
        _write(render.to_html(doc, title), output)
    else:
        from rich.console import Console

        if not is_stdout(output):
            console = Console(file=io.StringIO(), no_color=True, width=120, highlight=False)
            console.print(render.to_rich(doc))
            _write(console.file.getvalue(), output)
        else:
            from .output import terminal_width

            console = Console(file=_stdout(), no_color=_State.no_color, highlight=False)
            console.width = terminal_width(console.width)
            console.on_broken_pipe = _quiet_exit_on_closed_pipe  # rich's own handler exits 1
            console.print(render.to_rich(doc))


def _emit_json(data: dict) -> None:
    _stdout().write(json.dumps(data, indent=2) + "\n")


def _registry(spec_path: Optional[List[str]]):
    from .api import registry

    reg = registry(spec_path)
    for notice in reg.notices:
        typer.echo(notice, err=True)
    reg.sink = lambda notice: typer.echo(notice, err=True)
    return reg


def _bypass_cache(no_cache: bool) -> None:
    """`--no-cache`: the whole build cache is off for this run (resolved IRs and folder indexes too)."""
    if no_cache:
        from . import buildcache

        buildcache.bypass()


def _models(names: List[str], spec_path: Optional[List[str]], sets: Optional[List[str]] = None) -> list:
    """The prelude of every command over named models: the registry (its notices on stderr), then each IR."""
    from .api import load

    _registry(spec_path)
    return [load(n, spec_path, sets) for n in names]


def _beyond(irs: list, counts: list, sweep_tokens: list | None = None) -> list[str]:
    """The warnings of every model for every token count past its context length (sweep points included)."""
    from .caveats import beyond_context

    points = counts + [("sweep point", t) for t in sweep_tokens or []]
    return [w for ir in irs for w in beyond_context(ir, points)]


def _answer(format: Optional[Format], output: Optional[str], data: dict, doc_fn, title: str) -> None:
    """Emit one answer in the format asked for, or the one -o's extension names."""
    _emit(_resolve_format(format, output), output, data, doc_fn, title)


@app.command("list")
@guarded
def list_cmd(
    family: Optional[str] = typer.Option(None, "--family", help="Only models of this family."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
) -> None:
    """List the known specs with their total and active parameters (closed form, no torch).

    Example: llmarch list --family qwen3
    """
    from .api import envelope, load
    from .facts import facts
    from .params import count_params

    reg = _registry(spec_path)
    rows = []
    good = []
    for name in reg.names():
        try:
            ir = load(name, spec_path)
        except LlmarchError as exc:
            typer.echo(f"warning: skipped {exc}", err=True)  # one broken spec does not hide the others
            continue
        good.append(ir)
        if family and (ir.family or "") != family:
            continue
        c = count_params(ir)
        attention_text = next((f.text for f in facts(ir) if f.key == "attention"), "—")
        rows.append(
            {
                "name": name,
                "display_name": ir.display_name,
                "family": ir.family,
                "total": c.total,
                "active": c.active,
                "attention": attention_text,
                "aliases": list(ir.aliases),
            }
        )
    if family and not rows:
        families = sorted({ir.family or "" for ir in good})
        raise LlmarchError(f"no spec of family `{shorten(family)}`; families: {', '.join(f for f in families if f)}")
    from .render.table import list_doc

    _answer(format, output, envelope("list", rows), lambda: list_doc(rows), "llmarch list")


@app.command()
@guarded
def show(
    name: str = typer.Argument(..., help="Spec name, alias or file path."),
    layers: bool = typer.Option(False, "--layers", help="Print the per-layer map."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Architecture facts and the parameter breakdown of one model (built on the meta device).

    Example: llmarch show deepseek-v3 --layers
    """
    from .api import checked_params, describe, envelope
    from .reference import check_references
    from .render.table import layer_map

    _bypass_cache(no_cache)
    (ir,) = _models([name], spec_path, sets)
    count = checked_params(ir, use_cache=not no_cache)
    model = describe(ir, count)
    model["references"] = [
        {
            "figure": c.key,
            "published": c.published,
            "computed": c.computed,
            "convention": c.convention,
            "ok": c.ok,
            "source": c.reference.source,
        }
        | ({"kv_per_token_config": c.documented} if c.documented else {})
        for c in check_references(ir, count)
    ]
    if layers:
        model["layer_map"] = layer_map(ir)
    from .render.table import show_doc

    _answer(
        format,
        output,
        envelope("show", [model]),
        lambda: show_doc(ir, count, model, layers=layers),
        f"llmarch show {ir.name}",
    )


@app.command()
@guarded
def compare(
    names: List[str] = typer.Argument(..., help="Two or more spec names, aliases or file paths."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Side-by-side architecture table; differing values highlighted.

    Example: llmarch compare qwen3-235b deepseek-v3
    """
    from .api import checked_params
    from .api import compare as compare_models

    if len(names) < 2:
        raise LlmarchError("compare needs at least two models, e.g. `llmarch compare qwen3-235b deepseek-v3`")
    _bypass_cache(no_cache)
    irs = _models(names, spec_path, sets)
    counts = [checked_params(ir, use_cache=not no_cache) for ir in irs]
    result = compare_models(irs, counts)
    from .render.table import compare_doc

    _answer(
        format,
        output,
        result,
        lambda: compare_doc(irs, result),
        "llmarch compare " + " vs ".join(ir.name for ir in irs),
    )


@app.command()
@guarded
def kvcache(
    names: List[str] = typer.Argument(..., help="One or more spec names, aliases or file paths."),
    ctx: str = typer.Option(
        "128k", "--ctx", help="Context length in tokens: an integer, or k/m suffixes with k = 1024 (128k = 131,072)."
    ),
    batch: int = typer.Option(1, "--batch", help="Sequences; multiplies the total."),
    kv_dtype: str = typer.Option(
        "bf16", "--kv-dtype", help="bf16 | fp16 | fp8 | int8 | int4 | fp32 (nominal bits, no scales)."
    ),
    state_dtype: str = typer.Option(
        "fp32", "--state-dtype", help="Dtype of linear-attention / SSM state: fp32 | bf16."
    ),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Comma-separated contexts, e.g. 1k,4k,32k,128k,1m."),
    plot: Optional[str] = typer.Option(
        None, "--plot", help="Write cache size against context to FILE.png or FILE.svg."
    ),
    baseline_kind: Optional[str] = typer.Option(
        None, "--baseline", help="global (no windows, linear layers as full attention) or mha."
    ),
    explain: bool = typer.Option(False, "--explain", help="Print each number with its formula."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
) -> None:
    """KV-cache memory of one sequence at a context length, per layer kind (closed form, no torch).

    Example: llmarch kvcache gemma3 --ctx 128k --baseline global
    """
    from .api import envelope
    from .kvcache import CONVENTIONS, baseline, dtype_bytes, kv_cache
    from .units import parse_tokens

    ctx_tokens = parse_tokens(ctx, "context")
    _check_count(batch, "--batch", MAX_BATCH)
    dtype_bytes(kv_dtype)
    dtype_bytes(state_dtype, "state_dtype")
    if state_dtype not in ("fp32", "bf16"):
        raise LlmarchError(f"--state-dtype must be fp32 or bf16, got `{state_dtype}`")
    sweep_tokens = [parse_tokens(t, "sweep") for t in sweep.split(",") if t.strip()] if sweep else []
    if plot and not plot.endswith((".png", ".svg")):
        raise LlmarchError(f"--plot `{plot}`: the file must end in .png or .svg")
    irs = _models(names, spec_path, sets)
    results = []
    for ir in irs:
        r = kv_cache(ir, ctx_tokens, batch, kv_dtype, state_dtype)
        if baseline_kind:
            r.baseline = baseline(ir, r, baseline_kind)
        for t in sweep_tokens:
            r.sweep.append({"ctx_tokens": t, "total_bytes": kv_cache(ir, t, batch, kv_dtype, state_dtype).total_bytes})
        results.append(r)
    if plot:
        try:
            from .render.plot import plot_kv

            plot_kv(results, sweep_tokens or [ctx_tokens], plot)
        except ImportError:
            raise LlmarchError("--plot needs matplotlib (pip install matplotlib)") from None
        typer.echo(f"wrote {printable(plot)}", err=True)
    models = [{"name": ir.name, "display_name": ir.display_name, **r.as_dict()} for ir, r in zip(irs, results)]
    from .render.kv import kv_doc

    _answer(
        format,
        output,
        envelope(
            "kvcache",
            models,
            conventions=dict(CONVENTIONS),
            warnings=_beyond(irs, [("context", ctx_tokens)], sweep_tokens),
        ),
        lambda: kv_doc(irs, results, explain=explain),
        "llmarch kvcache",
    )


class Counter(str, Enum):
    analytic = "analytic"
    torch = "torch"
    fvcore = "fvcore"
    all = "all"


@app.command()
@guarded
def flops(
    names: List[str] = typer.Argument(..., help="One or more spec names, aliases or file paths."),
    seq: str = typer.Option("4096", "--seq", help="Prefill length in tokens (k = 1024)."),
    ctx: str = typer.Option("32k", "--ctx", help="Context of the decode step in tokens (k = 1024)."),
    batch: int = typer.Option(1, "--batch", help="Sequences."),
    last_token_logits: bool = typer.Option(
        False, "--last-token-logits", help="Prefill computes logits for the last token only."
    ),
    counter: Counter = typer.Option(
        Counter.analytic, "--counter", help="analytic (closed form), torch (FlopCounterMode), fvcore, or all."
    ),
    sweep: Optional[str] = typer.Option(
        None, "--sweep", help="Decode FLOPs per token and bytes read against context, e.g. 1k,8k,32k,128k."
    ),
    explain: bool = typer.Option(False, "--explain", help="Print the conventions and each component's formula."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """FLOPs of a prefill and of one decode step, by component; analytic and traced counts side by side.

    Example: llmarch flops deepseek-v3 qwen3-235b --seq 4096 --counter all
    """
    from .api import envelope
    from .flops_report import flops_model
    from .units import parse_tokens

    seq_tokens, ctx_tokens = parse_tokens(seq, "sequence"), parse_tokens(ctx, "context")
    _check_count(batch, "--batch", MAX_BATCH)
    if seq_tokens > 1 << 20:
        raise LlmarchError(f"--seq {seq_tokens:,} is above the limit of 1,048,576 tokens")
    sweep_tokens = [parse_tokens(t, "sweep") for t in sweep.split(",") if t.strip()] if sweep else []
    counters = (
        ["torch", "fvcore"] if counter == Counter.all else ([] if counter == Counter.analytic else [counter.value])
    )
    _bypass_cache(no_cache)
    irs = _models(names, spec_path, sets)
    models = [
        flops_model(ir, seq_tokens, ctx_tokens, batch, last_token_logits, counters, sweep_tokens, not no_cache)
        for ir in irs
    ]
    from .flops import CONVENTIONS
    from .render.flops import flops_doc

    _answer(
        format,
        output,
        envelope(
            "flops",
            models,
            conventions=dict(CONVENTIONS),
            warnings=_beyond(irs, [("prefill", seq_tokens), ("decode context", ctx_tokens)], sweep_tokens),
        ),
        lambda: flops_doc(irs, models, explain=explain),
        "llmarch flops",
    )


@app.command()
@guarded
def report(
    targets: Optional[List[str]] = typer.Argument(
        None, help="Spec names, files or folders (default: every known spec)."
    ),
    pairs: Optional[str] = typer.Option(
        None, "--pairs", help="Pairwise comparisons, e.g. deepseek-v3:kimi-k2,qwen3-8b:olmo-3-7b."
    ),
    ctx: str = typer.Option("128k", "--ctx", help="Context for the KV-cache column (k = 1024)."),
    seq: str = typer.Option("4096", "--seq", help="Prefill length for the FLOPs column."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
) -> None:
    """One document over many specs: summary table, pairwise comparisons, conventions (no torch).

    Example: llmarch report specs/ --pairs deepseek-v3:kimi-k2 --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from .report import build_report, expand_targets, parse_pairs, report_doc
    from .units import parse_tokens

    reg = _registry(spec_path)
    names = expand_targets(list(targets or []), spec_path, warn=lambda notice: typer.echo(notice, err=True))
    ctx_tokens, seq_tokens = parse_tokens(ctx, "context"), parse_tokens(seq, "sequence")
    pair_list = parse_pairs(pairs)
    if sys.stderr is not None and sys.stderr.isatty() and len(names) > 10:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("analysing", total=len(names))
            data = build_report(
                names, pair_list, ctx_tokens, seq_tokens, spec_path, progress=lambda _: bar.advance(task)
            )
    else:
        data = build_report(names, pair_list, ctx_tokens, seq_tokens, spec_path)
    if not targets and reg.broken:
        # every known name was asked for: the files skipped while scanning the spec folders failed too
        skipped = [{"target": str(exc.file), "error": str(exc)} for exc in reg.broken.values()]
        data["errors"] = data.get("errors", []) + skipped
    fmt = _resolve_format(format, output)
    _emit(
        # piped with no --format: markdown, for `>> "$GITHUB_STEP_SUMMARY"`; an explicit `-f table` is a table
        Format.markdown if format is None and is_stdout(output) and not _stdout().isatty() else fmt,
        output,
        data,
        lambda: report_doc(data, spec_path),
        "llmarch report",
    )
    if data.get("errors"):
        # the good specs are reported above; a failed one still fails the run (a CI gate must notice)
        for failure in data["errors"]:
            typer.echo(f"error: {failure['error']}", err=True)
        raise typer.Exit(2)


@app.command()
@guarded
def check(
    spec: str = typer.Argument(..., help="Spec name, alias or file path."),
    max_total: Optional[str] = typer.Option(None, "--max-total", help="Ceiling on total parameters, e.g. 8B."),
    max_active: Optional[str] = typer.Option(None, "--max-active", help="Ceiling on active parameters, e.g. 2B."),
    max_kv: Optional[str] = typer.Option(None, "--max-kv", help="KV bytes at a context, e.g. 4GiB@128k."),
    max_prefill: Optional[str] = typer.Option(None, "--max-prefill-flops-per-token", help="e.g. 20G@4096."),
    max_decode: Optional[str] = typer.Option(None, "--max-decode-flops-per-token", help="e.g. 20G@32k."),
    budgets_file: Optional[str] = typer.Option(
        None, "--budgets", help="A YAML file of budgets (the keys of a spec's `budgets:` block)."
    ),
    spec_path: Optional[List[str]] = SpecPathOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
) -> None:
    """Gate an architecture on budgets: exit 0 when all hold, 1 when one fails, 2 on bad input.

    Budgets come from the options, a --budgets file and the spec's own `budgets:` block (options win).
    Example: llmarch check my-model.yaml --max-total 8B --max-kv 4GiB@128k
    """
    from .api import envelope
    from .budgets import KINDS, parse_budget
    from .budgets import check as run_check
    from .render.doc import Cell, Doc, DocTable

    (ir,) = _models([spec], spec_path)
    texts: dict[str, str] = dict(ir.budgets)
    if budgets_file:
        from pathlib import Path

        from .yamlsafe import load_file

        located = load_file(Path(budgets_file))
        for key, value in located.data.items():
            if str(key).replace("-", "_") not in KINDS:
                from .errors import did_you_mean

                raise located.error((key,), f"unknown budget `{key}`", did_you_mean(str(key), KINDS))
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                # a YAML float has already lost digits (and `true` is no budget): ask for the text
                raise located.error((key,), f"expected a budget such as `8B` or `4GiB@128k`, got {value!r}")
            try:
                parse_budget(str(key), str(value))
            except LlmarchError as exc:
                raise located.error((key,), str(exc)) from None
            texts[str(key).replace("-", "_")] = str(value)
    for kind, value in zip(KINDS, (max_total, max_active, max_kv, max_prefill, max_decode)):
        if value is not None:
            texts[kind] = value
    if not texts:
        raise LlmarchError(
            "no budgets: give --max-total, --max-active, --max-kv, --max-prefill-flops-per-token, "
            "--max-decode-flops-per-token, --budgets FILE, or a `budgets:` block in the spec"
        )
    verdicts = run_check(ir, [parse_budget(k, v) for k, v in texts.items()])
    data = envelope(
        "check",
        [
            {
                "name": ir.name,
                "display_name": ir.display_name,
                "ok": all(v.ok for v in verdicts),
                "budgets": [
                    {
                        "budget": v.budget.kind,
                        "limit": v.budget.limit,
                        "at_tokens": v.budget.at_tokens,
                        "text": v.budget.text,
                        "measured": v.measured,
                        "ok": v.ok,
                    }
                    for v in verdicts
                ],
            }
        ],
    )

    def doc():
        t = DocTable(f"{ir.display_name}: budgets", ["budget", "limit", "measured", "verdict"], right={2})
        for v in verdicts:
            verdict = "ok" if v.ok else f"FAIL: over by {v.over_by:.1%}"
            t.rows.append(
                [
                    Cell(v.budget.kind),
                    Cell(v.budget.text),
                    Cell(f"{v.measured:,}", v.measured),
                    Cell(verdict, style="green" if v.ok else "bold red"),
                ]
            )
        return Doc(
            [t],
            notes=[
                "parameter and FLOP suffixes decimal (B = 1e9, G = 1e9); bytes binary (GiB = 1024^3); "
                "k = 1024 tokens; measures are closed form (see `llmarch flops` / `kvcache`)"
            ],
        )

    _answer(format, output, data, doc, f"llmarch check {ir.name}")
    if not all(v.ok for v in verdicts):
        raise typer.Exit(1)


@app.command()
@guarded
def diagram(
    names: List[str] = typer.Argument(..., help="One or more spec names, aliases or file paths."),
    output: str = typer.Option(
        ...,
        "--output",
        "-o",
        help="FIGURE.svg, FIGURE.png or FIGURE.html, written atomically; `-o -` is SVG on stdout.",
    ),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
) -> None:
    """Side-by-side block diagrams like the article's figures; blocks matched by kind, differences highlighted.

    Example: llmarch diagram deepseek-v3 llama-4-maverick -o fig.svg
    """
    from .diagram import render_figure

    if not is_stdout(output) and not output.endswith((".svg", ".png", ".html")):
        raise LlmarchError(
            f"`{shorten(output)}`: the figure must end in .svg, .png or .html (or `-o -` for SVG on stdout)"
        )
    irs = _models(names, spec_path, sets)
    # PNG is drawn by matplotlib (a dependency) from the same layout as the SVG: no optional package
    figure = render_figure(irs, ".svg" if is_stdout(output) else output)
    _write(figure, output)


@app.command()
@guarded
def serve(
    names: List[str] = typer.Argument(..., help="One or more spec names, aliases or file paths."),
    gpu: str = typer.Option(
        "h100-sxm",
        "--gpu",
        help="Hardware profile name or YAML file "
        "(h100-sxm, h200, b200, a100-80gb, mi300x, l40s, rtx-4090, m3-max, m4-max).",
    ),
    gpus: int = typer.Option(1, "--gpus", help="GPUs holding one model replica."),
    tp: Optional[int] = typer.Option(None, "--tp", help="Tensor-parallel degree (default: --gpus / --ep)."),
    ep: int = typer.Option(1, "--ep", help="Expert-parallel degree."),
    ctx: str = typer.Option("128k", "--ctx", help="Context per sequence (k = 1024)."),
    batch: int = typer.Option(16, "--batch", help="Concurrent sequences."),
    weights: str = typer.Option("shipped", "--weights", help="shipped | bf16 | fp8 | mxfp4 | int4."),
    kv_dtype: str = typer.Option("bf16", "--kv-dtype", help="bf16 | fp8 | ..."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
) -> None:
    """Will it fit, and how fast can it decode: memory per GPU, verdict, roofline bounds (no torch).

    Example: llmarch serve deepseek-v3 --gpu h100-sxm --gpus 8 --ctx 128k --batch 8
    """
    from .api import envelope
    from .render import fmt as f
    from .render.doc import Cell, Doc, DocTable
    from .serve import CONVENTIONS, Plan, load_gpu
    from .serve import serve as run_serve
    from .units import parse_tokens

    _check_count(batch, "--batch", MAX_BATCH)
    _check_count(gpus, "--gpus", MAX_GPUS)
    _check_count(ep, "--ep", MAX_GPUS)
    if tp is not None:
        _check_count(tp, "--tp", MAX_GPUS)
    profile = load_gpu(gpu)
    plan = Plan(gpus=gpus, tp=tp if tp is not None else max(1, gpus // ep), ep=ep)
    ctx_tokens = parse_tokens(ctx, "context")
    irs = _models(names, spec_path, sets)
    models = [run_serve(ir, profile, plan, ctx_tokens, batch, weights, kv_dtype) for ir in irs]

    def doc():
        t = DocTable(
            f"Serving on {plan.gpus} x {profile.display_name} (TP {plan.tp}, EP {plan.ep}), "
            f"batch {batch} x {ctx_tokens:,} tokens",
            [""] + [m["name"] for m in models],
            right=set(range(1, len(models) + 1)),
        )

        def row(label, fn):
            t.rows.append([Cell(label)] + [fn(m) for m in models])

        row(
            "weights / GPU",
            lambda m: Cell(f.nbytes(m["memory_per_gpu"]["weights_bytes"]), m["memory_per_gpu"]["weights_bytes"]),
        )
        row(
            "KV cache / GPU", lambda m: Cell(f.nbytes(m["memory_per_gpu"]["kv_bytes"]), m["memory_per_gpu"]["kv_bytes"])
        )
        row(
            "allowance / GPU",
            lambda m: Cell(f.nbytes(m["memory_per_gpu"]["allowance_bytes"]), m["memory_per_gpu"]["allowance_bytes"]),
        )
        row(
            "total / capacity",
            lambda m: Cell(
                f"{f.nbytes(m['memory_per_gpu']['total_bytes'])} / {f.nbytes(m['memory_per_gpu']['capacity_bytes'])}",
                m["memory_per_gpu"]["total_bytes"],
            ),
        )
        row(
            "verdict",
            lambda m: Cell("fits" if m["fits"] else "does not fit", style="green" if m["fits"] else "bold red"),
        )
        row(
            "largest batch at this context",
            lambda m: Cell(
                f"{m['max_batch_at_ctx']:,}" if m["max_batch_at_ctx"] is not None else "unbounded",
                m["max_batch_at_ctx"],
            ),
        )
        row(
            "longest context at this batch",
            lambda m: Cell(
                f"{m['max_ctx_at_batch']:,}"
                + (" (context length)" if m["max_ctx_limited_by"] == "context_length" else ""),
                m["max_ctx_at_batch"],
            ),
        )
        t.section()
        row(
            "decode: bytes / step / GPU",
            lambda m: Cell(
                f.nbytes(m["decode_roofline"]["bytes_per_step_per_gpu"]), m["decode_roofline"]["bytes_per_step_per_gpu"]
            ),
        )
        row(
            "decode: FLOPs / step / GPU",
            lambda m: Cell(
                f"{m['decode_roofline']['flops_per_step_per_gpu'] / 1e9:,.1f} G",
                m["decode_roofline"]["flops_per_step_per_gpu"],
            ),
        )
        row(
            "decode: step time >=",
            lambda m: Cell(
                f"{m['decode_roofline']['step_time_lower_bound_s'] * 1e3:,.2f} ms ({m['decode_roofline']['binding']})"
            ),
        )
        row("decode: tokens/s <=", lambda m: Cell(f"{m['decode_roofline']['tokens_per_s_upper_bound']:,.0f}"))
        row("arithmetic intensity", lambda m: Cell(f"{m['decode_roofline']['arithmetic_intensity']:,.1f} FLOP/B"))
        row(
            "experts read / MoE layer",
            lambda m: Cell(
                "—"
                if m["decode_roofline"]["experts_read_per_layer"] is None
                else f"{m['decode_roofline']['experts_read_per_layer']:.1f}"
            ),
        )
        row(
            f"prefill {models[0]['prefill_roofline']['tokens']:,} tokens >=",
            lambda m: Cell(
                f"{m['prefill_roofline']['time_lower_bound_s']:,.2f} s ({m['prefill_roofline']['binding']})"
            ),
        )
        return Doc([t], notes=[f"{k}: {v}" for k, v in CONVENTIONS.items()] + [f"hardware: {profile.source}"])

    _answer(
        format,
        output,
        envelope("serve", models, conventions=dict(CONVENTIONS), warnings=_beyond(irs, [("context", ctx_tokens)])),
        doc,
        "llmarch serve",
    )


class CacheAction(str, Enum):
    info = "info"
    clear = "clear"


@app.command("cache")
@guarded
def cache_cmd(
    action: CacheAction = typer.Argument(CacheAction.info, help="info (where, how many entries, how big) or clear."),
    format: Optional[Format] = FormatOpt,
) -> None:
    """Show or empty the build cache: module-walk counts and traced FLOP counts kept between runs.

    The cache lives in $LLMARCH_CACHE_DIR, else $XDG_CACHE_HOME/llmarch, else ~/.cache/llmarch;
    LLMARCH_NO_CACHE=1 or --no-cache on a command bypasses it. Entries are keyed by the resolved spec,
    llmarch's source and torch's version, so they never go stale.

    Example: llmarch cache clear
    """
    from . import buildcache

    if action == CacheAction.clear:
        removed = buildcache.clear()
        typer.echo(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'} from {buildcache.cache_dir()}")
        return
    data = buildcache.info()
    if format == Format.json:
        _emit_json(data)
        return
    state = "on" if data["enabled"] else f"off ({buildcache.ENV_OFF} is set)"
    typer.echo(f"folder   {data['folder'] or '(none: no home folder)'}")
    typer.echo(f"cache    {state}")
    typer.echo(f"entries  {data['entries']:,} ({data['bytes']:,} bytes; trimmed to {data['max_bytes']:,})")


@app.command()
@guarded
def verify(
    spec: str = typer.Argument(..., help="Spec name, alias or file path."),
    checkpoint: str = typer.Argument(
        ..., help="A checkpoint folder, its model.safetensors.index.json, or one .safetensors."
    ),
    model_type: Optional[str] = typer.Option(
        None, "--model-type", help="The checkpoint's tensor naming, where no config.json beside it names it."
    ),
    limit: int = typer.Option(
        20, "--limit", help="Tensors listed per kind of difference in the table (JSON lists all)."
    ),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
) -> None:
    """Hold a spec against a safetensors checkpoint, reading only the shards' headers (never the weights).

    Exit 0 when they agree, 1 when they differ (each difference listed), 2 on bad input.
    Example: llmarch verify qwen3-8b ~/models/Qwen3-8B
    """
    from .api import envelope, load
    from .verify import read_checkpoint
    from .verify import verify as run_verify
    from .verify.report import verify_doc

    _check_count(limit, "--limit", 1 << 20)
    _registry(spec_path)
    ir = load(spec, spec_path, sets)
    ckpt = read_checkpoint(checkpoint)
    model = run_verify(ir, ckpt, model_type)
    _emit(
        _resolve_format(format, output),
        output,
        envelope("verify", [model]),
        lambda: verify_doc(model, limit),
        f"llmarch verify {ir.name}",
    )
    if not model["agree"]:
        raise typer.Exit(1)


@app.command("import-hf")
@guarded
def import_hf(
    config: str = typer.Argument(
        ..., help="A Hugging Face config.json, or a checkpoint folder (its spec is then verified against the shards)."
    ),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write the spec to FILE (YAML) instead of stdout."
    ),
    name: Optional[str] = typer.Option(
        None,
        "--name",
        help="The spec's name (default: -o's file name, which must be a valid name, else the config's folder).",
    ),
) -> None:
    """Turn a Hugging Face config.json into a llmarch spec (YAML), recording every default it applied.

    Unknown keys, unsupported model types and features llmarch cannot represent are errors (exit 2).
    Given a checkpoint folder, the spec written is held against its shards' headers (exit 1 when they differ).
    Example: llmarch import-hf Qwen3-8B/config.json -o qwen3-8b.yaml && llmarch show qwen3-8b.yaml
    """
    from pathlib import Path

    from .import_hf import clean_name, import_file, spec_yaml

    rule = "a spec's name is lowercase letters, digits, `.` and `-` (at most 64), and equals its file name"
    if name is not None and clean_name(name) != name:
        raise LlmarchError(f"--name `{shorten(name)}` is not a spec name: {rule}; e.g. `{clean_name(name)}`")
    if not is_stdout(output):
        # a spec folder refuses a file whose `name:` differs from its file name, so the two must agree
        path = Path(output)
        stem = path.name[: -len(path.suffix)] if path.suffix else path.name
        suggestion = f"{name or clean_name(stem)}{path.suffix or '.yaml'}"
        if name is not None and name != stem:
            raise LlmarchError(f"--name `{name}` and -o `{shorten(path.name)}` disagree: {rule}; use -o {suggestion}")
        if clean_name(stem) != stem:
            raise LlmarchError(
                f"-o `{shorten(path.name)}`: the file name is not a spec name: {rule}; use -o {suggestion}"
            )
        name = stem
    folder = Path(config) if Path(config).is_dir() else None
    if folder is not None:
        config = str(folder / "config.json")
    imported = import_file(config, name=name)
    text = spec_yaml(imported)
    _write(text, output)
    if folder is not None and _has_shards(folder):
        _verify_imported(text, imported.spec["name"], folder)


def _has_shards(folder) -> bool:
    from .verify.safetensors import INDEX_NAME

    return (folder / INDEX_NAME).is_file() or any(folder.glob("*.safetensors"))


def _verify_imported(text: str, name: str, folder) -> None:
    """import-hf given a checkpoint folder: the spec it wrote, held against the shards there (stderr; exit 1
    when they differ, the spec having been written all the same)."""
    from .resolve import to_ir, validate
    from .verify import read_checkpoint
    from .verify import verify as run_verify
    from .yamlsafe import load_text

    located = load_text(text, f"{name}.yaml")
    answer = run_verify(to_ir(validate(located), located), read_checkpoint(str(folder)))
    counts = {k: len(answer[k]) for k in ("missing", "unexpected", "shape_differences", "dtype_differences")}
    if answer["agree"]:
        typer.echo(f"verified against {folder}: all {answer['tensors']['expected']:,} tensors agree", err=True)
        return
    detail = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n)
    first = (answer["missing"] + answer["unexpected"] + [d["tensor"] for d in answer["shape_differences"]])[:3]
    typer.echo(
        f"the spec differs from the checkpoint in {folder}: {detail} (first: {', '.join(first) or 'dtypes'}); "
        f"run `llmarch verify SPEC {folder}` for the list",
        err=True,
    )
    raise typer.Exit(1)


class _SchemaCommand(TyperCommand):
    """`schema --output` without a file once chose the answers' schema (--output was a flag); until the
    next release a bare --output still does, with a deprecation warning, and `--output FILE` writes FILE."""

    def parse_args(self, ctx, args):
        for i, arg in enumerate(args):
            if arg == "--output" and (i + 1 == len(args) or args[i + 1].startswith("-") and args[i + 1] != "-"):
                typer.echo("warning: `schema --output` without a file is deprecated; use `schema --answers`", err=True)
                args = args[:i] + ["--answers"] + args[i + 1 :]
                break
        return super().parse_args(ctx, args)


@app.command(cls=_SchemaCommand)
@guarded
def schema(
    answers: bool = typer.Option(False, "--answers", help="The schema of `--format json` answers instead."),
    output: Optional[str] = typer.Option(
        None, "--output", "-o", help="Write to FILE instead of stdout, atomically; `-o -` is stdout."
    ),
) -> None:
    """Print a JSON Schema: of the spec format (default), or of `--format json` answers (--answers).

    Example: llmarch schema -o llmarch-spec.schema.json
    """
    if answers:
        from .output_schema import OUTPUT_SCHEMA

        data = OUTPUT_SCHEMA
    else:
        from .schema import Spec

        data = Spec.model_json_schema()
        data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        data["title"] = "llmarch spec"
    _write(json.dumps(data, indent=2) + "\n", output)


def _reserve_standard_streams() -> None:
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


def run() -> None:
    from .output import use_ascii_fallback

    _reserve_standard_streams()
    use_ascii_fallback()
    # --no-color and --debug are accepted anywhere on the line, not only before the command
    argv = sys.argv[1:]
    for flag in ("--no-color", "--debug"):
        if argv and flag in argv[1:] and argv[0] != flag:
            argv = [flag] + [a for a in argv if a != flag]
    app(args=argv, prog_name="llmarch")


if __name__ == "__main__":
    run()
