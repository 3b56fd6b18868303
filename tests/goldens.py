"""Golden outputs: every answer llmarch gives, pinned under tests/golden/.

Each case is one CLI invocation (run in-process through typer's test runner) and the file its output is
pinned in. `make golden` (``python tests/goldens.py --write``) rewrites the files; `tests/test_golden.py`
regenerates every case and compares it with the pinned file: JSON parsed (key order and float spelling do
not matter), tables, YAML and SVG byte for byte. The rule for changing a golden file is in
docs/architecture.md.

Outputs that name a path inside the repository name it relative to the repository (`<repo>/...`), so
the files do not depend on where the checkout lives.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
CONFIGS = ROOT / "tests" / "data" / "configs"

WIDTHS = (80, 160)
KV_CONTEXTS = ("8k", "128k")
SERVE_PROFILES = (("h100-sxm", ("--gpus", "1")), ("mi300x", ("--gpus", "4", "--batch", "64")))
# `flops --counter all` traces the meta model with two counters: slow by nature, so three small specs
# of different mechanisms (MHA with LayerNorm and learned positions; GQA with QK-norm; a MoE).
TRACED_SPECS = ("gpt2", "qwen3-0.6b", "olmoe-1b-7b")
CHECK_PASS = ("qwen3-8b", "--max-total", "9B", "--max-active", "8.5B", "--max-kv", "20GiB@128k")
CHECK_FAIL = ("qwen3-8b", "--max-total", "8B", "--max-kv", "4GiB@128k", "--max-prefill-flops-per-token", "10G@4096")


@dataclass(frozen=True)
class Case:
    """One pinned answer: `llmarch ARGS` at a terminal width, its stdout (or the file it writes) in `path`."""

    path: str  # relative to tests/golden/
    args: tuple[str, ...]
    width: int = 80
    writes: str | None = None  # the command writes this file (-o); pin its contents instead of stdout

    @property
    def kind(self) -> str:
        return Path(self.path).suffix.lstrip(".")


@dataclass
class Result:
    text: str
    exit_code: int
    stderr: str = field(default="", repr=False)


def shipped_specs() -> list[str]:
    from llmarch.spec.registry import shipped_dir

    return sorted(p.stem for p in shipped_dir().glob("*.yaml"))


def gallery_pairs() -> list[tuple[str, str, str]]:
    from llmarch.gallery import available_pairs

    return available_pairs(set(shipped_specs()))


def _tables(base: str, args: tuple[str, ...]) -> list[Case]:
    return [Case(f"{base}.{w}.txt", args, width=w) for w in WIDTHS]


def model_cases(name: str) -> list[Case]:
    """Every command's answer for one shipped spec."""
    d = f"models/{name}"
    cases = [Case(f"{d}/show.json", ("show", name, "-f", "json"))]
    cases += _tables(f"{d}/show", ("show", name))
    cases.append(Case(f"{d}/show-layers.160.txt", ("show", name, "--layers"), width=160))
    for ctx in KV_CONTEXTS:
        args = ("kvcache", name, "--ctx", ctx, "--explain")
        cases.append(Case(f"{d}/kvcache-{ctx}.json", args + ("-f", "json")))
        cases += _tables(f"{d}/kvcache-{ctx}", args)
    flops = ("flops", name, "--explain")
    cases.append(Case(f"{d}/flops.json", flops + ("-f", "json")))
    cases += _tables(f"{d}/flops", flops)
    for gpu, extra in SERVE_PROFILES:
        args = ("serve", name, "--gpu", gpu, *extra)
        cases.append(Case(f"{d}/serve-{gpu}.json", args + ("-f", "json")))
        cases += _tables(f"{d}/serve-{gpu}", args)
    if (CONFIGS / f"{name}.json").is_file():
        cases.append(
            # relative to the repository (cases run there): the YAML quotes the path and wraps lines around it
            Case(f"{d}/import-hf.yaml", ("import-hf", f"tests/data/configs/{name}.json", "--name", name))
        )
    if name in TRACED_SPECS:
        traced = ("flops", name, "--counter", "all", "--seq", "256", "--ctx", "1k")
        cases.append(Case(f"{d}/flops-traced.json", traced + ("-f", "json")))
        cases.append(Case(f"{d}/flops-traced.160.txt", traced, width=160))
    return cases


def global_cases() -> list[Case]:
    """Answers over many specs, the gallery pairs and the schemas."""
    cases = [Case("list.json", ("list", "-f", "json"))] + _tables("list", ("list",))
    pairs = gallery_pairs()
    for fig, a, b in pairs:
        stem = f"compare/{fig.replace('Fig. ', 'fig-').replace('.', '-')}-{a}-vs-{b}"
        cases.append(Case(f"{stem}.json", ("compare", a, b, "-f", "json")))
        cases += _tables(stem, ("compare", a, b))
        cases.append(Case(f"{stem}.svg", ("diagram", a, b, "-o", "<out>/figure.svg"), writes="figure.svg"))
    # three models (issue 24): only the cells off a row's majority are marked, the first model's included
    three = ("compare", "llama-3-8b", "qwen3-8b", "gemma-3-27b")
    cases += [Case("compare/three-llama-3-8b-qwen3-8b-gemma-3-27b.json", three + ("-f", "json"))]
    cases += [Case("compare/three-llama-3-8b-qwen3-8b-gemma-3-27b.md", three + ("-f", "markdown"))]
    cases += _tables("compare/three-llama-3-8b-qwen3-8b-gemma-3-27b", three)
    report = ("report", "--pairs", ",".join(f"{a}:{b}" for _, a, b in pairs))
    cases.append(Case("report.json", report + ("-f", "json")))
    cases.append(Case("report.md", report + ("-f", "markdown")))
    cases += _tables("report", report)
    for verdict, args in (("pass", CHECK_PASS), ("fail", CHECK_FAIL)):
        cases.append(Case(f"check-{verdict}.json", ("check", *args, "-f", "json")))
        cases += _tables(f"check-{verdict}", ("check", *args))
    # what-ifs (issue 24, item 3): a model against its edit, `--set` on one model, an edit a model lacks
    whatif = ("compare", "qwen3-8b", "qwen3-8b[attention.n_kv_heads=4]")
    cases.append(Case("whatif/compare.json", whatif + ("-f", "json")))
    cases += _tables("whatif/compare", whatif)
    edited = ("show", "qwen3-8b", "--set", "n_layers=40")
    cases.append(Case("whatif/show-set.json", edited + ("-f", "json")))
    cases += _tables("whatif/show-set", edited)
    cases.append(Case("whatif/not-applicable.txt", ("compare", "qwen3-8b", "qwen3-30b", "--set", "moe.n_experts=64")))
    # issue 24 item 5: narrow terminals: list leaves out columns, side-by-side tables turn vertical
    cases.append(Case("narrow/list.40.txt", ("list",), width=40))
    cases.append(Case("narrow/compare-3.40.txt", ("compare", "qwen3-8b", "deepseek-v3", "kimi-k2"), width=40))
    cases.append(Case("narrow/flops-3.80.txt", ("flops", "qwen3-8b", "qwen3-30b-a3b", "deepseek-v3"), width=80))
    cases.append(Case("narrow/serve-2.40.txt", ("serve", "qwen3-8b", "deepseek-v3", "--gpus", "8"), width=40))
    cases.append(Case("schema-spec.json", ("schema",)))
    cases.append(Case("schema-answers.json", ("schema", "--answers")))
    return cases


def groups() -> dict[str, list[Case]]:
    """The cases by folder: "" for the answers over many specs, "models/NAME" for each shipped spec."""
    return {"": global_cases()} | {f"models/{name}": model_cases(name) for name in shipped_specs()}


def run_case(case: Case, spec_path: str = "") -> Result:
    """Run one case in-process, without colour, at the case's width, with no user spec folders but `spec_path`."""
    from typer.testing import CliRunner

    from llmarch.cli import app

    with tempfile.TemporaryDirectory() as out, _working_directory(ROOT):
        args = ["--no-color"] + [a.replace("<repo>", str(ROOT)).replace("<out>", out) for a in case.args]
        env = {"COLUMNS": str(case.width), "LINES": "50", "LLMARCH_SPEC_PATH": spec_path, "LLMARCH_NO_CACHE": "1"}
        result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
        if result.exit_code not in (0, 1):  # bad input: the error paragraph is the answer
            text = result.stderr
        elif case.writes:
            text = Path(out, case.writes).read_text()
        else:
            text = result.stdout
    return Result(text=normalise(text), exit_code=result.exit_code, stderr=result.stderr)


@contextlib.contextmanager
def _working_directory(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def normalise(text: str) -> str:
    return text.replace(str(ROOT), "<repo>")


def generate_group(folder: str, cases: list[Case], spec_path: str = "") -> dict[str, str]:
    """The golden files of one group, keyed by path under tests/golden/: each case's output, and the
    group's exit codes (0 for answers, 1 for a failing check, 2 where the error paragraph is pinned)."""
    results = {c.path: run_case(c, spec_path) for c in cases}
    files = {path: r.text for path, r in results.items()}
    codes = {Path(path).name if folder else path: r.exit_code for path, r in sorted(results.items())}
    files[f"{folder}/exit-codes.json" if folder else "exit-codes.json"] = json.dumps(codes, indent=2) + "\n"
    return files


def expected_paths() -> set[str]:
    """The path of every golden file `make golden` writes (without running anything)."""
    paths = set()
    for folder, cases in groups().items():
        paths |= {c.path for c in cases} | {f"{folder}/exit-codes.json" if folder else "exit-codes.json"}
    return paths


def generate() -> dict[str, str]:
    files: dict[str, str] = {}
    for folder, cases in groups().items():
        files |= generate_group(folder, cases)
    return files


# ---------------------------------------------------------------------------
# Comparison


def differences(path: str, expected: str, actual: str) -> str | None:
    """None when the pinned text and the regenerated one agree; else a readable unified diff."""
    import difflib

    if expected == actual:
        return None
    if path.endswith(".json"):
        try:
            if json.loads(expected) == json.loads(actual):
                return None
        except json.JSONDecodeError:
            pass  # an error paragraph pinned where the answer failed: compared as text
        # a diff of the canonical form, so that only real changes show
        expected, actual = (_canonical_json(t) for t in (expected, actual))
    diff = difflib.unified_diff(
        expected.splitlines(keepends=True),
        actual.splitlines(keepends=True),
        fromfile=f"tests/golden/{path} (pinned)",
        tofile=f"tests/golden/{path} (now)",
        n=2,
    )
    text = "".join(diff)
    return text or f"tests/golden/{path}: differs only in line endings or trailing whitespace"


def _canonical_json(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    except json.JSONDecodeError:
        return text


def pinned_files() -> set[str]:
    return {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}


def write(files: dict[str, str]) -> tuple[int, int]:
    """Rewrite tests/golden/ to exactly `files`: changed files written, stale ones removed."""
    written = 0
    for path, text in files.items():
        target = GOLDEN / path
        if target.is_file() and target.read_text() == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        written += 1
    stale = pinned_files() - set(files)
    for path in stale:
        (GOLDEN / path).unlink()
    for folder in sorted((p for p in GOLDEN.rglob("*") if p.is_dir()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return written, len(stale)


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print("usage: python tests/goldens.py --write   (rewrites tests/golden/; see docs/architecture.md)")
        return 2
    os.environ["LLMARCH_SPEC_PATH"] = ""
    written, removed = write(generate())
    print(f"tests/golden/: {written} files written, {removed} removed, {len(pinned_files())} in all")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
