"""Validated `Spec` (validate.py) -> frozen `ModelIR`.

`to_ir` applies defaults, expands layer patterns and checks the rules that tie
blocks together: patterns against the layer count, heads against KV heads,
each layer kind against the block that defines it.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from . import schema as S
from .budget_text import parse_budget
from .errors import OptionError, did_you_mean
from .ir import (
    FFNIR,
    AttentionIR,
    GatedDeltaNetIR,
    KdaIR,
    LayerIR,
    LightningIR,
    Mamba2IR,
    ModelIR,
    MoEIR,
    MtpIR,
    NormIR,
    ReferenceIR,
    RopeIR,
)
from .kinds import ATTENTION_KINDS, FFN_LETTERS, MIXER_LETTERS
from .units import UnitError, published_bytes, published_count
from .yamlsafe import Located

# ---------------------------------------------------------------------------
# Spec -> IR


def to_ir(spec: S.Spec, located: Located) -> ModelIR:
    err = located.error
    warnings: list[str] = []
    mixers = _expand(spec.layers.mixer, MIXER_LETTERS, spec.n_layers, ("layers", "mixer"), located)
    default_ffn = "E" if spec.moe is not None else "D"
    ffns = _expand(spec.layers.ffn or default_ffn, FFN_LETTERS, spec.n_layers, ("layers", "ffn"), located)
    if spec.layers.dense_prefix > spec.n_layers:
        raise err(
            ("layers", "dense_prefix"), f"dense_prefix ({spec.layers.dense_prefix}) exceeds n_layers ({spec.n_layers})"
        )
    ffns = ["dense"] * spec.layers.dense_prefix + ffns[spec.layers.dense_prefix :]

    attn_by_kind = {kind: _attention(spec, kind, located, warnings) for kind in ATTENTION_KINDS if kind in mixers}
    dense = _ffn(spec.ffn) if spec.ffn else None
    moe = _moe(spec, located) if spec.moe else None

    layers = []
    for i, (mixer, ffn) in enumerate(zip(mixers, ffns)):
        if ffn == "dense" and dense is None:
            raise err(("ffn",), f"layer {i} uses a dense FFN but the spec has no `ffn:` block")
        if ffn == "moe" and moe is None:
            raise err(("moe",), f"layer {i} uses experts but the spec has no `moe:` block")
        if mixer == "none" and ffn == "none":
            raise err(("layers",), f"layer {i} holds neither a mixer nor an FFN")
        layers.append(
            LayerIR(
                index=i,
                mixer=mixer,
                ffn=ffn,
                attention=attn_by_kind.get(mixer),
                gated_deltanet=_linear(spec, "gated_deltanet", mixer, located),
                kda=_linear(spec, "kda", mixer, located),
                mamba2=_linear(spec, "mamba2", mixer, located),
                lightning=_linear(spec, "lightning", mixer, located),
                dense=dense if ffn == "dense" else None,
                moe=moe if ffn == "moe" else None,
            )
        )
    layers = _share_kv(spec, layers, located)
    layers = _share_indexers(spec, layers, located)

    mtp = None
    if spec.mtp is not None:
        mtp_ffn = spec.mtp.ffn
        if mtp_ffn == "moe" and moe is None:
            raise err(("mtp", "ffn"), "MTP modules use experts but the spec has no `moe:` block")
        if mtp_ffn == "dense" and dense is None:
            raise err(("mtp", "ffn"), "MTP modules use a dense FFN but the spec has no `ffn:` block")
        kind = spec.mtp.attention
        mtp_attn = attn_by_kind.get(kind) or _attention(spec, kind, located, warnings)
        mtp = MtpIR(
            n_modules=spec.mtp.n_modules,
            layer=LayerIR(
                index=spec.n_layers,
                mixer=kind,
                ffn=mtp_ffn,
                attention=mtp_attn,
                dense=dense if mtp_ffn == "dense" else None,
                moe=moe if mtp_ffn == "moe" else None,
            ),
            stores_embedding=spec.mtp.stores_embedding,
            stores_head=spec.mtp.stores_head,
        )

    _refuse_unused(spec, layers, mtp, located, warnings)
    ple = spec.per_layer_embeddings
    ir = ModelIR(
        name=spec.name,
        display_name=spec.display_name or spec.name,
        family=spec.family,
        release_date=spec.release_date,
        aliases=tuple(spec.aliases),
        sources=tuple(spec.sources.items()),
        vocab_size=spec.vocab_size,
        d_model=spec.d_model,
        n_layers=spec.n_layers,
        context_length=spec.context_length,
        tie_embeddings=spec.tie_embeddings,
        learned_positions=spec.learned_positions,
        per_layer_embedding_dim=ple.dim if ple else None,
        per_layer_embedding_vocab=(ple.vocab_size or spec.vocab_size) if ple else None,
        altup_inputs=spec.altup.n_inputs if spec.altup else None,
        laurel_rank=spec.laurel.rank if spec.laurel else None,
        norm=NormIR(kind=spec.norm.kind, bias=spec.norm.bias, placement=spec.norm.placement),
        layers=tuple(layers),
        mtp=mtp,
        weight_dtype=spec.weights.dtype,
        # an override equal to the default format says nothing (it resets an inherited one): dropped
        weight_overrides=tuple(
            sorted((c, f) for c, f in (spec.weights.overrides or {}).items() if f != spec.weights.dtype)
        ),
        references=tuple(
            ReferenceIR(
                total=r.total,
                active=r.active,
                convention=r.convention,
                active_convention=r.active_convention or r.convention,
                rounding=r.rounding,
                includes_mtp=r.includes_mtp,
                adjustments=tuple((a.kind, a.what, a.params) for a in r.adjustments),
                source=r.source,
                note=r.note,
                kv_per_token=r.kv_per_token,
                kv_per_token_config=r.kv_per_token_config,
            )
            for r in spec.reference or []
        ),
        warnings=tuple(warnings),
        budgets=tuple((k, v) for k, v in (spec.budgets.model_dump() if spec.budgets else {}).items() if v is not None),
        path=located.file,
        notes=spec.notes,
    )
    for kind, text in ir.budgets:
        try:
            parse_budget(kind, text)
        except OptionError as e:
            raise err(("budgets", kind), str(e)) from None
    if ir.references:
        for i, r in enumerate(ir.references):
            for key, read in REFERENCE_FIGURES.items():
                value = getattr(r, key)
                if value is not None:
                    try:
                        read(value)
                    except UnitError as e:
                        raise err(("reference", i, key), str(e)) from None
            if r.kv_per_token_config is not None and r.kv_per_token is None:
                raise err(
                    ("reference", i, "kv_per_token_config"),
                    "states llmarch's side of a disagreement with a published KV figure, but `kv_per_token` "
                    "(the published side) is missing: add it, or drop kv_per_token_config",
                )
    return ir


def _refuse_unused(
    spec: S.Spec, layers: list[LayerIR], mtp: Optional[MtpIR], located: Located, warnings: list[str]
) -> None:
    """A block or key that no layer reads is refused: it would be counted nowhere, or (an unused `moe:`
    block) change a default silently, and usually means a pattern or a block is wrong."""
    err = located.error
    stack = layers + ([mtp.layer] if mtp else [])
    for block, letter in (("gated_deltanet", "D"), ("kda", "K"), ("mamba2", "M"), ("lightning", "T"), ("moe", "E")):
        if getattr(spec, block) is not None and not any(getattr(l, block) is not None for l in stack):
            where = "layers.ffn" if block == "moe" else "layers.mixer"
            raise err(
                (block,),
                f"no layer uses the `{block}:` block",
                f"remove it (--set {block}=null), or give {block} layers in `{where}` (letter {letter})",
            )
    kinds = {l.mixer for l in stack}
    attn = spec.attention
    if attn is not None:
        if not any(l.attention is not None for l in stack):
            # kept a warning: `--set layers.mixer=-` (FFN-only layers) is a what-if that should need no more
            warnings.append("`attention:` is defined but no layer uses it")
        for key, kind in (("window", "local"), ("chunk", "chunked")):
            if getattr(attn, key) is not None and kind not in kinds:
                raise err(
                    ("attention", key),
                    f"`{key}` applies to {kind} layers, and no layer is {kind}",
                    f"remove it (--set attention.{key}=null), or give {kind} layers in `layers.mixer` "
                    f"(letter {'L' if kind == 'local' else 'C'})",
                )
        for kind, over in (attn.overrides or {}).items():
            for key, layer_kind in (("window", "local"), ("chunk", "chunked")):
                if getattr(over, key) is not None and kind != layer_kind:
                    raise err(
                        ("attention", "overrides", kind, key),
                        f"`{key}` applies to {layer_kind} layers, not to `{kind}` ones",
                    )
        by_kind = {l.mixer: l.attention.position for l in stack if l.attention is not None}
        if attn.rope is not None and by_kind and "rope" not in by_kind.values():
            raise err(
                ("attention", "rope"),
                f"no layer uses RoPE (attention layers have position {' and '.join(sorted(set(by_kind.values())))})",
                "remove `rope:`, or set attention.position: rope"
                + (" (learned_positions makes the default absolute)" if spec.learned_positions else ""),
            )
        for kind, over in (attn.overrides or {}).items():
            if over.rope is not None and kind in by_kind and by_kind[kind] != "rope":
                raise err(
                    ("attention", "overrides", kind, "rope"),
                    f"`{kind}` layers have position {by_kind[kind]}, so this RoPE is never applied",
                )
    positions = {l.attention.position for l in stack if l.attention is not None}
    if spec.learned_positions is not None and positions and "absolute" not in positions:
        raise err(
            ("learned_positions",),
            "no layer uses the learned position table (every attention layer has position rope or nope)",
            "remove learned_positions, or set attention.position: absolute",
        )


def _share_kv(spec: S.Spec, layers: list[LayerIR], located: Located) -> list[LayerIR]:
    """Point each of the last `kv_shared_layers` layers at the layer whose KV it reuses: the last
    earlier unshared layer of the same kind (as Gemma 3n and transformers' `kv_sharing_modes` do)."""
    n_shared = spec.kv_shared_layers
    if not n_shared:
        return layers
    path = ("kv_shared_layers",)
    first = spec.n_layers - n_shared
    if first < 1:
        raise located.error(
            path, f"kv_shared_layers ({n_shared}) leaves no layer to produce KV (n_layers is {spec.n_layers})"
        )
    out = list(layers)
    for i in range(first, spec.n_layers):
        layer = layers[i]
        if layer.attention is None:
            raise located.error(
                path, f"layer {i} ({layer.mixer}) is among the last {n_shared} layers but has no attention KV to share"
            )
        if layer.attention.is_mla:
            raise located.error(path, "KV sharing is supported for MHA/GQA/MQA layers, not MLA")
        producer = next((j for j in range(first - 1, -1, -1) if layers[j].mixer == layer.mixer), None)
        if producer is None:
            raise located.error(
                path, f"layer {i} ({layer.mixer}) has no earlier unshared {layer.mixer} layer to reuse KV from"
            )
        out[i] = dataclasses.replace(layer, kv_shared_from=producer)
    return out


def _expand(
    pattern: str | list[str], letters: dict[str, str], n_layers: int, path: tuple, located: Located
) -> list[str]:
    words = set(letters.values())
    if isinstance(pattern, list):
        if len(pattern) != n_layers:
            raise located.error(path, f"per-layer list has {len(pattern)} entries but n_layers is {n_layers}")
        for i, w in enumerate(pattern):
            if w not in words:
                raise located.error(
                    path + (i,),
                    f"unknown layer kind `{w}`",
                    did_you_mean(str(w), words) or f"one of: {', '.join(sorted(words))}",
                )
        return list(pattern)
    for ch in pattern:
        if ch not in letters:
            legend = ", ".join(f"{k}={v}" for k, v in letters.items())
            raise located.error(path, f"unknown letter `{ch}` in pattern `{pattern}`", f"letters: {legend}")
    if len(pattern) > n_layers:
        raise located.error(path, f"pattern `{pattern}` is longer ({len(pattern)}) than n_layers ({n_layers})")
    # tiled from layer 0; a remainder is cut from the tail
    return [letters[pattern[i % len(pattern)]] for i in range(n_layers)]


def _share_indexers(spec: S.Spec, layers: list[LayerIR], located: Located) -> list[LayerIR]:
    """`attention.indexer.layers`: an S layer keeps its sparse top-k attention but has no indexer of its own."""
    attention = spec.attention
    for kind, over in (attention.overrides or {}).items() if attention else []:
        if over.indexer is not None and over.indexer.layers is not None:
            raise located.error(
                ("attention", "overrides", kind, "indexer", "layers"),
                "the per-layer indexer letters apply to the whole model",
                "give them in attention.indexer.layers",
            )
    letters = attention.indexer.layers if attention and attention.indexer else None
    if letters is None:
        return layers
    path = ("attention", "indexer", "layers")
    if len(letters) != spec.n_layers or set(letters) - {"F", "S"}:
        raise located.error(
            path,
            f"expected {spec.n_layers} letters F (own indexer) or S (shared), got {len(letters)}: {letters[:40]!r}",
        )
    out, seen_full = [], False
    for layer, letter in zip(layers, letters):
        a = layer.attention
        if a is None or not a.indexer_heads:
            if letter == "S":
                raise located.error(path, f"layer {layer.index} has no indexer to share (letter S)", "use F")
            out.append(layer)
            continue
        if letter == "F":
            seen_full = True
            out.append(layer)
        elif not seen_full:
            raise located.error(path, f"layer {layer.index} shares an indexer but no earlier layer runs one")
        else:
            out.append(
                dataclasses.replace(layer, attention=dataclasses.replace(a, indexer_heads=None, indexer_head_dim=None))
            )
    return out


def _attention(spec: S.Spec, kind: str, located: Located, warnings: list[str]) -> AttentionIR:
    base = spec.attention
    path = ("attention",)
    if base is None:
        raise located.error((), f"layers of kind `{kind}` need an `attention:` block")
    fields = {k: v for k, v in base.model_dump(exclude={"overrides"}).items() if v is not None}
    over = (base.overrides or {}).get(kind)
    if over is not None:
        fields.update({k: v for k, v in over.model_dump().items() if v is not None})
        opath = path + ("overrides", kind)
    else:
        opath = path

    def at(key: str) -> tuple:
        return opath + (key,) if over is not None and getattr(over, key) is not None else path + (key,)

    akind = fields.get("kind", "gqa")
    n_heads = fields.get("n_heads")
    if n_heads is None:
        raise located.error(path, "`n_heads` is required")
    if akind == "mha":
        n_kv = fields.get("n_kv_heads", n_heads)
        if n_kv != n_heads:
            raise located.error(
                at("n_kv_heads"), f"kind mha needs n_kv_heads == n_heads ({n_heads}), got {n_kv}", "use kind: gqa"
            )
    elif akind == "mqa":
        n_kv = fields.get("n_kv_heads", 1)
        if n_kv != 1:
            raise located.error(at("n_kv_heads"), f"kind mqa needs n_kv_heads == 1, got {n_kv}", "use kind: gqa")
    elif akind == "mla":
        n_kv = fields.get("n_kv_heads", n_heads)
    else:
        n_kv = fields.get("n_kv_heads")
        if n_kv is None:
            raise located.error(path, "`n_kv_heads` is required for kind gqa")
    if n_heads % n_kv:
        raise located.error(at("n_kv_heads"), f"n_heads ({n_heads}) is not divisible by n_kv_heads ({n_kv})")

    mla: dict[str, Optional[int]] = {}
    if akind == "mla":
        for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
            if fields.get(key) is None:
                raise located.error(path, f"kind mla needs `{key}`")
        head_dim = fields["qk_nope_head_dim"] + fields["qk_rope_head_dim"]
        if fields.get("head_dim") is not None and fields["head_dim"] != head_dim:
            raise located.error(
                at("head_dim"), f"for mla, head_dim must equal qk_nope_head_dim + qk_rope_head_dim ({head_dim})"
            )
        v_head_dim = fields["v_head_dim"]
        mla = {k: fields.get(k) for k in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim")}
    else:
        for key in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim"):
            if fields.get(key) is not None:
                raise located.error(at(key), f"`{key}` applies only to kind mla (kind is {akind})")
        head_dim = fields.get("head_dim")
        if head_dim is None:
            if spec.d_model % n_heads:
                raise located.error(
                    path, f"d_model ({spec.d_model}) is not divisible by n_heads ({n_heads}); give head_dim"
                )
            head_dim = spec.d_model // n_heads
        v_head_dim = fields.get("v_head_dim", head_dim)

    position = fields.get("position") or ("absolute" if spec.learned_positions else "rope")
    if kind == "nope":
        position = "nope"
    if position == "absolute" and not spec.learned_positions:
        raise located.error(at("position"), "position `absolute` needs `learned_positions` (the table size)")
    rope = None
    if position == "rope":
        r = fields.get("rope")
        if r is None:
            raise located.error(path, "RoPE attention needs `rope: {theta: ...}`", "or set position: nope")
        scaling = r.get("scaling")
        rope = RopeIR(
            theta=float(r["theta"]),
            partial=float(r.get("partial", 1.0)),
            scaling=_scaling_text(scaling) if scaling else None,
        )

    window = fields.get("window") if kind == "local" else None
    chunk = fields.get("chunk") if kind == "chunked" else None
    if kind == "local" and window is None:
        raise located.error(path, "local (sliding-window) layers need `window`")
    if kind == "chunked" and chunk is None:
        raise located.error(path, "chunked layers need `chunk`")
    if window and window > spec.context_length:
        warnings.append(f"window {window} is larger than the context length {spec.context_length}")
    excludes_query = fields.get("window_excludes_query", False)
    if excludes_query and fields.get("window") is None:
        raise located.error(
            at("window_excludes_query"),
            "says how to read `window`, but this attention has no window",
            "give `window`, or drop window_excludes_query",
        )

    if fields.get("output_gate") == "elementwise" and v_head_dim != head_dim:
        # the gate comes out of the query projection, one per query channel, and multiplies the output
        raise located.error(
            at("output_gate"),
            f"an elementwise output gate needs v_head_dim ({v_head_dim}) == head_dim ({head_dim})",
            "use output_gate: headwise",
        )
    k_eq_v = fields.get("k_eq_v")
    if k_eq_v is not None and (akind == "mla" or v_head_dim != head_dim):
        # the keys serve as values unchanged: one width for both, and MLA's values come out of its latent
        raise located.error(
            at("k_eq_v"),
            f"values that are the keys need kind mha, gqa or mqa and v_head_dim == head_dim "
            f"(kind {akind}, head_dim {head_dim}, v_head_dim {v_head_dim})",
            "drop k_eq_v, or v_head_dim",
        )
    idx = fields.get("indexer")
    if idx and akind != "mla":
        # the lightning indexer scores keys cached beside MLA's latent (DeepSeek V3.2); llmarch models it
        # nowhere else, so a parameter count, KV cache and FLOPs would each read it differently
        raise located.error(at("indexer"), f"an indexer needs kind mla (DeepSeek Sparse Attention), not {akind}")
    return AttentionIR(
        kind=akind,
        n_heads=n_heads,
        n_kv_heads=n_kv,
        head_dim=head_dim,
        v_head_dim=v_head_dim,
        qk_norm=fields.get("qk_norm", "none"),
        qkv_bias=fields.get("qkv_bias", False),
        o_bias=fields.get("o_bias", False),
        sinks=fields.get("sinks", False),
        output_gate=fields.get("output_gate", "none"),
        window=window,
        window_excludes_query=bool(excludes_query) if window else False,
        chunk=chunk,
        position=position,
        rope=rope,
        indexer_heads=idx["n_heads"] if idx else None,
        indexer_head_dim=idx["head_dim"] if idx else None,
        indexer_topk=idx["topk"] if idx else None,
        k_eq_v=k_eq_v.get("cache", "k_and_v") if k_eq_v is not None else None,
        **mla,
    )


def _scaling_text(s: dict) -> str:
    text = s["kind"]
    if s.get("factor"):
        text += f" x{s['factor']:g}"
    if s.get("original_context_length"):
        text += f" from {s['original_context_length']:,}"
    return text


def _linear(spec: S.Spec, block: str, mixer: str, located: Located):
    if mixer != block:
        return None
    value = getattr(spec, block)
    if value is None:
        raise located.error(("layers", "mixer"), f"layers of kind `{block}` need a `{block}:` block")
    if block == "gated_deltanet":
        return GatedDeltaNetIR(**value.model_dump())
    if block == "kda":
        return KdaIR(**value.model_dump())
    if block == "lightning":
        return LightningIR(**value.model_dump())
    return Mamba2IR(**value.model_dump())


def _ffn(f: S.FFN) -> FFNIR:
    return FFNIR(kind=f.kind, d_ff=f.d_ff, bias=f.bias)


def _moe(spec: S.Spec, located: Located) -> MoEIR:
    m = spec.moe
    assert m is not None
    kind = m.expert_kind or (spec.ffn.kind if spec.ffn else "swiglu")
    shared_kind = spec.ffn.kind if spec.ffn else kind
    return MoEIR(
        n_experts=m.n_experts,
        top_k=m.top_k,
        expert=FFNIR(kind=kind, d_ff=m.d_expert, bias=m.expert_bias),
        n_shared_experts=m.n_shared_experts,
        shared=FFNIR(kind=shared_kind, d_ff=m.d_shared) if m.n_shared_experts and m.d_shared else None,
        shared_gate=m.shared_gate,
        router_bias=m.router_bias,
        expert_bias=m.expert_bias,
        score_correction_bias=m.score_correction_bias,
        score_correction_parameter=m.score_correction_parameter,
    )


# a reference block's figures and how each is read
REFERENCE_FIGURES = {
    "total": published_count,
    "active": published_count,
    "kv_per_token": published_bytes,
    "kv_per_token_config": published_bytes,
}
