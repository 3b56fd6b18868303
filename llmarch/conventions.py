"""The counting conventions, stated once and printed under every table."""

from __future__ import annotations

PARAMS = {
    "total": "every parameter once; a tied embedding/LM-head matrix once; buffers (e.g. DeepSeek's e_score_correction_bias) excluded",
    "embedding": "lookup tables: token, learned-position and per-layer embeddings",
    "active": "parameters one token multiplies: routed experts x top_k / n_experts, everything else fully, lookup tables excluded, LM head included (a tied matrix counts once, as the LM head)",
    "active_incl_embeddings": "active + the lookup tables",
    "mtp": "multi-token-prediction modules are counted separately, outside total and active",
    "suffixes": "parameter counts: K = 1e3, M = 1e6, B = 1e9, T = 1e12 (decimal); bytes: KiB/MiB/GiB = 1024^1/2/3 (binary)",
    "weight_memory": "bytes per parameter: fp32 4, bf16/fp16 2, fp8/int8 1, fp8_block128 1 + a 4-byte scale per 128x128 block, mxfp4 4.25 bits, int4_g32 4 bits + a 2-byte scale per 32",
    "context": "context lengths are exact token counts",
}


def params_lines() -> list[str]:
    return [f"{key}: {text}" for key, text in PARAMS.items()]
