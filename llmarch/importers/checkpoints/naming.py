"""How a family's checkpoint names are written, and how llmarch's weights are named through them.

Each model type's table lives beside its family in `llmarch/importers/hf/families/<family>.py`
(`CHECKPOINT_NAMES`, one place per family with its `MODULE_NAMES`), built from the rule helpers here and the
rule sets several families share (`import_hf/common.py`); `verify` reads them from the families' registry
(`import_hf.families.CHECKPOINT_NAMES`).  What a kind fuses (Gated DeltaNet's `in_proj_qkvz`) comes from the
kind itself (`Mechanism.fused_parts`): nothing here names a mechanism.

llmarch builds every weight on the meta device under its own names (`layers.3.attn.q_proj.weight`,
`layers.3.ffn.experts.gate_up` stacked `[n_experts, 2 * d_expert, d_model]`, `mtp.0.eh_proj.weight`).  A
family's table maps each to the tensors a checkpoint of that model type stores, with their shapes:

- renamed (`attn.q_proj` -> `self_attn.q_proj`), split (llmarch's fused `gate_up` -> `gate_proj` and
  `up_proj`), or unstacked (stacked experts -> one tensor per expert, `experts.{e}.gate_proj`);
- in each expert *layout* a checkpoint may use: transformers 5's stacked tensors (`experts.gate_up_proj`)
  or the per-expert tensors most checkpoints on the Hub hold; `verify` picks the one the checkpoint uses;
- under each *prefix* a checkpoint may use: `model.` for a text model, `model.language_model.` or
  `language_model.model.` inside a multimodal wrapper (whose vision tower is then outside the spec);
- MTP modules as DeepSeek stores them (an extra layer `model.layers.{n_layers + k}` with `enorm`, `hnorm`,
  `eh_proj`, `shared_head`) or as Qwen3-Next does (`mtp.fc`, `mtp.layers.{k}`).

Quantisation (the `_scale_inv`, `_blocks`/`_scales`, `_packed` companions) is applied afterwards, from the
spec's `weights:` formats, by `expected_tensors` in `verify/__init__.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, NamedTuple, Optional

if TYPE_CHECKING:  # annotations only: reading a checkpoint's headers need not load the IR's dataclasses
    from ...ir import LayerIR, ModelIR


class Entry(NamedTuple):
    name: str  # the checkpoint's tensor
    shape: tuple[int, ...]  # as the checkpoint stores it
    oi: Optional[tuple[int, ...]]  # the (out, in) orientation when it is a matrix of a linear map
    axis: int = 0  # where llmarch's parts meet when several fill one checkpoint tensor (GPT-2's c_attn: -1)
    # row groups a quantised matrix is blocked in apart (its fp8 block scales: `groups` x ceil(rows / groups / 128)
    # rows); a fused tensor takes its parts' largest (MiMo-V2.5-Pro's qkv_proj: 8, one per KV head's q, k and v)
    groups: int = 1


# (match groups, llmarch shape, expert layout, the layer's IR or None outside the layers)
Producer = Callable[[tuple, tuple[int, ...], str, "Optional[LayerIR]"], list[Entry]]


def to(template: str, transpose: bool = False, shape: Optional[Callable] = None) -> Producer:
    """One tensor, renamed; stored `[.., in, out]` when `transpose` (transformers' gpt-oss experts, GPT-2's
    Conv1D), or in the shape `shape(llmarch shape, layer IR)` gives (Kimi Linear's `A_log` `[1, 1, heads, 1]`)."""

    def make(groups, llmarch, layout, layer):
        out = llmarch[:-2] + (llmarch[-1], llmarch[-2]) if transpose else llmarch
        oi = llmarch if len(llmarch) >= 2 else None
        stored = shape(llmarch, layer) if shape else out
        return [Entry(template.format(*groups), stored, oi, -1 if transpose else 0)]

    return make


def split(*templates: str, axis: int = 0) -> Producer:
    """llmarch's fused tensor (`gate_up` `[2 * d_ff, d]`) as equal parts along its first dimension (the
    second for stacked experts `[n, 2 * d_expert, d]`, `axis=1`)."""

    def make(groups, shape, layout, layer):
        part = list(shape)
        part[axis] //= len(templates)
        part = tuple(part)
        return [Entry(t.format(*groups), part, part if len(part) >= 2 else None) for t in templates]

    return make


def split_parts(weight: str, *templates: str) -> Producer:
    """llmarch's fused tensor `weight` (its name under `layers.N.`) as parts of the unequal widths its kind
    states (`Mechanism.fused_parts`: Qwen3.5 stores Gated DeltaNet's `in_proj_qkvz` as `in_proj_qkv` and
    `in_proj_z`)."""

    def make(groups, shape, layout, layer):
        from ...mechanisms.layers import fused_parts

        sizes = fused_parts(layer).get(weight, ()) if layer is not None else ()
        if len(sizes) != len(templates) or sum(sizes) != shape[0]:
            # the kind and the build disagree: name the whole tensor, let shapes differ
            return [Entry(templates[0].format(*groups), shape, shape if len(shape) >= 2 else None)]
        out = []
        for t, n in zip(templates, sizes):
            part = (n,) + shape[1:]
            out.append(Entry(t.format(*groups), part, part if len(part) >= 2 else None))
        return out

    return make


def expert_layout(layout: str) -> str:
    """The expert layout of a layout that also names a projection layout (`stacked/fused_qkv`)."""
    return layout.split("/", 1)[0]


def fused_qkv(apart: Producer, template: str, groups: Callable[[Optional[LayerIR]], int] = lambda layer: 1) -> Producer:
    """q, k and v as `apart` names them, or, in a layout `.../fused_qkv`, stacked in one checkpoint tensor
    `template` (its fp8 scales blocked in `groups(layer)` row groups)."""

    def make(groups_, shape, layout, layer):
        if layout.endswith("/fused_qkv"):
            return [e._replace(groups=groups(layer)) for e in to(template)(groups_, shape, layout, layer)]
        return apart(groups_, shape, layout, layer)

    return make


def experts(per_expert: tuple[str, ...], stacked: Producer) -> Producer:
    """Stacked experts `[n, width, d]`: one tensor per expert and part, or transformers' stacked tensor."""

    def make(groups, shape, layout, layer):
        if expert_layout(layout) == "stacked":
            return stacked(groups, shape, layout, layer)
        n, width = shape[0], shape[1]
        part = (width // len(per_expert),) + shape[2:]
        return [
            Entry(t.format(*groups, e=e), part, part if len(part) >= 2 else None) for e in range(n) for t in per_expert
        ]

    return make


def by_layout(per_expert: Producer, stacked: Producer) -> Producer:
    return lambda groups, shape, layout, layer: (stacked if expert_layout(layout) == "stacked" else per_expert)(
        groups, shape, layout, layer
    )


Rules = tuple[tuple[str, Producer], ...]


@dataclass(frozen=True)
class Family:
    layer: Rules
    prefixes: tuple[tuple[str, str], ...] = (
        ("model.", "lm_head"),
        ("model.language_model.", "lm_head"),  # a multimodal wrapper, transformers 5
        ("language_model.model.", "language_model.lm_head"),  # the older wrapper layout
    )
    # expert layouts, each optionally with a projection layout (`per_expert/fused_qkv`: see `fused_qkv`)
    layouts: tuple[str, ...] = ("per_expert", "stacked")
    # "deepseek" | "qwen" | "unchecked" (the checkpoints' MTP naming is not known: MTP weights not held, and the
    # checkpoint's MTP tensors listed apart: `unchecked_mtp`)
    mtp: Optional[str] = None
    layers: str = "layers"  # the decoder layers' container (GPT-2's `h`)
    # llmarch layers per checkpoint layer: with k > 1 llmarch's layer i is sublayer i % k of the checkpoint's
    # layer i // k, and the rules see its weights as `sub{i % k}.<name>` (LongCat: two sublayers a layer)
    sublayers: int = 1
    norms: dict = field(default_factory=dict)  # llmarch's per-layer norm -> the family's, where not transformers'
    outer: dict = field(default_factory=dict)  # weights outside the layers, where not llmarch's own names
    # how a quantised matrix's companions are named and laid out: "transformers" (`weight_scale_inv`, MXFP4
    # `_blocks`/`_scales`) or "deepseek" (DeepSeek V4's own: a `.scale` beside each matrix, FP4 packed in I8)
    quant_layout: str = "transformers"
    # (pattern on the checkpoint's name, dtypes): tensors the checkpoints store at a dtype of their own whatever
    # the spec's formats (DeepSeek V4's bf16 compressors, its int64 hash-routing table)
    fixed_dtypes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    compiled: list = field(default_factory=list, compare=False, repr=False)

    def rules(self):
        if not self.compiled:
            self.compiled.extend((re.compile(p + r"\Z"), make) for p, make in self.layer)
        return self.compiled


# a multimodal wrapper's model type -> the family of its text model
WRAPPERS = {
    "gemma3": "gemma3_text",
    "gemma3n": "gemma3n_text",
    "gemma4": "gemma4_text",
    "mistral3": "ministral3",
    "qwen3_5": "qwen3_5_text",
    "qwen3_5_moe": "qwen3_5_moe_text",
    "llama4": "llama4_text",
    "kimi_k25": "kimi_k2",
}


def norm_name(family: Family, name: str, placement: str) -> Optional[str]:
    """llmarch's per-layer norms under the family's names (transformers' for pre-norm, post-norm and
    sandwich placements, unless the family names its own)."""
    if name in family.norms:
        return family.norms[name]
    return {
        "attn_norm": "input_layernorm",
        "mixer_norm": "input_layernorm",
        "input_norm": "input_layernorm",  # the parallel block's one norm
        "attn_post_norm": "post_attention_layernorm",
        "ffn_norm": "post_attention_layernorm" if placement == "pre" else "pre_feedforward_layernorm",
        "ffn_post_norm": "post_feedforward_layernorm",
        "per_layer_input_norm": "post_per_layer_input_norm",  # Gemma 3n's and Gemma 4's
    }.get(name)


def in_layer(
    family: Family, rest: str, shape: tuple[int, ...], layout: str, placement: str, layer: Optional[LayerIR]
) -> Optional[list[Entry]]:
    """A weight inside one layer (`rest` follows `layers.{i}.`) as checkpoint names inside that layer."""
    head, _, tail = rest.partition(".")
    if tail == "weight" or tail == "bias":
        norm = norm_name(family, head, placement)
        if norm:
            return [Entry(f"{norm}.{tail}", shape, None)]
    for pattern, make in family.rules():
        m = pattern.match(rest)
        if m:
            return make(m.groups(), shape, layout, layer)
    return None


MTP_NAME = re.compile(r"(^|\.)mtp")


def unchecked_mtp(family: Family, name: str, n_layers: int) -> bool:
    """A checkpoint tensor of an MTP module of a family whose checkpoints' MTP naming verify does not know: named
    `mtp` (MiniMax-M2's, LongCat's), or in a layer past the model's last, where DeepSeek's layout puts its MTP
    modules (GLM-4.5's `model.layers.{n_layers}.*`, whose stored embedding and head no source here settles)."""
    if family.mtp != "unchecked":
        return False
    if MTP_NAME.search(name):
        return True
    m = re.search(rf"(^|\.){re.escape(family.layers)}\.(\d+)\.", name)
    return m is not None and int(m.group(2)) >= -(-n_layers // family.sublayers)


MTP_DEEPSEEK = {
    "enorm.weight": "enorm.weight",
    "hnorm.weight": "hnorm.weight",
    "eh_proj.weight": "eh_proj.weight",
    "final_norm.weight": "shared_head.norm.weight",
    "head.weight": "shared_head.head.weight",
    "embed_tokens.weight": "embed_tokens.weight",
}
MTP_QWEN = {
    "enorm.weight": "mtp.pre_fc_norm_embedding.weight",
    "hnorm.weight": "mtp.pre_fc_norm_hidden.weight",
    "eh_proj.weight": "mtp.fc.weight",
    "final_norm.weight": "mtp.norm.weight",
}


def checkpoint_names(
    family: Family, name: str, shape: tuple[int, ...], ir: ModelIR, prefix: str, head: str, layout: str
) -> Optional[list[Entry]]:
    """llmarch's weight `name` as the checkpoint's tensors, None where the family's table has no entry, and
    no tensor for an MTP weight of a family whose checkpoints' MTP naming is not known (`mtp="unchecked"`)."""
    parts = name.split(".")
    placement = ir.norm.placement
    if name == "lm_head.weight":
        return [Entry(f"{head}.weight", shape, shape)]
    if parts[0] != "layers" and parts[0] != "mtp":
        outer = family.outer.get(name, name if parts[0] in ("embed_tokens", "norm") and len(parts) == 2 else None)
        return None if outer is None else [Entry(prefix + outer, shape, shape if len(shape) == 2 else None)]
    if parts[0] == "layers":
        i = int(parts[1])
        layer = ir.layers[i] if i < len(ir.layers) else None
        rest, stored = ".".join(parts[2:]), i
        if family.sublayers > 1:
            stored, sub = divmod(i, family.sublayers)
            rest = f"sub{sub}.{rest}"
        inner = in_layer(family, rest, shape, layout, placement, layer)
        base = f"{prefix}{family.layers}.{stored}."
        return None if inner is None else [e._replace(name=base + e.name) for e in inner]
    if family.mtp == "unchecked":
        return []
    if parts[0] == "mtp" and family.mtp:
        k, rest = int(parts[1]), ".".join(parts[2:])
        if family.mtp == "deepseek":
            base = f"{prefix}{family.layers}.{ir.n_layers + k}."
            if rest in MTP_DEEPSEEK:
                return [Entry(base + MTP_DEEPSEEK[rest], shape, shape if len(shape) == 2 else None)]
        else:
            base = f"mtp.layers.{k}."
            if rest in MTP_QWEN:
                return [Entry(MTP_QWEN[rest], shape, shape if len(shape) == 2 else None)]
        if rest.startswith("layer."):
            layer = ir.mtp.layer if ir.mtp else None
            inner = in_layer(family, rest[len("layer.") :], shape, layout, placement, layer)
            return None if inner is None else [e._replace(name=base + e.name) for e in inner]
    return None
