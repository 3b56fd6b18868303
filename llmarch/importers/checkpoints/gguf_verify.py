"""`llmarch verify SPEC model.gguf`: a GGUF file's tensor infos and metadata held against the spec.

The expected tensors are llmarch's build of the spec on the meta device, named through llama.cpp's table for
the file's architecture (`gguf_naming.py`), in the shapes llama.cpp's converter stores (each mechanism's
`gguf_parts`).  The expected metadata is what each of the spec's mechanisms states (`gguf_metadata`) beside
the model's own sizes.  Quantisation types are reported per component with their bits per weight, never held
against the spec's weight format.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from ...errors import LlmarchError
from . import _component, _shape_field, _weights
from .answer import VerifyResult
from .gguf import GgufFile, bits_per_weight
from .gguf_naming import GGUF_TABLES, GgufTable

if TYPE_CHECKING:
    from ...ir import ModelIR

BLOCK = re.compile(r"blk\.(\d+)\.")


def expected_gguf_tensors(ir: ModelIR, table: GgufTable, weights: list) -> tuple[dict, list[str]]:
    """GGUF name -> (torch-order shape, component, llmarch weight), and the weights the table cannot name.
    MTP modules are left out: llama.cpp's converters drop them, or keep them as extra blocks (listed apart)."""
    from ...mechanisms.layers import layer_mechanisms

    parts_of: dict[int, dict] = {}
    expected: dict[str, tuple[tuple[int, ...], str, str]] = {}
    unmapped = []
    for name, shape, _ in weights:
        if name.startswith("mtp."):
            continue
        if not name.startswith("layers."):
            entries = table.outer(name, tuple(shape), ir.vocab_size)
        else:
            _, index, rest = name.split(".", 2)
            i = int(index)
            if i not in parts_of:
                layer = ir.layers[i]
                parts_of[i] = {k: v for m in layer_mechanisms(ir, layer) for k, v in m.gguf_parts(ir.d_model).items()}
            inner = table.names(rest, shape, parts_of[i].get(rest))
            entries = None if inner is None else [(f"blk.{i}.{n}", s) for n, s in inner]
        if entries is None:
            unmapped.append(name)
            continue
        for gguf_name, gshape in entries:
            if gguf_name in expected:  # a fused tensor (Phi-3's attn_qkv, AltUp's): the parts along the first axis
                before = expected[gguf_name][0]
                gshape = (before[0] + gshape[0],) + tuple(gshape[1:])
            expected[gguf_name] = (tuple(gshape), _component(name), name)
    return expected, unmapped


def expected_gguf_metadata(ir: ModelIR) -> dict[str, tuple[set, str]]:
    """`<arch>.` key (without the arch) -> (the values that agree with the spec, the spec field)."""
    from ...mechanisms.layers import layer_mechanisms

    out: dict[str, tuple[set, str]] = {
        "block_count": ({ir.n_layers}, "n_layers"),
        "embedding_length": ({ir.d_model}, "d_model"),
        "context_length": ({ir.context_length}, "context_length"),
        "vocab_size": ({ir.vocab_size}, "vocab_size"),
    }
    for layer, _ in ir.layer_groups:
        for m in layer_mechanisms(ir, layer):
            for key, values, spec_field in m.gguf_metadata():
                out.setdefault(key, (set(), spec_field))[0].update(values)
    return out


def compare_gguf_metadata(ir: ModelIR, arch: str, metadata: dict) -> list[dict]:
    """Each `<arch>.` key the file states and the spec decides, compared; none is required (converters omit
    some).  A per-layer array is compared on its non-zero entries (0 marks a layer without the block).  A file
    that keeps MTP modules as extra blocks (`nextn_predict_layers`) counts them in `block_count`."""
    wanted = expected_gguf_metadata(ir)
    extra_blocks = metadata.get(f"{arch}.nextn_predict_layers")
    if isinstance(extra_blocks, int) and extra_blocks > 0:
        wanted["block_count"] = ({ir.n_layers, ir.n_layers + extra_blocks}, "n_layers (+ the MTP blocks it keeps)")
    out = []
    for key, (expected, spec_field) in wanted.items():
        found = metadata.get(f"{arch}.{key}")
        if found is None or not expected or isinstance(found, str):
            continue
        values = {v for v in found if v} if isinstance(found, list) else {found}
        agree = bool(values) and all(any(math.isclose(v, e, rel_tol=1e-6) for e in expected) for v in values)
        out.append(
            {
                "key": f"{arch}.{key}",
                "expected": sorted(expected),
                "found": found if isinstance(found, list) else [found],
                "field": spec_field,
                "agree": agree,
            }
        )
    return out


def verify_gguf(ir: ModelIR, gguf: GgufFile) -> VerifyResult:
    """verify's answer for a GGUF file: llama.cpp's names and reversed dimensions, quantisation types per
    component (reported with their bits per weight, never failed against the spec's format), and the
    file's metadata against the spec."""
    from ...analyze.params import count_params
    from ...builder.model import build

    arch = gguf.architecture
    if arch is None:
        raise LlmarchError(
            f"`{gguf.path}` states no `general.architecture`, so verify cannot tell llama.cpp's tensor names "
            f"in it; GGUF files of a model state one of: {', '.join(sorted(GGUF_TABLES))}"
        )
    if arch not in GGUF_TABLES:
        raise LlmarchError(
            f"`{gguf.path}`: GGUF architecture `{arch}` has no naming table in verify yet; "
            f"verify knows: {', '.join(sorted(GGUF_TABLES))}"
        )
    table = GGUF_TABLES[arch]
    found = gguf.tensors
    expected, unmapped = expected_gguf_tensors(ir, table, _weights(build(ir)))
    if unmapped:
        raise LlmarchError(
            f"verify's GGUF `{arch}` table has no tensor name for llmarch's weight `{unmapped[0]}` "
            f"({len(unmapped)} unmapped): the spec uses a block this architecture's table does not cover"
        )
    missing = sorted(n for n in expected if n not in found)
    unexpected = sorted(n for n in found if n not in expected)

    def extra(name: str) -> bool:  # rope_freqs, and the MTP blocks a converter keeps after the model's layers
        block = BLOCK.match(name)
        return name in table.extras or (block is not None and int(block[1]) >= ir.n_layers)

    extras = [n for n in unexpected if extra(n)]
    others = [n for n in unexpected if not extra(n)]
    shapes = []
    types: dict[str, dict[str, int]] = {}
    component_bytes: dict[str, int] = {}
    params_in_file = 0
    spec_at_types = 0  # the spec's tensors, each at the ggml type the file stores it in
    for name, (shape, comp, source) in expected.items():
        t = found.get(name)
        if t is None:
            continue
        params_in_file += math.prod(t.shape)
        spec_at_types += t.nbytes * math.prod(shape) // max(math.prod(t.shape), 1)
        types.setdefault(comp, {}).setdefault(t.type_name, 0)
        types[comp][t.type_name] += 1
        component_bytes[comp] = component_bytes.get(comp, 0) + t.nbytes
        if t.shape != shape:
            shapes.append(
                {"tensor": name, "expected": list(shape), "found": list(t.shape), "field": _shape_field(source)}
            )
    metadata = compare_gguf_metadata(ir, arch, gguf.metadata)
    mismatched = [m for m in metadata if not m["agree"]]
    disk = sum(t.nbytes for t in found.values())
    all_types = sorted({t for comp in types.values() for t in comp})
    return VerifyResult(
        name=ir.name,
        display_name=ir.display_name,
        checkpoint=gguf.path,
        format="gguf",
        model_type=arch,
        layout={"prefix": "", "experts": "stacked"},
        agree=not (missing or others or shapes or mismatched),
        tensors={"expected": len(expected), "found": len(found), "shards": 1},
        missing=missing,
        unexpected=others,
        outside_text_model=extras,
        shape_differences=shapes,
        dtype_differences=[],
        metadata=metadata,
        dtypes_by_component={c: dict(sorted(d.items())) for c, d in sorted(types.items())},
        bits_per_weight={t: bits_per_weight(t) for t in all_types},
        bytes={
            "on_disk": disk,
            "file_bytes": gguf.file_bytes,
            "parameters_in_file": params_in_file,
            "spec_parameters": count_params(ir).total,  # MTP modules are not in `total` (llama.cpp drops them)
            "bits_per_weight": round(disk * 8 / params_in_file, 4) if params_in_file else 0,
            # disk - spec_weights_at_file_types: shapes that differ, unexpected tensors, converter extras
            "spec_weights_at_file_types": spec_at_types,
            "difference": disk - spec_at_types,
            "by_component": dict(sorted(component_bytes.items())),
        },
    )
