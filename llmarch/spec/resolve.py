"""Validated `Spec` (validate.py) -> frozen `ModelIR`.

`to_ir` applies defaults, expands layer patterns and checks the rules that tie
blocks together: patterns against the layer count, heads against KV heads,
each layer kind against the block that defines it.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

from ..errors import OptionError, did_you_mean
from ..ir import (
    FFNIR,
    GatedDeltaNetIR,
    KdaIR,
    LayerIR,
    LightningIR,
    Mamba2IR,
    MlstmIR,
    ModelIR,
    MoEIR,
    MtpIR,
    NgramEmbeddingIR,
    NormIR,
    ParallelFFNIR,
    ReferenceIR,
    ffn_block,
)
from ..kinds import ATTENTION_KINDS, FFN_LETTERS, LINEAR_MIXER_KINDS, MIXER_LETTERS
from ..units import UnitError, published_bytes, published_count
from . import schema as S
from .budget_text import parse_budget
from .resolve_attention import attention_ir
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

    attn_by_kind = {kind: attention_ir(spec, kind, located, warnings) for kind in ATTENTION_KINDS if kind in mixers}
    dense = _ffn(spec.ffn) if spec.ffn else None
    moe = _moe(spec, located) if spec.moe else None

    layers = []
    for i, (mixer, ffn) in enumerate(zip(mixers, ffns)):
        if ffn in ("dense", "parallel") and dense is None:
            raise err(("ffn",), f"layer {i} uses a dense FFN but the spec has no `ffn:` block")
        if ffn in ("moe", "parallel") and moe is None:
            raise err(("moe",), f"layer {i} uses experts but the spec has no `moe:` block")
        if ffn == "parallel" and moe is not None and moe.shared is not None:
            # the dense FFN beside the experts is what a shared expert would be; both would count it twice
            raise err(
                ("moe", "n_shared_experts"),
                f"layer {i} runs a dense FFN in parallel with the experts (letter P) and the experts have a shared "
                "expert too",
                "model the parallel dense FFN as `ffn:` with letter P, or as a shared expert with letter E, not both",
            )
        if mixer == "none" and ffn == "none":
            raise err(("layers",), f"layer {i} holds neither a mixer nor an FFN")
        layers.append(
            LayerIR(
                index=i,
                mixer=mixer,
                mixer_ir=attn_by_kind.get(mixer) or _linear(spec, mixer, located),
                ffn_ir=ffn_block(ffn, dense, _first_router(moe, i)),
            )
        )
    layers = _share_kv(spec, layers, located)
    layers = _share_indexers(spec, layers, located)
    layers = _hash_routing(spec, layers, located)

    mtp = None
    if spec.mtp is not None:
        mtp_ffn = spec.mtp.ffn
        if mtp_ffn == "moe" and moe is None:
            raise err(("mtp", "ffn"), "MTP modules use experts but the spec has no `moe:` block")
        if mtp_ffn == "dense" and dense is None:
            raise err(("mtp", "ffn"), "MTP modules use a dense FFN but the spec has no `ffn:` block")
        kind = spec.mtp.attention
        mtp_attn = attn_by_kind.get(kind) or attention_ir(spec, kind, located, warnings)
        mtp = MtpIR(
            n_modules=spec.mtp.n_modules,
            layer=LayerIR(
                index=spec.n_layers,
                mixer=kind,
                mixer_ir=mtp_attn,
                ffn_ir=ffn_block(mtp_ffn, dense, moe),
            ),
            stores_embedding=spec.mtp.stores_embedding,
            stores_head=spec.mtp.stores_head,
        )

    _refuse_unused(spec, layers, mtp, located, warnings)
    if spec.block.residual == "parallel":
        _check_parallel(spec, layers + ([mtp.layer] if mtp else []), located)
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
        ngram_embedding=_ngram(spec, located),
        residual_scaling=spec.residual_scaling,
        hc_streams=spec.hyper_connections.n_streams if spec.hyper_connections else None,
        hc_sinkhorn_iters=spec.hyper_connections.sinkhorn_iters if spec.hyper_connections else None,
        norm=NormIR(
            kind=spec.norm.kind,
            bias=spec.norm.bias,
            placement=spec.norm.placement,
            layer_scalar=spec.norm.layer_scalar,
            residual=spec.block.residual,
            depth_scaled=spec.norm.depth_scaled,
        ),
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
    for block, letter in (
        ("gated_deltanet", "D"),
        ("kda", "K"),
        ("mamba2", "M"),
        ("lightning", "T"),
        ("mlstm", "X"),
        ("moe", "E"),
    ):
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
            if key == "window" and attn.kind == "compressed":
                continue  # every layer of DeepSeek V4's attention has its window
            if getattr(attn, key) is not None and kind not in kinds:
                raise err(
                    ("attention", key),
                    f"`{key}` applies to {kind} layers, and no layer is {kind}",
                    f"remove it (--set attention.{key}=null), or give {kind} layers in `layers.mixer` "
                    f"(letter {'L' if kind == 'local' else 'C'})",
                )
        for kind, over in (attn.overrides or {}).items():
            for key, layer_kind in (("window", "local"), ("chunk", "chunked")):
                if key == "window" and (over.kind or attn.kind) == "compressed":
                    continue
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


def _check_parallel(spec: S.Spec, stack: list[LayerIR], located: Located) -> None:
    """A parallel block adds its mixer and its FFN to the residual together, both from one pre-norm: every
    layer needs both, the norm must come before them, and the Gemma 3n extras (which hook between the
    mixer and the FFN) have no place in it."""
    path = ("block", "residual")
    if spec.norm.placement != "pre":
        raise located.error(
            path,
            f"a parallel block reads one norm before its mixer and FFN, but norm.placement is {spec.norm.placement}",
            "set norm.placement: pre, or block.residual: sequential",
        )
    for layer in stack:
        if layer.mixer == "none" or layer.ffn == "none":
            missing = "mixer" if layer.mixer == "none" else "FFN"
            raise located.error(
                path,
                f"a parallel block runs a mixer and an FFN side by side, but layer {layer.index} has no {missing}",
                "give every layer both in `layers.mixer` and `layers.ffn`, or set block.residual: sequential",
            )
    for key in ("per_layer_embeddings", "altup", "laurel"):
        if getattr(spec, key) is not None:
            raise located.error(
                path,
                f"`{key}` hooks into a sequential block (between mixer and FFN); a parallel block has no such place",
                f"remove `{key}`, or set block.residual: sequential",
            )


def _share_kv(spec: S.Spec, layers: list[LayerIR], located: Located) -> list[LayerIR]:
    """Point each of the last `kv_shared_layers` layers at the layer whose KV it reuses: the last
    earlier unshared layer of the same kind (as Gemma 3n and transformers' `kv_sharing_modes` do)."""
    n_shared = spec.kv_shared_layers
    if spec.kv_shared_d_ff is not None and not n_shared:
        raise located.error(
            ("kv_shared_d_ff",),
            "is the FFN width of the KV-sharing layers, and kv_shared_layers is 0",
            "remove kv_shared_d_ff, or set kv_shared_layers",
        )
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
        if spec.kv_shared_d_ff is not None:
            if layer.dense is None:
                raise located.error(
                    ("kv_shared_d_ff",),
                    f"layer {i} shares KV but has no dense FFN to widen (its FFN is {layer.ffn})",
                    "remove kv_shared_d_ff",
                )
            wider = dataclasses.replace(layer.dense, d_ff=spec.kv_shared_d_ff)
            f = layer.ffn_ir
            wider_ffn = dataclasses.replace(f, dense=wider) if isinstance(f, ParallelFFNIR) else wider
            out[i] = dataclasses.replace(out[i], ffn_ir=wider_ffn)
    return out


def _hash_routing(spec: S.Spec, layers: list[LayerIR], located: Located) -> list[LayerIR]:
    """`moe.hash_layers`: the first k MoE layers pick experts from a frozen token table (DeepSeek V4)."""
    k = spec.moe.hash_layers if spec.moe is not None else 0
    if not k:
        return layers
    moe_layers = [layer.index for layer in layers if layer.moe is not None]
    if k > len(moe_layers):
        raise located.error(("moe", "hash_layers"), f"hash_layers ({k}) is more than the {len(moe_layers)} MoE layers")
    out = list(layers)
    for i in moe_layers[:k]:
        # the table replaces the learned top-k choice, and with it the load balancer's correction bias
        hashed = dataclasses.replace(layers[i].moe, hash_table_rows=spec.vocab_size, score_correction_bias=False)
        f = layers[i].ffn_ir
        out[i] = dataclasses.replace(
            layers[i], ffn_ir=dataclasses.replace(f, moe=hashed) if isinstance(f, ParallelFFNIR) else hashed
        )
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
                dataclasses.replace(layer, mixer_ir=dataclasses.replace(a, indexer_heads=None, indexer_head_dim=None))
            )
    return out


def _linear(spec: S.Spec, block: str, located: Located):
    """The linear mixer's IR for a layer of kind `block` (None for a layer without a mixer)."""
    if block not in LINEAR_MIXER_KINDS:
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
    if block == "mlstm":
        return MlstmIR(value.n_heads, value.qk_dim // value.n_heads, value.v_dim // value.n_heads, value.bias)
    return Mamba2IR(**value.model_dump())


def _ffn(f: S.FFN) -> FFNIR:
    return FFNIR(kind=f.kind, d_ff=f.d_ff, bias=f.bias)


def _first_router(moe: Optional[MoEIR], index: int) -> Optional[MoEIR]:
    """The first layer's router has no earlier router state to carry, hence no scale for it (ZAYA)."""
    if moe is not None and index == 0 and moe.router_carry:
        return dataclasses.replace(moe, router_carry=False)
    return moe


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
        router_scale=m.router_scale,
        per_expert_scale=m.per_expert_scale,
        latent_dim=m.latent_dim,
        latent_bias=m.latent_bias,
        router_hidden=m.router_mlp.hidden if m.router_mlp else None,
        skip_expert=bool(m.router_mlp and m.router_mlp.skip_expert),
        router_carry=bool(m.router_mlp and m.router_mlp.carried_state),
        zero_experts=m.zero_experts,
        beside=_shortcut_ffn(spec, located),
    )


def _shortcut_ffn(spec: S.Spec, located: Located) -> Optional[FFNIR]:
    """The dense FFN a shortcut-connected MoE runs beside its experts (LongCat), or None."""
    assert spec.moe is not None
    m = spec.moe
    # the latent MoE and the MLP router build their own weights, which hold neither LongCat option
    other = "latent_dim" if m.latent_dim else "router_mlp" if m.router_mlp else None
    for option in ("shortcut", "zero_experts"):
        if other and getattr(m, option):
            raise located.error(
                ("moe", option),
                f"{option} is not supported with {other} (no such checkpoint is known); remove one of them",
            )
    if not m.shortcut:
        return None
    if spec.ffn is None:
        raise located.error(
            ("moe", "shortcut"),
            "shortcut: true runs the layer's dense FFN beside the experts, but the spec has no `ffn:` block; "
            "add one (LongCat: ffn_hidden_size) or remove shortcut",
        )
    return _ffn(spec.ffn)


def _ngram(spec: S.Spec, located: Located) -> Optional[NgramEmbeddingIR]:
    n = spec.ngram_embedding
    if n is None:
        return None
    out = NgramEmbeddingIR(vocab_ratio=n.vocab_ratio, neighbors=n.neighbors, splits=n.splits)
    if spec.d_model % out.tables:
        raise located.error(
            ("ngram_embedding",),
            f"d_model ({spec.d_model}) is not a multiple of the {out.tables} n-gram tables "
            f"(splits {n.splits} x (neighbors {n.neighbors} - 1)): each table is d_model / tables wide",
        )
    if spec.tie_embeddings:
        raise located.error(
            ("ngram_embedding",),
            "n-gram embeddings with tie_embeddings: true are not supported (no such checkpoint is known)",
        )
    return out


# a reference block's figures and how each is read
REFERENCE_FIGURES = {
    "total": published_count,
    "active": published_count,
    "kv_per_token": published_bytes,
    "kv_per_token_config": published_bytes,
}
