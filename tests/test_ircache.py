"""The resolved-IR cache and the spec-folder index: a warm run parses one spec file at most, imports no
schema, and a change to any file the answer depends on is seen.

The reference for every IR is a fresh load with the cache off (`api._load.__wrapped__` under
LLMARCH_NO_CACHE=1, as the suite runs).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import llmarch
from llmarch import api
from llmarch import cache as buildcache
from llmarch.spec import ircache
from llmarch.spec.registry import Registry

registry = importlib.import_module("llmarch.spec.registry")  # the module (`llmarch.registry` is the API function)

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
        "print(sorted(m for m in ('torch', 'llmarch.spec.schema', 'llmarch.spec.resolve') if m in sys.modules), file=sys.stderr)\n"
    )

    def run():
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
        return out.stdout, out.stderr.strip().splitlines()[-1]

    cold, cold_modules = run()
    warm, warm_modules = run()
    assert cold == warm
    assert cold_modules == "['llmarch.spec.resolve', 'llmarch.spec.schema', 'torch']"
    assert warm_modules == "[]"


def test_a_parent_is_found_from_the_childs_path_as_read_not_from_its_symlinks_target(cache, tmp_path):
    """`extends: base.yaml` in a spec read through a symlink means the base beside the link (the loader
    does not resolve the link first); the cache must check that file, not the one beside the link's target.
    Story: a workspace of links to shared specs; the user replaces the link to the base by an edited copy."""
    shared, work = tmp_path / "shared", tmp_path / "work"
    shared.mkdir()
    work.mkdir()
    (shared / "child.yaml").write_text("name: child\nextends: base.yaml\nd_model: 2048\n")
    (shared / "base.yaml").write_text("name: base\nextends: qwen3-8b\nn_layers: 30\n")
    (work / "child.yaml").symlink_to(shared / "child.yaml")
    (work / "base.yaml").symlink_to(shared / "base.yaml")
    child = str(work / "child.yaml")
    assert through_cache(child).n_layers == 30 == fresh(child).n_layers

    (work / "base.yaml").unlink()
    (work / "base.yaml").write_text("name: base\nextends: qwen3-8b\nn_layers: 12\n")  # shared/base.yaml unchanged
    assert fresh(child).n_layers == 12
    assert through_cache(child).n_layers == 12, "the warm load used the base beside the link's target"


@dataclasses.dataclass(frozen=True)
class _Inner:
    width: int


@dataclasses.dataclass(frozen=True)
class _Outer:  # IR-like fields written the other ways Python allows
    inner: _Inner | None
    pairs: tuple[_Inner, ...] | None
    ratio: float
    table: dict[int, str] | None = None


def test_fields_written_with_a_bar_are_rebuilt_and_unrebuildable_ones_are_refused():
    """`X | None` is the same hint as `Optional[X]` but not the same typing object: a dataclass inside it came
    back as a dict.  A dict field cannot come back exactly (JSON keys are strings): refused, never rebuilt
    as something else."""
    value = _Outer(inner=_Inner(4), pairs=(_Inner(1), _Inner(2)), ratio=0.5)
    plain = json.loads(json.dumps(dataclasses.asdict(value)))
    assert ircache._build(_Outer, plain) == value
    with pytest.raises(TypeError, match="cannot rebuild"):
        ircache._build(_Outer, {**plain, "table": {"1": "a"}})


def test_an_edit_within_one_tick_of_the_file_clock_is_seen(cache, tmp_path, monkeypatch):
    """On a file system with one-second times (ext3, HFS+, some network mounts) an in-place edit of the same
    size within the second keeps the file's whole identity (size, times, inode): the folder index must not
    keep the old aliases.  The coarse clock is simulated by flooring the times the index reads."""
    real = registry._FolderIndex._identity

    def one_second_clock(path):
        ident = real(path)
        return ident and [ident[0], ident[1] // 10**9 * 10**9, ident[2] // 10**9 * 10**9, *ident[3:]]

    monkeypatch.setattr(registry._FolderIndex, "_identity", staticmethod(one_second_clock))
    specs = tmp_path / "specs"
    specs.mkdir()
    spec = specs / "edited-model.yaml"
    Registry.discover([str(specs)], use_env=False)  # the shipped folder's index is filled before the clock races
    for _ in range(5):  # the two writes must fall within one second of the simulated clock
        time.sleep(1.0 - time.time() % 1.0 + 0.01)
        spec.write_text("name: edited-model\nextends: qwen3-8b\naliases: [first-alias]\n")
        before = one_second_clock(spec)
        assert Registry.discover([str(specs)], use_env=False).lookup("first-alias").name == "edited-model"
        with open(spec, "r+") as f:  # in place: the same inode
            f.write("name: edited-model\nextends: qwen3-8b\naliases: [other-alias]\n")
        if one_second_clock(spec) == before:
            break
    else:
        pytest.fail("could not edit the file twice within one second")
    reg = Registry.discover([str(specs)], use_env=False)
    assert reg.lookup("other-alias").name == "edited-model", "the folder index kept the aliases read before the edit"
    assert not reg.knows("first-alias")


def test_one_relative_argument_from_two_working_directories(cache, tmp_path, monkeypatch):
    """`./child.yaml` from two folders, each a link to one shared file (one real path, one digest, one
    argument: one cache key) whose `extends: base.yaml` is each folder's own base: each run gets its own."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "child.yaml").write_text("name: child\nextends: base.yaml\n")
    for layers in (30, 12):
        work = tmp_path / f"work-{layers}"
        work.mkdir()
        (work / "child.yaml").symlink_to(shared / "child.yaml")
        (work / "base.yaml").write_text(f"name: base\nextends: qwen3-8b\nn_layers: {layers}\n")
    for layers in (30, 12, 30):
        monkeypatch.chdir(tmp_path / f"work-{layers}")
        assert fresh("./child.yaml").n_layers == layers
        assert through_cache("./child.yaml").n_layers == layers
