"""`llmarch verify`: the header reader against hand-made files, and the family tables against checkpoints
whose headers are written from transformers' own build of each vendored config (its state-dict names,
shapes and dtypes; data regions left as sparse holes), never from llmarch's build."""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import pytest

from llmarch.errors import LlmarchError
from llmarch.verify.safetensors import MAX_HEADER_BYTES, read_checkpoint, read_header

BITS = {"BF16": 16, "F16": 16, "F32": 32, "F8_E4M3": 8, "U8": 8, "I32": 32}
TORCH_DTYPES = {"torch.bfloat16": "BF16", "torch.float16": "F16", "torch.float32": "F32"}


def write_shard(path: Path, tensors: dict[str, tuple[str, tuple]], pad_to: int | None = None) -> None:
    """A safetensors file: header, then the data region as a sparse hole (truncate, no bytes written)."""
    header, offset = {}, 0
    for name, (dtype, shape) in tensors.items():
        n = (math.prod(shape) * BITS[dtype] + 7) // 8
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + (offset if pad_to is None else pad_to))


def raw_shard(path: Path, header: dict | bytes, data_bytes: int, length: int | None = None) -> None:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw) if length is None else length) + raw)
        f.truncate(8 + len(raw) + data_bytes)


# ---------------------------------------------------------------------------
# the header reader


def test_reads_names_shapes_dtypes_and_sizes(tmp_path):
    write_shard(tmp_path / "a.safetensors", {"w": ("BF16", (3, 4)), "b": ("F32", (5,))})
    tensors, size = read_header(tmp_path / "a.safetensors")
    assert tensors["w"].shape == (3, 4) and tensors["w"].dtype == "BF16" and tensors["w"].nbytes == 3 * 4 * 2
    assert tensors["b"].nbytes == 5 * 4
    assert size == os.path.getsize(tmp_path / "a.safetensors")


def test_a_trillion_parameter_header_costs_no_disk(tmp_path):
    # 1T bf16 parameters: 2 TB of data as a sparse hole (st_blocks stays tiny)
    n_layers, per_layer = 100, 10**10
    tensors = {f"model.layers.{i}.w": ("BF16", (per_layer // 10**5, 10**5)) for i in range(n_layers)}
    write_shard(tmp_path / "big.safetensors", tensors)
    st = os.stat(tmp_path / "big.safetensors")
    assert st.st_size > 2 * 10**12 and st.st_blocks * 512 < 10**7
    found, _ = read_header(tmp_path / "big.safetensors")
    assert sum(math.prod(t.shape) for t in found.values()) == 10**12


@pytest.mark.parametrize(
    "header, data_bytes, length, says",
    [
        ({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}}, 4, None, "past the 4 bytes"),
        (
            {
                "a": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]},
                "b": {"dtype": "BF16", "shape": [4], "data_offsets": [4, 12]},
            },
            12,
            None,
            "overlaps",
        ),
        ({"w": {"dtype": "BF16", "shape": [10**15, 10**15], "data_offsets": [0, 8]}}, 8, None, "needs"),
        ({"w": {"dtype": "BF16", "shape": [-1], "data_offsets": [0, 8]}}, 8, None, "non-negative"),
        ({"w": {"dtype": "Q9", "shape": [4], "data_offsets": [0, 8]}}, 8, None, "unknown dtype"),
        ({"w": {"dtype": "BF16", "shape": [4], "data_offsets": [8, 0]}}, 8, None, "begin <= end"),
        ({"w": {"dtype": "BF16", "shape": [4]}}, 8, None, "exactly `dtype`"),
        (b'{"w": {"dtype": "BF16", "shape": [4], "data_offsets": [0, 8]}, "w": {}}', 8, None, "twice"),
        (b"\xff\xfe not json", 0, None, "not valid JSON"),
        (b"[1, 2]", 0, None, "not an object"),
        (b"{}", 0, 2 * 10**9, "over the"),
        (b"{}", 0, 10**6, "truncated"),
    ],
    ids=[
        "past-end",
        "overlap",
        "absurd-shape",
        "negative",
        "dtype",
        "offsets",
        "keys",
        "duplicate",
        "json",
        "list",
        "2GB-header",
        "truncated-header",
    ],
)
def test_lying_headers_are_refused(tmp_path, header, data_bytes, length, says):
    path = tmp_path / "bad.safetensors"
    raw_shard(path, header, data_bytes, length)
    with pytest.raises(LlmarchError) as err:
        read_header(path)
    message = str(err.value)
    assert says in message and "bad.safetensors" in message and "\n" not in message


def test_header_limit_is_safetensors_own():
    assert MAX_HEADER_BYTES == 100_000_000


def test_short_file_and_directory(tmp_path):
    (tmp_path / "short.safetensors").write_bytes(b"\x01\x02")
    with pytest.raises(LlmarchError, match="too short"):
        read_header(tmp_path / "short.safetensors")
    with pytest.raises(LlmarchError, match="no such file or directory"):
        read_checkpoint(str(tmp_path / "nothing-here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LlmarchError, match="holds no `\\*.safetensors`"):
        read_checkpoint(str(tmp_path / "empty"))


def _index(folder: Path, weight_map: dict) -> Path:
    path = folder / "model.safetensors.index.json"
    path.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


def test_index_shards_and_errors(tmp_path):
    write_shard(tmp_path / "s1.safetensors", {"a": ("BF16", (2,))})
    write_shard(tmp_path / "s2.safetensors", {"b": ("BF16", (3,))})
    _index(tmp_path, {"a": "s1.safetensors", "b": "s2.safetensors"})
    for given in (tmp_path, tmp_path / "model.safetensors.index.json"):
        ckpt = read_checkpoint(str(given))
        assert set(ckpt.tensors) == {"a", "b"} and ckpt.shards == ("s1.safetensors", "s2.safetensors")
    single = read_checkpoint(str(tmp_path / "s2.safetensors"))
    assert set(single.tensors) == {"b"}
    _index(tmp_path, {"a": "s1.safetensors", "b": "s3.safetensors"})
    with pytest.raises(LlmarchError, match="s3.safetensors.*incomplete"):
        read_checkpoint(str(tmp_path))
    _index(tmp_path, {"a": "s1.safetensors", "b": "../s2.safetensors"})
    with pytest.raises(LlmarchError, match="not a file name beside"):
        read_checkpoint(str(tmp_path))
    _index(tmp_path, {"a": "s2.safetensors", "b": "s2.safetensors"})
    with pytest.raises(LlmarchError, match="does not"):
        read_checkpoint(str(tmp_path))
