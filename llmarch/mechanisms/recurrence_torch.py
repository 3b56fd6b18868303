"""The chunked algorithms the linear mixers share, as torch forwards for the meta build (their
multiply-add counts are `recurrence.py`'s, which the traced counters check): chunks of
`recurrence.CHUNK` tokens in prefill, the recurrent step in decode."""

from __future__ import annotations

import torch

from .primitives import keep
from .recurrence import CHUNK


def chunk_groups(S: int) -> list[tuple[int, int, int]]:
    """(start, chunk length, number of chunks): the full chunks of CHUNK tokens, then the rest."""
    full, rest = divmod(int(S), CHUNK)  # int(): under jit tracing a size may be a tensor
    groups = [(0, CHUNK, full)] if full else []
    return groups + ([(full * CHUNK, rest, 1)] if rest else [])


def to_chunks(t: torch.Tensor, start: int, c: int, n: int) -> torch.Tensor:
    """(BH, S, d) -> (n * BH, c, d): n chunks of c tokens from `start`, chunk-major, one bmm batch."""
    BH, _, d = t.shape
    return t[:, start : start + n * c].reshape(BH, n, c, d).transpose(0, 1).reshape(n * BH, c, d)


def from_chunks(t: torch.Tensor, n: int) -> torch.Tensor:
    """(n * BH, c, d) -> (BH, n * c, d), the inverse of `to_chunks`."""
    _, c, d = t.shape
    return t.reshape(n, -1, c, d).transpose(0, 1).reshape(-1, n * c, d)


def chunked_delta_rule(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Chunked (gated) delta rule, per head: q, k (BH, S, dk), v (BH, S, dv).

    Per chunk of c tokens: A = K K^T, W = T K and U = T V with T from A (the triangular
    solve itself is not counted), V' = U - W S, O = Q S + tril(Q K^T) V', S += K^T V':
    3 c^2 dk + 2 c^2 dv + 3 c dk dv multiply-adds.  Gates and decays are element-wise.

    Everything that does not depend on the carried state runs for all chunks in one batched product;
    only V' and the state update run chunk by chunk (two fused multiply-adds each), which keeps
    tracing a 4k-token prefill of a 48-layer hybrid in seconds.
    """
    BH, S, dk = q.shape
    dv = v.shape[-1]
    state = torch.empty(BH, dk, dv, device=q.device, dtype=q.dtype)
    outs = []
    for start, c, n in chunk_groups(S):
        qc, kc, vc = (to_chunks(t, start, c, n) for t in (q, k, v))  # (n*BH, c, d)
        k_t = kc.transpose(1, 2)  # (n*BH, dk, c)
        t_mat = torch.bmm(kc, k_t)  # (n*BH, c, c)
        w, u = torch.bmm(t_mat, kc), torch.bmm(t_mat, vc)  # (n*BH, c, dk), (n*BH, c, dv)
        scores = torch.bmm(qc, k_t).tril()  # (n*BH, c, c)
        states, v_news = [], []
        for w_i, u_i, k_t_i in zip(*(x.reshape(n, BH, *x.shape[1:]).unbind(0) for x in (w, u, k_t))):
            states.append(state)  # the state each chunk reads
            v_new = torch.baddbmm(u_i, w_i, state, alpha=-1)  # U - W S: (BH, c, dv)
            state = torch.baddbmm(state, k_t_i, v_new)  # S + K^T V': (BH, dk, dv)
            v_news.append(v_new)
        read = torch.stack(states).reshape(n * BH, dk, dv)
        v_new = torch.stack(v_news).reshape(n * BH, c, dv)
        outs.append(from_chunks(torch.baddbmm(torch.bmm(scores, v_new), qc, read), n))  # Q S + tril(Q K^T) V'
    return keep(torch.cat(outs, dim=1), state)  # the final state is what a cache keeps


def delta_rule_step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One recurrent decode step per head: S^T k, S += k v'^T, S^T q: 3 dk dv multiply-adds."""
    BH, _, dk = q.shape
    state = torch.empty(BH, dk, v.shape[-1], device=q.device, dtype=q.dtype)
    v_new = v - torch.bmm(k, state)
    state = state + torch.bmm(k.transpose(1, 2), v_new)
    return keep(torch.bmm(q, state), state)


def delta_rule(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The chunked algorithm in prefill (S > 1), the recurrent step in decode."""
    return chunked_delta_rule(q, k, v) if q.shape[1] > 1 else delta_rule_step(q, k, v)


def chunked_linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Chunked linear attention with a fixed decay per head (Lightning attention-2), per head: q, k
    (BH, S, dk), v (BH, S, dv).

    Per chunk of c tokens: O = tril(Q K^T) V + Q S, then S += K^T V: c^2 dk + c^2 dv + 2 c dk dv
    multiply-adds; the decays are element-wise.  No solve ties a chunk to the last one, so every product
    runs for all chunks in one batch; the state each chunk reads is a running sum of the chunks' K^T V.
    """
    BH, S, dk = q.shape
    dv = v.shape[-1]
    state = torch.empty(BH, dk, dv, device=q.device, dtype=q.dtype)
    outs = []
    for start, c, n in chunk_groups(S):
        qc, kc, vc = (to_chunks(t, start, c, n) for t in (q, k, v))  # (n*BH, c, d)
        k_t = kc.transpose(1, 2)  # (n*BH, dk, c)
        scores = torch.bmm(qc, k_t).tril()  # (n*BH, c, c)
        kv = torch.bmm(k_t, vc).reshape(n, BH, dk, dv)  # each chunk's K^T V
        before = torch.cumsum(kv, dim=0) - kv  # the chunks before each one, element-wise
        read = (before + state).reshape(n * BH, dk, dv)  # the state each chunk reads
        state = state + kv.sum(dim=0)
        outs.append(from_chunks(torch.baddbmm(torch.bmm(scores, vc), qc, read), n))  # tril(Q K^T) V + Q S
    return keep(torch.cat(outs, dim=1), state)  # the final state is what a cache keeps


def linear_attention_step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One recurrent decode step per head: S = decay S + k^T v, o = q S: 2 dk dv multiply-adds."""
    BH, _, dk = q.shape
    state = torch.empty(BH, dk, v.shape[-1], device=q.device, dtype=q.dtype)
    state = state + torch.bmm(k.transpose(1, 2), v)
    return keep(torch.bmm(q, state), state)


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The chunked algorithm in prefill (S > 1), the recurrent step in decode."""
    return chunked_linear_attention(q, k, v) if q.shape[1] > 1 else linear_attention_step(q, k, v)
