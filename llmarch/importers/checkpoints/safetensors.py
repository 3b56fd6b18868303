"""Safetensors headers, read without a byte of tensor data and with bounded memory.

A shard is an 8-byte little-endian header length, a JSON header (`name -> {dtype, shape, data_offsets}`,
offsets relative to the end of the header, plus an optional `__metadata__` of strings), then the data.
Only the length and the header are read.  A header that lies is refused with one paragraph naming the
file and the tensor: a length past the sane limit or the file end, offsets past the end, overlapping
regions, a region whose size disagrees with its shape and dtype, duplicate names.

A checkpoint is a directory (its `model.safetensors.index.json`, else every `*.safetensors` in it), an
index file, or one `.safetensors` file.  An index naming a shard that is not there, or a tensor its shard
does not hold, is refused too.
"""

from __future__ import annotations

import gc
import json
import math
import operator
import os
import stat
import struct
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from typing import Callable, NamedTuple

from ...errors import SpecError
from ...spec.yamlsafe import read_bounded

# the safetensors library's own ceiling (MAX_HEADER_SIZE, 100 MB): a 1T-parameter checkpoint's largest
# shard header is a few hundred KB, so anything near this is a lie, and reading it stays bounded
MAX_HEADER_BYTES = 100_000_000
MAX_INDEX_BYTES = 100_000_000
MAX_RANK = 8  # no checkpoint tensor has more dimensions (MXFP4 blocks have 4)

# bits per element of every dtype safetensors defines
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
INDEX_NAME = "model.safetensors.index.json"


class TensorInfo(NamedTuple):  # a tuple: a 1T checkpoint has 140,000 of them to make quickly
    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    shard: str  # file name of the shard holding it


@dataclass(frozen=True)
class Checkpoint:
    path: str  # what the user named
    shards: tuple[str, ...]
    tensors: dict[str, TensorInfo]
    file_bytes: int  # every shard's size on disk, headers included
    config: dict | None  # config.json beside the shards, when there is one and it parses


_new = tuple.__new__  # TensorInfo's own constructor without its Python frame (a third of the reading time)


def _error(path: Path | str, message: str, tensor: str | None = None, suggestion: str | None = None) -> SpecError:
    return SpecError(message, file=str(path), field=tensor, suggestion=suggestion)


def _no_duplicates(pairs):
    out = dict(pairs)
    if len(out) < len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"the name `{str(key)[:120]}` appears twice")
    return out


def read_header(path: Path | str) -> tuple[dict[str, TensorInfo], int]:
    """The tensors of one shard and its size in bytes; reads 8 bytes plus the header, nothing else."""
    path = Path(path)
    try:
        # a FIFO or a device would block or never end: only a regular file is opened
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise _error(path, "is not a regular file; give a .safetensors file")
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise _error(path, f"is {size} bytes long, too short for a safetensors header (8-byte length first)")
            (length,) = struct.unpack("<Q", head)
            if length > MAX_HEADER_BYTES:
                raise _error(
                    path,
                    f"declares a {length:,}-byte header, over the {MAX_HEADER_BYTES:,}-byte limit safetensors "
                    "itself sets: not a safetensors file, or a corrupt one",
                )
            if 8 + length > size:
                raise _error(
                    path,
                    f"declares a {length:,}-byte header but the file is {size:,} bytes: the shard is truncated "
                    "(an interrupted download?)",
                )
            raw = f.read(length)
    except IsADirectoryError:
        raise _error(path, "is a directory, not a .safetensors file") from None
    except FileNotFoundError:
        raise _error(path, "no such file") from None
    except PermissionError:
        raise _error(path, "cannot be read (permission denied)") from None
    except OSError as exc:
        raise _error(path, f"cannot be read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
        header = json.loads(text)
        # JSON keeps the last of two equal names: each tensor entry has one `"data_offsets"` (a name holding
        # that text has its quotes escaped), so fewer entries than occurrences means a name came twice;
        # only then is the header parsed again, slowly, to name it
        if isinstance(header, dict) and text.count('"data_offsets"') > len(header) - ("__metadata__" in header):
            json.loads(text, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _error(path, f"its header is not valid JSON ({str(exc)[:200]}): not a safetensors file") from None
    try:
        return _tensors(path, header, text, size - 8 - length), size
    except ValueError as exc:  # the slow parse's repeated name
        raise _error(path, f"its header is not valid JSON ({str(exc)[:200]}): not a safetensors file") from None


_FIELDS = operator.itemgetter("dtype", "shape", "data_offsets")
_SHARD = operator.itemgetter(TensorInfo._fields.index("shard"))  # C-level field access over 140,000 tuples


def _tensors(path: Path, header: object, text: str, data_bytes: int) -> dict[str, TensorInfo]:
    if not isinstance(header, dict):
        raise _error(path, f"its header is a JSON {type(header).__name__}, not an object of tensors")
    metadata = header.pop("__metadata__", {})  # a JSON null there is refused like any other non-object
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _error(path, "`__metadata__` must map names to strings", "__metadata__")
    names, entries = list(header), list(header.values())
    # every check runs over whole columns in C (140,000 entries in a 1T checkpoint: a Python statement per
    # entry costs more than the JSON parse). Rank, sign and size are checked once per distinct (dtype, shape):
    # tuples equal under `==` hold equal values, so that is every entry's check; only the element types can
    # differ between equal tuples (`[2.0]` equals `[2]`), so those are checked over every dimension, and a
    # float dimension never passes as the integer shape it equals (a JSON `true` counts as the 1 it holds).
    # When any check fails, `_refuse` finds the entry and the rule
    try:
        dtypes, shapes, offsets = zip(*map(_FIELDS, entries)) if entries else ((), (), ())
        begins, ends = zip(*offsets) if entries and set(map(type, offsets)) == {list} else ((), ())
        shape_keys = list(map(tuple, shapes))
        sizes = list(map(operator.sub, ends, begins))
        nbytes = {
            key: (math.prod(key[1]) * DTYPE_BITS[key[0]] + 7) // 8
            if len(key[1]) <= MAX_RANK and min(key[1], default=0) >= 0
            else None  # never equal to a size
            for key in set(zip(dtypes, shape_keys))
        }
        good = (
            set(map(len, entries)) <= {3}
            and len(begins) == len(entries)
            and set(map(len, offsets)) <= {2}
            and set(map(type, shapes)) <= {list}
            and set(map(type, chain.from_iterable(shapes))) <= {int, bool}
            and set(map(type, begins)) | set(map(type, ends)) <= {int}
            and min(begins, default=0) >= 0
            and max(ends, default=0) <= data_bytes
            and list(map(nbytes.__getitem__, zip(dtypes, shape_keys))) == sizes  # sizes >= 0: begin <= end
        )
    except (TypeError, KeyError, ValueError, AttributeError):
        good = False
    if not good:
        json.loads(text, object_pairs_hook=_no_duplicates)  # a repeated name is the likelier story
        for name, entry in header.items():
            if not _entry_fine(entry, data_bytes):
                _refuse(path, name, entry, data_bytes)
        raise _error(path, "its header could not be checked: an entry is not a safetensors tensor entry")
    shard = path.name
    tensors = dict(zip(names, map(_new, repeat(TensorInfo), zip(names, dtypes, shape_keys, sizes, repeat(shard)))))
    # begins and ends sorted apart (ints sort far faster than tuples): the k-th smallest end is at most the
    # (k+1)-th smallest begin for every k exactly when no two non-empty regions overlap; only when that
    # fails are the regions paired up and walked to name the two (an empty tensor may sit anywhere)
    starts, stops = sorted(begins), sorted(ends)
    if all(map(operator.le, stops[:-1], starts[1:])):
        return tensors
    regions = sorted(zip(begins, ends, tensors))
    for (b1, e1, n1), (b2, e2, n2) in zip(regions, regions[1:]):
        if b2 < e1 and e2 > b2:
            raise _error(path, f"its data [{b2:,}, {e2:,}) overlaps that of `{n1}` [{b1:,}, {e1:,})", n2)
    return tensors


def _entry_fine(entry: object, data_bytes: int) -> bool:
    """One entry's checks, the ones `_tensors` makes over whole columns: used only to find the bad one."""
    try:
        dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        # a float dimension makes the product a float; a JSON `true` counts as 1, which is what it holds
        numel = math.prod(shape) if type(shape) is list and len(shape) <= MAX_RANK else -1.0
        return (
            type(numel) is int
            and len(entry) == 3
            and type(begin) is int
            and type(end) is int
            and 0 <= begin <= end <= data_bytes
            and min(shape, default=0) >= 0
            and (numel * DTYPE_BITS[dtype] + 7) // 8 == end - begin
        )
    except (TypeError, KeyError, ValueError, AttributeError):
        return False


def _refuse(path: Path, name: str, entry: object, data_bytes: int) -> None:
    """The error for a tensor entry the fast check refused: which rule it breaks."""
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise _error(path, "expected an object with exactly `dtype`, `shape` and `data_offsets`", name)
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise _error(path, f"unknown dtype {str(dtype)[:40]!r}", name, f"safetensors dtypes: {', '.join(DTYPE_BITS)}")
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_RANK
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise _error(path, f"shape {str(shape)[:80]} is not a list of at most {MAX_RANK} non-negative integers", name)
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise _error(path, f"data_offsets {str(offsets)[:80]} is not [begin, end] with 0 <= begin <= end", name)
    begin, end = offsets
    if end > data_bytes:
        raise _error(
            path,
            f"its data ends at byte {end:,} of the data region, past the {data_bytes:,} bytes the file holds "
            "after its header: the shard is truncated or its header lies",
            name,
        )
    expected = (math.prod(shape) * DTYPE_BITS[dtype] + 7) // 8
    raise _error(
        path, f"shape {shape} at {dtype} needs {expected:,} bytes but its data_offsets span {end - begin:,}", name
    )


def _read_json(path: Path, limit: int) -> object:
    # the spec files' bounded reader: regular files only, opened without blocking, at most `limit` bytes read
    raw = read_bounded(path, limit, "a checkpoint's index or config.json is a few MB")
    try:
        return json.loads(raw.decode("utf-8"))  # an index's repeated name changes nothing: headers decide
    except (UnicodeDecodeError, ValueError) as exc:
        raise _error(path, f"is not valid JSON ({str(exc)[:200]})") from None


def _first(weight_map: dict[str, str], shard: str) -> str:
    """The field an error about `shard` points at: the first tensor the index puts in it."""
    return "weight_map." + next(t for t, s in weight_map.items() if s == shard)


def _from_index(index: Path) -> tuple[list[Path], dict[str, str]]:
    data = _read_json(index, MAX_INDEX_BYTES)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not set(map(type, weight_map.values())) <= {str}:
        raise _error(index, "has no `weight_map` object of tensor name -> shard file", "weight_map")
    shards = []
    for shard in dict.fromkeys(weight_map.values()):
        # a shard is a file beside the index: a path elsewhere (`../x`, `/etc/x`) is not a checkpoint's
        if Path(shard).name != shard or shard in (".", ".."):
            raise _error(index, f"shard `{shard[:120]}` is not a file name beside the index", _first(weight_map, shard))
        if not (index.parent / shard).is_file():
            raise _error(
                index,
                f"names shard `{shard[:120]}`, which is not in {index.parent}: the download is incomplete",
                _first(weight_map, shard),
            )
        shards.append(shard)
    return [index.parent / s for s in shards], weight_map


def _config(folder: Path) -> dict | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    data = _read_json(path, 10_000_000)
    return data if isinstance(data, dict) else None


@contextmanager
def _collector_paused():
    """The cyclic garbage collector off while headers are parsed: JSON builds no reference cycles, but its
    hundreds of thousands of small dicts and lists set off a collection every 700 of them, each walking
    everything made so far (half the reading time of a 1T checkpoint); reference counting still frees."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def read_checkpoint(path: str, progress: Callable[[str, int], None] | None = None) -> Checkpoint:
    """Every tensor's name, dtype, shape and size, from the headers of a checkpoint's shards; `progress`
    hears of each shard read, with the number of shards (a 1T checkpoint has 160 and more)."""
    with _collector_paused():
        return _read_checkpoint(path, progress)


def _read_checkpoint(path: str, progress: Callable[[str, int], None] | None) -> Checkpoint:
    p = Path(path)
    weight_map: dict[str, str] | None = None
    if p.is_dir():
        folder = p
        if (p / INDEX_NAME).is_file():
            files, weight_map = _from_index(p / INDEX_NAME)
        else:
            files = sorted(p.glob("*.safetensors"))
            if not files:
                raise _error(p, f"holds no `*.safetensors` file and no {INDEX_NAME}")
    elif p.name.endswith(".json"):
        folder = p.parent
        if not p.is_file():
            raise _error(p, "no such file")
        files, weight_map = _from_index(p)
    elif p.exists() or p.name.endswith(".safetensors"):
        folder, files = p.parent, [p]
    else:
        raise _error(
            p, "no such file or directory", suggestion="give a checkpoint folder, its index or a .safetensors file"
        )
    tensors: dict[str, TensorInfo] = {}
    read: list[dict[str, TensorInfo]] = []  # each shard's tensors, to name the first holder of a repeated name
    total = count = 0
    for file in files:
        found, size = read_header(file)
        total += size
        if progress:
            progress(file.name, len(files))
        count += len(found)
        tensors.update(found)
        if len(tensors) < count:  # a name an earlier shard holds too (counted, not a set made per shard)
            name, holder = next((n, r[n].shard) for n in found for r in read if n in r)
            raise _error(file, f"holds a tensor that `{holder}` holds too", name)
        read.append(found)
    if weight_map is not None:
        index = folder / INDEX_NAME if p.is_dir() else p
        try:  # the usual case, compared in C: each indexed name's shard as its header says
            agree = list(map(_SHARD, map(tensors.__getitem__, weight_map))) == list(weight_map.values())
        except KeyError:
            agree = False
        if agree:
            return Checkpoint(str(path), tuple(f.name for f in files), tensors, total, _config(folder))
        for name, shard in weight_map.items():
            if name not in tensors or tensors[name].shard != shard:
                raise _error(
                    index, f"says shard `{shard}` holds this tensor, but its header does not", f"weight_map.{name}"
                )
    return Checkpoint(str(path), tuple(f.name for f in files), tensors, total, _config(folder))
