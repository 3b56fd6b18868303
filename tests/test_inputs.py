"""Reading input (issue 26): one YAML reading everywhere, only regular files, bounded reads, limits.

Every file-reading test that could hang if the fix regressed (a FIFO, a character device) runs the
CLI in a subprocess with a timeout, so a regression fails the test instead of blocking the suite.
"""

from __future__ import annotations

import json
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


def cli(*args: str, timeout: float = 30, cwd: Path | None = None, env: dict | None = None, max_memory: int = 0):
    """The CLI in a subprocess: a read that blocks fails the test after `timeout` instead of hanging it,
    and with `max_memory` (bytes of address space) an unbounded read fails instead of filling the machine."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))

    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))

    return subprocess.run(
        [sys.executable, "-m", "llmarch", "--no-color", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=full_env,
        preexec_fn=limit if max_memory and sys.platform == "linux" else None,
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
    ("!!float true", "`true` is not a number"),
    ('!!int "0xZZ"', "`0xZZ` is not a number"),
    ("!!bool maybe", "`maybe` is not a boolean"),
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
    text = (ROOT / "llmarch" / "analyze" / "hardware" / "h100-sxm.yaml").read_text()
    gpu.write_text(text.replace("name: h100-sxm", "name: mine\n# spare line").replace("85899345920", "0x1400000000"))
    result = invoke("serve", "qwen3-8b", "--gpu", str(gpu))
    assert result.exit_code == 2
    assert f"{gpu}:4:15: field `memory_bytes`: `0x1400000000` would be read as hexadecimal 85899345920" in result.output


# --- 3, 5, 6: config.json: duplicate keys, nesting, long numbers, size limits ---------------------

QWEN3_CONFIG = ROOT / "tests" / "data" / "configs" / "qwen3-8b.json"


def config_with(tmp_path: Path, extra: str, before: str = "") -> Path:
    """qwen3-8b's config.json with `extra` (JSON text) added as `suppress_tokens`, a key import-hf ignores."""
    text = QWEN3_CONFIG.read_text().rstrip().rstrip("}").rstrip()
    path = tmp_path / "config.json"
    path.write_text(f'{text},\n  {before}"suppress_tokens": {extra}\n}}\n')
    return path


def test_duplicate_json_keys_are_located(tmp_path):
    path = tmp_path / "config.json"
    text = QWEN3_CONFIG.read_text()
    assert text.count('"hidden_size": 4096,') == 1
    path.write_text(text.replace('"hidden_size": 4096,', '"hidden_size": 4096,\n  "hidden_size": 2048,'))
    line = path.read_text()[: path.read_text().index('"hidden_size": 2048')].count("\n") + 1
    result = invoke("import-hf", str(path), "--name", "x")
    assert result.exit_code == 2
    assert f"{path}:{line}:3: field `hidden_size`: duplicate key `hidden_size`" in result.output
    nested = config_with(tmp_path, '{"a": 1, "b": {"c": 1, "c": 2}}')
    result = invoke("import-hf", str(nested), "--name", "x")
    assert "field `suppress_tokens.b.c`: duplicate key `c`" in result.output and result.exit_code == 2


def test_config_limits_just_under_and_over(tmp_path):
    from llmarch.importers.hf import MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, MAX_CONFIG_VALUES

    def count(value) -> int:  # every object, array, key and scalar counts once
        if isinstance(value, dict):
            return 1 + sum(1 + count(v) for v in value.values())
        if isinstance(value, list):
            return 1 + sum(count(v) for v in value)
        return 1

    # the added key and its list take two values; each list item one
    room = MAX_CONFIG_VALUES - count(json.loads(QWEN3_CONFIG.read_text())) - 2
    ok = config_with(tmp_path, "[" + ",".join(["1"] * room) + "]")
    assert invoke("import-hf", str(ok), "--name", "x").exit_code == 0
    over = config_with(tmp_path, "[" + ",".join(["1"] * (room + 1)) + "]")
    result = invoke("import-hf", str(over), "--name", "x")
    assert result.exit_code == 2 and f"more than {MAX_CONFIG_VALUES:,} keys and values" in result.output
    assert f"{over}:" in result.output  # located
    # nesting: the config object is level 1
    deep = MAX_CONFIG_DEPTH - 1
    assert invoke("import-hf", str(config_with(tmp_path, "[" * deep + "]" * deep)), "--name", "x").exit_code == 0
    path = config_with(tmp_path, "[" * (deep + 1) + "]" * (deep + 1))
    result = invoke("import-hf", str(path), "--name", "x")
    assert result.exit_code == 2 and f"nested more than {MAX_CONFIG_DEPTH} levels deep" in result.output
    # bytes: long strings, few values
    text_len = len(config_with(tmp_path, '""').read_bytes())
    exact = config_with(tmp_path, '"' + "a" * (MAX_CONFIG_BYTES - text_len) + '"')
    assert len(exact.read_bytes()) == MAX_CONFIG_BYTES
    assert invoke("import-hf", str(exact), "--name", "x").exit_code == 0
    exact.write_bytes(exact.read_bytes() + b" ")
    result = invoke("import-hf", str(exact), "--name", "x")
    assert result.exit_code == 2 and f"{exact}: file is larger than {MAX_CONFIG_BYTES:,} bytes" in result.output


@pytest.mark.parametrize(
    "extra, words",
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than 50 levels deep"),
        ("7" * 5000, "a 5,000-digit number is too long"),
        ("-" + "7" * 4301 + ".5e3", "a 4,301-digit number is too long"),
    ],
    ids=["deep", "4300-digit-int", "long-float"],
)
def test_config_recursion_and_huge_numbers_are_located(tmp_path, extra, words):
    path = config_with(tmp_path, extra)
    line = path.read_text().count("\n") - 1  # the added key is on the line before the closing brace
    result = invoke("import-hf", str(path), "--name", "x")
    assert result.exit_code == 2 and words in result.output
    assert result.output.startswith(f"error: {path}:{line}:"), result.output


# --- 4: only regular files are read; reads are bounded by bytes read -------------------------------


def fifo(path: Path) -> Path:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    os.mkfifo(path)
    return path


def test_fifo_and_devices_as_arguments(tmp_path):
    pipe = fifo(tmp_path / "pipe.yaml")
    zero = tmp_path / "zero.yaml"
    zero.symlink_to("/dev/zero")
    config_pipe = fifo(tmp_path / "config.json")
    cases = [
        (["show", str(pipe)], f"{pipe}: is a FIFO (named pipe), not a regular file"),
        (["show", str(zero)], f"{zero}: is a character device (a symbolic link to /dev/zero), not a regular file"),
        (["show", "/dev/urandom"], "/dev/urandom: is a character device, not a regular file"),
        (["import-hf", str(config_pipe)], f"{config_pipe}: is a FIFO (named pipe), not a regular file"),
        (["import-hf", "/dev/zero"], "/dev/zero: is a character device, not a regular file"),
        (["check", "qwen3-8b", "--budgets", str(pipe)], f"{pipe}: is a FIFO (named pipe)"),
        (["check", "qwen3-8b", "--budgets", "/dev/zero"], "/dev/zero: is a character device"),
        (["serve", "qwen3-8b", "--gpu", str(pipe)], f"{pipe}: is a FIFO (named pipe)"),
        (["serve", "qwen3-8b", "--gpu", str(zero)], f"{zero}: is a character device"),
        (["report", str(pipe)], f"{pipe}: is a FIFO (named pipe)"),
    ]
    for args, words in cases:
        result = cli(*args, timeout=30, max_memory=2 * 2**30)  # none of these commands gets as far as torch
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_fifo_in_spec_folders_is_skipped_with_a_warning(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "mine.yaml").write_text(TINY.format(name="mine"))
    pipe = fifo(folder / "stray.yaml")
    (folder / "dir.yaml").mkdir()
    (folder / "zero.yaml").symlink_to("/dev/zero")
    for args, env in [
        (["show", "qwen3-8b", "--format", "json"], {"LLMARCH_SPEC_PATH": str(folder)}),
        (["show", "mine", "--format", "json"], {"LLMARCH_SPEC_PATH": str(folder)}),
        (["show", "mine", "--spec-path", str(folder), "--format", "json"], {}),
    ]:
        result = cli(*args, env=env, timeout=60)
        assert result.returncode == 0, (args, result.stderr)
        assert f"warning: skipped {pipe}: is a FIFO (named pipe), not a regular file" in result.stderr
        assert f"warning: skipped {folder / 'dir.yaml'}: is a directory" in result.stderr
        assert f"warning: skipped {folder / 'zero.yaml'}: is a character device" in result.stderr
    result = cli("report", str(folder), "--format", "json", timeout=60)
    assert f"warning: skipped {pipe}: is a FIFO (named pipe)" in result.stderr
    assert '"name": "mine"' in result.stdout


def test_file_parent_is_named(tmp_path):
    plain = tmp_path / "plain.yaml"
    plain.write_text(TINY.format(name="plain"))
    result = invoke("show", str(plain / "x.yaml"))
    assert result.exit_code == 2 and f"`{plain}` is a regular file, not a folder" in result.output
    result = invoke("import-hf", str(plain / "config.json"))
    assert result.exit_code == 2 and f"`{plain}` is a regular file, not a folder" in result.output
    pipe = fifo(tmp_path / "pipe")
    result = cli("show", str(pipe / "x.yaml"), timeout=30)
    assert result.returncode == 2 and f"`{pipe}` is a FIFO (named pipe), not a folder" in result.stderr
    result = invoke("show", str(tmp_path / "missing" / "x.yaml"))
    assert result.exit_code == 2 and f"folder `{tmp_path / 'missing'}` does not exist" in result.output
    result = invoke("show", str(tmp_path / "missing.yaml"))
    assert result.exit_code == 2 and f"{tmp_path / 'missing.yaml'}: no such file" in result.output
    # the same words for a file to write
    result = invoke("list", "-o", str(plain / "out.json"))
    assert result.exit_code == 2 and f"`{plain}` is a regular file, not a folder" in result.output
    result = cli("list", "-o", str(pipe / "out.json"), timeout=30)
    assert result.returncode == 2 and f"`{pipe}` is a FIFO (named pipe), not a folder" in result.stderr
    result = invoke("list", "-o", str(tmp_path / "missing" / "out.json"))
    assert result.exit_code == 2 and f"folder `{tmp_path / 'missing'}` does not exist" in result.output


def test_budgets_file_type_errors_are_located(tmp_path):
    budgets = tmp_path / "budgets.yaml"
    for text, words in [
        (
            "max_total: 9B\nmax_active: [2B]\n",
            "field `max_active`: expected a budget such as `8B` or `4GiB@128k`, got ['2B']",
        ),
        (
            "max_total: 9B\nmax_active: true\n",
            "field `max_active`: expected a budget such as `8B` or `4GiB@128k`, got True",
        ),
        ("max_total: 9B\nmax_active: 2X\n", "field `max_active`: budget max_active `2X` is not a count"),
        ("max_total: 9B\nmax_kv: 4GiB\n", "field `max_kv`: budget max_kv `4GiB` needs a context"),
    ]:
        budgets.write_text(text)
        result = invoke("check", "qwen3-8b", "--budgets", str(budgets))
        assert result.exit_code == 2 and f"error: {budgets}:2:1: {words}" in result.output, result.output


# --- 5: spec limits, just under (accepted) and over (located error) --------------------------------


def test_spec_file_size_limit(tmp_path):
    from llmarch.spec.yamlsafe import MAX_FILE_BYTES

    path = tmp_path / "m.yaml"
    head = TINY.format(name="m")
    # comments fill the file: 100-byte lines, then one line to land exactly on the limit
    filler = ("#" + "x" * 98 + "\n") * ((MAX_FILE_BYTES - len(head)) // 100)
    path.write_text(head + filler + "#" * (MAX_FILE_BYTES - len(head) - len(filler) - 1) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert llmarch.load(str(path)).name == "m"
    over = tmp_path / "over.yaml"  # another name: llmarch.load caches by path
    over.write_text(path.read_text().replace("name: m", "name: over") + "\n")
    with pytest.raises(SpecError, match=f"file is larger than {MAX_FILE_BYTES:,} bytes"):
        llmarch.load(str(over))


def test_scalar_tags_remembered_across_files_keep_each_reading():
    # the loader remembers each plain scalar's tag by its text and implicit flags: the same text quoted and
    # plain, or `null` and `~` and `1e6`, must keep their own readings in whichever order they come
    from llmarch.spec import yamlsafe

    first = "a: '1'\nb: 1\nc: null\nd: '~'\ne: 1e6\nf: \"true\"\ng: true\nh: !!str 7\n"
    second = "h: !!str 7\ng: true\nf: \"true\"\ne: 1e6\nd: '~'\nc: null\nb: 1\na: '1'\n"
    expected = {"a": "1", "b": 1, "c": None, "d": "~", "e": 1e6, "f": "true", "g": True, "h": "7"}
    for text in (first, second, first):
        data = yamlsafe.load_text(text, "f.yaml").data
        assert data == expected and [type(data[k]) for k in "abe"] == [str, int, float]
    # a YAML 1.1 spelling is refused even after its quoted twin was remembered as text
    yamlsafe.load_text("x: 'yes'\n", "f.yaml")
    with pytest.raises(SpecError, match="would be read as the boolean true"):
        yamlsafe.load_text("x: yes\n", "f.yaml")


def test_scalar_tag_memo_is_bounded():
    from llmarch.spec import yamlsafe

    n = yamlsafe._RESOLVED_MAX * 3 // 4  # two documents of this many distinct scalars overflow the memo
    for doc in range(2):
        text = "x: [" + ",".join(f"v{doc}-{i}" for i in range(n)) + ", 5]\n"
        data = yamlsafe.load_text(text, "f.yaml").data
        assert data["x"][-1] == 5 and data["x"][n - 1] == f"v{doc}-{n - 1}"
        assert len(yamlsafe._RESOLVED) <= yamlsafe._RESOLVED_MAX


def test_scalar_tag_memo_holds_no_long_text():
    """Review of issue 27: the memo kept every scalar's text, so a folder of specs each holding long texts
    (notes up to the 10,000-character limit) kept up to 10,000 of them alive, 100,000,000 characters.  A long
    text reads the same and is not kept: 120 documents of a 9,500-character note leave at most 10,000 x 100
    characters in the memo (1,140,000 were kept before)."""
    from llmarch.spec import yamlsafe

    for doc in range(120):
        text = f"notes: {doc:03}" + "x" * 9_497 + "\nn: 1e3\n"
        data = yamlsafe.load_text(text, "f.yaml").data
        assert data["n"] == 1000.0 and data["notes"].startswith(f"{doc:03}x") and len(data["notes"]) == 9_500
    assert sum(len(value) for value, _ in yamlsafe._RESOLVED) <= 10_000 * 100


def test_spec_value_and_depth_limits():
    from llmarch.spec.yamlsafe import MAX_DEPTH, MAX_NODES, load_text

    # the document mapping is one value, the key `x` one, its list one, each item one
    items = MAX_NODES - 3
    assert len(load_text("x: [" + ",".join(["1"] * items) + "]\n", "f.yaml").data["x"]) == items
    with pytest.raises(SpecError, match=f"more than {MAX_NODES:,} values") as info:
        load_text("x: [" + ",".join(["1"] * (items + 1)) + "]\n", "f.yaml")
    assert (info.value.line, info.value.field) == (1, "x")
    # depth: the document mapping is level 0, `x`'s value level 1
    ok = "x: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n"
    assert load_text(ok, "f.yaml").data["x"] is not None
    with pytest.raises(SpecError, match=f"or {MAX_DEPTH} levels") as info:
        load_text("x: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", "f.yaml")
    assert (info.value.line, info.value.field) == (1, "x")


@pytest.mark.parametrize("nesting", ["[" * 100_000 + "]" * 100_000, "{a: " * 5000 + "1" + "}" * 5000])
def test_deep_yaml_is_a_located_error(tmp_path, nesting):
    path = tmp_path / "m.yaml"
    path.write_text(TINY.format(name="m") + f"notes: {nesting}\n")
    result = invoke("show", str(path))
    assert result.exit_code == 2 and result.output.startswith(f"error: {path}:8:"), result.output[:300]
    result = invoke("show", "qwen3-8b", "--set", f"notes={nesting}")
    assert result.exit_code == 2 and "internal error" not in result.output


def test_reference_entries_limit(tmp_path):
    from llmarch.spec.schema import MAX_ENTRIES

    entry = "  - {total: 1M, source: https://example.com}\n"
    path = tmp_path / "m.yaml"
    path.write_text(TINY.format(name="m") + "reference:\n" + entry * MAX_ENTRIES)
    assert len(llmarch.load(str(path)).references) == MAX_ENTRIES
    over = tmp_path / "over.yaml"  # another name: llmarch.load caches by path
    over.write_text(TINY.format(name="over") + "reference:\n" + entry * (MAX_ENTRIES + 1))
    with pytest.raises(SpecError, match=f"at most {MAX_ENTRIES} entries, got {MAX_ENTRIES + 1}") as info:
        llmarch.load(str(over))
    assert (info.value.line, info.value.field) == (8, "reference")


# --- 6: extends chains and cycles ------------------------------------------------------------------


def test_extends_cycle_between_files_without_names(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(SpecError, match="extends cycle") as info:
        llmarch.load(str(tmp_path / "a.yaml"))
    assert info.value.field == "extends" and info.value.line == 1
    # two files with the same `name:` are not a cycle: files are compared, not names
    (tmp_path / "base.yaml").write_text(TINY.format(name="same"))
    (tmp_path / "child.yaml").write_text("name: same\nextends: base.yaml\nn_layers: 2\n")
    assert llmarch.load(str(tmp_path / "child.yaml")).n_layers == 2


def test_extends_chain_limit(tmp_path):
    from llmarch.spec.registry import MAX_EXTENDS

    (tmp_path / "s0.yaml").write_text(TINY.format(name="s0"))
    for i in range(1, 1001):
        (tmp_path / f"s{i}.yaml").write_text(f"name: s{i}\nextends: s{i - 1}.yaml\n")
    assert llmarch.load(str(tmp_path / f"s{MAX_EXTENDS}.yaml")).name == f"s{MAX_EXTENDS}"
    with pytest.raises(SpecError, match=f"extends chain is longer than {MAX_EXTENDS} specs"):
        llmarch.load(str(tmp_path / f"s{MAX_EXTENDS + 1}.yaml"))
    result = invoke("show", str(tmp_path / "s1000.yaml"))
    assert result.exit_code == 2 and "extends chain is longer" in result.output


# --- 7: one bad spec in a spec folder ------------------------------------------------------------


def test_a_broken_spec_in_a_folder_breaks_only_its_own_name(tmp_path, monkeypatch):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "good.yaml").write_text(TINY.format(name="good"))
    (folder / "typo.yaml").write_text(TINY.format(name="typo").replace("n_layers: 6", "n_layers: 6\n  bad: [\n"))
    (folder / "misnamed.yaml").write_text(TINY.format(name="other"))
    (folder / "invalid.yaml").write_text(TINY.format(name="invalid").replace("d_ff: 256", "d_ff: -1"))
    # a broken override of a shipped name
    (folder / "gpt2.yaml").write_text(TINY.format(name="gpt2").replace("d_model: 64", "d_model: 64\nd_model: 32"))
    monkeypatch.setenv("LLMARCH_SPEC_PATH", str(folder))
    for args in (["kvcache", "qwen3-8b", "--format", "json"], ["kvcache", "good", "--format", "json"]):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        assert f"warning: skipped {folder / 'typo.yaml'}:" in result.output
        assert f"warning: skipped {folder / 'misnamed.yaml'}:1:1: field `name`" in result.output
    result = invoke("show", "typo")
    assert result.exit_code == 2 and f"error: {folder / 'typo.yaml'}:" in result.output
    # the broken override: its error, never the shipped spec in its place
    result = invoke("kvcache", "gpt2")
    assert (
        result.exit_code == 2 and f"error: {folder / 'gpt2.yaml'}:4:1: field `d_model`: duplicate key" in result.output
    )
    result = invoke("show", "invalid")
    assert result.exit_code == 2 and "field `ffn.d_ff`" in result.output
    result = invoke("list", "--format", "json")
    assert result.exit_code == 0 and '"name": "good"' in result.output and '"name": "qwen3-8b"' in result.output
    assert f"warning: skipped {folder / 'invalid.yaml'}" in result.output


def test_report_lists_bad_specs_and_fails(tmp_path):
    import json as json_module

    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "good.yaml").write_text(TINY.format(name="good"))
    (folder / "typo.yaml").write_text(TINY.format(name="typo").replace("d_ff: 256", "d_ff: 25b"))
    result = CliRunner().invoke(app, ["report", str(folder), "--format", "json"])
    assert result.exit_code == 2
    data = json_module.loads(result.stdout)
    assert [m["name"] for m in data["models"]] == ["good"]
    assert data["errors"] == [
        {"target": str(folder / "typo.yaml"), "error": data["errors"][0]["error"]},
    ]
    assert f"{folder / 'typo.yaml'}:7:" in data["errors"][0]["error"] and "ffn.d_ff" in data["errors"][0]["error"]
    result = CliRunner().invoke(app, ["report", str(folder), "--format", "markdown"])
    assert result.exit_code == 2 and "Specs that could not be analysed" in result.stdout and "good" in result.stdout
    import jsonschema

    from llmarch.render.output_schema import OUTPUT_SCHEMA

    jsonschema.validate(data, OUTPUT_SCHEMA)
    # a target too long to be a path is an unknown name, listed like any other failure
    result = CliRunner().invoke(app, ["report", "a" * 5000, "--format", "json"])
    assert result.exit_code == 2 and "internal error" not in result.output
    assert "unknown model" in json_module.loads(result.stdout)["errors"][0]["error"]


# --- 8: a bare name is a model name, never a file of that name ---------------------------------


def test_a_file_named_like_a_model_does_not_replace_it(tmp_path):
    (tmp_path / "qwen3-8b").write_text(TINY.format(name="qwen3-8b"))
    (tmp_path / "gpt2").mkdir()
    result = cli("kvcache", "qwen3-8b", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert '"name": "qwen3-8b"' in result.stdout and '"n_layers"' not in result.stdout
    assert "warning: `qwen3-8b` is the spec" in result.stderr and "not the file `qwen3-8b`" in result.stderr
    assert "write `./qwen3-8b`" in result.stderr
    shipped = cli("kvcache", "qwen3-8b", "--format", "json", cwd=ROOT).stdout
    assert result.stdout == shipped
    result = cli("kvcache", "gpt2", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0 and "not the folder `gpt2`" in result.stderr
    # report: a bare name is the model even beside a folder of that name; a folder needs a path or an unknown name
    (tmp_path / "gpt2" / "other.yaml").write_text(TINY.format(name="other"))
    result = cli("report", "gpt2", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0 and '"name": "gpt2"' in result.stdout and '"name": "other"' not in result.stdout
    assert "not the folder `gpt2`" in result.stderr
    result = cli("report", "./gpt2", "--format", "json", cwd=tmp_path)
    assert result.returncode == 0 and '"name": "other"' in result.stdout
    # the file, asked for as a file
    mine = cli("kvcache", "./qwen3-8b", "--format", "json", cwd=tmp_path)
    assert mine.returncode == 0 and mine.stdout != shipped
    # an unknown bare name with a file of that name: the error says how to read the file
    (tmp_path / "mymodel").write_text(TINY.format(name="mymodel"))
    result = cli("kvcache", "mymodel", cwd=tmp_path)
    assert (
        result.returncode == 2 and "unknown model `mymodel`" in result.stderr and "write `./mymodel`" in result.stderr
    )


def test_report_of_every_spec_lists_a_broken_folder_file(tmp_path, monkeypatch):
    import json as json_module

    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "typo.yaml").write_text(TINY.format(name="typo").replace("n_layers: 6", "n_layers: 6\n  bad: [\n"))
    (folder / "good.yaml").write_text(TINY.format(name="good"))
    monkeypatch.setenv("LLMARCH_SPEC_PATH", str(folder))
    result = CliRunner().invoke(app, ["report", "--format", "json"])
    assert result.exit_code == 2
    data = json_module.loads(result.stdout)
    names = {m["name"] for m in data["models"]}
    assert {"good", "qwen3-8b", "deepseek-v3"} <= names
    assert [e["target"] for e in data["errors"]] == [str(folder / "typo.yaml")]


def test_spec_folder_that_is_not_a_folder(tmp_path):
    pipe = fifo(tmp_path / "pipe")
    result = cli("list", "--spec-path", str(pipe), timeout=30)
    assert result.returncode == 2 and f"spec folder `{pipe}` is a FIFO (named pipe)" in result.stderr
    result = invoke("list", "--spec-path", str(tmp_path / "nowhere"))
    assert result.exit_code == 2 and f"spec folder `{tmp_path / 'nowhere'}` does not exist" in result.output


def test_extends_merge_at_the_value_limit_is_linear(tmp_path):
    """A child of ~20,000 keys over a parent of ~20,000 values: merging once scanned every mark per key
    (minutes); now one pass. Measured in CPU time, so a busy machine does not make it flaky."""
    import time

    from llmarch.spec.yamlsafe import MAX_NODES

    n = MAX_NODES - 100
    (tmp_path / "parent.yaml").write_text(TINY.format(name="parent") + "junk: [" + ",".join(["1"] * n) + "]\n")
    keys = n // 2  # a key and its value are two values
    (tmp_path / "child.yaml").write_text(
        "name: child\nextends: parent.yaml\n" + "".join(f"k{i}: 1\n" for i in range(keys))
    )
    start = time.process_time()
    with pytest.raises(SpecError, match="unknown key"):
        llmarch.load(str(tmp_path / "child.yaml"))
    assert time.process_time() - start < 10
