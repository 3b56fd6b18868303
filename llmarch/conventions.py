"""The counting conventions, stated once and printed under every table."""

from __future__ import annotations

PARAMS = {
    "total": "every parameter once; a tied embedding/LM-head matrix once; buffers (e.g. DeepSeek's e_score_correction_bias) excluded",
    "embedding": "lookup tables: token, learned-position and per-layer embeddings",
    "active": "parameters one token multiplies: routed experts x top_k / n_experts, everything else fully, lookup tables excluded, LM head included (a tied matrix counts once, as the LM head)",
    "active_incl_embeddings": "active + the lookup tables",
    "active_fewest": "with zero-computation experts a token's top_k slots hold between max(0, top_k - zero_experts) and top_k real experts: active counts top_k real ones (the most), active_fewest the fewest; without zero experts the two are equal",
    "ngram_embedding": "n-gram embeddings (LongCat) are lookup tables: in embedding, out of active; their projections to d_model are active",
    "mtp": "multi-token-prediction modules are counted separately, outside total and active",
    "suffixes": "parameter counts: K = 1e3, M = 1e6, B = 1e9, T = 1e12 (decimal); bytes: KiB/MiB/GiB = 1024^1/2/3 (binary)",
    "weight_memory": "bytes per parameter: fp32 4, bf16/fp16 2, fp8/int8 1, fp8_block128 1 + a 4-byte scale per 128x128 block, mxfp4 4.25 bits, int4_g32 4 bits + a 2-byte scale per 32",
    "context": "context lengths are exact token counts",
}

# The LLM Architecture Gallery's "KV cache / token (bf16)" figure, which `per_token_bytes_all_layers`
# reproduces so that it can be checked against the gallery (tests/data/gallery/); `total_bytes` is what
# engines store instead (windows applied, recurrent state and indexer keys included).
KV_PER_TOKEN_ALL_LAYERS = (
    "bytes per token summed over every attention layer, as Raschka's LLM Architecture Gallery quotes it: "
    "windows and chunks ignored; linear-attention / SSM state excluded; a sparse-attention (DSA) indexer's "
    "key left out (the total keeps it, as engines store it); a layer reusing another layer's KV adds nothing; "
    "a layer whose values are its keys counts them once; a compressed layer counts at its compression ratio"
)


# Lines about one mechanism alone: a human table prints them only where a model of it holds the mechanism
# (`held`); JSON and the gallery keep every line
MECHANISM_PARAMS = frozenset({"active_fewest", "ngram_embedding"})

# `active` under a table whose models route over no experts: the same definition without the experts' clause
ACTIVE_WITHOUT_EXPERTS = (
    "parameters one token multiplies: all of them, lookup tables excluded, LM head included "
    "(a tied matrix counts once, as the LM head)"
)


def params_table(
    experts: bool = True,
    mtp: bool = True,
    shown: frozenset[str] = frozenset(PARAMS),
    held: frozenset[str] | set[str] | None = None,
) -> dict[str, str]:
    """The lines of PARAMS a human table prints, only those its numbers depend on (JSON keeps PARAMS whole):
    `active` without the experts' clause when no model has routed experts, `mtp` only when a model has MTP
    modules, a mechanism's own line (MECHANISM_PARAMS) only when its key is `held` (all of them when `held`
    is None), and of the others those `shown` (list shows no weights and no context lengths)."""
    out = {
        k: v
        for k, v in PARAMS.items()
        if k in shown and (k != "mtp" or mtp) and (held is None or k not in MECHANISM_PARAMS or k in held)
    }
    if not experts and "active" in out:
        out["active"] = ACTIVE_WITHOUT_EXPERTS
    return out


def params_lines(
    experts: bool = True,
    mtp: bool = True,
    shown: frozenset[str] = frozenset(PARAMS),
    held: frozenset[str] | set[str] | None = None,
) -> list[str]:
    return [f"{key}: {text}" for key, text in params_table(experts, mtp, shown, held).items()]
