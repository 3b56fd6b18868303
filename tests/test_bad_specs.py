"""Every broken spec in tests/bad_specs/ fails with a SpecError naming the marked line and field, exit code 2.

Each file marks its offending line with `# error: <field path>` (`-` where the YAML itself is broken
and no field applies).  The error must come from validation (a SpecError with `.field`), not from a
catch-all handler; a 20 s alarm catches hangs (not a performance assertion).
"""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.cli import app
from llmarch.errors import SpecError

BAD = Path(__file__).parent / "bad_specs"
CASES = sorted(BAD.glob("*.yaml"))


def marker(path: Path) -> tuple[int, str | None]:
    for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").splitlines(), start=1):
        m = re.search(r"# error: (\S+)", line)
        if m:
            return number, None if m.group(1) == "-" else m.group(1)
    raise AssertionError(f"{path.name} has no `# error:` marker")


@pytest.fixture(autouse=True)
def no_hang():
    def fail(*_):
        raise TimeoutError("took more than 20 s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_corpus_is_large_enough():
    assert len(CASES) >= 60


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_spec_is_a_located_spec_error(path):
    line, field = marker(path)
    with pytest.raises(SpecError) as info:
        llmarch.load(str(path))
    err = info.value
    assert err.line == line, str(err)
    assert err.field == field, str(err)
    assert err.file and Path(err.file).name == path.name


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_spec_through_cli(path):
    line, field = marker(path)
    result = CliRunner().invoke(app, ["show", str(path)])
    assert result.exit_code == 2, result.output
    out = result.output
    assert "Traceback" not in out
    assert f"{path.name}:{line}" in out
    if field:
        assert f"field `{field}`" in out
    assert out.count("\n") <= 2, "one paragraph"


def test_suggestions():
    cases = {
        "unknown-key-attention": "did you mean `n_kv_heads`?",
        "unknown-key-top": "did you mean `d_model`?",
        "type-bad-enum-norm": "rmsnorm",
        "extends-missing-parent": "did you mean `qwen3-8b`?",
        "yaml-tab-indent": "tab",
        "yaml-two-documents": "several YAML documents",
    }
    for stem, text in cases.items():
        with pytest.raises(SpecError) as info:
            llmarch.load(str(BAD / f"{stem}.yaml"))
        assert text in str(info.value), (stem, str(info.value))


def test_cli_inputs(tmp_path):
    runner = CliRunner()
    cases = [
        ["kvcache", "gpt2", "--ctx", "12q"],
        ["kvcache", "gpt2", "--ctx", "-1"],
        ["kvcache", "gpt2", "--kv-dtype", "fp7"],
        ["show", str(tmp_path)],  # a directory
        ["show", str(tmp_path / "missing.yaml")],
        ["show", "no-such-model"],
        ["list", "--spec-path", str(tmp_path / "nowhere")],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
        assert result.output.startswith("error: ")


def test_unreadable_file(tmp_path):
    import os

    path = tmp_path / "locked.yaml"
    path.write_text("name: locked\n")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as a user who can read any file")
    with pytest.raises(SpecError, match="cannot read"):
        llmarch.load(str(path))


def test_window_larger_than_context_is_a_warning(tmp_path):
    path = tmp_path / "w.yaml"
    text = (BAD / "size-zero-window.yaml").read_text().replace("window: 0", "window: 4096")
    path.write_text(text.split("   # error")[0] + "\nffn: {d_ff: 256}\nlayers: {mixer: LG}\n")
    ir = llmarch.load(str(path))  # no error
    assert any("window 4096 is larger than the context length 2048" in w for w in ir.warnings)
    result = CliRunner().invoke(app, ["--no-color", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert "warning: window 4096 is larger than the context length 2048" in result.output


def test_debug_flag_shows_traceback_for_internal_errors(monkeypatch):
    import llmarch.api as api

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "describe", boom)
    result = CliRunner().invoke(app, ["show", "gpt2"])
    assert result.exit_code == 1 and "internal error" in result.output and "Traceback" not in result.output
