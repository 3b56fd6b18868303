"""The resolved-IR cache and the spec-folder index: a warm run parses one spec file at most, imports no
schema, and a change to any file the answer depends on is seen.

The reference for every IR is a fresh load with the cache off (`api._load.__wrapped__` under
LLMARCH_NO_CACHE=1, as the suite runs).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import llmarch
from llmarch import api, buildcache, ircache
from llmarch.registry import Registry

registry = importlib.import_module("llmarch.registry")  # `llmarch.registry` the attribute is the API function

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv(buildcache.ENV_DIR, str(folder))
    monkeypatch.setenv(buildcache.ENV_OFF, "0")
    return folder


def fresh(name: str, spec_paths: list[str] | None = None, sets: tuple[str, ...] = ()):
    """The IR loaded without any cache (neither this process's nor the build cache)."""
    old = os.environ.get(buildcache.ENV_OFF)
    os.environ[buildcache.ENV_OFF] = "1"
    try:
        return api._load.__wrapped__(name, tuple(spec_paths or ()), os.environ.get(registry.ENV_VAR), sets)
    finally:
        if old is None:
            del os.environ[buildcache.ENV_OFF]
        else:
            os.environ[buildcache.ENV_OFF] = old


def through_cache(name: str, spec_paths: list[str] | None = None, sets: tuple[str, ...] = ()):
    """A load as a new process makes it: a new registry, the build cache on."""
    api._registry.cache_clear()
    return api._load.__wrapped__(name, tuple(spec_paths or ()), os.environ.get(registry.ENV_VAR), sets)


@pytest.mark.parametrize("name", llmarch.registry().names())
def test_every_shipped_ir_survives_the_cache_unchanged(name):
    ir = llmarch.load(name)
    again = ircache.decode(json.loads(json.dumps(ircache.encode(ir))))
    assert again == ir
    assert again.notes == ir.notes  # not compared by ==: checked on its own
    assert [layer.index for layer in again.layers] == list(range(ir.n_layers))


def test_a_warm_load_parses_no_yaml_and_validates_nothing(cache, monkeypatch):
    expected = fresh("deepseek-v3")
    assert through_cache("deepseek-v3") == expected  # fills the cache
    calls = []
    monkeypatch.setattr(registry, "load_file", lambda *a: calls.append(a))
    monkeypatch.setattr(registry, "_read", lambda *a: calls.append(a))
    assert through_cache("deepseek-v3") == expected
    assert calls == [], "a warm load read a spec file as YAML"


def write_spec(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\n" + body)
    return path


def test_each_file_of_an_extends_chain_is_checked(cache, tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    write_spec(specs, "base-model", "extends: qwen3-8b\nn_layers: 30\n")
    child = write_spec(specs, "child-model", "extends: base-model\nd_model: 2048\n")
    paths = [str(specs)]
    assert through_cache("child-model", paths) == fresh("child-model", paths)
    assert through_cache("child-model", paths).n_layers == 30

    # the middle of the chain changes: the cached IR must not be used
    write_spec(specs, "base-model", "extends: qwen3-8b\nn_layers: 20\n")
    assert through_cache("child-model", paths).n_layers == 20 == fresh("child-model", paths).n_layers

    # the child changes
    child.write_text(child.read_text().replace("d_model: 2048", "d_model: 1024"))
    assert through_cache("child-model", paths).d_model == 1024

    # the name `base-model` now means another file (a folder of higher precedence): the chain is different
    override = tmp_path / "override"
    override.mkdir()
    write_spec(override, "base-model", "extends: qwen3-8b\nn_layers: 10\n")
    os.environ[registry.ENV_VAR] = str(specs)  # below --spec-path in precedence
    try:
        top = [str(override)]
        assert through_cache("child-model", top).n_layers == 10 == fresh("child-model", top).n_layers
    finally:
        del os.environ[registry.ENV_VAR]


def test_a_what_if_edit_and_a_path_argument_are_their_own_entries(cache, tmp_path):
    plain = through_cache("qwen3-8b")
    edited = through_cache("qwen3-8b", sets=("n_layers=40",))
    assert edited.n_layers == 40 and plain.n_layers != 40
    assert through_cache("qwen3-8b") == plain
    copy = tmp_path / "qwen3-8b.yaml"
    copy.write_text((ROOT / "specs" / "qwen3-8b.yaml").read_text())
    by_path = through_cache(str(copy))
    assert by_path.path == str(copy) and by_path == fresh(str(copy))


def test_a_damaged_ir_entry_is_a_miss(cache):
    expected = fresh("qwen3-8b")
    through_cache("qwen3-8b")
    (entry,) = cache.glob("ir-*.json")
    data = json.loads(entry.read_text())
    data["value"]["ir"]["d_model"] += 1
    entry.write_text(json.dumps(data))  # the payload digest no longer matches
    assert through_cache("qwen3-8b") == expected


def test_the_folder_index_reads_only_changed_files(cache, tmp_path, monkeypatch):
    specs = tmp_path / "specs"
    specs.mkdir()
    for i in range(3):
        write_spec(specs, f"model-{i}", "extends: qwen3-8b\n")
    Registry.discover([str(specs)], use_env=False)  # fills the index
    reads = []
    real_read = registry._read
    monkeypatch.setattr(registry, "_read", lambda path: reads.append(path.name) or real_read(path))
    reg = Registry.discover([str(specs)], use_env=False)
    assert reads == [] and {"model-0", "model-1", "model-2"} <= set(reg.names())

    write_spec(specs, "model-1", "extends: qwen3-8b\naliases: [m1]\n")
    reg = Registry.discover([str(specs)], use_env=False)
    assert reads == ["model-1.yaml"] and reg.lookup("m1").name == "model-1"

    # a broken file is never indexed: its error is found again on every run
    (specs / "model-2.yaml").write_text("name: other-name\n")
    for _ in range(2):
        reads.clear()
        reg = Registry.discover([str(specs)], use_env=False)
        assert reads == ["model-2.yaml"]
        assert "model-2" not in reg.names() and any("model-2" in n for n in reg.notices)


def test_a_warm_show_imports_neither_torch_nor_the_schema(cache):
    probe = (
        "import sys\nfrom llmarch.cli import run\nsys.argv = ['llmarch', 'show', 'qwen3-8b']\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('torch', 'llmarch.schema', 'llmarch.resolve') if m in sys.modules), file=sys.stderr)\n"
    )

    def run():
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
        return out.stdout, out.stderr.strip().splitlines()[-1]

    cold, cold_modules = run()
    warm, warm_modules = run()
    assert cold == warm
    assert cold_modules == "['llmarch.resolve', 'llmarch.schema', 'torch']"
    assert warm_modules == "[]"
