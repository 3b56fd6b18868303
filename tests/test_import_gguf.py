"""`llmarch import-gguf FILE`: a spec drafted from a GGUF file written by the `gguf` package from
transformers' build of a vendored config (tests/test_verify_gguf*.py), verified against that file; its
parameter counts are the shipped spec's, which tests/test_counts.py holds to transformers' own."""

from __future__ import annotations

import pytest
from test_verify_gguf import qwen3_gguf, write_gguf
from test_verify_gguf_families import deepseek2

gguf = pytest.importorskip("gguf")


def invoke(*args: str):
    from typer.testing import CliRunner

    from llmarch.cli import app

    return CliRunner().invoke(app, ["--no-color", *args])


@pytest.mark.parametrize(
    "spec, make",
    [("qwen3-0.6b", qwen3_gguf), ("qwen3-30b-a3b", qwen3_gguf), ("deepseek-v3", deepseek2)],
    ids=["dense", "moe", "mla"],
)
def test_a_spec_drafted_from_a_gguf_agrees_with_it_and_counts_as_the_shipped_spec(tmp_path, spec, make):
    import llmarch
    from llmarch.analyze.params import count_params

    arch, metadata, tensors = make(spec)
    path = tmp_path / "Model-Q4_K_M.gguf"
    write_gguf(path, arch, metadata, tensors)
    out = tmp_path / f"{spec}-gguf.yaml"
    result = invoke("import-gguf", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "verified against" in result.stderr and "tensors and" in result.stderr
    text = out.read_text()
    assert text.startswith("# Imported by `llmarch import-gguf`") and "`llmarch import-hf`" not in text
    drafted, shipped = count_params(llmarch.load(str(out))), count_params(llmarch.load(spec))
    assert (drafted.total, drafted.active) == (shipped.total, shipped.active)


def test_a_file_that_contradicts_itself_differs_from_its_draft(tmp_path):
    """Metadata saying 16 KV heads where the tensors hold 8: the draft follows the metadata, and the file's
    own shapes then differ from it (exit 1; the spec is written all the same)."""
    arch, metadata, tensors = qwen3_gguf("qwen3-0.6b")
    path = tmp_path / "odd.gguf"
    write_gguf(path, arch, metadata | {"head_count_kv": 16}, tensors)
    result = invoke("import-gguf", str(path), "-o", str(tmp_path / "odd.yaml"))
    assert result.exit_code == 1 and "differs" in result.stderr and "blk.0.attn_k.weight" in result.stderr
    assert (tmp_path / "odd.yaml").is_file()


def test_another_architecture_is_refused_naming_the_ones_it_drafts(tmp_path):
    path = tmp_path / "gemma.gguf"
    write_gguf(path, "gemma3", {"block_count": 1}, {"token_embd.weight": (8, 32)})
    result = invoke("import-gguf", str(path))
    assert result.exit_code == 2 and "gemma3" in result.stderr and "qwen3moe" in result.stderr
    assert "Traceback" not in result.output


def _yaml(path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text())


def test_deepseek_v3s_yarn_scaling_and_kept_mtp_block_come_back_in_the_draft(tmp_path):
    """DeepSeek-V3 as its converter writes it (DeepseekV2Model, from the config's rope_scaling: yarn, factor
    40, original_max_position_embeddings 4096, yarn_log_multiplier 0.1 x mscale_all_dim 1.0) with its MTP
    layer kept as block 61 (`nextn_predict_layers` 1): the draft states the same scaling and one MTP module,
    as the shipped spec does, and agrees with the file."""
    from test_verify_gguf_families import config, with_nextn

    arch, metadata, tensors = deepseek2("deepseek-v3")
    raw = config("deepseek-v3")
    scaling = raw["rope_scaling"]
    assert (scaling["factor"], scaling["original_max_position_embeddings"], scaling["mscale_all_dim"]) == (
        40,
        4096,
        1.0,
    )
    metadata = metadata | {
        "block_count": metadata["block_count"] + 1,
        "nextn_predict_layers": 1,
        "rope_scaling_type": gguf.RopeScalingType.YARN,
        "rope_scaling_factor": 40.0,
        "rope_scaling_orig_ctx_len": 4096,
        "rope_scaling_yarn_log_mul": 0.1 * 1.0,
    }
    path = tmp_path / "DeepSeek-V3.gguf"
    write_gguf(path, arch, metadata, with_nextn(tensors, raw))
    out = tmp_path / "drafted.yaml"
    result = invoke("import-gguf", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    drafted = _yaml(out)
    assert drafted["attention"]["rope"]["scaling"] == {
        "kind": "yarn",
        "factor": 40,
        "original_context_length": 4096,
        "mscale_all_dim": 1.0,
    }
    assert drafted["mtp"]["n_modules"] == 1


@pytest.mark.parametrize("kind", ["linear", "none"])
def test_linear_scaling_comes_back_and_none_leaves_the_draft_unscaled(tmp_path, kind):
    """A Qwen3 0.6B file stating `rope.scaling.type` linear with factor 4 (as a converter writes a config's
    linear rope_scaling) drafts that scaling; `none` (with a factor beside) drafts none."""
    arch, metadata, tensors = qwen3_gguf("qwen3-0.6b")
    metadata = metadata | {"rope_scaling_type": gguf.RopeScalingType(kind), "rope_scaling_factor": 4.0}
    path = tmp_path / "q.gguf"
    write_gguf(path, arch, metadata, tensors)
    out = tmp_path / "q.yaml"
    result = invoke("import-gguf", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    rope = _yaml(out)["attention"]["rope"]
    if kind == "linear":
        assert rope["scaling"] == {"kind": "linear", "factor": 4}
    else:
        assert "scaling" not in rope
