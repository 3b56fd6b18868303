"""Architecture facts of one model: the slots of the article's panels, read off the IR.

Each fact has a stable key (used in JSON and for differences), a label, a JSON
value (exact integers; per layer kind where it varies) and a display text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..ir import ModelIR
from ..kinds import kind_words
from ..mechanisms.layers import block_residual, layer_ffn, layer_mechanisms, layer_mixer, model_mechanisms
from ..patterns import pattern_text


@dataclass(frozen=True)
class Fact:
    key: str
    label: str
    value: Any
    text: str


def _n(x: int) -> str:
    return f"{x:,}"


def _per_kind(values: dict[str, Any], fmt) -> tuple[Any, str]:
    """One value if all kinds agree, else a mapping kind -> value."""
    distinct = {repr(v) for v in values.values()}
    if len(distinct) <= 1:
        v = next(iter(values.values()), None)
        return v, fmt(v) if v is not None else "—"
    return dict(values), "; ".join(f"{kind_words(k)}: {fmt(v)}" for k, v in values.items())


def layer_mix(ir: ModelIR) -> str:
    """The layer mix as JSON holds it: '52 local(1,024) + 10 global' (tables say `layer_mix_text`)."""
    counts = Counter()
    for layer in ir.layers:
        mixer = layer_mixer(ir, layer)
        counts[mixer.mix_name(layer.mixer) if mixer is not None else layer.mixer] += 1
    return " + ".join(f"{n} {k}" for k, n in counts.items())


def _ffn_word(ffn: str) -> str:
    return "dense FFN" if ffn == "dense" else kind_words(ffn)


def _layer_words(ir: ModelIR) -> list[tuple[str, list[str]]]:
    """The model's layers as words: ('Layer mixers', [...]) and ('Layer FFNs', [...]); or, where some
    layers have no mixer or no FFN (Nemotron-H's Mamba-2, attention and MoE layers), ('Layers', [...])
    with each layer the one part it has."""
    if not any(layer.mixer == "none" or layer.ffn == "none" for layer in ir.layers):
        return [
            ("Layer mixers", [kind_words(layer.mixer) for layer in ir.layers]),
            ("Layer FFNs", [kind_words(layer.ffn) for layer in ir.layers]),
        ]
    words = []
    for layer in ir.layers:
        if layer.mixer == "none" or layer.ffn == "none":
            words.append(_ffn_word(layer.ffn) if layer.mixer == "none" else kind_words(layer.mixer))
        else:
            words.append(f"{kind_words(layer.mixer)} with {_ffn_word(layer.ffn)}")
    return [("Layers", words)]


def layer_patterns(ir: ModelIR) -> list[tuple[str, str]]:
    """What `show --layers` prints: each of `_layer_words` as people say it ('(5 local + 1 global) × 10,
    then 2 local'), then the layers a mechanism notes ('Layers with KV of L18': 'L20–L23, L25–L28')."""
    out = [(what, pattern_text(words)) for what, words in _layer_words(ir)]
    noted: dict[str, list[int]] = {}
    for layer in ir.layers:
        for m in layer_mechanisms(ir, layer):
            if m.layer_note():
                noted.setdefault(m.layer_note().strip(), []).append(layer.index)
    for note, indices in noted.items():
        out.append((f"Layers with {note}", ", ".join(_spans(indices))))
    return out


def _spans(indices: list[int]) -> list[str]:
    spans: list[list[int]] = []
    for i in indices:
        if spans and spans[-1][1] == i - 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    return [f"L{a}" + (f"–L{b}" if b != a else "") for a, b in spans]


def layer_mix_text(ir: ModelIR) -> str:
    """The tables' layer mix: the mixers' pattern, then what its words leave out ('local: window 1,024')."""
    mixers = [(layer.mixer, layer_mixer(ir, layer)) for layer in ir.layers]
    details = dict.fromkeys(f"{kind_words(k)}: {m.mix_detail()}" for k, m in mixers if m is not None and m.mix_detail())
    return "; ".join([pattern_text(_layer_words(ir)[0][1]), *details])


def layer_pattern(ir: ModelIR) -> str:
    """The diagrams' header: '62 blocks: (5 local + 1 global) × 10, then 2 local', naming only what varies
    ('61 blocks: 3 dense, then 58 MoE'; '12 blocks')."""
    varied = [pattern_text(words) for _, words in _layer_words(ir) if len(set(words)) > 1]
    return f"{ir.n_layers} blocks" + (": " + "; ".join(varied) if varied else "")


def facts(ir: ModelIR) -> list[Fact]:
    attn = {}  # the first attention of each layer kind
    for layer in ir.layers:
        mixer = layer_mixer(ir, layer)
        if mixer is not None and mixer.attends:
            attn.setdefault(layer.mixer, mixer)
    out = [
        Fact("vocab_size", "Vocabulary", ir.vocab_size, _n(ir.vocab_size)),
        Fact("context_length", "Context length", ir.context_length, _n(ir.context_length)),
        Fact("n_layers", "Blocks", ir.n_layers, _n(ir.n_layers)),
        Fact("d_model", "Embedding dimension", ir.d_model, _n(ir.d_model)),
        Fact("layer_mix", "Layer mix", layer_mix(ir), layer_mix_text(ir)),
    ]
    if attn:
        v, t = _per_kind({k: m.label for k, m in attn.items()}, str)
        out.append(Fact("attention", "Attention", v, t))
        v, t = _per_kind({k: [m.ir.n_heads, m.ir.n_kv_heads] for k, m in attn.items()}, lambda x: f"{x[0]} / {x[1]}")
        out.append(Fact("heads", "Heads / KV heads", v, t))
        v, t = _per_kind(
            {k: [m.ir.head_dim, m.ir.v_head_dim] for k, m in attn.items()},
            lambda x: str(x[0]) if x[0] == x[1] else f"qk {x[0]} / v {x[1]}",
        )
        out.append(Fact("head_dim", "Head dim", v, t))
        ranks = next((m.latent_ranks() for m in attn.values() if m.latent_ranks()), None)
        if ranks:
            text = f"q rank {ranks['q_lora_rank'] or '—'}, kv rank {ranks['kv_lora_rank']}, rope {ranks['qk_rope_head_dim']}"
            out.append(Fact("mla", "MLA ranks", ranks, text))
        v, t = _per_kind({k: m.position_label() for k, m in attn.items()}, str)
        out.append(Fact("position", "Positional encoding", v, t))
        v, t = _per_kind({k: m.ir.qk_norm for k, m in attn.items()}, kind_words)
        out.append(Fact("qk_norm", "QK-norm", v, t))
        extras = sorted({x for m in attn.values() for x in m.option_labels()})
        out.append(Fact("attention_extras", "Attention extras", extras, ", ".join(extras) or "—"))
    norm_kind = "LayerNorm" if ir.norm.kind == "layernorm" else "RMSNorm"
    norm_text = f"{ir.norm.placement} {norm_kind}" + (", depth-scaled" if ir.norm.depth_scaled else "")
    out.append(Fact("norm", "Norm placement", ir.norm.placement, norm_text))
    block = block_residual(ir)
    if block is not None:  # absent (not "—") for the sequential block, so other panels stay as the article's
        value, text = block.panel()
        out.append(Fact("block", "Block", value, text))
    ffns = [f for f in (layer_ffn(ir, layer) for layer in ir.layers) if f is not None]
    first_dense = next((f for f in ffns if not f.experts), None)
    routed = next((f for f in ffns if f.experts), None)
    kind = (first_dense or routed).ffn_kind if (first_dense or routed) else None
    out.append(Fact("ffn_kind", "FFN kind", kind, kind_words(kind) if kind else "—"))
    n_dense = sum(1 for f in ffns if not f.experts)
    n_routed = len(ffns) - n_dense
    out.append(
        Fact(
            "d_ff",
            "Dense FFN size",
            first_dense.d_ff if first_dense else None,
            _n(first_dense.d_ff) if first_dense else "—",
        )
    )
    out.append(Fact("n_dense_layers", "Dense FFN blocks", n_dense, _dense_blocks(ir, n_dense, n_routed)))
    if routed:
        panel = routed.panel()
        out.append(Fact("n_experts", "Experts", panel["n_experts"], _n(panel["n_experts"])))
        shared, top_k = panel["shared"], panel["routed"]
        out.append(
            Fact(
                "experts_active",
                "Experts active",
                {"shared": shared, "routed": top_k},
                (f"{shared} shared + {top_k}" if shared else f"{top_k}"),
            )
        )
        out.append(Fact("d_expert", "Expert size", panel["d_expert"], _n(panel["d_expert"])))
        if panel.get("latent_dim"):  # a latent MoE only; absent (not "—") elsewhere so other panels stay as they were
            latent = panel["latent_dim"]
            out.append(
                Fact("expert_latent", "Expert latent", latent, f"{_n(ir.d_model)} → {_n(latent)} → {_n(ir.d_model)}")
            )
        d_shared = panel["d_shared"]
        out.append(Fact("d_shared", "Shared expert size", d_shared, _n(d_shared) if d_shared else "—"))
        out.append(Fact("n_moe_layers", "MoE blocks", n_routed, _n(n_routed)))
        if panel.get("note"):  # absent elsewhere, so other panels stay as the article's
            out.append(Fact("experts_note", "Experts note", panel["note"], panel["note"]))
    else:
        for key, label in (
            ("n_experts", "Experts"),
            ("experts_active", "Experts active"),
            ("d_expert", "Expert size"),
            ("d_shared", "Shared expert size"),
            ("n_moe_layers", "MoE blocks"),
        ):
            out.append(Fact(key, label, None, "—"))
    out.append(Fact("tie_embeddings", "Tied embeddings", ir.tie_embeddings, "yes" if ir.tie_embeddings else "no"))
    out.append(
        Fact("mtp_modules", "MTP modules", ir.mtp.n_modules if ir.mtp else 0, str(ir.mtp.n_modules) if ir.mtp else "—")
    )
    extras = _layer_extras(ir)
    if extras:  # Gemma 3n's mechanisms; absent (not "—") elsewhere so other panels stay as the article's
        out.append(Fact("layer_extras", "Layer extras", extras, ", ".join(f"{k} {v}" for k, v in extras.items())))
    return out


def _layer_extras(ir: ModelIR) -> dict[str, Any]:
    extras: dict[str, Any] = dict(m.panel_extra() for m in model_mechanisms(ir) if m.panel_extra())
    shared = [layer for layer in ir.layers if any(m.kv_shared for m in layer_mechanisms(ir, layer))]
    if shared:
        extras["KV-sharing layers"] = len(shared)
        widths = {f.d_ff for f in (layer_ffn(ir, layer) for layer in shared) if f is not None and not f.experts}
        first = layer_ffn(ir, ir.layers[0])
        if first is not None and not first.experts and widths - {first.d_ff}:
            # Gemma 4 E2B's double-wide FFN on its KV-sharing layers
            extras["their dense FFN size"] = ", ".join(f"{w:,}" for w in sorted(widths))
    hashed = sum(1 for layer in ir.layers if any(m.hash_routed for m in layer_mechanisms(ir, layer)))
    if hashed:  # DeepSeek V4: experts from a frozen token table in the first MoE layers
        extras["hash-routed MoE blocks"] = hashed
    return extras


def _dense_blocks(ir: ModelIR, n_dense: int, n_moe: int) -> str:
    if not n_moe or not n_dense:
        return _n(n_dense)
    first = [l.ffn for l in ir.layers]
    prefix = next((i for i, f in enumerate(first) if f != "dense"), len(first))
    if prefix == n_dense:
        return f"first {prefix}"
    return f"{n_dense} (interleaved)"


def layer_map(ir: ModelIR) -> str:
    """JSON's layer map (`show --layers -f json`; the tables print `layer_patterns`): runs of identical
    layers, 'L0–L2 global/dense, L3–L60 global/moe'; a layer that reuses another layer's KV says which
    ('local/dense KV of L18')."""
    runs: list[tuple[int, int, str]] = []
    for layer in ir.layers:
        label = layer.label + "".join(m.layer_note() for m in layer_mechanisms(ir, layer))
        if runs and runs[-1][2] == label and runs[-1][1] == layer.index - 1:
            runs[-1] = (runs[-1][0], layer.index, label)
        else:
            runs.append((layer.index, layer.index, label))
    return ", ".join(f"L{a}" + (f"–L{b}" if b != a else "") + f" {label}" for a, b, label in runs)
