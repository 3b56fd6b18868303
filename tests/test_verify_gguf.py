"""`llmarch verify SPEC model.gguf`: GGUF files written by the `gguf` package (llama.cpp's own Python
writer), their tensor names from llama.cpp's table (gguf-py's TensorNameMap applied to transformers' state
dict of each vendored config, as convert_hf_to_gguf.py does), shapes from transformers' build; data regions
left as sparse holes.  Broken files are written byte by byte."""

from __future__ import annotations

import json
import math
import os
import re
import struct
from pathlib import Path

import pytest

from conftest import text_config, transformers_model, upstream_config
from llmarch.errors import LlmarchError
from llmarch.importers.checkpoints.gguf import MAX_STRING_BYTES, bits_per_weight, read_gguf

gguf = pytest.importorskip("gguf")

ALIGN = 32


def _pad(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _quant(name: str, shape: tuple) -> "gguf.GGMLQuantizationType":
    """A type per tensor as a quantised GGUF mixes them: matrices in K-quants (Q8_0 where the input width is
    not a multiple of 256), vectors and the Mamba-2 block's small tensors F32."""
    T = gguf.GGMLQuantizationType
    if len(shape) < 2 or shape[-1] % 32 or re.search(r"ssm_(a|d|conv1d|norm)\b", name):
        return T.F32
    if shape[-1] % 256 == 0:
        return T.Q6_K if shape[0] % 2 else T.Q4_K
    return T.Q8_0


def write_gguf(path: Path, arch: str, metadata: dict, tensors: dict[str, tuple]) -> None:
    """A GGUF file through gguf-py's writer: metadata, tensor infos (torch-order shapes; the writer stores
    them reversed), then the data region as a sparse hole."""
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch)
    for key, value in metadata.items():
        getattr(writer, f"add_{key}")(value)
    total = 0
    for name, shape in tensors.items():
        qtype = _quant(name, shape)
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        nbytes = math.prod(shape) // block * size
        writer.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=qtype)
        total += _pad(nbytes)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.truncate(_pad(size) + total)


def _gguf_names(arch, n_layers: int, hf: dict[str, tuple]) -> dict[str, tuple]:
    tmap = gguf.get_tensor_name_map(arch, n_layers)
    out = {}
    for name, shape in hf.items():
        new = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
        assert new is not None, name
        out[new] = shape
    return out


def hf_state(spec: str) -> dict[str, tuple]:
    """transformers' state dict (a tied head once), stacked experts under the names convert_hf_to_gguf.py
    gives the per-expert tensors it merges (`model.layers.{bid}.mlp.experts.gate_proj.weight`, ...) before
    naming them."""
    _, model = transformers_model(spec)
    seen, out = set(), {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) in seen:
            continue
        seen.add(id(t))
        shape = tuple(t.shape)
        if name.endswith("experts.gate_up_proj"):
            n, width, d = shape
            base = name[: -len("gate_up_proj")]
            out[base + "gate_proj.weight"] = (n, width // 2, d)
            out[base + "up_proj.weight"] = (n, width // 2, d)
        elif name.endswith("experts.down_proj"):
            out[name + ".weight"] = shape
        else:
            out[name] = shape
    return out


def qwen3_gguf(spec: str) -> tuple[str, dict, dict]:
    """Qwen3 (dense, `qwen3`), Qwen3-MoE (`qwen3moe`) or Llama (`llama`) as convert_hf_to_gguf.py writes it;
    Llama 3.1+'s llama3 RoPE scaling adds `rope_freqs.weight` (head_dim / 2 factors) beside the weights."""
    raw = text_config(upstream_config(spec))
    moe = raw["model_type"] == "qwen3_moe"
    arch = {"qwen3_moe": gguf.MODEL_ARCH.QWEN3MOE, "qwen3": gguf.MODEL_ARCH.QWEN3, "llama": gguf.MODEL_ARCH.LLAMA}[
        raw["model_type"]
    ]
    tensors = _gguf_names(arch, raw["num_hidden_layers"], hf_state(spec))
    if (raw.get("rope_scaling") or {}).get("rope_type") == "llama3":
        head_dim = raw.get("head_dim") or raw["hidden_size"] // raw["num_attention_heads"]
        tensors["rope_freqs.weight"] = (head_dim // 2,)
    metadata = {
        "block_count": raw["num_hidden_layers"],
        "context_length": raw["max_position_embeddings"],
        "embedding_length": raw["hidden_size"],
        "head_count": raw["num_attention_heads"],
        "head_count_kv": raw["num_key_value_heads"],
        "rope_freq_base": float(raw.get("rope_theta") or raw["rope_parameters"]["rope_theta"]),
    }
    if moe:
        metadata |= {"expert_count": raw["num_experts"], "expert_used_count": raw["num_experts_per_tok"]}
    return gguf.MODEL_ARCH_NAMES[arch], metadata, tensors


def nemotron_gguf(spec: str) -> tuple[str, dict, dict]:
    """Nemotron-H MoE (`nemotron_h_moe`): convert_hf_to_gguf.py renames `dt_bias` to `dt_proj.bias` before
    naming, names the merged experts `model.layers.{bid}.mlp.experts.{up,down}_proj`, and reshapes as its
    Mamba2Model does: conv1d squeezed, A and D `[heads, 1]`, the gated norm `[n_groups, d_inner / n_groups]`."""
    raw = upstream_config(spec)
    arch = gguf.MODEL_ARCH.NEMOTRON_H_MOE
    n, groups = raw["num_hidden_layers"], raw["n_groups"]
    hf = {}
    for name, shape in hf_state(spec).items():
        name = re.sub(r"^model\.", "backbone.", name)
        m = re.match(r"backbone\.layers\.(\d+)\.mixer\.experts\.(up|down)_proj(\.weight)?$", name)
        if m:
            name = f"model.layers.{m[1]}.mlp.experts.{m[2]}_proj.weight"
        elif name.endswith(".dt_bias"):
            name = name[: -len(".dt_bias")] + ".dt_proj.bias"
        elif name.endswith("e_score_correction_bias"):
            name = name[: -len("_bias")] + ".bias"
        elif name.endswith("conv1d.weight"):
            shape = (shape[0], shape[2])
        elif name.endswith((".A_log", ".D")):
            shape = shape + (1,)
        elif name.endswith("mixer.norm.weight"):
            shape = (groups, shape[0] // groups)
        hf[name] = shape
    tensors = _gguf_names(arch, n, hf)
    pattern = raw["hybrid_override_pattern"]
    metadata = {
        "block_count": n,
        "context_length": raw["max_position_embeddings"],
        "embedding_length": raw["hidden_size"],
        # per layer, 0 where the layer has no attention (llama.cpp's nemotron_h writes arrays)
        "head_count": [raw["num_attention_heads"] if c == "*" else 0 for c in pattern],
        "head_count_kv": [raw["num_key_value_heads"] if c == "*" else 0 for c in pattern],
        "expert_count": raw["n_routed_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
    }
    return gguf.MODEL_ARCH_NAMES[arch], metadata, tensors


CASES = {
    "qwen3-0.6b": qwen3_gguf,  # dense, tied embedding, qk-norm
    "qwen3-30b-a3b": qwen3_gguf,  # MoE
    "llama-3.2-1b": qwen3_gguf,  # dense, llama3 RoPE factors beside the weights
    "nemotron-3-nano-30b-a3b": nemotron_gguf,  # hybrid: Mamba-2, attention, MoE layers
}


@pytest.mark.parametrize("spec", list(CASES))
def test_gguf_agrees_and_catches_each_difference(tmp_path, spec):
    import llmarch
    from llmarch.importers.checkpoints.gguf_verify import verify_gguf

    ir = llmarch.load(spec)
    arch, metadata, tensors = CASES[spec](spec)

    def answer(meta: dict, edited: dict, name: str) -> dict:
        path = tmp_path / f"{name}.gguf"
        write_gguf(path, arch, meta, edited)
        return verify_gguf(ir, read_gguf(path)).as_dict()

    ok = answer(metadata, tensors, "ok")
    assert ok["missing"] == [] and ok["unexpected"] == [], (ok["missing"][:5], ok["unexpected"][:5])
    assert ok["shape_differences"] == [], ok["shape_differences"][:3]
    assert [m for m in ok["metadata"] if not m["agree"]] == [] and len(ok["metadata"]) >= 5
    assert ok["agree"] and ok["model_type"] == arch
    assert ok["outside_text_model"] == (["rope_freqs.weight"] if "rope_freqs.weight" in tensors else [])
    # every tensor's quantisation is reported with its bits per weight, never held against the spec
    assert ok["bits_per_weight"].get("Q8_0") == 8.5 or ok["bits_per_weight"].get("Q4_K") == 4.5
    victim = next(n for n, s in tensors.items() if n.startswith("blk.1.") and len(s) >= 2)
    removed = answer(metadata, {k: v for k, v in tensors.items() if k != victim}, "removed")
    assert removed["missing"] == [victim] and not removed["agree"]
    shape = tensors[victim]
    extras = sum(4 * math.prod(s) for n, s in tensors.items() if n == "rope_freqs.weight")  # F32
    assert ok["bytes"]["difference"] == extras
    wider = answer(metadata, tensors | {victim: (shape[0] + 1,) + shape[1:]}, "wider")
    assert [d["tensor"] for d in wider["shape_differences"]] == [victim] and not wider["agree"]
    # the extra row of the victim, at its type (ggml's block layout, gguf-py's table)
    block, size = gguf.GGML_QUANT_SIZES[_quant(victim, (shape[0] + 1,) + shape[1:])]
    assert wider["bytes"]["difference"] == extras + math.prod(shape[1:]) // block * size
    more = answer(metadata | {"block_count": metadata["block_count"] + 1}, tensors, "meta")
    bad = [m for m in more["metadata"] if not m["agree"]]
    assert [m["key"] for m in bad] == [f"{arch}.block_count"] and bad[0]["field"] == "n_layers"
    assert not more["agree"]


def test_bits_per_weight_of_ggml_types():
    # ggml's block layouts: Q4_K 144 bytes per 256 weights, Q6_K 210, Q8_0 34 per 32, IQ2_XXS 66 per 256
    assert bits_per_weight("Q4_K") == 4.5
    assert bits_per_weight("Q6_K") == 6.5625
    assert bits_per_weight("Q8_0") == 8.5
    assert bits_per_weight("IQ2_XXS") == 2.0625
    assert bits_per_weight("BF16") == 16


def test_cli_reads_a_gguf(tmp_path):
    import jsonschema
    from typer.testing import CliRunner

    from llmarch.cli import app
    from llmarch.render.output_schema import OUTPUT_SCHEMA

    arch, metadata, tensors = qwen3_gguf("qwen3-0.6b")
    path = tmp_path / "Qwen3-0.6B-Q4_K_M.gguf"
    write_gguf(path, arch, metadata, tensors)
    runner = CliRunner()
    ok = runner.invoke(app, ["--no-color", "verify", "qwen3-0.6b", str(path), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.stdout)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    assert data["models"][0]["agree"] and data["models"][0]["format"] == "gguf"
    # the typed answer's as_dict(): a GGUF's keys (no mtp_unchecked), in the order JSON always had
    assert list(data["models"][0]) == [
        "name", "display_name", "checkpoint", "format", "model_type", "layout", "agree", "tensors", "missing",
        "unexpected", "outside_text_model", "shape_differences", "dtype_differences", "metadata",
        "dtypes_by_component", "bits_per_weight", "bytes",
    ]  # fmt: skip
    table = runner.invoke(app, ["--no-color", "verify", "qwen3-0.6b", str(path)])
    assert table.exit_code == 0 and "Q4_K" in table.stdout and "qwen3.block_count" in table.stdout
    differs = runner.invoke(app, ["--no-color", "verify", "qwen3-0.6b", str(path), "--set", "n_layers=27"])
    assert differs.exit_code == 1 and "qwen3.block_count" in differs.stdout
    renamed = path.rename(tmp_path / "model.bin")  # told apart by its magic, not its name
    assert runner.invoke(app, ["--no-color", "verify", "qwen3-0.6b", str(renamed)]).exit_code == 0


# ---------------------------------------------------------------------------
# broken files


def _kv_string(key: str, value: bytes, declared: int | None = None) -> bytes:
    k = key.encode()
    return (
        struct.pack("<Q", len(k))
        + k
        + struct.pack("<I", 8)
        + struct.pack("<Q", len(value) if declared is None else declared)
        + value
    )


def _header(n_tensors: int, n_kv: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv)


@pytest.mark.parametrize(
    "raw, says",
    [
        (b"GGML" + bytes(40), "magic"),
        (_header(0, 1) + _kv_string("general.architecture", b"llama")[:-3], "truncated"),
        (_header(2**60, 0) + bytes(64), "tensors, more than the file could hold"),
        (_header(0, 2**40) + bytes(64), "metadata entries"),
        (_header(0, 1) + _kv_string("general.name", b"x", declared=2 * 2**30) + bytes(64), "-byte string"),
        (
            _header(0, 1)
            + struct.pack("<Q", 3)
            + b"arr"
            + struct.pack("<IIQ", 9, 4, 2**40)  # an array of 2^40 uint32
            + bytes(64),
            "more than the",
        ),
        (_header(0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77) + bytes(16), "value type 77"),
        (b"GGUF" + struct.pack("<IQQ", 1, 0, 0) + bytes(16), "version 1"),
    ],
    ids=[
        "magic",
        "truncated-metadata",
        "absurd-tensor-count",
        "absurd-kv-count",
        "2GB-string",
        "huge-array",
        "type",
        "v1",
    ],
)
def test_broken_files_are_refused(tmp_path, raw, says):
    path = tmp_path / "bad.gguf"
    path.write_bytes(raw)
    with pytest.raises(LlmarchError) as err:
        read_gguf(path)
    message = str(err.value)
    assert says in message and "bad.gguf" in message and "\n" not in message


def test_tensor_data_past_the_end_is_refused(tmp_path):
    arch, metadata, tensors = qwen3_gguf("qwen3-0.6b")
    path = tmp_path / "cut.gguf"
    write_gguf(path, arch, metadata, tensors)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 1024)  # an interrupted download
    with pytest.raises(LlmarchError, match="does not fit"):
        read_gguf(path)


def test_string_limit():
    assert MAX_STRING_BYTES < 2**31


def test_a_trillion_parameter_gguf_header_costs_no_disk(tmp_path):
    """Kimi K2's shape at Q4_K (61 layers of 384 stacked experts), with a 163,840-token vocabulary in the
    metadata: 1T parameters, its data a sparse hole."""
    d, f, experts, layers = 7168, 2048, 384, 61
    tensors = {}
    for i in range(layers):
        tensors[f"blk.{i}.ffn_gate_exps.weight"] = (experts, f, d)
        tensors[f"blk.{i}.ffn_up_exps.weight"] = (experts, f, d)
        tensors[f"blk.{i}.ffn_down_exps.weight"] = (experts, d, f)
    path = tmp_path / "big.gguf"
    writer_meta = {"block_count": layers, "embedding_length": d}
    write_gguf(path, "deepseek2", writer_meta, tensors)
    st = os.stat(path)
    assert st.st_size > 5 * 10**11 and st.st_blocks * 512 < 10**7
    found = read_gguf(path)
    assert sum(math.prod(t.shape) for t in found.tensors.values()) == layers * experts * 3 * f * d
    assert found.tensors["blk.0.ffn_down_exps.weight"].dims == (f, d, experts)  # GGUF's order: reversed


def test_a_string_array_is_walked_across_read_chunks(tmp_path):
    """A vocabulary whose strings straddle the reader's 1 MiB chunks, one of 3 MB: the tensor infos after
    it are still found where they are."""
    import numpy as np

    tokens = [f"token{i}" for i in range(200_000)] + ["x" * 3_000_000] + ["end"]
    path = tmp_path / "vocab.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_array("tokenizer.ggml.tokens", tokens)
    writer.add_block_count(1)
    writer.add_tensor_info("token_embd.weight", (8, 32), np.dtype(np.float32), 8 * 32 * 4)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with open(path, "r+b") as f:
        f.truncate(_pad(os.path.getsize(path)) + 8 * 32 * 4)
    found = read_gguf(path)
    assert found.metadata["llama.block_count"] == 1 and "tokenizer.ggml.tokens" not in found.metadata
    assert found.tensors["token_embd.weight"].shape == (8, 32)
