"""The build cache: a warm `show`/`compare` never imports torch, and the cache can never change an answer.

Each test gets a cache folder of its own and turns the cache on (conftest turns it off for the suite).
The reference for every answer is the same command with the cache bypassed (`--no-cache`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llmarch import cache as buildcache

ROOT = Path(__file__).resolve().parent.parent

# Runs the CLI in a fresh interpreter and says on stderr whether torch was imported.
PROBE = (
    "import sys\n"
    "from llmarch.cli import run\n"
    "sys.argv = ['llmarch'] + sys.argv[1:]\n"
    "try:\n"
    "    run()\n"
    "except SystemExit as e:\n"
    "    code = e.code\n"
    "else:\n"
    "    code = 0\n"
    "print('TORCH-IMPORTED' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(buildcache.ENV_DIR, str(folder))
    monkeypatch.setenv(buildcache.ENV_OFF, "0")
    return folder


def cli(*args, env=None):
    run_env = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=run_env, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    return out.stdout, "TORCH-IMPORTED" in out.stderr


def reference(*args):
    """The answer with the cache bypassed, in-process (torch is already imported in the test process)."""
    from typer.testing import CliRunner

    from llmarch.cli import app

    result = CliRunner().invoke(app, [*args, "--no-cache"], env={buildcache.ENV_OFF: "1"})
    assert result.exit_code == 0, result.output
    return result.stdout


def entries(folder: Path, kind: str | None = "module_params") -> list[Path]:
    """The entries of one kind (the cache also keeps resolved IRs and spec-folder indexes), or all of them."""
    found = folder.glob(f"{kind}-*.json" if kind else "*.json")
    return sorted(p for p in found if not p.name.startswith(".tmp-"))


def test_second_show_and_compare_never_import_torch_and_answer_the_same(cache):
    expected = reference("show", "deepseek-v3", "-f", "json")
    first, first_torch = cli("show", "deepseek-v3", "-f", "json")
    second, second_torch = cli("show", "deepseek-v3", "-f", "json")
    assert first_torch and not second_torch
    assert first == second == expected
    assert len(entries(cache)) == 1

    ref_cmp = reference("compare", "qwen3-235b", "deepseek-v3", "-f", "json")
    cold, cold_torch = cli("compare", "qwen3-235b", "deepseek-v3", "-f", "json")
    warm, warm_torch = cli("compare", "qwen3-235b", "deepseek-v3", "-f", "json")
    assert cold_torch and not warm_torch
    assert cold == warm == ref_cmp


def test_no_cache_neither_reads_nor_writes(cache):
    _, torch_imported = cli("show", "qwen3-8b", "--no-cache")
    assert torch_imported and not cache.exists()
    _, torch_imported = cli("show", "qwen3-8b", env={buildcache.ENV_OFF: "1"})
    assert torch_imported and not cache.exists()


def test_a_what_if_edit_is_its_own_entry(cache):
    base, _ = cli("show", "qwen3-8b", "-f", "json")
    edited, torch_imported = cli("show", "qwen3-8b", "-f", "json", "--set", "n_layers=40")
    assert torch_imported, "an edited IR must not hit the unedited model's entry"
    assert json.loads(base)["models"][0]["params"]["total"] != json.loads(edited)["models"][0]["params"]["total"]
    assert len(entries(cache)) == 2


def test_a_corrupt_entry_is_rebuilt_never_trusted(cache):
    expected = reference("show", "qwen3-8b", "-f", "json")
    cli("show", "qwen3-8b", "-f", "json")
    (path,) = entries(cache)
    good = path.read_text()
    entry = json.loads(good)
    edited = json.loads(good)
    edited["value"]["by_component"]["attention"] += 1  # valid JSON: only the payload digest can tell
    damages = {
        "truncated": good[: len(good) // 2],
        "garbage": "\x00\xff" * 100,
        "empty": "",
        "another key": json.dumps({**entry, "key": "0" * 64}),
        "an edited number": json.dumps(edited),
    }
    for damage, text in damages.items():
        path.write_text(text)
        again, torch_imported = cli("show", "qwen3-8b", "-f", "json")
        assert torch_imported, f"{damage}: a damaged entry must be rebuilt"
        assert again == expected, damage
        assert json.loads(path.read_text()) == entry, f"{damage}: the rebuilt entry is the good one"


def test_a_new_torch_or_llmarch_source_misses(cache, monkeypatch):
    import llmarch

    ir = llmarch.load("qwen3-8b")
    k = buildcache.key("module_params", ir)
    monkeypatch.setattr(buildcache, "counter_versions", lambda: "99.0")
    assert buildcache.key("module_params", ir) != k
    monkeypatch.undo()
    monkeypatch.setattr(buildcache, "source_digest", lambda: "edited")
    assert buildcache.key("module_params", ir) != k
    monkeypatch.undo()
    assert buildcache.key("module_params", ir) == k
    # the torch version comes from package metadata, without importing torch
    from importlib import metadata

    assert buildcache.counter_versions() == f"{metadata.version('torch')} {metadata.version('fvcore')}"


def test_source_digest_covers_llmarch_source(tmp_path, monkeypatch):
    """The digest is over llmarch's files: a changed byte in any of them changes it."""
    package = Path(buildcache.__file__).resolve().parent
    copy = tmp_path / "llmarch"
    copy.mkdir()
    for name in ("cache.py", "ir.py"):
        (copy / name).write_bytes((package / name).read_bytes())
    digest = buildcache.source_digest.__wrapped__  # the uncached function
    fake = copy / "cache.py"
    monkeypatch.setattr(buildcache, "__file__", str(fake))
    before = digest()
    (copy / "ir.py").write_text((copy / "ir.py").read_text() + "\n# edited\n")
    assert digest() != before


def test_concurrent_runs_share_the_cache_safely(cache):
    expected = reference("show", "gemma-3-27b", "-f", "json")
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(lambda _: cli("show", "gemma-3-27b", "-f", "json")[0], range(4)))
    assert all(out == expected for out in outs)
    assert len(entries(cache)) == 1
    assert not list(cache.glob(".tmp-*")), "a temporary file was left behind"
    warm, torch_imported = cli("show", "gemma-3-27b", "-f", "json")
    assert warm == expected and not torch_imported


def test_an_unusable_cache_folder_never_fails_a_command(tmp_path):
    expected = reference("show", "qwen3-8b", "-f", "json")
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    for folder in (a_file, a_file / "below-a-file", Path("/proc/version/llmarch")):
        out, _ = cli("show", "qwen3-8b", "-f", "json", env={buildcache.ENV_DIR: str(folder), buildcache.ENV_OFF: "0"})
        assert out == expected
    # no HOME, no XDG_CACHE_HOME, no LLMARCH_CACHE_DIR
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", buildcache.ENV_DIR)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, "show", "qwen3-8b", "-f", "json"],
        capture_output=True,
        text=True,
        env={**env, buildcache.ENV_OFF: "0"},
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0 and out.stdout == expected


def test_the_folder_is_bounded(cache, monkeypatch):
    monkeypatch.setattr(buildcache, "MAX_BYTES", 2000)
    for i in range(20):
        buildcache.put(f"{i:064x}", {"n": i, "pad": "x" * 200})
    files = entries(cache, None)
    assert sum(p.stat().st_size for p in files) <= 2000
    assert 0 < len(files) < 20
    assert buildcache.get(f"{19:064x}") == {"n": 19, "pad": "x" * 200}  # the newest survives


def test_traced_flops_are_cached_and_equal(cache):
    args = ("flops", "qwen3-0.6b", "--counter", "torch", "--seq", "128", "-f", "json")
    expected = reference(*args)
    cold, cold_torch = cli(*args)
    warm, warm_torch = cli(*args)
    assert cold_torch and not warm_torch
    assert cold == warm == expected
    counters = json.loads(warm)["models"][0]["counters"]
    assert counters["torch"]["normalised"] == counters["analytic"]["normalised"]


def test_cache_info_and_clear(cache):
    cli("show", "qwen3-8b")
    out, torch_imported = cli("cache", "info", "-f", "json")
    info = json.loads(out)
    assert not torch_imported
    # the module walk, the resolved IR and the index of the shipped specs' folder
    kinds = sorted(p.name.rsplit("-", 1)[0] for p in entries(cache, None))
    assert kinds == ["ir", "module_params", "spec-folder-index"]
    assert info["folder"] == str(cache) and info["entries"] == 3 and info["bytes"] > 0
    out, _ = cli("cache", "clear")
    assert "removed 3 cache entries" in out
    assert entries(cache, None) == []


def test_an_entry_nested_too_deep_or_not_a_regular_file_is_a_miss(cache):
    """Damage that is not a parse error: JSON nested past the interpreter's recursion limit (json raises
    RecursionError), a folder, and a FIFO in an entry's place (opening it for reading waits for a writer:
    the command would hang).  Each is a miss, at once; the entry is then rebuilt."""
    import threading

    name = "module_params-" + "0" * 64
    cache.mkdir()
    path = cache / (name + buildcache.SUFFIX)
    path.write_text("[" * 100_000)
    assert buildcache.get(name) is None
    buildcache.put(name, {"total": 1})
    assert buildcache.get(name) == {"total": 1}

    path.unlink()
    path.mkdir()
    assert buildcache.get(name) is None
    path.rmdir()

    os.mkfifo(path)
    answers = []
    reader = threading.Thread(target=lambda: answers.append(buildcache.get(name)), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # release the blocked open before failing
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(5)
    assert answers == [None], "reading a FIFO in an entry's place blocked"
    buildcache.put(name, {"total": 2})  # replaced by a regular entry
    assert buildcache.get(name) == {"total": 2}
