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
    from llmarch.params import count_params

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
