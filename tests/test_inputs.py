"""Reading input (issue 26): one YAML reading everywhere, only regular files, bounded reads, limits.

Every file-reading test that could hang if the fix regressed (a FIFO, a character device) runs the
CLI in a subprocess with a timeout, so a regression fails the test instead of blocking the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.cli import app
from llmarch.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent

TINY = """\
name: {name}
vocab_size: 1000
d_model: 64
n_layers: 6
context_length: 2048
attention: {{n_heads: 4, n_kv_heads: 2, rope: {{theta: 10000}}}}
ffn: {{d_ff: 256}}
"""


def invoke(*args: str):
    return CliRunner().invoke(app, ["--no-color", *args])


def cli(*args: str, timeout: float = 30, cwd: Path | None = None, env: dict | None = None):
    """The CLI in a subprocess: a read that blocks fails the test after `timeout` instead of hanging it."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "llmarch", "--no-color", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=full_env,
    )


# --- 1 and 2: the YAML 1.1 readings and strict floats, in files and in --set alike ---------------

# (the text after `n_layers: `, the words the error must contain)
YAML11 = [
    ("024", "`024` would be read as octal 20"),
    ("012", "`012` would be read as octal 10"),
    ("0x10", "`0x10` would be read as hexadecimal 16"),
    ("0b11", "`0b11` would be read as binary 3"),
    ("1_000", "`1_000` would be read as 1000"),
    ("1:30", "`1:30` would be read as sexagesimal (base 60) 90"),
    ("-1:30", "`-1:30` would be read as sexagesimal (base 60) -90"),
    ("yes", "`yes` would be read as the boolean true"),
    ("On", "`On` would be read as the boolean true"),
    ("off", "`off` would be read as the boolean false"),
    ("!!python/object:os.system x", "YAML tag `tag:yaml.org,2002:python/object:os.system` is not allowed"),
    ("!!float true", "`true` is not a YAML 1.2 number"),
    ("7" * 5000, "a 5,000-digit integer is too long"),
    ("0" + "7" * 5000, "more than 64 digits"),
]


@pytest.mark.parametrize("text, words", YAML11, ids=[t[:12] for t, _ in YAML11])
def test_yaml11_readings_are_refused_in_files_and_set(tmp_path, text, words):
    path = tmp_path / "m.yaml"
    path.write_text(TINY.format(name="m").replace("n_layers: 6", f"n_layers: {text}"))
    with pytest.raises(SpecError) as in_file:
        llmarch.load(str(path))
    assert words in str(in_file.value)
    assert (in_file.value.line, in_file.value.field) == (4, "n_layers")
    with pytest.raises(SpecError) as in_set:
        llmarch.load("qwen3-8b", sets=[f"n_layers={text}"])
    assert in_set.value.message == in_file.value.message
    assert in_set.value.field == "n_layers"


@pytest.mark.parametrize(
    "theta, expected",
    [
        ("true", "expected a number, got true"),
        ('"10000"', "expected a number, got '10000'"),
        ("'1e6'", "expected a number, got '1e6'"),
        ("{<<: {a: 1}}", "YAML merge keys (`<<`) are not supported"),
        ("1e6", 1_000_000.0),  # YAML 1.2 reads these as floats (PyYAML's 1.1 rules gave a string)
        ("5.3e12", 5.3e12),
        ("10000", 10_000.0),
        ("+1.5E3", 1500.0),
    ],
)
def test_float_fields_read_alike_in_files_and_set(tmp_path, theta, expected):
    path = tmp_path / "m.yaml"
    path.write_text(TINY.format(name="m").replace("theta: 10000", f"theta: {theta}"))
    if isinstance(expected, float):
        assert llmarch.load(str(path)).layers[0].attention.rope.theta == expected
        assert (
            llmarch.load(str(path), sets=[f"attention.rope.theta={theta}"]).layers[0].attention.rope.theta == expected
        )
        return
    with pytest.raises(SpecError) as in_file:
        llmarch.load(str(path))
    assert expected in str(in_file.value) and in_file.value.line == 6
    with pytest.raises(SpecError) as in_set:
        llmarch.load("qwen3-8b", sets=[f"attention.rope.theta={theta}"])
    assert expected in str(in_set.value)


def test_true_false_and_quoted_words_still_read(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text(TINY.format(name="m") + 'tie_embeddings: True\nnotes: "yes, 024 and 1:30 as text"\n')
    ir = llmarch.load(str(path))
    assert ir.tie_embeddings is True and ir.notes == "yes, 024 and 1:30 as text"


def test_set_through_the_cli_names_the_reading():
    result = invoke("show", "qwen3-8b", "--set", "n_layers=012")
    assert result.exit_code == 2
    assert result.output.startswith("error: --set n_layers=012: field `n_layers`: `012` would be read as octal 10")


def test_budgets_file_and_gpu_profile_read_alike(tmp_path):
    budgets = tmp_path / "budgets.yaml"
    budgets.write_text("max_total: 9B\nmax_active: 010\n")
    result = invoke("check", "qwen3-8b", "--budgets", str(budgets))
    assert result.exit_code == 2
    assert f"{budgets}:2:13: field `max_active`: `010` would be read as octal 8" in result.output
    gpu = tmp_path / "gpu.yaml"
    text = (ROOT / "llmarch" / "hardware" / "h100-sxm.yaml").read_text()
    gpu.write_text(text.replace("name: h100-sxm", "name: mine\n# spare line").replace("85899345920", "0x1400000000"))
    result = invoke("serve", "qwen3-8b", "--gpu", str(gpu))
    assert result.exit_code == 2
    assert f"{gpu}:4:15: field `memory_bytes`: `0x1400000000` would be read as hexadecimal 85899345920" in result.output
