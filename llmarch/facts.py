"""Architecture facts of one model: the slots of the article's panels, read off the IR.

Each fact has a stable key (used in JSON and for differences), a label, a JSON
value (exact integers; per layer kind where it varies) and a display text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from .ir import AttentionIR, ModelIR


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
    return dict(values), "; ".join(f"{k}: {fmt(v)}" for k, v in values.items())


def attention_label(a: AttentionIR) -> str:
    if a.is_mla:
        return "MLA" + (" + DSA indexer" if a.indexer_heads else "")
    if a.kind == "mha" or a.n_kv_heads == a.n_heads:
        return "MHA"
    if a.n_kv_heads == 1:
        return "MQA"
    return "GQA"


def layer_mix(ir: ModelIR) -> str:
    counts = Counter()
    for layer in ir.layers:
        name = layer.mixer
        if layer.attention is not None and layer.attention.window:
            name = f"local({layer.attention.window:,})"
        if layer.attention is not None and layer.attention.chunk:
            name = f"chunked({layer.attention.chunk:,})"
        counts[name] += 1
    return " + ".join(f"{n} {k}" for k, n in counts.items())


def facts(ir: ModelIR) -> list[Fact]:
    attn = {}
    for layer in ir.layers:
        if layer.attention is not None:
            attn.setdefault(layer.mixer, layer.attention)
    out = [
        Fact("vocab_size", "Vocabulary", ir.vocab_size, _n(ir.vocab_size)),
        Fact("context_length", "Context length", ir.context_length, _n(ir.context_length)),
        Fact("n_layers", "Blocks", ir.n_layers, _n(ir.n_layers)),
        Fact("d_model", "Embedding dimension", ir.d_model, _n(ir.d_model)),
        Fact("layer_mix", "Layer mix", layer_mix(ir), layer_mix(ir)),
    ]
    if attn:
        v, t = _per_kind({k: attention_label(a) for k, a in attn.items()}, str)
        out.append(Fact("attention", "Attention", v, t))
        v, t = _per_kind({k: [a.n_heads, a.n_kv_heads] for k, a in attn.items()}, lambda x: f"{x[0]} / {x[1]}")
        out.append(Fact("heads", "Heads / KV heads", v, t))
        v, t = _per_kind(
            {k: [a.head_dim, a.v_head_dim] for k, a in attn.items()},
            lambda x: str(x[0]) if x[0] == x[1] else f"qk {x[0]} / v {x[1]}",
        )
        out.append(Fact("head_dim", "Head dim", v, t))
        mla = next((a for a in attn.values() if a.is_mla), None)
        if mla:
            text = f"q rank {mla.q_lora_rank or '—'}, kv rank {mla.kv_lora_rank}, rope {mla.qk_rope_head_dim}"
            out.append(
                Fact(
                    "mla",
                    "MLA ranks",
                    {
                        "q_lora_rank": mla.q_lora_rank,
                        "kv_lora_rank": mla.kv_lora_rank,
                        "qk_rope_head_dim": mla.qk_rope_head_dim,
                    },
                    text,
                )
            )
        v, t = _per_kind({k: _position(a) for k, a in attn.items()}, str)
        out.append(Fact("position", "Positional encoding", v, t))
        v, t = _per_kind({k: a.qk_norm for k, a in attn.items()}, str)
        out.append(Fact("qk_norm", "QK-norm", v, t))
        extras = sorted({x for a in attn.values() for x in _extras(a)})
        out.append(Fact("attention_extras", "Attention extras", extras, ", ".join(extras) or "—"))
    norm_text = f"{ir.norm.placement} {'LayerNorm' if ir.norm.kind == 'layernorm' else 'RMSNorm'}"
    out.append(Fact("norm", "Norm placement", ir.norm.placement, norm_text))
    dense = next((l.dense for l in ir.layers if l.dense is not None), None)
    moe = next((l.moe for l in ir.layers if l.moe is not None), None)
    out.append(
        Fact(
            "ffn_kind",
            "FFN kind",
            (dense or (moe.expert if moe else None)).kind if (dense or moe) else None,
            (dense or (moe.expert if moe else None)).kind if (dense or moe) else "—",
        )
    )
    n_dense = sum(1 for l in ir.layers if l.dense is not None)
    n_moe = sum(1 for l in ir.layers if l.moe is not None)
    out.append(Fact("d_ff", "Dense FFN size", dense.d_ff if dense else None, _n(dense.d_ff) if dense else "—"))
    out.append(Fact("n_dense_layers", "Dense FFN blocks", n_dense, _dense_blocks(ir, n_dense, n_moe)))
    if moe:
        out.append(Fact("n_experts", "Experts", moe.n_experts, _n(moe.n_experts)))
        shared = moe.n_shared_experts
        out.append(
            Fact(
                "experts_active",
                "Experts active",
                {"shared": shared, "routed": moe.top_k},
                (f"{shared} shared + {moe.top_k}" if shared else f"{moe.top_k}"),
            )
        )
        out.append(Fact("d_expert", "Expert size", moe.expert.d_ff, _n(moe.expert.d_ff)))
        out.append(
            Fact(
                "d_shared",
                "Shared expert size",
                moe.shared.d_ff if moe.shared else None,
                _n(moe.shared.d_ff) if moe.shared else "—",
            )
        )
        out.append(Fact("n_moe_layers", "MoE blocks", n_moe, _n(n_moe)))
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
    extras: dict[str, Any] = {}
    if ir.per_layer_embedding_dim:
        extras["per-layer embeddings"] = ir.per_layer_embedding_dim
    if ir.altup_inputs:
        extras["AltUp streams"] = ir.altup_inputs
    if ir.laurel_rank:
        extras["LAuReL rank"] = ir.laurel_rank
    shared = sum(1 for l in ir.layers if l.kv_shared_from is not None)
    if shared:
        extras["KV-sharing layers"] = shared
    return extras


def _dense_blocks(ir: ModelIR, n_dense: int, n_moe: int) -> str:
    if not n_moe or not n_dense:
        return _n(n_dense)
    first = [l.ffn for l in ir.layers]
    prefix = next((i for i, f in enumerate(first) if f != "dense"), len(first))
    if prefix == n_dense:
        return f"first {prefix}"
    return f"{n_dense} (interleaved)"


def _position(a: AttentionIR) -> str:
    if a.position != "rope":
        return {"nope": "NoPE", "absolute": "learned absolute"}[a.position]
    text = "RoPE"
    if a.rope and a.rope.partial < 1:
        text = f"partial RoPE ({a.rope.partial:g})"
    if a.rope and a.rope.scaling:
        text += f" + {a.rope.scaling}"
    return text


def _extras(a: AttentionIR) -> list[str]:
    out = []
    if a.qkv_bias or a.o_bias:
        out.append("bias")
    if a.sinks:
        out.append("sinks")
    if a.output_gate != "none":
        out.append(f"{a.output_gate} output gate")
    return out


PATTERN_WORDS = {
    "global": "global",
    "local": "local",
    "chunked": "chunked",
    "nope": "NoPE",
    "gated_deltanet": "Gated DeltaNet",
    "kda": "KDA",
    "mamba2": "Mamba-2",
}


def _ratio(seq: list[str], words: dict[str, str]) -> str:
    """'5 local : 1 global' for a repeating sequence (a different first layer or two, and one odd layer in
    the last repeat, are said as such), else the counts in order of first appearance."""
    for p in range(2, len(seq) // 3 + 1):  # the shortest unit that repeats at least three times
        for lead in range(3):
            rest = seq[lead:]
            unit = rest[:p]
            odd = [i for i in range(len(rest)) if rest[i] != unit[i % p]]
            if len(set(unit)) < 2 or len(odd) > 1 or (odd and odd[0] < len(rest) - p):
                continue
            text = " : ".join(f"{n} {words[k]}" for k, n in Counter(unit).items())
            if odd:  # say the exact counts too
                text += " (" + " : ".join(str(Counter(rest)[k]) for k in Counter(unit)) + ")"
            if lead:
                text = " ".join(f"{n} {words[k]}" for k, n in Counter(seq[:lead]).items()) + " first, then " + text
            return text
    return ", ".join(f"{n} {words[k]}" for k, n in Counter(seq).items())


def layer_pattern(ir: ModelIR) -> str:
    """The layer pattern as people say it: '5 local : 1 global, 62 blocks', 'first 3 dense, 61 blocks'."""
    parts = []
    mixers = [l.mixer if l.mixer != "none" else f"none-{l.ffn}" for l in ir.layers]
    words = dict(PATTERN_WORDS, **{"none-moe": "MoE-only", "none-dense": "FFN-only"})
    if len(set(mixers)) > 1:
        parts.append(_ratio(mixers, words))
    ffns = [l.ffn for l in ir.layers]
    if len(set(ffns)) > 1 and "none" not in ffns and not any(m.startswith("none") for m in mixers):
        n_lead = next(i for i, f in enumerate(ffns) if f != ffns[0])
        if len(set(ffns[n_lead:])) == 1:
            parts.append(f"first {n_lead} {'dense' if ffns[0] == 'dense' else 'MoE'}")
        else:
            parts.append(_ratio(ffns, {"dense": "dense", "moe": "MoE"}))
    parts.append(f"{ir.n_layers} blocks")
    return ", ".join(parts)
