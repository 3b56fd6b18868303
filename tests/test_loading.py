"""Spec loading: names, aliases, spec folders, `extends:`, layer patterns, validation errors."""

from __future__ import annotations

from pathlib import Path

import pytest

import llmarch
from llmarch.errors import LlmarchError, SpecError
from llmarch.spec.registry import Registry
from llmarch.spec.resolve import to_ir
from llmarch.spec.validate import validate

TINY = """\
name: {name}
vocab_size: 1000
d_model: 64
n_layers: 6
context_length: 2048
attention: {{n_heads: 4, n_kv_heads: 2, window: 128, rope: {{theta: 10000}}}}
ffn: {{d_ff: 256}}
"""


def write(folder: Path, name: str, text: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text if text is not None else TINY.format(name=name))
    return path


def resolve(reg: Registry, name: str):
    located = reg.load(name)
    return to_ir(validate(located), located)


def test_alias_from_design_brief():
    assert llmarch.load("qwen3-235b").name == "qwen3-235b-a22b"


def test_unknown_name_never_guesses():
    with pytest.raises(LlmarchError, match="did you mean"):
        llmarch.load("deepseek-v4")


def test_user_folder_overrides_shipped_with_notice(tmp_path):
    write(tmp_path, "gpt2")
    reg = Registry.discover([str(tmp_path)])
    assert reg.lookup("gpt2").path.parent == tmp_path
    assert any("overrides" in n for n in reg.notices)


def test_same_precedence_collision(tmp_path, monkeypatch):
    write(tmp_path / "a", "tiny")
    write(tmp_path / "b", "tiny")
    write(tmp_path / "b", "tiny-two")
    write(tmp_path / "c", "tiny")  # a lower-precedence spec of the name must not be chosen silently either
    monkeypatch.setenv("LLMARCH_SPEC_PATH", str(tmp_path / "c"))
    reg = Registry.discover([str(tmp_path / "a"), str(tmp_path / "b")])  # only this name is broken
    assert any("defined twice" in n for n in reg.notices)
    with pytest.raises(SpecError, match="defined twice"):
        reg.lookup("tiny")
    assert reg.lookup("tiny-two").path.parent == tmp_path / "b"


def test_env_spec_path(tmp_path, monkeypatch):
    write(tmp_path, "tiny-env")
    monkeypatch.setenv("LLMARCH_SPEC_PATH", str(tmp_path))
    assert "tiny-env" in Registry.discover([]).names()


def test_alias_collision(tmp_path):
    write(tmp_path, "one", TINY.format(name="one") + "aliases: [x1]\n")
    write(tmp_path, "two", TINY.format(name="two") + "aliases: [x1]\n")
    write(tmp_path, "three", TINY.format(name="three") + "aliases: [gpt2]\n")
    reg = Registry.discover([str(tmp_path)])  # the clashing alias and spec are unusable, nothing else
    with pytest.raises(SpecError, match="alias `x1` is also declared by"):
        reg.lookup("x1")
    assert reg.lookup("one").name == "one" and reg.lookup("two").name == "two"
    with pytest.raises(SpecError, match="alias `gpt2` is already the name of the spec"):
        reg.lookup("three")
    assert reg.lookup("gpt2").path.parent != tmp_path


def test_extends_deep_merge_and_metadata_not_inherited(tmp_path):
    write(tmp_path, "base", TINY.format(name="base") + "layers: {mixer: LG}\n")  # a window needs local layers
    write(tmp_path, "child", "name: child\nextends: base\nattention: {n_kv_heads: 4}\n")
    reg = Registry.discover([str(tmp_path)])
    ir = resolve(reg, "child")
    attn = ir.layers[0].attention
    assert (attn.n_heads, attn.n_kv_heads) == (4, 4)  # n_heads inherited, n_kv_heads overridden
    assert ir.name == "child"


def test_extends_missing_parent(tmp_path):
    write(tmp_path, "child", "name: child\nextends: basse\n")
    write(tmp_path, "base")
    reg = Registry.discover([str(tmp_path)])
    with pytest.raises(SpecError, match="parent spec `basse` not found; did you mean `base`"):
        reg.load("child")


@pytest.mark.parametrize("texts", [{"a": "a"}, {"a": "b", "b": "a"}])
def test_extends_cycles(tmp_path, texts):
    for name, parent in texts.items():
        write(tmp_path, name, f"name: {name}\nextends: {parent}\n")
    reg = Registry.discover([str(tmp_path)])
    with pytest.raises(SpecError, match="extends cycle"):
        reg.load("a")


def test_pattern_tiles_from_layer_zero_and_cuts_the_tail(tmp_path):
    write(tmp_path, "p", TINY.format(name="p") + "layers: {mixer: LLLLG}\n")
    ir = resolve(Registry.discover([str(tmp_path)]), "p")
    assert [l.mixer for l in ir.layers] == ["local"] * 4 + ["global", "local"]
    assert ir.layers[0].attention.window == 128 and ir.layers[4].attention.window is None


def test_gemma_phase_matches_formula():
    ir = llmarch.load("gemma-3-27b") if "gemma-3-27b" in llmarch.registry().names() else None
    if ir is None:
        pytest.skip("gemma-3-27b not shipped yet")
    assert [l.mixer == "global" for l in ir.layers] == [(i + 1) % 6 == 0 for i in range(62)]


@pytest.mark.parametrize(
    "extra,field,message",
    [
        ("layers: {mixer: LLLLLLLG}\n", "layers.mixer", "longer"),
        ("layers: {mixer: [local, global]}\n", "layers.mixer", "per-layer list has 2 entries"),
        ("layers: {mixer: GQ}\n", "layers.mixer", "unknown letter `Q`"),  # X is the mLSTM (issue 23)
        ("layers: {dense_prefix: 9}\n", "layers.dense_prefix", "exceeds n_layers"),
        ("moe: {n_experts: 4, top_k: 8, d_expert: 32}\n", "moe", "top_k (8) is larger than n_experts (4)"),
        ("moe: {n_experts: 4, top_k: 2, d_expert: 32, n_shared_experts: 1}\n", "moe", "d_shared"),
        ("tie_embeddings: 1\n", "tie_embeddings", "expected true or false"),
    ],
)
def test_impossible_shapes(tmp_path, extra, field, message):
    path = write(tmp_path, "bad", TINY.format(name="bad") + extra)
    with pytest.raises(SpecError) as info:
        llmarch.load(str(path))
    assert info.value.field == field
    assert message in str(info.value)
    assert info.value.line is not None


def test_heads_not_divisible(tmp_path):
    path = write(tmp_path, "bad", TINY.format(name="bad").replace("n_kv_heads: 2", "n_kv_heads: 3"))
    with pytest.raises(SpecError, match="not divisible") as info:
        llmarch.load(str(path))
    assert info.value.field == "attention.n_kv_heads"
    assert info.value.line == 6


def test_string_for_int_and_float_layers(tmp_path):
    path = write(tmp_path, "bad", TINY.format(name="bad").replace("n_layers: 6", "n_layers: 6.0"))
    with pytest.raises(SpecError, match="expected an integer") as info:
        llmarch.load(str(path))
    assert (info.value.field, info.value.line) == ("n_layers", 4)


def test_a_model_over_the_parameter_limit_is_refused_at_load(tmp_path):
    """100T parameters is the limit every analysis is sized for: a model over it is refused when it is
    loaded (api.load runs params.check_size; resolve, in the spec layer, cannot count).  Hand arithmetic: the
    FFNs alone hold 1,024 layers x 3 x 131,072 x 1,048,576 = 422,212,465,065,984 parameters."""
    text = (
        TINY.format(name="huge")
        .replace("window: 128, ", "")
        .replace("d_model: 64", "d_model: 131072")
        .replace("n_layers: 6", "n_layers: 1024")
    )
    text = text.replace("n_heads: 4, n_kv_heads: 2", "n_heads: 1024, n_kv_heads: 8").replace(
        "d_ff: 256", "d_ff: 1048576"
    )
    path = write(tmp_path, "huge", text)
    with pytest.raises(SpecError, match="more than the limit of 100,000,000,000,000") as info:
        llmarch.load(str(path))
    assert info.value.file == str(path)


def test_an_adjustment_removing_more_than_the_model_is_refused_at_load(tmp_path):
    text = TINY.format(name="adjusted").replace("window: 128, ", "") + (
        "reference:\n  - total: 1M\n    source: hand\n    adjustments:\n      - what: a part larger than the model\n"
        "        params: -1000000000\n"
    )
    path = write(tmp_path, "adjusted", text)
    with pytest.raises(SpecError, match="removes 1,000,000,000 parameters, more than the model's") as info:
        llmarch.load(str(path))
    assert (info.value.field, info.value.line) == ("reference[0].adjustments[0].params", 13)


@pytest.mark.parametrize("collecting", [True, False])
def test_importing_torch_for_a_build_leaves_the_collector_as_it_was(collecting):
    # meta.py pauses the cyclic collector while torch loads and freezes what exists after; the collector's
    # on/off state must come back as the caller had it (a library must not switch it on or off for good)
    import subprocess
    import sys

    code = (
        "import gc\n"
        f"{'gc.enable()' if collecting else 'gc.disable()'}\n"
        "import llmarch.builder.model\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 100_000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(collecting), "True"]
