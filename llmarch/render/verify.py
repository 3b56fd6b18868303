"""verify's answer for people: a summary, the differences (at most `limit` of each kind), dtypes, bytes."""

from __future__ import annotations

from ..importers.checkpoints.answer import VerifyResult
from .doc import Cell, Doc, DocTable


def verify_doc(model: VerifyResult, limit: int) -> Doc:
    b = model.bytes
    verdict = "agree" if model.agree else "DIFFER"
    summary = DocTable(f"{model.display_name} against {model.checkpoint}: {verdict}", ["", "value"], right={1})
    summary.add("model type (naming)", model.model_type)
    summary.add("layout", f"prefix `{model.layout['prefix']}`, experts {model.layout['experts']}")
    summary.add("tensors expected", Cell(f"{model.tensors['expected']:,}", model.tensors["expected"]))
    summary.add("tensors found", Cell(f"{model.tensors['found']:,}", model.tensors["found"]))
    summary.add("shards", model.tensors["shards"])
    for key, label in (
        ("missing", "missing"),
        ("unexpected", "unexpected"),
        ("shape_differences", "shapes that differ"),
        ("dtype_differences", "dtypes that differ"),
        ("outside_text_model", "outside the text model (towers)"),
    ):
        summary.add(
            label,
            Cell(
                f"{len(getattr(model, key)):,}",
                len(getattr(model, key)),
                style="bold red" if getattr(model, key) and key != "outside_text_model" else "",
            ),
        )
    tables = [summary]

    diffs = DocTable("Differences", ["kind", "tensor", "expected", "found", "decided by"])
    for name in model.missing[:limit]:
        diffs.add("missing", name, "present", "absent", "")
    for name in model.unexpected[:limit]:
        diffs.add("unexpected", name, "absent", "present", "")
    for d in model.shape_differences[:limit]:
        diffs.add("shape", d["tensor"], str(tuple(d["expected"])), str(tuple(d["found"])), d["field"])
    for d in model.dtype_differences[:limit]:
        diffs.add("dtype", d["tensor"], " or ".join(d["expected"]), d["found"], f"weights: {d['component']}")
    if diffs.rows:
        tables.append(diffs)

    dtypes = DocTable("Dtypes by component (tensors)", ["component", "dtypes"])
    for comp, counts in model.dtypes_by_component.items():
        dtypes.add(comp, ", ".join(f"{d} x{n:,}" for d, n in counts.items()))
    tables.append(dtypes)

    size = DocTable("Bytes", ["", "bytes"], right={1})
    size.add("tensor data on disk", Cell(f"{b['on_disk']:,}", b["on_disk"]))
    size.add(
        f"weights as shipped ({b['shipped_format']})", Cell(f"{b['weights_as_shipped']:,}", b["weights_as_shipped"])
    )
    size.add("difference", Cell(f"{b['difference']:,}", b["difference"]))
    labels = {
        "mtp": "  MTP modules",
        "buffers": "  buffers (routing correction biases)",
        "format_layout": "  the format's exact layout against its per-parameter allowance",
        "stored_differently": "  tensors stored at another dtype or shape (F32 norms)",
        "missing": "  missing tensors",
        "towers": "  vision/audio towers, projectors",
        "mtp_unchecked": "  MTP tensors (this family's MTP naming is not checked)",
        "unexpected": "  unexpected tensors",
    }
    for key, value in b["explained"].items():
        if value:
            size.add(labels[key], Cell(f"{value:,}", value))
    tables.append(size)
    return Doc(
        tables,
        notes=[
            "read from the shards' headers only; expected tensors from llmarch's build on the meta device, "
            "named as the model type's checkpoints name them; norms, biases and vectors may be stored at the "
            "spec's dtype or F32"
        ],
    )


def verify_gguf_doc(model: VerifyResult, limit: int) -> Doc:
    """A GGUF file's answer: the summary, differences (tensors and metadata), types by component with their
    bits per weight, and the bytes."""
    b = model.bytes
    verdict = "agree" if model.agree else "DIFFER"
    summary = DocTable(f"{model.display_name} against {model.checkpoint}: {verdict}", ["", "value"], right={1})
    summary.add("GGUF architecture (naming)", model.model_type)
    summary.add("tensors expected", Cell(f"{model.tensors['expected']:,}", model.tensors["expected"]))
    summary.add("tensors found", Cell(f"{model.tensors['found']:,}", model.tensors["found"]))
    mismatched = [m for m in model.metadata if not m["agree"]]
    for label, items, red in (
        ("missing", model.missing, True),
        ("unexpected", model.unexpected, True),
        ("shapes that differ", model.shape_differences, True),
        ("metadata that differs", mismatched, True),
        ("converter extras (rope_freqs, MTP blocks)", model.outside_text_model, False),
    ):
        summary.add(label, Cell(f"{len(items):,}", len(items), style="bold red" if items and red else ""))
    tables = [summary]

    diffs = DocTable("Differences", ["kind", "tensor or key", "expected", "found", "decided by"])
    for name in model.missing[:limit]:
        diffs.add("missing", name, "present", "absent", "")
    for name in model.unexpected[:limit]:
        diffs.add("unexpected", name, "absent", "present", "")
    for d in model.shape_differences[:limit]:
        diffs.add("shape", d["tensor"], str(tuple(d["expected"])), str(tuple(d["found"])), d["field"])
    for m in mismatched:
        diffs.add("metadata", m["key"], " or ".join(map(str, m["expected"])), str(m["found"]), m["field"])
    if diffs.rows:
        tables.append(diffs)

    meta = DocTable("Metadata against the spec", ["key", "spec", "file", ""])
    for m in model.metadata:
        found = m["found"] if len(m["found"]) > 1 else m["found"][0]
        meta.add(m["key"], " or ".join(map(str, m["expected"])), str(found), "ok" if m["agree"] else "DIFFERS")
    tables.append(meta)

    bpw = model.bits_per_weight
    types = DocTable("Quantisation types by component (tensors; bits per weight)", ["component", "types"])
    for comp, counts in model.dtypes_by_component.items():
        types.add(comp, ", ".join(f"{t} ({bpw[t]:g} b/w) x{n:,}" for t, n in counts.items()))
    tables.append(types)

    size = DocTable("Bytes", ["", "value"], right={1})
    size.add("tensor data on disk", Cell(f"{b['on_disk']:,}", b["on_disk"]))
    size.add("parameters in the file", Cell(f"{b['parameters_in_file']:,}", b["parameters_in_file"]))
    size.add("parameters of the spec (no MTP)", Cell(f"{b['spec_parameters']:,}", b["spec_parameters"]))
    size.add("bits per weight, whole file", Cell(f"{b['bits_per_weight']:g}", b["bits_per_weight"]))
    size.add(
        "the spec's weights at the file's types",
        Cell(f"{b['spec_weights_at_file_types']:,}", b["spec_weights_at_file_types"]),
    )
    size.add("difference (other shapes, unexpected tensors, extras)", Cell(f"{b['difference']:,}", b["difference"]))
    for comp, n in b["by_component"].items():
        size.add(f"  {comp}", Cell(f"{n:,}", n))
    tables.append(size)
    return Doc(
        tables,
        notes=[
            "read from the GGUF's metadata and tensor infos only; tensor names from llama.cpp's table for the "
            "file's architecture, dimensions compared in torch's order (GGUF stores them reversed); "
            "quantisation types are reported, not held against the spec's weight format"
        ],
    )
