"""The `llmarch` command line: a thin layer over `llmarch.api`.

Data goes to stdout, messages to stderr.  Every user-input failure is a
`LlmarchError`, caught once here: one paragraph on stderr, exit code 2.
torch is imported only by commands that build a module (show, compare).
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import List, Optional

import typer

from . import __version__, cli_help
from .cli_shared import (
    MAX_BATCH,
    MAX_GPUS,
    Format,
    FormatOpt,
    NoCacheOpt,
    OutputOpt,
    QuietOpt,
    SchemaCommand,
    SetOpt,
    SpecPathOpt,
    State,
    bypass_cache,
    check_count,
    emit,
    emit_answer,
    emit_json,
    global_flags_first,
    guarded,
    load_models,
    load_registry,
    output_option,
    prepare_process,
    progress_bar,
    resolve_format,
    stdout_stream,
    write_answer,
)
from .errors import LlmarchError, shorten
from .import_gguf import import_gguf
from .render.output import is_stdout, printable

app = cli_help.HelpTyper(
    help="Compare LLM architectures from YAML specs: parameters, active parameters, side-by-side tables.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
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
    quiet: bool = QuietOpt,
) -> None:
    State.no_color, State.debug, State.quiet = no_color, debug, quiet


@app.command("list")
@guarded
def list_cmd(
    family: Optional[str] = typer.Option(None, "--family", help="Only models of this family."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
) -> None:
    """List the known specs with their total and active parameters. Closed form, no torch.

    Example: llmarch list --family qwen3
    """
    from .api import listing
    from .render.table import list_doc

    names = load_registry(spec_path).names()
    listed = listing(names, spec_path, family, warn=lambda notice: typer.echo(notice, err=True))
    emit_answer(format, output, listed.as_dict(), lambda: list_doc(listed), "llmarch list")


@app.command()
@guarded
def show(
    name: str = typer.Argument(..., help="Spec name, alias or file path; NAME[k=v,...] is a what-if."),
    layers: bool = typer.Option(False, "--layers", help="Print the per-layer map."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """One model's architecture facts and parameter breakdown. Built on the meta device.

    Example: llmarch show deepseek-v3 --layers
    """
    from .api import checked_params, description, envelope
    from .render.table import show_doc

    bypass_cache(no_cache)
    (ir,) = load_models([name], spec_path, sets)
    shown = description(ir, checked_params(ir, use_cache=not no_cache), layers=layers)
    emit_answer(
        format,
        output,
        envelope("show", [shown.model]),
        lambda: show_doc(ir, shown),
        f"llmarch show {ir.name}",
    )


@app.command()
@guarded
def compare(
    names: List[str] = typer.Argument(..., help="Two or more names, aliases or paths; NAME[k=v,...] is a what-if."),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
    format: Optional[Format] = FormatOpt,
    output: Optional[str] = OutputOpt,
    no_cache: bool = NoCacheOpt,
) -> None:
    """Side-by-side architecture table; differing values highlighted.

    Example: llmarch compare qwen3-235b deepseek-v3
    """
    from .api import checked_params, comparison
    from .render.table import compare_doc

    if len(names) < 2:
        raise LlmarchError("compare needs at least two models, e.g. `llmarch compare qwen3-235b deepseek-v3`")
    bypass_cache(no_cache)
    irs = load_models(names, spec_path, sets)
    counts = [checked_params(ir, use_cache=not no_cache) for ir in irs]
    result = comparison(irs, counts)
    emit_answer(
        format,
        output,
        result.as_dict(),
        lambda: compare_doc(result),
        "llmarch compare " + " vs ".join(ir.name for ir in irs),
    )


@app.command()
@guarded
def kvcache(
    names: List[str] = typer.Argument(..., help="Spec names, aliases or paths; NAME[k=v,...] is a what-if."),
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
        None, "--plot", help="Write cache size against context to FILE.png or FILE.svg (no --sweep: 1k to --ctx)."
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
    """KV-cache memory at a context length, per layer kind. Closed form, no torch.

    Example: llmarch kvcache gemma3 --ctx 128k --baseline global
    """
    from .analyze.kvcache import dtype_bytes
    from .kv_report import kv_command
    from .render.kv import kv_doc
    from .units import parse_tokens

    ctx_tokens = parse_tokens(ctx, "context")
    check_count(batch, "--batch", MAX_BATCH)
    dtype_bytes(kv_dtype)
    dtype_bytes(state_dtype, "state_dtype")
    if state_dtype not in ("fp32", "bf16"):
        raise LlmarchError(f"--state-dtype must be fp32 or bf16, got `{state_dtype}`")
    sweep_tokens = [parse_tokens(t, "sweep") for t in sweep.split(",") if t.strip()] if sweep else []
    if plot and not plot.endswith((".png", ".svg")):
        raise LlmarchError(f"--plot `{plot}`: the file must end in .png or .svg")
    irs = load_models(names, spec_path, sets)
    from .render.plot import default_contexts, plot_kv

    points = (sweep_tokens or default_contexts(ctx_tokens)) if plot else []  # one context is no plot: up to it
    answer = kv_command(irs, ctx_tokens, batch, kv_dtype, state_dtype, baseline_kind, sweep_tokens, ctx, points)
    if plot:
        try:
            plot_kv(answer.plot, points, plot)
        except ImportError:
            raise LlmarchError("--plot needs matplotlib (pip install matplotlib)") from None
        typer.echo(f"wrote {printable(plot)}", err=True)
    emit_answer(format, output, answer.as_dict(), lambda: kv_doc(answer, explain=explain), "llmarch kvcache")


class Counter(str, Enum):
    analytic = "analytic"
    torch = "torch"
    fvcore = "fvcore"
    all = "all"


@app.command()
@guarded
def flops(
    names: List[str] = typer.Argument(..., help="Spec names, aliases or paths; NAME[k=v,...] is a what-if."),
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
    """FLOPs of a prefill and of one decode step, by component. Analytic and traced counts side by side.

    Example: llmarch flops deepseek-v3 qwen3-235b --seq 4096 --counter all
    """
    from .flops_report import flops_command
    from .render.flops import flops_doc
    from .units import parse_tokens

    seq_tokens, ctx_tokens = parse_tokens(seq, "sequence"), parse_tokens(ctx, "context")
    check_count(batch, "--batch", MAX_BATCH)
    if seq_tokens > 1 << 20:
        raise LlmarchError(f"--seq {seq_tokens:,} is above the limit of 1,048,576 tokens")
    sweep_tokens = [parse_tokens(t, "sweep") for t in sweep.split(",") if t.strip()] if sweep else []
    counters = (
        ["torch", "fvcore"] if counter == Counter.all else ([] if counter == Counter.analytic else [counter.value])
    )
    bypass_cache(no_cache)
    irs = load_models(names, spec_path, sets)
    with progress_bar(len(irs) * len(counters), "tracing", many=0) as step:  # each trace takes seconds
        answer = flops_command(
            irs,
            seq_tokens,
            ctx_tokens,
            batch,
            last_token_logits,
            counters,
            sweep_tokens,
            not no_cache,
            step,
            (seq, ctx),
        )
    emit_answer(format, output, answer.as_dict(), lambda: flops_doc(answer, explain=explain), "llmarch flops")


@app.command()
@guarded
def report(
    targets: Optional[List[str]] = typer.Argument(
        None, help="Spec names, files or folders (default: every known spec); NAME[k=v,...] is a what-if."
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
    """One document over many specs: summary, pairs, conventions. No torch.

    Example: llmarch report specs/ --pairs deepseek-v3:kimi-k2 --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    from .render.report import report_doc
    from .report import build_report, expand_targets, parse_pairs
    from .units import parse_tokens

    reg = load_registry(spec_path)
    names = expand_targets(list(targets or []), spec_path, warn=lambda notice: typer.echo(notice, err=True))
    ctx_tokens, seq_tokens = parse_tokens(ctx, "context"), parse_tokens(seq, "sequence")
    pair_list = parse_pairs(pairs)
    with progress_bar(len(names), "analysing") as step:
        data = build_report(names, pair_list, ctx_tokens, seq_tokens, spec_path, progress=step)
    if not targets and reg.broken:
        # every known name was asked for: the files skipped while scanning the spec folders failed too
        data.errors += [{"target": str(exc.file), "error": str(exc)} for exc in reg.broken.values()]
    fmt = resolve_format(format, output)
    emit(
        # piped with no --format: markdown, for `>> "$GITHUB_STEP_SUMMARY"`; an explicit `-f table` is a table
        Format.markdown if format is None and is_stdout(output) and not stdout_stream().isatty() else fmt,
        output,
        data.as_dict(),
        lambda: report_doc(data),
        "llmarch report",
    )
    if data.errors:
        # the good specs are reported above; a failed one still fails the run (a CI gate must notice)
        for failure in data.errors:
            typer.echo(f"error: {failure['error']}", err=True)
        raise typer.Exit(2)


@app.command()
@guarded
def check(
    spec: str = typer.Argument(..., help="Spec name, alias or file path; NAME[k=v,...] is a what-if."),
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
    """Gate an architecture on budgets. Exit 0 when all hold, 1 when one fails, 2 on bad input.

    Budgets come from the options, a --budgets file and the spec's own `budgets:` block (options win).
    Example: llmarch check my-model.yaml --max-total 8B --max-kv 4GiB@128k
    """
    from .analyze.budgets import KINDS, judge, parse_budget, read_budgets
    from .api import envelope
    from .render.check import check_doc

    (ir,) = load_models([spec], spec_path)
    texts: dict[str, str] = dict(ir.budgets)
    if budgets_file:
        texts.update(read_budgets(budgets_file))
    for kind, value in zip(KINDS, (max_total, max_active, max_kv, max_prefill, max_decode)):
        if value is not None:
            texts[kind] = value
    if not texts:
        raise LlmarchError(
            "no budgets: give --max-total, --max-active, --max-kv, --max-prefill-flops-per-token, "
            "--max-decode-flops-per-token, --budgets FILE, or a `budgets:` block in the spec"
        )
    result = judge(ir, [parse_budget(k, v) for k, v in texts.items()])
    emit_answer(
        format, output, envelope("check", [result.as_dict()]), lambda: check_doc(result), f"llmarch check {ir.name}"
    )
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@guarded
def diagram(
    names: List[str] = typer.Argument(..., help="Spec names, aliases or paths; NAME[k=v,...] is a what-if."),
    output: str = output_option("Write FILE.svg, FILE.png or FILE.html", ..., "SVG on stdout"),
    spec_path: Optional[List[str]] = SpecPathOpt,
    sets: Optional[List[str]] = SetOpt,
) -> None:
    """Side-by-side block diagrams like the article's figures. Blocks matched by kind, differences highlighted.

    Example: llmarch diagram deepseek-v3 llama-4-maverick -o fig.svg
    """
    from .api import diagram_numbers
    from .render.diagram import render_figure

    if not is_stdout(output) and not output.endswith((".svg", ".png", ".html")):
        raise LlmarchError(
            f"`{shorten(output)}`: the figure must end in .svg, .png or .html (or `-o -` for SVG on stdout)"
        )
    irs = load_models(names, spec_path, sets)
    # PNG: matplotlib, the SVG's layout
    figure = render_figure(irs, diagram_numbers(irs), ".svg" if is_stdout(output) else output)
    write_answer(figure, output)


@app.command()
@guarded
def serve(
    names: List[str] = typer.Argument(..., help="Spec names, aliases or paths; NAME[k=v,...] is a what-if."),
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
    """Memory per GPU, whether it fits, and how fast it can decode. Roofline bounds, no torch.

    Example: llmarch serve deepseek-v3 --gpu h100-sxm --gpus 8 --ctx 128k --batch 8
    """
    from .analyze.serve import CONVENTIONS, Plan, load_gpu
    from .analyze.serve import serve as run_serve
    from .api import beyond_context_of, envelope
    from .render.serve import serve_doc
    from .units import parse_tokens

    check_count(batch, "--batch", MAX_BATCH)
    check_count(gpus, "--gpus", MAX_GPUS)
    check_count(ep, "--ep", MAX_GPUS)
    if tp is not None:
        check_count(tp, "--tp", MAX_GPUS)
    profile = load_gpu(gpu)
    plan = Plan(gpus=gpus, tp=tp if tp is not None else max(1, gpus // ep), ep=ep)
    ctx_tokens = parse_tokens(ctx, "context")
    irs = load_models(names, spec_path, sets)
    results = [run_serve(ir, profile, plan, ctx_tokens, batch, weights, kv_dtype) for ir in irs]
    warned = beyond_context_of(irs, [("context", ctx_tokens)])
    data = envelope("serve", [r.as_dict() for r in results], conventions=dict(CONVENTIONS), warnings=warned)
    emit_answer(format, output, data, lambda: serve_doc(results, profile, ctx), "llmarch serve")


class CacheAction(str, Enum):
    info = "info"
    clear = "clear"


@app.command("cache")
@guarded
def cache_cmd(
    action: CacheAction = typer.Argument(CacheAction.info, help="info (where, how many entries, how big) or clear."),
    format: Optional[Format] = FormatOpt,
) -> None:
    """Show or empty the build cache. It keeps module-walk counts and traced FLOP counts between runs.

    The cache lives in $LLMARCH_CACHE_DIR, else $XDG_CACHE_HOME/llmarch, else ~/.cache/llmarch;
    LLMARCH_NO_CACHE=1 or --no-cache on a command bypasses it. Entries are keyed by the resolved spec,
    llmarch's source and torch's version, so they never go stale.

    Example: llmarch cache clear
    """
    from . import cache as buildcache

    if action == CacheAction.clear:
        removed = buildcache.clear()
        typer.echo(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'} from {buildcache.cache_dir()}")
        return
    data = buildcache.info()
    if format == Format.json:
        emit_json(data)
        return
    state = "on" if data["enabled"] else f"off ({buildcache.ENV_OFF} is set)"
    typer.echo(f"folder   {data['folder'] or '(none: no home folder)'}")
    typer.echo(f"cache    {state}")
    typer.echo(f"entries  {data['entries']:,} ({data['bytes']:,} bytes; trimmed to {data['max_bytes']:,})")


@app.command()
@guarded
def verify(
    spec: str = typer.Argument(..., help="Spec name, alias or file path; NAME[k=v,...] is a what-if."),
    checkpoint: str = typer.Argument(
        ..., help="A checkpoint folder, its model.safetensors.index.json, one .safetensors, or a .gguf file."
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
    """Hold a spec against a safetensors or GGUF checkpoint. Reads only headers, never the weights.

    Exit 0 when they agree, 1 when they differ (each difference listed), 2 on bad input.
    Example: llmarch verify qwen3-8b ~/models/Qwen3-8B
    """
    from .api import envelope, load
    from .importers.checkpoints import gguf_verify, read_checkpoint
    from .importers.checkpoints import verify as run_verify
    from .importers.checkpoints.gguf import is_gguf, read_gguf
    from .render.verify import verify_doc, verify_gguf_doc

    check_count(limit, "--limit", 1 << 20)
    load_registry(spec_path)
    ir = load(spec, spec_path, sets)
    if is_gguf(checkpoint):
        model, doc = gguf_verify.verify_gguf(ir, read_gguf(checkpoint)), verify_gguf_doc
    else:
        with progress_bar(None, "reading shard headers", many=0) as step:
            model = run_verify(ir, read_checkpoint(checkpoint, step), model_type)
        doc = verify_doc
    data = envelope("verify", [model.as_dict()])
    emit_answer(format, output, data, lambda: doc(model, limit), f"llmarch verify {ir.name}")
    if not model.agree:
        raise typer.Exit(1)


@app.command("import-hf")
@guarded
def import_hf(
    config: str = typer.Argument(
        ..., help="A Hugging Face config.json, or a checkpoint folder (its spec is then verified against the shards)."
    ),
    output: Optional[str] = output_option("Write the spec to FILE (YAML) instead of stdout"),
    name: Optional[str] = typer.Option(
        None,
        "--name",
        help="The spec's name (default: -o's file name, which must be a valid name, else the config's folder).",
    ),
) -> None:
    """Turn a Hugging Face config.json into a llmarch spec (YAML). Records every default it applied.

    Unknown keys, unsupported model types and features llmarch cannot represent are errors (exit 2).
    Given a checkpoint folder, the spec written is held against its shards' headers (exit 1 when they differ).
    Example: llmarch import-hf Qwen3-8B/config.json -o qwen3-8b.yaml && llmarch show qwen3-8b.yaml
    """
    from pathlib import Path

    from .importers.hf import import_file, spec_name, spec_yaml
    from .importers.hf.checkpoint import has_shards, held_against_shards

    name = spec_name(name, None if is_stdout(output) else output)
    folder = Path(config) if Path(config).is_dir() else None
    if folder is not None:
        config = str(folder / "config.json")
    imported = import_file(config, name=name)
    text = spec_yaml(imported)
    write_answer(text, output)
    if folder is not None and has_shards(folder):
        agree, message = held_against_shards(text, imported.spec["name"], folder)
        typer.echo(message, err=True)  # the spec is written all the same; exit 1 when it differs
        if not agree:
            raise typer.Exit(1)


@app.command(cls=SchemaCommand)
@guarded
def schema(
    answers: bool = typer.Option(False, "--answers", help="The schema of `--format json` answers instead."),
    output: Optional[str] = output_option("Write to FILE instead of stdout"),
) -> None:
    """Print the JSON Schema of specs, or of JSON answers (--answers).

    Example: llmarch schema -o llmarch-spec.schema.json
    """
    if answers:
        from .render.output_schema import OUTPUT_SCHEMA

        data = OUTPUT_SCHEMA
    else:
        from .spec.schema import Spec

        data = Spec.model_json_schema()
        data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        data["title"] = "llmarch spec"
    write_answer(json.dumps(data, indent=2) + "\n", output)


def run() -> None:
    from .render.output import use_ascii_fallback

    prepare_process()
    use_ascii_fallback()
    app(args=global_flags_first(sys.argv[1:]), prog_name="llmarch")


app.command("import-gguf")(guarded(import_gguf))
if __name__ == "__main__":
    run()
