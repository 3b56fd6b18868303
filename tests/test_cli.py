"""The CLI, through typer's CliRunner: tables, JSON against its schema, errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.cli import app
from llmarch.render.output_schema import OUTPUT_SCHEMA

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["--no-color", *args])


def test_compare_design_example_verbatim():
    """`llmarch compare qwen3-235b deepseek-v3` from the design brief: aliases resolve, every panel slot shows."""
    result = invoke("compare", "qwen3-235b", "deepseek-v3")
    assert result.exit_code == 0, result.output
    for label in (
        "Vocabulary",
        "Context length",
        "Blocks",
        "Embedding dimension",
        "Heads / KV heads",
        "Head dim",
        "Expert size",
        "Experts active",
        "Dense FFN blocks",
        "Norm placement",
        "Positional encoding",
        "Attention",
        "Total parameters",
        "Active parameters",
        "Conventions",
    ):
        assert label in result.output
    assert "151,936" in result.output and "129,280" in result.output  # exact integers
    assert "40,960" in result.output and "163,840" in result.output


def test_compare_json_validates_and_lists_differences():
    result = invoke("compare", "qwen3-235b-a22b", "deepseek-v3", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    assert data["command"] == "compare"
    a, b = data["models"]
    assert a["name"] == "qwen3-235b-a22b" and b["name"] == "deepseek-v3"
    # article Fig 19 panel values (docs/sources/article.md section 24, item 6), read from the configs
    assert a["architecture"]["n_layers"] == 94 and b["architecture"]["n_layers"] == 61
    assert a["architecture"]["d_model"] == 4096 and b["architecture"]["d_model"] == 7168
    assert a["architecture"]["n_experts"] == 128 and b["architecture"]["n_experts"] == 256
    assert a["architecture"]["experts_active"] == {"shared": 0, "routed": 8}
    assert b["architecture"]["experts_active"] == {"shared": 1, "routed": 8}
    assert a["architecture"]["d_expert"] == 1536 and b["architecture"]["d_expert"] == 2048
    assert b["architecture"]["d_ff"] == 18432 and b["architecture"]["n_dense_layers"] == 3
    assert a["architecture"]["n_dense_layers"] == 0
    for key in ("n_layers", "d_model", "n_experts", "experts_active", "total", "active"):
        assert key in data["differences"]
    assert "ffn_kind" not in data["differences"]  # both SwiGLU
    assert isinstance(a["params"]["total"], int)


def test_show_json_and_references():
    result = invoke("show", "deepseek-v3", "--format", "json", "--layers")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    model = data["models"][0]
    assert model["params"]["total"] == model["params"]["embedding"] + model["params"]["non_embedding"]
    assert all(r["ok"] for r in model["references"])
    assert model["layer_map"] == "L0–L2 global/dense, L3–L60 global/moe"


def test_show_table_layers():
    result = invoke("show", "gpt2", "--layers")
    assert result.exit_code == 0, result.output
    assert "Layer mixers: 12 global" in result.output and "Layer FFNs: 12 dense" in result.output
    assert "learned absolute" in result.output


def test_list_all_and_family_filter():
    result = invoke("list", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    names = {m["name"] for m in data["models"]}
    assert {"qwen3-0.6b", "qwen3-8b", "qwen3-235b-a22b", "deepseek-v3", "llama-3-8b", "gpt2"} <= names
    result = invoke("list", "--family", "qwen3", "--format", "json")
    assert {m["family"] for m in json.loads(result.output)["models"]} == {"qwen3"}


def test_list_family_finds_every_gallery_model():
    """Each gallery model llmarch ships has a family, and `list --family` of that family lists it."""
    from llmarch.gallery import GALLERY_SPECS

    families: dict[str, set[str]] = {}
    for name in GALLERY_SPECS.values():
        family = llmarch.load(name).family
        assert family, f"{name} has no family"
        families.setdefault(family, set()).add(name)
    for family, names in families.items():
        result = invoke("list", "--family", family, "--format", "json")
        assert result.exit_code == 0, result.output
        listed = json.loads(result.output)["models"]
        assert {m["family"] for m in listed} == {family}
        assert names <= {m["name"] for m in listed}, (family, names)


def test_unknown_name_suggests_and_exits_2():
    result = invoke("compare", "qwen3-235", "deepseek-v3")
    assert result.exit_code == 2
    assert "unknown model `qwen3-235`" in result.output
    assert "did you mean" in result.output
    assert "Traceback" not in result.output


def test_invalid_spec_names_file_line_field(tmp_path: Path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(
        "name: bad\nvocab_size: 1000\nd_model: 64\nn_layers: 2\ncontext_length: 128\n"
        "attention:\n  n_heads: 4\n  n_kv_head: 2\n  rope: {theta: 10000}\nffn: {d_ff: 128}\n"
    )
    result = invoke("show", str(spec))
    assert result.exit_code == 2
    assert f"{spec}:8:3" in result.output
    assert "attention.n_kv_head" in result.output
    assert "did you mean `n_kv_heads`?" in result.output
    assert "Traceback" not in result.output


def test_compare_needs_two():
    result = invoke("compare", "gpt2")
    assert result.exit_code == 2


def test_schema_commands():
    result = invoke("schema")
    assert result.exit_code == 0
    spec_schema = json.loads(result.output)
    assert "attention" in spec_schema["properties"]
    result = invoke("schema", "--answers")
    assert json.loads(result.stdout) == OUTPUT_SCHEMA


def test_schema_output_is_a_file_like_every_command(tmp_path):
    written = tmp_path / "answers.schema.json"
    result = invoke("schema", "--answers", "-o", str(written))
    assert result.exit_code == 0 and result.stdout == "", result.output
    assert json.loads(written.read_text()) == OUTPUT_SCHEMA
    result = invoke("schema", "--output", str(tmp_path / "spec.json"))
    assert result.exit_code == 0 and "attention" in json.loads((tmp_path / "spec.json").read_text())["properties"]


@pytest.mark.parametrize("args", [("--output",), ("--output", "-o", "-"), ("--answers", "--output")])
def test_schema_bare_output_still_means_answers_for_one_release(args):
    result = invoke("schema", *args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == OUTPUT_SCHEMA
    assert "deprecated; use `schema --answers`" in result.stderr


def test_help_and_list_import_no_torch():
    code = (
        "import sys; from typer.testing import CliRunner; from llmarch.cli import app; "
        "r = CliRunner().invoke(app, ['list']); assert r.exit_code == 0, r.output; "
        "r = CliRunner().invoke(app, ['--help']); assert r.exit_code == 0; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_build_does_not_import_dynamo():
    """Every mechanism's builder creates its parameters uninitialised (initialisation on meta imports dynamo)."""
    names = [
        "deepseek-v3",
        "qwen3-next-80b-a3b",
        "kimi-linear-48b-a3b",
        "nemotron-3-nano-30b-a3b",
        "gemma-3n-e4b",
        "mimo-v2-flash",
        "deepseek-v3.2-exp",
        "gpt2",
    ]
    code = (
        f"import sys, llmarch\nfor name in {names!r}:\n    llmarch.module_params(llmarch.build(llmarch.load(name)))\n"
        "print('torch._dynamo' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False True"


def test_docs_json_schema_is_current():
    from llmarch.render.output_schema import json_doc

    text = (Path(__file__).parent.parent / "docs" / "json.md").read_text()
    assert text == json_doc(), "docs/json.md is stale: python -m llmarch.render.output_schema > docs/json.md"


def test_set_what_if_edits():
    base = json.loads(invoke("kvcache", "qwen3-8b", "--ctx", "4k", "--format", "json").stdout)["models"][0]
    edited = json.loads(
        invoke("kvcache", "qwen3-8b", "--ctx", "4k", "--set", "attention.n_kv_heads=4", "--format", "json").stdout
    )["models"][0]
    assert edited["total_bytes"] * 2 == base["total_bytes"]
    result = invoke(
        "compare",
        "qwen3-8b",
        "qwen3-8b",
        "--set",
        "layers.mixer=LLLG",
        "--set",
        "attention.window=1024",
        "--format",
        "json",
    )
    assert json.loads(result.stdout)["models"][0]["architecture"]["layer_mix"] == "27 local(1,024) + 9 global"
    bad = invoke("show", "qwen3-8b", "--set", "attention.n_kv_head=4")
    assert bad.exit_code == 2 and "did you mean `n_kv_heads`?" in bad.output and "--set" in bad.output
    bad = invoke("show", "qwen3-8b", "--set", "attention.n_kv_heads=5")
    assert bad.exit_code == 2 and "not divisible" in bad.output
    bad = invoke("show", "qwen3-8b", "--set", "no-equals-sign")
    assert bad.exit_code == 2
    # "-" is the no-mixer letter, not a YAML block list: every layer keeps only its FFN
    ffn_only = json.loads(invoke("show", "qwen3-8b", "--set", "layers.mixer=-", "--format", "json").stdout)["models"][0]
    assert ffn_only["params"]["by_component"]["attention"] == 0 and ffn_only["params"]["by_component"]["dense_ffn"] > 0


def test_longcat_lines_only_where_a_model_holds_them():
    """LongCat's own rows and convention lines (active_fewest: zero experts; ngram_embedding) are printed under a
    human table only where a model of it has zero experts or n-gram embeddings; JSON keeps them for every model.
    LongCat-Flash-Lite by hand: 14 MoE layers x 12 slots x a SwiGLU expert of 3 x 3,072 x 1,024 separate active
    (12 real experts) from active_fewest (all 12 slots zero experts)."""
    env = {"COLUMNS": "80"}
    longcat = runner.invoke(app, ["--no-color", "show", "longcat-flash-lite"], env=env)
    qwen = runner.invoke(app, ["--no-color", "show", "qwen3-8b"], env=env)
    both = runner.invoke(app, ["--no-color", "compare", "qwen3-8b", "longcat-flash-lite"], env=env)
    assert longcat.exit_code == qwen.exit_code == both.exit_code == 0
    for out in (longcat.output, both.output):
        assert "Active, fewest" in out
        assert "  active_fewest: with zero-computation experts" in out
        assert "  ngram_embedding: n-gram embeddings (LongCat) are lookup tables" in out
    assert "Active, fewest" not in qwen.output
    assert "active_fewest:" not in qwen.output and "ngram_embedding:" not in qwen.output
    assert "active_incl_embeddings: active + the lookup tables" in qwen.output  # the general lines stay
    docs = [json.loads(invoke("show", name, "-f", "json").output) for name in ("qwen3-8b", "longcat-flash-lite")]
    for doc in docs:
        assert {"active_fewest", "ngram_embedding"} <= set(doc["conventions"])
    q, lc = (d["models"][0]["params"] for d in docs)
    assert q["active_fewest"] == q["active"] and q["by_component"]["ngram_embedding"] == 0
    assert lc["active"] - lc["active_fewest"] == 14 * 12 * 3 * 3072 * 1024
    # compare names active_fewest as a difference only where a model's routing separates it from active
    plain = json.loads(invoke("compare", "qwen3-8b", "qwen3-4b", "-f", "json").output)["differences"]
    mixed = json.loads(invoke("compare", "qwen3-8b", "longcat-flash-lite", "-f", "json").output)["differences"]
    assert "active" in plain and "active_fewest" not in plain
    assert "active_fewest" in mixed
