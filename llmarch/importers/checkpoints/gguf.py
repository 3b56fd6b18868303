"""GGUF headers, read without a byte of tensor data and with bounded memory.

A GGUF file (llama.cpp's format, version 2 or 3) is: the magic `GGUF`, a uint32 version, the tensor count and
the metadata count (uint64 each), the metadata (a string key, a uint32 value type, the value; arrays carry
their element type and a uint64 count), then one info per tensor (a string name, a uint32 rank, that many
uint64 dimensions innermost first, a uint32 ggml type, a uint64 offset into the data region), then padding
to `general.alignment` (32 by default) and the data.  All little-endian.

Only the metadata and the tensor infos are read, through a buffered reader that never holds more than one
metadata value: a string is refused past `MAX_STRING_BYTES`, an array is walked (its elements skipped, only
short arrays of numbers kept), every count is held against the bytes left in the file before anything is
read, and the infos' data regions must fit the file.  Each refusal is one paragraph naming the file and the
key or tensor.  The `gguf` package reads the same files, but it imports numpy (about half a second) and maps
the whole file: this reader keeps `verify`'s header read under half an `import torch`.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from ...errors import SpecError

MAGIC = b"GGUF"
MAX_STRING_BYTES = 64 * 2**20  # a tokenizer's chat template is KBs; a 2 GB "string" is a corrupt file
MAX_TENSORS = 10_000_000  # a 1T-parameter MoE split per expert has ~200,000
MAX_METADATA = 1_000_000
MAX_RANK = 8  # ggml's GGML_MAX_DIMS is 4
CHUNK_BYTES = 1 << 20  # the string arrays' walk reads this much at a time
KEEP_ARRAY = 4096  # arrays of numbers up to this long are kept (per-layer head counts); longer ones skipped
DEFAULT_ALIGNMENT = 32

# ggml's types: id -> (name, elements per block, bytes per block) (gguf-py's GGML_QUANT_SIZES, ggml.h)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}

# metadata value types: id -> (struct format, size) for scalars; 8 is a string, 9 an array
SCALARS = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}
STRING, ARRAY = 8, 9


def bits_per_weight(type_name: str) -> float:
    """A ggml type's storage per element, its block scales included (Q4_K: 144 bytes per 256 = 4.5)."""
    _, block, size = next(t for t in GGML_TYPES.values() if t[0] == type_name)
    return size * 8 / block


@dataclass(frozen=True)
class GgufTensor:
    name: str
    type_name: str
    dims: tuple[int, ...]  # as GGUF stores them: innermost (a matrix's input features) first
    nbytes: int
    offset: int

    @property
    def shape(self) -> tuple[int, ...]:
        """torch's order: outermost first (a linear map's weight is `[out, in]`)."""
        return self.dims[::-1]


@dataclass(frozen=True)
class GgufFile:
    path: str
    version: int
    metadata: dict[str, object]  # scalars, strings, and arrays of numbers up to KEEP_ARRAY long
    tensors: dict[str, GgufTensor]
    file_bytes: int
    data_offset: int

    @property
    def architecture(self) -> str | None:
        arch = self.metadata.get("general.architecture")
        return arch if isinstance(arch, str) else None


def _error(path, message: str, field: str | None = None, suggestion: str | None = None) -> SpecError:
    return SpecError(message, file=str(path), field=field, suggestion=suggestion)


class _Reader:
    """Sequential little-endian reads of a file whose size is known, each checked against what is left."""

    def __init__(self, f, path, size: int):
        self.f, self.path, self.size, self.pos = f, path, size, 0

    def take(self, n: int, what: str, field: str | None = None) -> bytes:
        if n > self.size - self.pos:
            raise _error(
                self.path,
                f"{what} needs {n:,} bytes at offset {self.pos:,} but the file has {self.size - self.pos:,} left: "
                "the file is truncated or its header lies",
                field,
            )
        raw = self.f.read(n)
        if len(raw) != n:  # the file shrank while being read
            raise _error(self.path, f"ended at offset {self.pos + len(raw):,} while reading {what}", field)
        self.pos += n
        return raw

    def skip(self, n: int, what: str, field: str | None) -> None:
        if n > self.size - self.pos:
            self.take(n, what, field)  # raises, naming what did not fit
        self.f.seek(n, os.SEEK_CUR)
        self.pos += n

    def skip_strings(self, count: int, key: str) -> None:
        """Walk `count` strings in chunks of at most CHUNK_BYTES (a vocabulary: 150,000 lengths read in a
        loop over a buffer, not a call each); each length is checked against the limit and the file."""
        unpack = struct.Struct("<Q").unpack_from
        base, buf, at = self.pos, b"", 0  # the file offset of buf[0], the chunk, the position in it
        for _ in range(count):
            if len(buf) - at < 8:
                base, buf, at = base + at, buf[at:] + self.f.read(CHUNK_BYTES), 0
                if len(buf) < 8:
                    raise _error(
                        self.path,
                        f"ends at offset {base + len(buf):,} inside array `{key}`: the file is truncated",
                        key,
                    )
            (n,) = unpack(buf, at)
            at += 8
            if n > MAX_STRING_BYTES or base + at + n > self.size:
                raise _error(
                    self.path,
                    f"an element of `{key}` at offset {base + at - 8:,} declares a {n:,}-byte string, over the "
                    f"{MAX_STRING_BYTES:,}-byte limit or past the end of the file",
                    key,
                )
            if at + n <= len(buf):
                at += n
            else:  # the string runs past the chunk: go to its end in the file
                base, buf, at = base + at + n, b"", 0
                self.f.seek(base)
        self.pos = base + at
        self.f.seek(self.pos)

    def u32(self, what: str, field: str | None = None) -> int:
        return struct.unpack("<I", self.take(4, what, field))[0]

    def u64(self, what: str, field: str | None = None) -> int:
        return struct.unpack("<Q", self.take(8, what, field))[0]

    def string(self, what: str, field: str | None = None, keep: bool = True) -> str | None:
        n = self.u64(f"the length of {what}", field)
        if n > MAX_STRING_BYTES:
            raise _error(
                self.path,
                f"{what} declares a {n:,}-byte string, over the {MAX_STRING_BYTES:,}-byte limit: a corrupt file",
                field,
            )
        if not keep:
            self.skip(n, what, field)
            return None
        raw = self.take(n, what, field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _error(self.path, f"{what} is not UTF-8", field) from None


def _value(r: _Reader, vtype: int, key: str):
    if vtype in SCALARS:
        fmt, n = SCALARS[vtype]
        return struct.unpack(fmt, r.take(n, f"the value of `{key}`", key))[0]
    if vtype == STRING:
        return r.string(f"the value of `{key}`", key)
    if vtype == ARRAY:
        etype = r.u32(f"the element type of `{key}`", key)
        count = r.u64(f"the length of `{key}`", key)
        if etype in SCALARS:
            size = SCALARS[etype][1]
            if count * size > r.size - r.pos:
                raise _error(
                    r.path,
                    f"array `{key}` declares {count:,} elements of {size} bytes, more than the "
                    f"{r.size - r.pos:,} bytes left in the file",
                    key,
                )
            if count > KEEP_ARRAY:
                r.skip(count * size, f"the elements of `{key}`", key)
                return None
            fmt = "<" + SCALARS[etype][0][1] * count
            return list(struct.unpack(fmt, r.take(count * size, f"the elements of `{key}`", key)))
        if etype == STRING:
            if count * 8 > r.size - r.pos:  # each string is at least its 8-byte length
                raise _error(
                    r.path,
                    f"array `{key}` declares {count:,} strings, more than the {r.size - r.pos:,} bytes left in "
                    "the file could hold",
                    key,
                )
            r.skip_strings(count, key)  # a vocabulary's 150,000 tokens: walked, not kept
            return None
        raise _error(r.path, f"array `{key}` has element type {etype}, which GGUF does not define", key)
    raise _error(r.path, f"`{key}` has value type {vtype}, which GGUF does not define", key)


def is_gguf(path: str | Path) -> bool:
    """A `.gguf` name, or a regular file starting with the GGUF magic (a GGUF saved under another name)."""
    path = Path(path)
    if path.name.endswith(".gguf"):
        return True
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(4) == MAGIC
    except OSError:
        return False


def read_gguf(path: str | Path) -> GgufFile:
    """The metadata and tensor infos of a GGUF file; reads nothing of the tensor data."""
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _error(path, "is not a regular file; give a .gguf file")
        with open(path, "rb", buffering=1 << 20) as f:
            return _read(f, path, os.fstat(f.fileno()).st_size)
    except FileNotFoundError:
        raise _error(path, "no such file") from None
    except PermissionError:
        raise _error(path, "cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise _error(path, "is a directory, not a .gguf file") from None
    except OSError as exc:
        raise _error(path, f"cannot be read: {exc.strerror or exc}") from None


def _read(f, path: Path, size: int) -> GgufFile:
    r = _Reader(f, path, size)
    if r.size < 24 or f.read(4) != MAGIC:
        raise _error(path, "does not start with the GGUF magic `GGUF`: not a GGUF file")
    r.pos = 4
    version = r.u32("the version")
    if version not in (2, 3):
        raise _error(path, f"is GGUF version {version}; verify reads versions 2 and 3", "version")
    n_tensors = r.u64("the tensor count")
    n_kv = r.u64("the metadata count")
    # every metadata entry is at least 8 (key length) + 4 (type) + 1 bytes, every tensor info 8 + 4 + 4 + 8
    if n_kv > MAX_METADATA or n_kv * 13 > r.size - r.pos:
        raise _error(path, f"declares {n_kv:,} metadata entries, more than the file could hold", "metadata count")
    if n_tensors > MAX_TENSORS or n_tensors * 24 > r.size - r.pos:
        raise _error(path, f"declares {n_tensors:,} tensors, more than the file could hold", "tensor count")
    metadata: dict[str, object] = {}
    for i in range(n_kv):
        key = r.string(f"metadata key {i}", f"metadata[{i}]")
        vtype = r.u32(f"the type of `{key}`", key)
        value = _value(r, vtype, key)
        if value is not None:
            metadata[key] = value
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment <= 0 or alignment & (alignment - 1):
        raise _error(path, f"general.alignment {alignment!r} is not a power of two", "general.alignment")
    infos = []
    unpack_dims = struct.Struct("<Q").unpack
    for i in range(n_tensors):
        name = r.string(f"the name of tensor {i}", f"tensor[{i}]")
        rank = r.u32(f"the rank of `{name}`", name)
        if rank > MAX_RANK:
            raise _error(path, f"tensor `{name}` declares {rank} dimensions (at most {MAX_RANK})", name)
        raw = r.take(8 * rank, f"the dimensions of `{name}`", name)
        dims = tuple(unpack_dims(raw[8 * k : 8 * k + 8])[0] for k in range(rank))
        ggml_type = r.u32(f"the type of `{name}`", name)
        offset = r.u64(f"the offset of `{name}`", name)
        infos.append((name, dims, ggml_type, offset))
    data_offset = -(-r.pos // alignment) * alignment
    data_bytes = r.size - data_offset
    tensors: dict[str, GgufTensor] = {}
    for name, dims, ggml_type, offset in infos:
        if ggml_type not in GGML_TYPES:
            raise _error(path, f"tensor `{name}` has ggml type {ggml_type}, which verify does not know", name)
        type_name, block, type_size = GGML_TYPES[ggml_type]
        numel = 1
        for d in dims:
            numel *= d
        if dims and dims[0] % block:
            raise _error(
                path, f"tensor `{name}`'s first dimension {dims[0]:,} is not a multiple of {type_name}'s {block}", name
            )
        nbytes = numel // block * type_size
        if offset % alignment or offset + nbytes > data_bytes:
            raise _error(
                path,
                f"tensor `{name}` ({type_name} {list(dims)}, {nbytes:,} bytes at data offset {offset:,}) does not "
                f"fit the {data_bytes:,}-byte data region aligned to {alignment}: the file is truncated or lies",
                name,
            )
        if name in tensors:
            raise _error(path, f"tensor `{name}` appears twice", name)
        tensors[name] = GgufTensor(name, type_name, dims, nbytes, offset)
    regions = sorted((t.offset, t.offset + t.nbytes, t.name) for t in tensors.values())
    for (b1, e1, n1), (b2, e2, n2) in zip(regions, regions[1:]):
        if b2 < e1 and e2 > b2:
            raise _error(path, f"tensor `{n2}`'s data [{b2:,}, {e2:,}) overlaps `{n1}`'s [{b1:,}, {e1:,})", n2)
    return GgufFile(str(path), version, metadata, tensors, size, data_offset)
