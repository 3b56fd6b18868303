"""The chunked algorithms the linear mixers share (chunk 64 in prefill), as multiply-add counts."""

from __future__ import annotations

CHUNK = 64


def chunks(S: int) -> list[tuple[int, int]]:
    """(chunk length, how many) covering S tokens."""
    full, rest = divmod(S, CHUNK)
    return [(CHUNK, full)] + ([(rest, 1)] if rest else [])


def delta_rule_chunk(c: int, dk: int, dv: int) -> int:
    """One head's chunk of c tokens in the chunked delta rule, the triangular solve excluded."""
    return 3 * c * c * dk + 2 * c * c * dv + 3 * c * dk * dv


def ssd_chunk(c: int, n: int, p: int) -> int:
    """One head's chunk of c tokens in Mamba-2's SSD (state N, head P)."""
    return c * c * n + c * c * p + 2 * c * n * p


def linear_attention_chunk(c: int, dk: int, dv: int) -> int:
    """One head's chunk of c tokens in chunked linear attention with a decay (Lightning attention-2):
    tril(Q K^T) V within the chunk, Q S across chunks, S += K^T V (the decay is element-wise)."""
    return c * c * dk + c * c * dv + 2 * c * dk * dv


def mlstm_chunk(c: int, dk: int, dv: int) -> int:
    """One head's chunk of c tokens of the mLSTM: the SSD products with the normaliser carried as one more
    value column (its state n beside the matrix memory C): Q K^T (c^2 dk), its product with [V 1]
    (c^2 (dv + 1)), the carried memory read Q [C n] and the chunk's increment K^T [V 1] (c dk (dv + 1) each)."""
    return ssd_chunk(c, dk, dv + 1)
