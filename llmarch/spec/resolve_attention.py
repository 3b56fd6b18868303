"""The attention block of a spec -> `AttentionIR` for one layer kind (split out of resolve.py, which calls
it once per attention kind the layer pattern uses): per-kind overrides, RoPE and its scaling, windows,
chunks, options, and DeepSeek V4's compressed kinds, each checked with a located error."""

from __future__ import annotations

from typing import Optional

from ..ir import AttentionIR, RopeIR
from . import schema as S
from .yamlsafe import Located


def attention_ir(spec: S.Spec, kind: str, located: Located, warnings: list[str]) -> AttentionIR:
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
    elif akind == "compressed":
        n_kv = fields.get("n_kv_heads", 1)
        if n_kv != 1:
            # one key head that is also the value head, broadcast to every query head (DeepSeek V4)
            raise located.error(at("n_kv_heads"), f"kind compressed has one K=V head, got n_kv_heads {n_kv}")
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
        latent_keys = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim")
        if akind != "compressed":
            latent_keys = ("q_lora_rank",) + latent_keys
        elif fields.get("q_lora_rank") is None:
            raise located.error(path, "kind compressed needs `q_lora_rank` (its queries come from a latent)")
        for key in latent_keys:
            if fields.get(key) is not None:
                kinds = "mla or compressed" if key == "q_lora_rank" else "mla"
                raise located.error(at(key), f"`{key}` applies only to kind {kinds} (kind is {akind})")
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
        if r.get("partial", 1.0) < 1 and r.get("frequency_fraction", 1.0) < 1:
            # two different ways to leave channels unrotated; a config states one (rope_type proportional or not)
            raise located.error(
                at("rope") + ("frequency_fraction",),
                "`partial` (the first channels rotate at frequencies of their own) and `frequency_fraction` "
                "(p-RoPE: a fraction of the whole head's frequency pairs rotate) are two different RoPEs",
                "keep the one the config's rope_type states (proportional: frequency_fraction)",
            )
        rope = RopeIR(
            theta=float(r["theta"]),
            partial=float(r.get("partial", 1.0)),
            frequency_fraction=float(r.get("frequency_fraction", 1.0)),
            scaling=_scaling_text(scaling) if scaling else None,
        )

    compressed = _compressed(spec, kind, akind, fields, n_heads, head_dim, path, at, located)
    window = fields.get("window") if kind == "local" or akind == "compressed" else None
    if akind == "compressed" and window is None:
        raise located.error(path, "kind compressed needs `window`: every layer attends a window of recent tokens")
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
    cca = fields.get("cca")
    if cca is not None and (
        akind in ("mla", "compressed") or v_head_dim != head_dim or head_dim % 2 or k_eq_v is not None
    ):
        # CCA convolves q and k head by head and splits each value head into a current and a delayed half
        raise located.error(
            at("cca"),
            f"compressed convolutional attention needs kind mha, gqa or mqa, v_head_dim == head_dim, an even "
            f"head_dim and no k_eq_v (kind {akind}, head_dim {head_dim}, v_head_dim {v_head_dim})",
            "drop cca",
        )
    idx = fields.get("indexer")
    if akind == "compressed":
        if kind == "csa" and not idx:
            raise located.error(path, "csa layers need an `indexer` (it picks the compressed entries each query sees)")
        if kind != "csa" and idx:
            raise located.error(at("indexer"), f"only csa layers carry an indexer, not {kind} ones")
    elif idx and akind != "mla":
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
        cca_kernels=(cca["depthwise_kernel"], cca["grouped_kernel"]) if cca is not None else None,
        **mla,
        **compressed,
    )


def _compressed(
    spec: S.Spec, kind: str, akind: str, fields: dict, n_heads: int, head_dim: int, path: tuple, at, located: Located
) -> dict:
    """DeepSeek V4's attention fields: compressed entries on csa/hca layers, the grouped output projection."""
    compress, grouped = fields.get("compress"), fields.get("grouped_output")
    if akind != "compressed":
        for key in ("compress", "grouped_output"):
            if fields.get(key) is not None:
                raise located.error(at(key), f"`{key}` applies only to kind compressed (kind is {akind})")
        if kind in ("csa", "hca"):
            raise located.error(path, f"{kind} layers need attention kind compressed (DeepSeek V4), not {akind}")
        return {}
    if kind not in ("local", "csa", "hca"):
        raise located.error(path, f"kind compressed has local, csa and hca layers, not {kind}", "use letters L, S, H")
    if kind in ("csa", "hca") and compress is None:
        raise located.error(path, f"{kind} layers need `compress: {{ratio: ...}}` (in attention.overrides.{kind})")
    if kind == "local" and compress is not None:
        raise located.error(at("compress"), "local layers keep no compressed entries", "give it to csa or hca layers")
    k_eq_v = fields.get("k_eq_v")
    if k_eq_v is None or k_eq_v.get("cache") != "one":
        raise located.error(path, "kind compressed caches one tensor as keys and values: set k_eq_v: {cache: one}")
    if grouped is None:
        raise located.error(path, "kind compressed needs `grouped_output: {groups: ..., rank: ...}`")
    if (n_heads * head_dim) % grouped["groups"] or n_heads % grouped["groups"]:
        raise located.error(
            at("grouped_output"), f"{grouped['groups']} output groups do not divide the {n_heads} heads"
        )
    return {
        "compress_ratio": compress["ratio"] if compress else None,
        "compress_overlap": kind == "csa",  # CSA pools overlapping windows of 2 x ratio, HCA disjoint ones
        "q_lora_rank": fields["q_lora_rank"],
        "o_groups": grouped["groups"],
        "o_lora_rank": grouped["rank"],
    }


def _scaling_text(s: dict) -> str:
    text = s["kind"]
    if s.get("factor"):
        text += f" x{s['factor']:g}"
    if s.get("original_context_length"):
        text += f" from {s['original_context_length']:,}"
    return text
