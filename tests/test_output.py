"""Output and environment (issue 26): atomic -o, `-o -`, closed pipes and streams, non-UTF-8 stdout,
terminal widths, control characters, CSV formula injection, integer options, GPU profiles, --set keys,
import-hf file names and huge arguments.  Real pipes, encodings and closed descriptors run in subprocesses.
"""

from __future__ import annotations

import errno
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from llmarch.analyze.serve import HARDWARE_DIR
from llmarch.cli import app
from llmarch.render.doc import Cell, Doc, DocTable, csv_safe, to_csv

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "tests" / "data" / "configs"
runner = CliRunner()


def invoke(*args: str, env: dict | None = None):
    return runner.invoke(app, ["--no-color", *args], env=env)


def error_of(result) -> str:
    """The one paragraph of a refused input: exit 2, no traceback, no internal error."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.output


def llmarch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "llmarch", *args]


def subprocess_env(**extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **extra)
    env.pop("COLUMNS", None)
    return env


# ---------------------------------------------------------------------------
# 1. -o is atomic


def _writes(tmp_path: Path) -> list[tuple[str, list[str]]]:
    """Every command that writes a file, with the target it writes."""
    config = str(CONFIGS / "qwen3-8b.json")
    return [
        ("out.json", ["show", "gpt2", "-o", "{}"]),
        ("out.md", ["compare", "gpt2", "qwen3-8b", "-o", "{}"]),
        ("out.csv", ["list", "-o", "{}"]),
        ("out.txt", ["show", "gpt2", "-o", "{}"]),
        ("out.html", ["kvcache", "gpt2", "-o", "{}"]),
        ("fig.svg", ["diagram", "gpt2", "-o", "{}"]),
        ("fig.html", ["diagram", "gpt2", "-o", "{}"]),
        ("fig.png", ["diagram", "gpt2", "-o", "{}"]),
        ("plot.svg", ["kvcache", "gpt2", "--sweep", "1k,4k", "--plot", "{}"]),
        ("plot.png", ["kvcache", "gpt2", "--plot", "{}"]),
        ("qwen.yaml", ["import-hf", config, "-o", "{}"]),
    ]


WRITE_CASES = [name for name, _ in _writes(Path("."))]


@pytest.mark.parametrize("target", WRITE_CASES)
def test_a_full_disk_mid_write_keeps_the_previous_file(tmp_path, monkeypatch, target):
    """ENOSPC after the first 100 bytes: the previous file is intact and no temporary file is left."""
    args = dict(_writes(tmp_path))[target]
    path = tmp_path / target
    path.write_bytes(b"previous contents\n")
    real_write = os.write
    calls = []

    def full_disk(fd, data):
        if fd <= 2:
            return real_write(fd, data)
        # while the new contents are being written, the target still holds the old ones (a kill here
        # would leave the previous file, not an empty one)
        assert path.read_bytes() == b"previous contents\n"
        calls.append(len(data))
        if len(calls) > 1 or len(data) <= 100:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, bytes(data[:100]))

    monkeypatch.setattr(os, "write", full_disk)
    out = error_of(invoke(*[a.format(path) for a in args]))
    assert "No space left on device" in out and target in out
    assert calls, "the write went around llmarch.render.output"
    assert path.read_bytes() == b"previous contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("target", WRITE_CASES)
def test_a_write_replaces_the_file_whole(tmp_path, target):
    args = dict(_writes(tmp_path))[target]
    path = tmp_path / target
    path.write_bytes(b"x" * 1_000_000)  # longer than any answer: nothing of it may survive
    path.chmod(0o640)
    result = invoke(*[a.format(path) for a in args])
    assert result.exit_code == 0, result.output
    data = path.read_bytes()
    assert b"x" * 100 not in data and len(data) > 100
    assert path.stat().st_mode & 0o777 == 0o640  # the old file's mode, not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir()) == [target]


def test_new_file_mode_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert invoke("show", "gpt2", "-o", str(tmp_path / "a.json")).exit_code == 0
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644


def test_write_through_a_symlink_and_to_a_device(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert invoke("show", "gpt2", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and json.loads(real.read_text())["command"] == "show"
    # a device is written in place: there is nothing to rename over /dev/null
    assert invoke("show", "gpt2", "-f", "json", "-o", os.devnull).exit_code == 0
    assert Path(os.devnull).exists() and not Path(os.devnull).is_file()


def test_a_folder_or_a_missing_folder_as_target(tmp_path):
    out = error_of(invoke("show", "gpt2", "-f", "json", "-o", str(tmp_path)))
    assert "cannot write" in out and "directory" in out
    out = error_of(invoke("show", "gpt2", "-o", str(tmp_path / "missing" / "a.json")))
    assert "cannot write" in out and f"folder `{tmp_path / 'missing'}` does not exist" in out


# ---------------------------------------------------------------------------
# 2. -o - is stdout


def test_dash_output_is_stdout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("show", "gpt2", "-f", "json", "-o", "-")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["models"][0]["name"] == "gpt2"
    result = invoke("show", "gpt2", "-o", "-")  # no extension to read: the table, as without -o
    assert result.exit_code == 0 and "Total parameters" in result.output
    result = invoke("diagram", "gpt2", "-o", "-")
    assert result.exit_code == 0 and result.output.lstrip().startswith("<svg")
    result = invoke("import-hf", str(CONFIGS / "qwen3-8b.json"), "-o", "-")
    assert result.exit_code == 0 and yaml.safe_load(result.output)["attention"]["n_heads"] == 32
    assert list(tmp_path.iterdir()) == []  # no file named `-`


# ---------------------------------------------------------------------------
# 3. closed pipes, closed streams, non-UTF-8 stdout


@pytest.mark.parametrize(
    "args",
    # contexts within GPT-2's 1,024 tokens: a context past it is warned about on stderr (issue 24)
    [
        ["list"],
        ["kvcache", "gpt2", "--ctx", "1k", "-f", "json"],
        ["check", "gpt2", "--max-total", "1B"],
        ["report", "gpt2", "--ctx", "1k", "--seq", "1k"],
    ],
    ids=lambda a: " ".join(a),
)
def test_closed_pipe_exits_quietly(args):
    """`llmarch list | head -1` once the reader has gone: no message, the status a SIGPIPE gives C tools."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(llmarch_cmd(*args), stdout=write_end, stderr=subprocess.PIPE, env=subprocess_env())
    finally:
        os.close(write_end)
    assert proc.stderr == b""
    assert proc.returncode == 141


def test_closed_stdout_is_an_error_and_closed_stdin_is_harmless(tmp_path):
    shell = " ".join(llmarch_cmd())

    def bash(line: str):
        return subprocess.run(["bash", "-c", f"{shell} {line}"], capture_output=True, text=True, env=subprocess_env())

    for line in ("kvcache gpt2 -f json >&-", "list >&-"):  # not exit 0 with nothing written
        proc = bash(line)
        assert proc.returncode == 2 and "standard output is closed" in proc.stderr and "internal" not in proc.stderr
    out = tmp_path / "a.json"
    proc = bash(f"kvcache gpt2 -o {out} <&- >&-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["models"][0]["name"] == "gpt2"
    proc = bash("kvcache gpt2 -f json <&- 2>&-")
    assert proc.returncode == 0 and json.loads(proc.stdout)["models"][0]["name"] == "gpt2"
    proc = bash("report -f json 2>&-")  # over 10 specs: report asks whether stderr is a terminal
    assert proc.returncode == 0 and len(json.loads(proc.stdout)["models"]) > 10


@pytest.mark.parametrize(
    "args",
    [["show", "gemma-3-27b", "--layers"], ["serve", "qwen3-8b"], ["compare", "gpt2", "deepseek-v3"]],
    ids=lambda a: a[0],
)
def test_ascii_stdout_gets_ascii_standins(args):
    env = subprocess_env(LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONIOENCODING="ascii")
    proc = subprocess.run(llmarch_cmd("--no-color", *args), capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode("ascii")  # every byte is ASCII
    assert "?" not in text  # every symbol we print has a stand-in
    assert "+--" in text or "|" in text  # rich's ASCII box
    if args[0] == "show":
        assert "(5 local + 1 global) x 10, then 2 local" in text  # `×` became `x`
    if args[0] == "compare":
        assert " - " in text  # `—` (not applicable) became `-`


def test_ascii_stderr_error_message():
    env = subprocess_env(PYTHONUTF8="0", PYTHONIOENCODING="ascii")
    proc = subprocess.run(llmarch_cmd("show", "gpt2", "--set", "n_layers=0"), capture_output=True, env=env)
    assert proc.returncode == 2 and proc.stderr.decode("ascii").startswith("error:")


# ---------------------------------------------------------------------------
# 4. terminal width, control characters, CSV formula injection


@pytest.mark.parametrize("columns", ["0", "-5", "abc", "39", "", "99999999"])
def test_unusable_columns_fall_back_to_80(columns):
    result = invoke("show", "gpt2", env={"COLUMNS": columns})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "Total parameters" in result.output and "124,439,808" in result.output
    assert max(len(line) for line in lines) == 80  # rich fills the rules to the full width


def test_sensible_columns_are_honoured():
    for columns in (40, 132):
        result = invoke("compare", "gpt2", "deepseek-v3", "qwen3-8b", env={"COLUMNS": str(columns)})
        assert result.exit_code == 0
        assert max(len(line) for line in result.output.splitlines()) == columns


EVIL = "Evil\x1b[31mRED\x1b]0;title\x07\rok\x08\u202eeman\x9b2J"


def _evil_spec(folder: Path) -> Path:
    path = folder / "evil.yaml"
    path.write_text(
        yaml.safe_dump(
            {"extends": "gpt2", "name": "evil", "display_name": EVIL, "family": '=HYPERLINK("http://x")'},
            allow_unicode=True,
        )
    )
    return path


def test_control_characters_never_reach_the_terminal(tmp_path):
    path = _evil_spec(tmp_path)
    for args in (["show", str(path)], ["compare", "gpt2", str(path)], ["list", "--spec-path", str(tmp_path)]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        bad = [ch for ch in result.output if (ord(ch) < 32 and ch != "\n") or 0x7F <= ord(ch) < 0xA0]
        assert bad == [] and "\u202e" not in result.output
    result = invoke("show", str(path), env={"COLUMNS": "200"})
    assert "Evil\\x1b[31mRED\\x1b]0;title\\x07\\x0dok\\x08\\" in result.output  # the title wraps here
    assert "u202eeman\\x9b2J" in result.output
    # an error message quoting the input is made printable too
    out = error_of(invoke("show", "nope\x1b[2J"))
    assert "nope\\x1b[2J" in out and "\x1b" not in out


def test_csv_escapes_formulas(tmp_path):
    path = _evil_spec(tmp_path)
    result = invoke("compare", "gpt2", str(path), "-f", "csv")
    assert result.exit_code == 0
    header = result.output.splitlines()[0]
    assert header.startswith(",GPT-2")
    result = invoke("list", "--spec-path", str(tmp_path), "-f", "csv")
    row = next(line for line in result.output.splitlines() if line.startswith("evil,"))
    assert row.startswith('evil,"\'=HYPERLINK(""http://x"")",')


@pytest.mark.parametrize(
    "value, written",
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-", "'-"),
        ("-12", "-12"),  # a plain negative number holds no formula: left readable
        ("-1,024.5", "-1,024.5"),
        ("-3.5%", "-3.5%"),
        ("+7", "+7"),
        (-12, -12),  # a number llmarch computed is never text
        ("GQA", "GQA"),
        ("—", "—"),
    ],
)
def test_csv_safe(value, written):
    assert csv_safe(value) == written


def test_csv_header_and_cells_escaped():
    t = DocTable("", ["=a", "b"])
    t.rows.append([Cell("@x"), Cell("-5", -5)])
    assert to_csv(Doc([t])) == "'=a,b\n'@x,-5\n"


# ---------------------------------------------------------------------------
# 5. integer options and GPU profiles


@pytest.mark.parametrize(
    "args, option",
    [
        (["serve", "qwen3-8b", "--ep", "0"], "--ep"),
        (["serve", "qwen3-8b", "--tp", "0"], "--tp"),
        (["serve", "qwen3-8b", "--gpus", "0"], "--gpus"),
        (["serve", "qwen3-8b", "--gpus", "-2"], "--gpus"),
        (["serve", "qwen3-8b", "--batch", "0"], "--batch"),
        (["serve", "qwen3-8b", "--batch", str(10**30)], "--batch"),
        (["serve", "qwen3-8b", "--ctx", "0"], "--ctx"),
        (["kvcache", "gpt2", "--batch", "0"], "--batch"),
        (["kvcache", "gpt2", "--batch", "-1"], "--batch"),
        (["kvcache", "gpt2", "--sweep", "1k,0"], "--sweep"),
        (["flops", "gpt2", "--batch", "0"], "--batch"),
        (["flops", "gpt2", "--seq", "0"], "--seq"),
        (["flops", "gpt2", "--ctx", "0k"], "--ctx"),
        (["report", "gpt2", "--seq", "0"], "--seq"),
        (["report", "gpt2", "--ctx", "x"], "--ctx"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else a,
)
def test_integer_options_are_validated(args, option):
    out = error_of(invoke(*args))
    assert option in out


def _profile(tmp_path: Path, field: str, value: str) -> str:
    lines = (HARDWARE_DIR / "h100-sxm.yaml").read_text().splitlines()
    if field.startswith("peak_flops."):
        lines = [
            f"peak_flops: {{bf16: 989.4e12, {field.split('.')[1]}: {value}}}" if l.startswith("peak_flops:") else l
            for l in lines
        ]
    else:
        lines = [f"{field}: {value}" if l.startswith(f"{field}:") else l for l in lines]
    path = tmp_path / "gpu.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize(
    "field, value, line",
    [
        ("bandwidth_bytes_per_s", ".nan", 4),
        ("bandwidth_bytes_per_s", ".inf", 4),
        ("bandwidth_bytes_per_s", "true", 4),
        ("bandwidth_bytes_per_s", "'nan'", 4),
        ("memory_bytes", "true", 3),
        ("memory_bytes", ".inf", 3),
        ("peak_flops.bf16", ".NaN", 5),
        ("peak_flops.fp8", "-.inf", 5),
        ("peak_flops.fp8", "false", 5),
        # tiny positive values overflowed the roofline's times to Infinity, which is not valid JSON
        ("bandwidth_bytes_per_s", "1.0e-300", 4),
        ("peak_flops.bf16", "1.0e-300", 5),
    ],
)
def test_gpu_profile_refuses_nan_infinity_and_booleans(tmp_path, field, value, line):
    path = _profile(tmp_path, field, value)
    out = error_of(invoke("serve", "qwen3-8b", "--gpu", path, "-f", "json"))
    assert f"{path}:{line}:" in out and f"field `{field}`" in out


def test_shipped_gpu_profiles_still_load():
    for path in sorted(HARDWARE_DIR.glob("*.yaml")):
        result = invoke("serve", "qwen3-8b", "--gpu", path.stem, "-f", "json")
        assert result.exit_code == 0, result.output
        roofline = json.loads(result.stdout)["models"][0]["decode_roofline"]
        assert all(math.isfinite(v) for v in roofline.values() if isinstance(v, float))


# ---------------------------------------------------------------------------
# 6. --set keys


def test_set_extends_is_refused():
    out = error_of(invoke("show", "qwen3-8b", "--set", "extends=gpt2"))
    assert "cannot change `extends`" in out


@pytest.mark.parametrize(
    "key", ["foo[0]", "str", "attention.str", "attention.list[str]", "attention.a[1]", "constrained-str", "Attention"]
)
def test_unknown_keys_that_look_like_pydantic_tags_are_named(key):
    """pydantic's union branch tags (`str`, `list[str]`) were dropped from every path, user keys included:
    an IndexError for `foo[0]`, and `unknown key attention; did you mean attention?` for `attention.str`."""
    out = error_of(invoke("show", "qwen3-8b", "--set", f"{key}=1"))
    last = key.split(".")[-1]
    assert f"--set {key}=1: field `{key}`: unknown key `{last}`" in out
    assert f"did you mean `{last}`" not in out


def test_set_type_errors_name_the_field_not_a_tag():
    out = error_of(invoke("show", "qwen3-8b", "--set", "layers.mixer=5"))
    assert "field `layers.mixer`: expected a string" in out and "constrained" not in out
    # a mapping the edit created is blamed on the edit, not on the spec's `attention:` line
    out = error_of(invoke("show", "qwen3-8b", "--set", "attention.overrides.glob.head_dim=4"))
    assert out.startswith("error: --set attention.overrides.glob.head_dim=4: field `attention.overrides.glob`")


# ---------------------------------------------------------------------------
# 7. import-hf file names, huge arguments


def test_import_hf_output_name_must_be_a_spec_name(tmp_path):
    config = str(CONFIGS / "qwen3-8b.json")
    out = error_of(invoke("import-hf", config, "-o", str(tmp_path / "Other_Name.yaml")))
    assert "use -o other-name.yaml" in out
    out = error_of(invoke("import-hf", config, "-o", str(tmp_path / "x.yaml"), "--name", "y"))
    assert "use -o y.yaml" in out
    assert list(tmp_path.iterdir()) == []
    assert invoke("import-hf", config, "-o", str(tmp_path / "other-name.yaml")).exit_code == 0
    assert invoke("import-hf", config, "-o", str(tmp_path / "same.yaml"), "--name", "same").exit_code == 0
    # the folder stays a spec folder: every file's name matches its `name:`
    listed = invoke("list", "--spec-path", str(tmp_path), "-f", "json")
    assert listed.exit_code == 0, listed.output
    assert {"other-name", "same"} <= {m["name"] for m in json.loads(listed.output)["models"]}


HUGE = "a" * 131_000


@pytest.mark.parametrize(
    "args",
    [
        ["show", HUGE],
        ["show", HUGE + ".yaml"],
        ["compare", "gpt2", HUGE],
        ["serve", "gpt2", "--gpu", HUGE],
        ["serve", "gpt2", "--gpu", HUGE + ".yaml"],
        ["list", "--family", HUGE],
        ["report", HUGE],
        ["check", "gpt2", "--budgets", HUGE],
        ["kvcache", "gpt2", "--ctx", HUGE],
        ["show", "gpt2", "-o", HUGE + ".json"],
        ["diagram", "gpt2", "-o", HUGE + ".svg"],
        ["show", "gpt2", "--set", HUGE + "=1"],
        ["import-hf", HUGE],
        ["import-hf", str(CONFIGS / "qwen3-8b.json"), "--name", HUGE],
        ["import-hf", str(CONFIGS / "qwen3-8b.json"), "-o", HUGE + ".yaml"],
    ],
    ids=lambda a: " ".join(x[:12] for x in a),
)
def test_a_131000_character_argument_gets_a_short_clear_error(args):
    out = error_of(invoke(*args))
    if args[0] == "report":  # report lists the bad target beside the (empty) summary: each line stays short
        assert max(len(line) for line in out.splitlines()) < 1_000 and "(131,0" in out
        return
    assert len(out) < 1_000 and "(131,0" in out
