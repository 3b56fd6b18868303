"""The resolved IR of a spec, kept in the build cache so that a second run neither parses YAML nor
validates the schema (pydantic alone costs a tenth of a second to import and set up).

An entry is keyed by what decides the IR: the argument as given, the spec file it names (its path as the
registry spells it, its real path and the digest of its bytes), the what-if edits (`--set` and the model's
own `name[key=value]`, as applied: the same edit either way is the same IR) and llmarch's source
digest.  The entry lists the rest of the `extends:` chain (each parent's real path, the digest of its bytes
and how its child names it); a hit is used only when every parent, found as a load finds it now (a relative
path from the child's path as read, a name through the registry), is still that file with those bytes.  Anything else, or any error on the way, is a miss: the spec is
loaded as usual, so errors are always those of a fresh load and never come from the cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import types
import typing
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from .. import cache as buildcache
from ..ir import LayerIR, ModelIR
from .registry import Entry, Link, Registry
from .yamlsafe import MAX_FILE_BYTES, read_bounded


def _file_key(spec: Path | Entry) -> Optional[tuple[str, str, str]]:
    """(path as given, real path, digest of its bytes) of the top spec file, or None when unreadable."""
    path = spec if isinstance(spec, Path) else spec.path
    try:
        raw = read_bounded(path, MAX_FILE_BYTES, "a spec is a few KiB")
    except Exception:  # the normal load reports it, with its own words
        return None
    return str(path), os.path.realpath(path), hashlib.sha256(raw).hexdigest()


def _key(name_or_path: str, top: tuple[str, str, str], sets: tuple[str, ...]) -> str:
    return buildcache.plain_key("ir", argument=name_or_path, file=list(top), sets=list(sets))


def get(reg: Registry, name_or_path: str, spec: Path | Entry, sets: tuple[str, ...]) -> Optional[ModelIR]:
    """The cached IR of `spec` (what `reg.spec_file(name_or_path)` answered), or None."""
    if not buildcache.enabled():
        return None
    top = _file_key(spec)
    if top is None:
        return None
    value = buildcache.get(_key(name_or_path, top, sets))
    try:
        chain = [Link(*link) for link in value["chain"]]
        if chain[0].file != top[1] or chain[0].sha256 != top[2]:
            return None
        # each parent found as a load would find it now: relative to the child's path as read (through a
        # symlinked child, its link's folder, not its target's), or by name through this registry
        path = top[0]
        for child, parent in zip(chain, chain[1:]):
            path = reg.parent_path(path, child.extends) if child.extends is not None else None
            if path is None or os.path.realpath(path) != parent.file:
                return None
            raw = read_bounded(Path(path), MAX_FILE_BYTES, "a spec is a few KiB")
            if hashlib.sha256(raw).hexdigest() != parent.sha256:
                return None
        return decode(value["ir"])
    except Exception:  # absent, or not what this code wrote: never trusted
        return None


def put(name_or_path: str, spec: Path | Entry, sets: tuple[str, ...], chain: list[Link], ir: ModelIR) -> None:
    """Keep `ir`, loaded from `spec` through `chain` (whose first file's digest is of the bytes parsed)."""
    if not buildcache.enabled() or not all(link.sha256 for link in chain):
        return
    # keyed by the digest of the bytes parsed (not a second read): a file edited since misses on its next get
    top = (str(spec if isinstance(spec, Path) else spec.path), chain[0].file, chain[0].sha256)
    buildcache.put(
        _key(name_or_path, top, sets),
        {"chain": [dataclasses.astuple(link) for link in chain], "ir": encode(ir)},
    )


def encode(ir: ModelIR) -> dict[str, Any]:
    """The IR as JSON-able data, each distinct layer written once (layers differ mostly by position)."""
    data = _plain(ir)
    distinct: dict[tuple, int] = {}
    kinds, order = [], []
    for layer, plain in zip(ir.layers, data["layers"]):
        key = layer.shape_key()
        if key not in distinct:
            distinct[key] = len(kinds)
            kinds.append({k: v for k, v in plain.items() if k != "index"})
        order.append(distinct[key])
    data["layers"] = {"kinds": kinds, "order": order}
    return data


def decode(data: dict[str, Any]) -> ModelIR:
    """The inverse of `encode`: dataclasses rebuilt from their type hints, tuples from lists."""
    layers = data["layers"]
    kinds = [_build(LayerIR, {**kind, "index": 0}) for kind in layers["kinds"]]
    built = tuple(dataclasses.replace(kinds[k], index=i) for i, k in enumerate(layers["order"]))
    fields = {k: v for k, v in data.items() if k != "layers"}
    return _build(ModelIR, fields, layers=built)


@lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, data: dict[str, Any], **given: Any) -> Any:
    hints = _hints(cls)
    kwargs = {name: _value(hints[name], value) for name, value in data.items()}
    return cls(**kwargs, **given)


def _members(hint: Any) -> list[Any]:
    """The members of a union hint other than None (one for Optional[X]); [] for a hint that is no union."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return [a for a in typing.get_args(hint) if a is not type(None)]
    return []


def _plain(obj: Any, hint: Any = None) -> Any:
    """`dataclasses.asdict`, except that a dataclass in a field that is a union of several (the layer's
    mixer and FFN) says which member it is, under TAG, so that `decode` can rebuild it."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        hints = _hints(type(obj))
        out = {f.name: _plain(getattr(obj, f.name), hints[f.name]) for f in dataclasses.fields(obj)}
        if len(_members(hint)) > 1:
            out[TAG] = type(obj).__name__
        return out
    if isinstance(obj, (tuple, list)):
        args = typing.get_args(hint)
        inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        return [_plain(v, inner) for v in obj]
    return obj


TAG = "__member__"  # which member of a union a cached dataclass is


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    members = _members(hint)
    if len(members) > 1:  # a tagged union: the member the entry names (an unknown name is a miss)
        (member,) = [m for m in members if m.__name__ == value[TAG]]
        return _build(member, {k: v for k, v in value.items() if k != TAG})
    if members:  # Optional[X], X | None
        return _value(members[0], value)
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v) for v in value)
        return tuple(_value(a, v) for a, v in zip(args, value, strict=True))
    if origin is typing.Literal:
        return value
    if origin is not None:
        # a dict, list or set field: JSON would give back string keys and lists; refused (a miss, and the
        # round-trip test of every shipped IR fails) rather than rebuilt as something else
        raise TypeError(f"the IR cache cannot rebuild a field of type {hint}")
    if dataclasses.is_dataclass(hint):
        return _build(hint, value)
    return value
