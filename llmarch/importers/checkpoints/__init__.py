"""`llmarch verify`: hold a spec against a safetensors checkpoint, reading headers only.

The expected tensors come from llmarch's own build of the spec on the meta device (every weight's name
and shape; nothing materialised), renamed through the family's table (each import family's
`CHECKPOINT_NAMES`, read through `naming.py`) and given the
companions its `weights:` formats store (fp8 block scales, MXFP4 blocks and scales, int4 packing).  The
checkpoint's tensors come from its headers (`safetensors.py`).  The answer lists tensors missing,
tensors unexpected, shapes that differ (with the spec field that decides each), dtypes per component,
and the bytes on disk against `show`'s "weights as shipped", with what explains the difference.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from ...errors import LlmarchError
from .answer import VerifyResult
from .naming import WRAPPERS, Family, checkpoint_names, unchecked_mtp
from .safetensors import DTYPE_BITS, Checkpoint, read_checkpoint

if TYPE_CHECKING:  # annotations only: reading headers need not load the IR's dataclasses
    from ...ir import ModelIR

__all__ = ["read_checkpoint", "verify", "Checkpoint"]

# the dtypes a linear layer's matrix has at each of llmarch's weight formats
FORMAT_DTYPES = {
    "bf16": ("BF16",),
    "fp16": ("F16",),
    "fp32": ("F32",),
    "fp8": ("F8_E4M3", "F8_E5M2"),
    "fp8_block128": ("F8_E4M3", "F8_E5M2"),
    "int8": ("I8",),
}
SCALE_DTYPES = ("F32", "BF16", "F8_E8M0")  # DeepSeek's fp32, others' bf16, ue8m0 (scale_fmt)
# parts of a multimodal checkpoint outside its text model (as import-hf's NON_TEXT_ENTRY)
TOWER = re.compile(
    r"vision|multi_modal|multimodal|mm_|patch_merger|audio|embed_vision|embed_audio|image|projector|visual"
)

# the spec field deciding each weight's shape, by llmarch name
SHAPE_FIELDS = (
    (r"(mtp\.\d+\.)?embed_tokens|lm_head|mtp\.\d+\.head", "vocab_size, d_model"),
    (r".*attn\.q_proj", "attention.n_heads, attention.head_dim, d_model"),
    (r".*attn\.(k|v)_proj", "attention.n_kv_heads, attention.head_dim, d_model"),
    (r".*attn\.o_proj", "attention.n_heads, attention.head_dim (v_head_dim), d_model"),
    (r".*attn\.(q|k)_norm", "attention.head_dim (qk_norm)"),
    (r".*attn\.q_a", "attention.q_lora_rank, d_model"),
    (r".*attn\.q_b", "attention.n_heads, attention.qk_nope_head_dim + qk_rope_head_dim, attention.q_lora_rank"),
    (r".*attn\.kv_a", "attention.kv_lora_rank + attention.qk_rope_head_dim, d_model"),
    (r".*attn\.kv_b", "attention.n_heads, attention.qk_nope_head_dim + v_head_dim, attention.kv_lora_rank"),
    (r".*attn\.sinks", "attention.n_heads"),
    (r".*ffn\.experts", "moe.n_experts, moe.d_expert, d_model"),
    (r".*ffn\.(router|e_score)", "moe.n_experts, d_model"),
    (r".*ffn\.shared", "moe.d_shared (n_shared_experts x d_expert), d_model"),
    (r".*ffn\.", "ffn.d_ff, d_model"),
    (r".*mixer\.", "the linear-attention block's heads and head dims, d_model"),
    (r".*eh_proj", "d_model"),
    (r".*", "d_model"),
)


@dataclass(frozen=True)
class Expected:
    name: str
    shape: tuple[int, ...]
    dtypes: tuple[str, ...]
    component: str
    source: str  # llmarch's weight
    mtp: bool
    buffer: bool  # a buffer (DeepSeek's routing correction bias): stored, but not a parameter


def _component(name: str) -> str:
    from ...analyze.module_walk import component_of

    if name.startswith("mtp.") and ".layer." in name:
        return component_of("layers.0." + name.split(".layer.", 1)[1])
    if name.startswith("mtp."):
        return "mtp"
    return component_of(name)


def _companions(
    name: str, shape, oi, fmt: str, scale: str, layout: str = "transformers", groups: int = 1
) -> list[tuple[str, tuple, tuple[str, ...]]]:
    """A matrix stored at `fmt`: the tensor itself and what the format stores beside it, named as the family's
    `quant_layout` names them; fp8 blocks counted in each of `groups` equal row groups apart."""
    if fmt in FORMAT_DTYPES and fmt != "fp8_block128" and fmt != "fp8":
        return [(name, shape, FORMAT_DTYPES[fmt])]
    lead, (o, i) = tuple(oi[:-2]), tuple(oi[-2:])
    if layout == "deepseek" and fmt in ("fp8_block128", "mxfp4"):
        # DeepSeek V4's own layout (its checkpoint's tensor list): an E8M0 `.scale` beside each matrix, one per
        # 128 x 128 block of fp8, one per 32 inputs of fp4, whose e2m1 values are packed two to an I8 byte
        base = name[: -len(".weight")] if name.endswith(".weight") else name
        if fmt == "fp8_block128":
            blocks = lead + (math.ceil(o / 128), math.ceil(i / 128))
            return [(name, shape, FORMAT_DTYPES[fmt]), (base + ".scale", blocks, SCALE_DTYPES)]
        return [(name, lead + (o, i // 2), ("I8",)), (base + ".scale", lead + (o, i // 32), ("F8_E8M0",))]
    if fmt == "fp8_block128":
        rows = groups * math.ceil(o / groups / 128) if o % groups == 0 else math.ceil(o / 128)
        return [
            (name, shape, FORMAT_DTYPES[fmt]),
            (name + scale, lead + (rows, math.ceil(i / 128)), SCALE_DTYPES),
        ]
    if fmt == "fp8":
        return [(name, shape, FORMAT_DTYPES[fmt]), (name + "_scale", (), SCALE_DTYPES)]
    if fmt == "mxfp4":
        base = name[: -len(".weight")] if name.endswith(".weight") else name
        return [(base + "_blocks", lead + (o, i // 32, 16), ("U8",)), (base + "_scales", lead + (o, i // 32), ("U8",))]
    if fmt.startswith("int4_g"):
        group = int(fmt[len("int4_g") :])
        return [
            (name + "_packed", lead + (o, i // 8), ("I32",)),
            (name + "_scale", lead + (o, i // group), ("BF16", "F16", "F32")),
            (name + "_shape", (2,), ("I32", "I64")),
        ]
    raise LlmarchError(f"weight format `{fmt}` has no checkpoint layout verify knows")


def _is_matrix(name: str) -> bool:
    """A linear map's matrix (or the embedding's): what a weight format quantises and stores at its dtype."""
    return name.endswith((".weight", "experts.gate_up", "experts.down")) and ".conv1d." not in name


def _dtype_name(fmt: str) -> str:
    return FORMAT_DTYPES.get(fmt, ("BF16",))[0]


def _weights(model) -> list:
    """Every stored tensor of llmarch's build: parameters (a tied matrix once) and buffers."""
    seen: set[int] = set()
    out = []
    for named, buffer in ((model.named_parameters(remove_duplicate=False), False), (model.named_buffers(), True)):
        for name, tensor in named:
            if id(tensor) not in seen:  # a tied matrix is stored once
                seen.add(id(tensor))
                out.append((name, tuple(tensor.shape), buffer))
    return out


def _layout(ir: ModelIR, weights: list, family: Family, found: dict) -> tuple[str, str, str]:
    """The prefix, LM-head name and expert layout whose names match most of the checkpoint's, judged on the
    weights outside the layers, the first layer and the first MoE layer (the rest repeat them)."""
    routed = next((n.split(".")[1] for n, _, _ in weights if n.startswith("layers.") and ".ffn.experts." in n), "0")
    probe = [
        (n, s)
        for n, s, _ in weights
        if not n.startswith(("layers.", "mtp.")) or n.startswith(("layers.0.", f"layers.{routed}."))
    ]
    best = None
    for prefix, head in family.prefixes:
        for layout in family.layouts:
            names = set()
            for n, s in probe:
                for ckpt, *_ in checkpoint_names(family, n, s, ir, prefix, head, layout) or ():
                    names |= {ckpt, ckpt + "_scale_inv", ckpt + "_packed", ckpt[: -len(".weight")] + "_blocks"}
            score = len(names & found.keys())
            if best is None or score > best[0]:
                best = (score, prefix, head, layout)
    return best[1:]


def expected_tensors(
    ir: ModelIR, weights: list, family: Family, prefix: str, head: str, layout: str, scale: str = "_scale_inv"
) -> tuple[dict, list[str]]:
    """Every tensor a checkpoint of `ir` in this family's naming holds, and llmarch weights the table lacks."""
    overrides = dict(ir.weight_overrides)
    default = ir.weight_dtype
    loose = tuple(dict.fromkeys((_dtype_name(default), "F32")))  # norms, biases, vectors: either
    unmapped: list[str] = []
    buffers = {name for name, _, buffer in weights if buffer}
    planned: dict[str, list] = {}  # checkpoint name -> [shape, (out, in) or None, llmarch name, row groups]
    for name, shape, _ in weights:
        entries = checkpoint_names(family, name, shape, ir, prefix, head, layout)
        if entries is None:
            unmapped.append(name)
            continue
        for ckpt, cshape, oi, axis, groups in entries:
            if ckpt in planned:
                # a fused checkpoint tensor (Phi-3's qkv_proj, GPT-2's c_attn): llmarch's parts stacked along the
                # output dimension, which is the last one of a matrix stored transposed (GPT-2's Conv1D)
                part = planned[ckpt]
                stored = list(part[0])
                stored[axis] += cshape[axis]
                part[0] = tuple(stored)
                part[1] = None if oi is None else (part[1][0] + oi[0],) + oi[1:]
                part[3] = max(part[3], groups)
            else:
                planned[ckpt] = [cshape, oi, name, groups]
    out: dict[str, Expected] = {}
    fixed_dtypes = [(re.compile(p), d) for p, d in family.fixed_dtypes]
    for ckpt, (cshape, oi, name, groups) in planned.items():
        comp = _component(name)
        fmt = overrides.get(comp, default)
        fixed = next((d for p, d in fixed_dtypes if p.search(ckpt)), None)
        if fixed is not None:
            out[ckpt] = Expected(ckpt, cshape, fixed, comp, name, name.startswith("mtp."), name in buffers)
        elif oi is not None and _is_matrix(name):
            for n, s, d in _companions(ckpt, cshape, oi, fmt, scale, family.quant_layout, groups):
                out[n] = Expected(n, s, d, comp, name, name.startswith("mtp."), name in buffers)
        else:
            out[ckpt] = Expected(ckpt, cshape, loose, comp, name, name.startswith("mtp."), name in buffers)
    return out, unmapped


def _family(ckpt: Checkpoint, model_type: Optional[str]) -> tuple[str, Family]:
    # each model type's table, beside its import family: only that family's module is loaded
    from ..hf.families import HOMES, checkpoint_table

    if model_type is None and ckpt.config:
        model_type = ckpt.config.get("model_type")
        text = ckpt.config.get("text_config")
        if isinstance(text, dict) and isinstance(text.get("model_type"), str):
            model_type = text["model_type"]
        if not isinstance(model_type, str):
            model_type = None
    if model_type is None:
        raise LlmarchError(
            f"`{ckpt.path}` has no config.json naming its model_type, so verify cannot tell its tensor naming; "
            f"give --model-type (one of: {', '.join(sorted(HOMES))})"
        )
    model_type = WRAPPERS.get(model_type, model_type)
    table = checkpoint_table(model_type)
    if table is None:
        from ..hf.families import CHECKPOINT_NAMES  # every family, for the list of those verify knows

        raise LlmarchError(
            f"model type `{model_type}` has no checkpoint naming table in verify yet; "
            f"verify knows: {', '.join(sorted(CHECKPOINT_NAMES))}"
        )
    return model_type, table


def _shape_field(source: str) -> str:
    for pattern, what in SHAPE_FIELDS:
        if re.match(pattern, source):
            return what
    return "d_model"


def verify(ir: ModelIR, ckpt: Checkpoint, model_type: Optional[str] = None) -> VerifyResult:
    """verify's answer for a safetensors checkpoint: what agrees, what differs, and the bytes."""
    from ...analyze.params import count_params
    from ...analyze.weights import shipped_label, weight_bytes

    type_name, family = _family(ckpt, model_type)
    found = ckpt.tensors
    from ...builder.model import build

    weights = _weights(build(ir))
    prefix, head, layout = _layout(ir, weights, family, found)
    # fp8 block scales: DeepSeek's (and transformers') `weight_scale_inv`, compressed-tensors' `weight_scale`
    scale = "_scale" if not any(n.endswith("_scale_inv") for n in found) and ir.weight_overrides else "_scale_inv"
    expected, unmapped = expected_tensors(ir, weights, family, prefix, head, layout, scale)
    if unmapped:
        raise LlmarchError(
            f"verify's `{type_name}` table has no checkpoint name for llmarch's weight `{unmapped[0]}` "
            f"({len(unmapped)} unmapped): the spec uses a block this family's table does not cover"
        )
    missing = sorted(n for n in expected if n not in found)
    unexpected = sorted(n for n in found if n not in expected)
    towers = [n for n in unexpected if TOWER.search(n)]
    # a family whose checkpoints' MTP naming verify does not know: their MTP tensors are listed, not judged
    unchecked = [n for n in unexpected if n not in towers and unchecked_mtp(family, n, ir.n_layers)]
    others = [n for n in unexpected if not TOWER.search(n) and n not in unchecked]
    shapes, dtypes = [], []
    by_component: dict[str, dict[str, int]] = {}
    for name, e in expected.items():
        t = found.get(name)
        if t is None:
            continue
        by_component.setdefault("mtp" if e.mtp else e.component, {}).setdefault(t.dtype, 0)
        by_component["mtp" if e.mtp else e.component][t.dtype] += 1
        if t.shape != e.shape and not (e.shape == () and math.prod(t.shape) == 1):
            shapes.append(
                {"tensor": name, "expected": list(e.shape), "found": list(t.shape), "field": _shape_field(e.source)}
            )
        if t.dtype not in e.dtypes:
            dtypes.append({"tensor": name, "expected": list(e.dtypes), "found": t.dtype, "component": e.component})
    count = count_params(ir)
    shipped = weight_bytes(ir, count)
    disk = sum(t.nbytes for t in found.values())

    def on_disk(names) -> int:
        return sum(found[n].nbytes for n in names if n in found)

    def at_spec(names) -> int:
        # a tensor's bytes at the first dtype its format allows (the spec's dtype for vectors)
        return sum((math.prod(expected[n].shape) * DTYPE_BITS[expected[n].dtypes[0]] + 7) // 8 for n in names)

    present = [n for n in expected if n in found]
    mtp = [n for n, e in expected.items() if e.mtp]
    buffers = [n for n, e in expected.items() if not e.mtp and e.buffer]
    main = [n for n, e in expected.items() if not e.mtp and not e.buffer]
    # disk - shipped, in parts that sum to it exactly: what the spec's checkpoint holds beyond `show`'s
    # figure (MTP, buffers, the format's exact layout against its per-parameter allowance), what this
    # checkpoint stores differently (vectors in F32, other shapes), lacks, or holds besides
    explained = {
        "mtp": at_spec(mtp),
        "buffers": at_spec(buffers),
        "format_layout": at_spec(main) - shipped,
        "stored_differently": on_disk(present) - at_spec(present),
        "missing": -at_spec(missing),
        "towers": on_disk(towers),
        "mtp_unchecked": on_disk(unchecked),
        "unexpected": on_disk(others),
    }
    assert sum(explained.values()) == disk - shipped
    agree = not (missing or others or shapes or dtypes)
    return VerifyResult(
        name=ir.name,
        display_name=ir.display_name,
        checkpoint=ckpt.path,
        model_type=type_name,
        layout={"prefix": prefix, "experts": layout},
        agree=agree,
        tensors={"expected": len(expected), "found": len(found), "shards": len(ckpt.shards)},
        missing=missing,
        unexpected=others,
        outside_text_model=towers,
        mtp_unchecked=unchecked,
        shape_differences=shapes,
        dtype_differences=dtypes,
        dtypes_by_component={c: dict(sorted(d.items())) for c, d in sorted(by_component.items())},
        bytes={
            "on_disk": disk,
            "file_bytes": ckpt.file_bytes,
            "weights_as_shipped": shipped,
            "shipped_format": shipped_label(ir),
            "difference": disk - shipped,
            "explained": explained,
        },
    )
