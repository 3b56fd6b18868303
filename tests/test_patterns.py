"""Issue 24 item 9: one layer-pattern formatter, in the words people use, shared by `show --layers`, the
tables' layer mix and the diagrams' headers. Expected texts are written out by hand from the published
layer layouts (the configs' `sliding_window_pattern`, `full_attention_interval`, `first_k_dense_replace`).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llmarch.cli import app
from llmarch.kinds import ATTENTION_KINDS, KIND_WORDS, LINEAR_MIXER_KINDS
from llmarch.patterns import pattern_text, runs


@pytest.mark.parametrize(
    "words, said",
    [
        ([], ""),
        (["global"] * 36, "36 global"),  # a uniform stack
        (["local"] * 5 + ["global"], "5 local, then 1 global"),  # too short to repeat: its runs
        ((["local"] * 5 + ["global"]) * 10, "(5 local + 1 global) × 10"),  # a period, no tail
        ((["local"] * 5 + ["global"]) * 10 + ["local"] * 2, "(5 local + 1 global) × 10, then 2 local"),  # a tail
        (["dense"] * 3 + ["MoE"] * 58, "3 dense, then 58 MoE"),  # a dense prefix, then MoE
        ((["Gated DeltaNet"] * 3 + ["global"]) * 12, "(3 Gated DeltaNet + 1 global) × 12"),  # hybrid mixers
        (["local"] * 2 + ["CSA", "HCA"] * 20 + ["CSA"], "2 local, then (1 CSA + 1 HCA) × 20, then 1 CSA"),  # a lead
        (["a", "b", "b", "a", "c", "c", "c", "b"], "1 a, then 2 b, then 1 a, then 3 c, then 1 b"),  # irregular
        # a unit that holds a repeat of its own
        ((["M", "E", "M", "E", "G"]) * 3, "((1 M + 1 E) × 2 + 1 G) × 3"),
    ],
)
def test_pattern_text(words, said):
    assert pattern_text(words) == said


def test_runs():
    assert runs(["a", "a", "b", "a"]) == [("a", 2), ("b", 1), ("a", 1)]


def test_a_repeat_that_says_no_less_than_the_runs_is_not_used():
    # 'a b b a b b' is (1 a + 2 b) × 2: two terms against four runs; 'a b a c' has no repeat worth saying
    assert pattern_text(["a", "b", "b", "a", "b", "b"]) == "(1 a + 2 b) × 2"
    assert pattern_text(["a", "b", "a", "c"]) == "1 a, then 1 b, then 1 a, then 1 c"


def test_kind_words_cover_the_kinds_that_read_as_identifiers():
    for kind in ATTENTION_KINDS + LINEAR_MIXER_KINDS + ("moe", "swiglu_clamped", "per_head", "gelu_mlp"):
        word = KIND_WORDS.get(kind, kind)
        assert "_" not in word and (kind in ("global", "local", "chunked") or word != kind), kind


runner = CliRunner()


def show_layers(name: str, *args: str):
    # 80 columns, piped (CliRunner's stdout is not a terminal)
    result = runner.invoke(app, ["--no-color", "show", name, "--layers", *args], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


# Gemma 3 27B: sliding_window_pattern 6 over 62 layers (10 x 6 + 2); Qwen3-Next: full_attention_interval 4 over
# 48 layers, every layer MoE; DeepSeek-V3: 61 MLA layers, first_k_dense_replace 3
SHOW_LAYERS = {
    "gemma3": ["Layer mixers: (5 local + 1 global) × 10, then 2 local", "Layer FFNs: 62 dense"],
    "qwen3-next": ["Layer mixers: (3 Gated DeltaNet + 1 global) × 12", "Layer FFNs: 48 MoE"],
    "deepseek-v3": ["Layer mixers: 61 global", "Layer FFNs: 3 dense, then 58 MoE"],
}


@pytest.mark.parametrize("name", list(SHOW_LAYERS))
def test_show_layers_says_the_pattern_as_people_do(name):
    out = show_layers(name)
    for phrase in SHOW_LAYERS[name]:
        assert phrase in out, out
    assert "/moe" not in out and "/dense" not in out and "gated_deltanet" not in out


@pytest.mark.parametrize("fmt", ["markdown", "html", "csv"])
def test_show_layers_in_every_human_format(fmt):
    out = show_layers("gemma3", "-f", fmt)
    assert "(5 local + 1 global) × 10, then 2 local" in out


def test_show_layers_json_keeps_the_identifiers():
    model = json.loads(show_layers("qwen3-next", "-f", "json"))["models"][0]
    assert model["layer_map"].startswith("L0–L2 gated_deltanet/moe, L3 global/moe, ")
    assert model["architecture"]["layer_mix"] == "36 gated_deltanet + 12 global"
    assert model["architecture"]["qk_norm"] == "per_head" and model["architecture"]["ffn_kind"] == "swiglu"


def test_tables_say_kinds_in_words():
    # Qwen3-Next's panel: gated attention with per-head QK-norm, SwiGLU experts
    out = show_layers("qwen3-next")
    assert "(3 Gated DeltaNet + 1 global) × 12" in out.split("Layer mixers")[0]  # the Layer mix row
    assert "per head" in out and "per_head" not in out and "SwiGLU" in out and "swiglu" not in out
    # Gemma 3: local layers' window of 1,024 (sliding_window in its config)
    assert "| Layer mix | (5 local + 1 global) × 10, then 2 local; local: window 1,024 |" in show_layers(
        "gemma3", "-f", "markdown"
    )


def test_kv_sharing_layers_are_listed():
    # Gemma 3n E4B: the last 15 of 35 layers reuse the KV of layer 18 (local) or 19 (global)
    out = show_layers("gemma-3n-e4b")
    assert "Layers with KV of L18: L20–L23, L25–L28, L30–L33" in out
    assert "Layers with KV of L19: L24, L29, L34" in out


def expand(text: str, sep: str = ", then ") -> list[str]:
    """The layers a pattern text says, one word each: the inverse of the formatter, written apart from it."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
    parts.append(text[start:])
    out: list[str] = []
    for part in parts:
        if part.startswith("("):
            inner, times = part[1:].rsplit(") × ", 1)
            out += expand(inner, " + ") * int(times)
        else:
            n, word = part.split(" ", 1)
            out += [word] * int(n)
    return out


# Nemotron 3's configs give one letter per layer (hybrid_override_pattern): M Mamba-2, E MoE, * attention
NEMOTRON = {
    "nemotron-3-nano-30b-a3b": "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
    "nemotron-3-super-120b-a12b": "MEMEMEM*EMEMEMEM*EMEMEMEM*EMEMEMEMEM*EMEMEMEMEM*EMEMEMEMEM*EMEMEMEMEM*EMEMEMEM*EMEMEMEME",
}


@pytest.mark.parametrize("name", list(NEMOTRON))
def test_an_irregular_hybrid_says_every_layer_in_order(name):
    import llmarch
    from llmarch.analyze.facts import layer_pattern

    text = layer_pattern(llmarch.load(name))
    blocks, said = text.split(" blocks: ")
    letters = {"Mamba-2": "M", "MoE": "E", "global": "*"}
    assert int(blocks) == len(NEMOTRON[name])
    assert "".join(letters[w] for w in expand(said)) == NEMOTRON[name]


def test_every_shipped_pattern_says_its_layers():
    import llmarch
    from llmarch.analyze.facts import layer_patterns
    from llmarch.spec.registry import shipped_dir

    for path in sorted(shipped_dir().glob("*.yaml")):
        ir = llmarch.load(path.stem)
        said = dict(layer_patterns(ir))
        if "Layer mixers" in said:
            mixers = [KIND_WORDS.get(layer.mixer, layer.mixer) for layer in ir.layers]
            assert expand(said["Layer mixers"]) == mixers, path.stem
            assert expand(said["Layer FFNs"]) == [KIND_WORDS.get(layer.ffn, layer.ffn) for layer in ir.layers]
        else:
            assert len(expand(said["Layers"])) == ir.n_layers, path.stem


def test_the_expander_reads_what_people_write():
    assert expand("(5 local + 1 global) × 2, then 2 local") == (["local"] * 5 + ["global"]) * 2 + ["local"] * 2
    assert expand("((1 M + 1 E) × 2 + 1 G) × 2") == ["M", "E", "M", "E", "G"] * 2


def test_a_long_irregular_stack_is_said_quickly():
    """Review of issue 24 item 9: the repeat search tried every unit length, cubic in the layers: 1,024
    layers (the schema's most) in an irregular order took about 25 s on the shared machine, in `show`,
    `list` and every table's layer mix.  Units are looked for up to 32 layers (every shipped spec's text is
    unchanged: its longest unit is 11 layers), and a unit of 32 layers is still found."""
    import random
    import time

    rng = random.Random(1)
    words = [rng.choice(["local", "global"]) for _ in range(1_024)]
    started = time.perf_counter()
    said = pattern_text(words)
    assert time.perf_counter() - started < 8  # about 1 s here; 25 s before
    assert "global" in said and "local" in said
    unit = ["local"] * 31 + ["global"]
    assert pattern_text(unit * 3) == "(31 local + 1 global) × 3"
