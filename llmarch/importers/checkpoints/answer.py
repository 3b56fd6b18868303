"""verify's answer for one model: what agrees, what differs, and the bytes, for a safetensors checkpoint
(`verify.verify`) or a GGUF file (`gguf_verify.verify_gguf`). The JSON is `as_dict()`; the tables
(`verify/report.py`) read the fields."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional

# the JSON's key order, both formats' keys in one sequence (a field a format lacks is left out)
ORDER = (
    "name",
    "display_name",
    "checkpoint",
    "format",
    "model_type",
    "layout",
    "agree",
    "tensors",
    "missing",
    "unexpected",
    "outside_text_model",
    "mtp_unchecked",
    "shape_differences",
    "dtype_differences",
    "metadata",
    "dtypes_by_component",
    "bits_per_weight",
    "bytes",
)


@dataclass
class VerifyResult:
    """`layout`: the checkpoint's prefix and expert layout; `tensors`: expected, found and shard counts;
    `bytes`: the file's bytes and how they differ from the spec's, in parts (each format its own keys).
    Safetensors only: `mtp_unchecked` (MTP tensors of a family whose MTP naming verify does not know). GGUF
    only: `format` ("gguf"), `metadata` (each key held against the spec) and `bits_per_weight` per ggml type."""

    name: str
    display_name: str
    checkpoint: str
    model_type: str
    layout: dict[str, str]
    agree: bool
    tensors: dict[str, int]
    missing: list[str]
    unexpected: list[str]
    outside_text_model: list[str]
    shape_differences: list[dict[str, Any]]
    dtype_differences: list[dict[str, Any]]
    dtypes_by_component: dict[str, dict[str, int]]
    bytes: dict[str, Any]
    mtp_unchecked: Optional[list[str]] = None
    format: Optional[str] = None
    metadata: Optional[list[dict[str, Any]]] = None
    bits_per_weight: Optional[dict[str, float]] = None

    def as_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {key: values[key] for key in ORDER if values[key] is not None}
