"""What each model's boxes show in the diagram: annotation lines (`Note`), slots (`Slot`, from each
mechanism's box data, `Mechanism.box`), blocks (each distinct layer kind once, `blocks_of`) matched across
models by kind and role (`match_blocks`), and the callouts that name their architectural differences.
Data only: no drawing (`diagram_draw`) and no placing (`diagram.layout`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..analyze.differences import reference
from ..ir import LayerIR, ModelIR
from ..mechanisms.base import EXTRA_PLACES, Mechanism, Routing
from ..mechanisms.layers import block_residual, layer_ffn, layer_mixer, model_mechanisms


@dataclass
class Note:
    """One annotation line; `key` names the value it shows, so it is compared with its peers: by `value`
    where the text rounds an exact value (`differences`: exact values decide), else by its text."""

    key: str
    text: str
    value: Any = None


@dataclass
class Slot:
    role: str  # matched across models: "norm-1", "mixer", "ffn", ...
    kind: str  # colour key, "add" for the residual add node
    title: str  # the box's text
    notes: list[Note] = field(default_factory=list)
    routing: Optional[Routing] = None  # a router over expert boxes
    skip_from: Optional[str] = None  # add nodes: the role of the slot where the skip arrow leaves
    # a parallel block's branches: the FFN reads the norm (`fed_from`) instead of the slot below it, and
    # the mixer's output goes straight to the add node (`joins`), beside the FFN
    fed_from: Optional[str] = None
    joins: Optional[str] = None


def mechanism_slot(role: str, mechanism: Optional[Mechanism]) -> Optional[Slot]:
    """The slot of a layer's mixer or FFN, from its box data; None where the layer has none."""
    if mechanism is None:
        return None
    box = mechanism.box()
    return Slot(role, box.kind, box.title, [Note(k, t) for k, t in box.notes], routing=box.routing)


def norm_name(ir: ModelIR) -> str:
    return "LayerNorm" if ir.norm.kind == "layernorm" else "RMSNorm"


def extras_slot(ir: ModelIR) -> Optional[Slot]:
    """The per-layer additions around the mixer and FFN (Gemma 3n's), in the order the block runs them."""
    boxes = sorted((m.box() for m in model_mechanisms(ir)), key=lambda b: EXTRA_PLACES.index(b.place))
    notes = [Note(k, t) for box in boxes for k, t in box.notes]
    return Slot("extras", "extras", "Per-layer extras", notes) if notes else None


@dataclass
class Block:
    key: tuple  # (mixer, ffn, shares KV)
    role: str  # "prefix" for a short run of first layers before another kind, else "main"
    layers: list[LayerIR]
    ir: ModelIR

    def tiers(self) -> list[tuple]:
        mixer, ffn, shared = self.key
        first = layer_mixer(self.ir, self.layers[0])
        linear = "attention" if first is not None and first.attends else "linear"
        # full attention with or without RoPE; attention restricted to a window or a chunk
        span = {"global": "full", "nope": "full", "local": "restricted", "chunked": "restricted"}.get(mixer, mixer)
        span = "compressed" if mixer in ("csa", "hca") else span  # a window plus compressed entries of the past
        return [
            (mixer, ffn, shared, self.role),
            (mixer, ffn, self.role),
            (span, ffn, self.role),
            (linear, ffn, self.role),
            (mixer, ffn),
            (span, ffn),
            (linear, ffn),
            (mixer,),
            (span,),
            (linear,),
        ]


def blocks_of(ir: ModelIR) -> list[Block]:
    groups: dict[tuple, list[LayerIR]] = {}
    for layer in ir.layers:
        # layers of one kind with different sizes are different blocks: each block is drawn from its first layer
        parts = [m for m in (layer_mixer(ir, layer), layer_ffn(ir, layer)) if m is not None]
        sizes = tuple(m.identity for m in parts)
        shared = any(m.kv_shared for m in parts)
        groups.setdefault((layer.mixer, layer.ffn, shared, sizes), []).append(layer)
    out = []
    for (*kind, _sizes), layers in groups.items():
        key = tuple(kind)
        idx = [l.index for l in layers]
        prefix = len(groups) > 1 and idx == list(range(len(idx))) and len(idx) * 4 <= ir.n_layers
        out.append(Block(key, "prefix" if prefix else "main", layers, ir))
    return out


def match_blocks(models: list[list[Block]]) -> list[list[Optional[Block]]]:
    """Rows of blocks, one column per model: a block joins the row of its closest kind, or a row of its own."""
    n = len(models)
    rows: list[list[Optional[Block]]] = [[b] + [None] * (n - 1) for b in models[0]]
    for j in range(1, n):
        row_of: dict[int, int] = {}
        for tier in range(len(models[j][0].tiers()) if models[j] else 0):
            for bi, b in enumerate(models[j]):
                if bi in row_of:
                    continue
                want = b.tiers()[tier]
                for ri, row in enumerate(rows):
                    if row[j] is None and any(o is not None and o.tiers()[tier] == want for o in row):
                        row[j], row_of[bi] = b, ri
                        break
        # unmatched blocks take a row of their own, before the row of this model's next matched block
        for bi in reversed(range(len(models[j]))):
            if bi in row_of:
                continue
            later = [row_of[k] for k in range(bi + 1, len(models[j])) if k in row_of]
            at = min(later) if later else len(rows)
            rows.insert(at, [None] * n)
            rows[at][j] = models[j][bi]
            row_of = {k: (r + 1 if r >= at else r) for k, r in row_of.items()}
            row_of[bi] = at
    return rows


def block_slots(block: Block) -> list[Slot]:
    """The flow inside one block, bottom up, with the residual add nodes."""
    ir, first = block.ir, block.layers[0]
    norm, place = norm_name(ir), ir.norm.placement
    subs = (mechanism_slot("mixer", layer_mixer(ir, first)), mechanism_slot("ffn", layer_ffn(ir, first)))
    joint = block_residual(ir)
    box = joint.box() if joint is not None else None
    if box is not None and box.branches and None not in subs:  # one norm, mixer and FFN side by side, one add
        mixer, ffn = subs
        mixer.joins, ffn.fed_from = "add-1", "norm-1"
        add = Slot("add-1", "add", "+", [Note(k, t) for k, t in box.notes], skip_from="norm-1")
        return [Slot("norm-1", "norm", box.title), mixer, ffn, add]
    out: list[Slot] = []
    for i, sub in enumerate(subs, 1):
        if sub is None:
            continue
        start = len(out)
        if place in ("pre", "sandwich"):
            out.append(Slot(f"norm-{i}", "norm", f"{norm} {i}"))
        out.append(sub)
        if place in ("post", "sandwich"):
            scaled = ", depth-scaled" if ir.norm.depth_scaled else ""
            out.append(Slot(f"post-norm-{i}", "norm", f"{norm} (post {i}{scaled})"))
        out.append(Slot(f"add-{i}", "add", "+", skip_from=out[start].role))
    extras = extras_slot(ir)
    if extras is not None:
        out.append(extras)
    return out


def block_title(block: Block) -> str:
    ir, first = block.ir, block.layers[0]
    parts = [m.box().block_words for m in (layer_mixer(ir, first), layer_ffn(ir, first)) if m is not None]
    return " + ".join(parts) + " block"


def block_where(block: Block) -> str:
    idx = [l.index for l in block.layers]
    if len(idx) == 1:
        return f"layer {idx[0]}"
    if idx == list(range(idx[0], idx[-1] + 1)):
        return f"layers {idx[0]}–{idx[-1]}"
    return f"{len(idx)} of {block.ir.n_layers} layers"


def _features(block: Block) -> dict[str, str]:
    ir, first = block.ir, block.layers[0]
    out = {"mixer": "none", "ffn": "none", "shared": "no"}
    for m in (layer_mixer(ir, first), layer_ffn(ir, first)):
        if m is not None:
            out.update(m.box().features)
    out["norm"] = ir.norm.placement
    return out


MIXER_WORDS = {
    "global": "global",
    "local": "local",
    "chunked": "chunked",
    "nope": "global",
}  # NoPE layers attend globally


def callouts(row: list[Optional[Block]]) -> list[list[str]]:
    """Short texts naming each architectural difference of a block from its row's reference block."""
    feats = [_features(b) if b is not None else None for b in row]
    out: list[list[str]] = [[] for _ in row]
    present = [f for f in feats if f is not None]
    if len(present) == 1 and len(row) > 1:  # a block kind the other models lack
        j = next(j for j, f in enumerate(feats) if f is not None)
        block = row[j]
        if block.role == "prefix" and feats[j]["ffn"] == "dense FFN":
            out[j].append(
                f"dense FFN in the first {len(block.layers)} " + ("layer" if len(block.layers) == 1 else "layers")
            )
        else:
            out[j].append("a block kind the other " + ("model lacks" if len(row) == 2 else "models lack"))
        return out
    if len(present) < 2:
        return out
    ref = {k: reference([f.get(k) if f else None for f in feats]) for k in present[0]}
    for j, f in enumerate(feats):
        if f is None:
            continue
        said = out[j]
        if f["mixer"] != ref["mixer"]:
            said.append(f"{f['mixer']} instead of {ref['mixer']}")
        if f["ffn"] != ref["ffn"] and "none" not in (f["ffn"], ref["ffn"]):
            said.append(f"{f['ffn']} instead of {ref['ffn']}")
        if f["shared"] == "yes" and ref["shared"] == "no":
            said.append("shared expert")
        if f["shared"] == "no" and ref["shared"] == "yes" and f["ffn"] == "MoE":
            said.append("no shared expert")
        mixer = MIXER_WORDS.get(row[j].key[0], "")
        if f.get("position") == "nope" and ref.get("position") not in (None, "nope"):
            said.append(f"no positional encoding in {mixer} layers".replace("  ", " "))
        if f.get("window") == "yes" and ref.get("window") == "no":
            said.append("sliding-window attention")
        for key, yes, no in (
            ("qk_norm", "QK-norm", "no QK-norm"),
            ("sinks", "attention sinks", "no attention sinks"),
            ("gate", "gated attention output", "no attention output gate"),
        ):
            if f.get(key) is not None and ref.get(key) is not None and f[key] != ref[key]:
                said.append(yes if f[key] == "yes" else no)
        if f["norm"] != ref["norm"]:
            said.append({"post": "post-norm", "pre": "pre-norm", "sandwich": "norms before and after"}[f["norm"]])
    return out
