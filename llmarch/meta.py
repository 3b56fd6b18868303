"""Build a real `torch.nn.Module` from the IR on the meta device.

Parameters are the uninitialised meta tensors of `mechanisms/primitives.py`.  Routed
experts are stacked tensors, `[n_experts, ...]`, one parameter per projection
per layer, as in gpt-fast, so a 1T-parameter model is a few thousand tensors.

Names follow the usual layout: `embed_tokens`, `layers.N.attn.q_proj`,
`layers.N.mixer.in_proj_qkvz`, `layers.N.ffn.experts.gate_up`,
`layers.N.ffn.router`, `layers.N.ffn.shared.down`, `norm`, `lm_head`, `mtp.N...`.

The forward passes exist to be traced by FLOP counters on meta tensors: static
shapes, no `.item()`, MoE as a top-k gather from the stacked experts, every
product a `linear` or a 3-D `bmm` (no einsum, no broadcasting matmul), and the
element-wise work (norms, activations, gates, softmax, short convolutions)
reduced to what keeps shapes right, since no counter counts it.  Prefill
attention computes the full S x S square, as real kernels do before masking;
`flops.normalise` removes the causal/window part analytically.  Linear
attention runs the chunked algorithm of `flops.py` (chunk 64) in prefill and
the recurrent step in decode.  MTP modules are not run.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .ir import FFNIR, AttentionIR, GatedDeltaNetIR, LayerIR, ModelIR, MoEIR
from .mechanisms.primitives import META, Embedding, Linear, Norm
from .mechanisms.primitives import param as _param


class Attention(nn.Module):
    """MHA / GQA / MQA with optional QK-norm, biases, sinks and output gate.  A layer that reuses an
    earlier layer's KV (`kv_shared`, Gemma 3n) has no key/value projections and no key norm."""

    def __init__(self, d: int, a: AttentionIR, kv_shared: bool = False) -> None:
        super().__init__()
        self.ir = a
        self.kv_shared = kv_shared
        q_out = a.n_heads * a.head_dim * (2 if a.output_gate == "elementwise" else 1)
        self.q_proj = Linear(d, q_out, a.qkv_bias)
        if not kv_shared:
            self.k_proj = Linear(d, a.n_kv_heads * a.head_dim, a.qkv_bias)
            if a.k_eq_v is None:  # otherwise the keys serve as the values
                self.v_proj = Linear(d, a.n_kv_heads * a.v_head_dim, a.qkv_bias)
        self.o_proj = Linear(a.n_heads * a.v_head_dim, d, a.o_bias)
        if a.output_gate == "headwise":
            self.gate_proj = Linear(d, a.n_heads)
        _qk_norms(self, a, key_norm=not kv_shared)
        if a.sinks:
            self.sinks = _param(a.n_heads)


class MultiHeadLatentAttention(nn.Module):
    """DeepSeek's MLA: low-rank query, a shared latent for keys and values, a decoupled RoPE key."""

    def __init__(self, d: int, a: AttentionIR) -> None:
        super().__init__()
        self.ir = a
        q_out = a.n_heads * a.head_dim
        if a.q_lora_rank:
            self.q_a_proj = Linear(d, a.q_lora_rank)
            self.q_a_norm = Norm(a.q_lora_rank)
            self.q_b_proj = Linear(a.q_lora_rank, q_out)
        else:
            self.q_proj = Linear(d, q_out)
        self.kv_a_proj = Linear(d, a.kv_lora_rank + a.qk_rope_head_dim)
        self.kv_a_norm = Norm(a.kv_lora_rank)
        self.kv_b_proj = Linear(a.kv_lora_rank, a.n_heads * (a.qk_nope_head_dim + a.v_head_dim))
        self.o_proj = Linear(a.n_heads * a.v_head_dim, d, a.o_bias)
        _qk_norms(self, a)
        if a.sinks:
            self.sinks = _param(a.n_heads)
        if a.indexer_heads:
            self.indexer = Indexer(d, a)


class Indexer(nn.Module):
    """DeepSeek V3.2's lightning indexer, scoring which tokens each query attends to."""

    def __init__(self, d: int, a: AttentionIR) -> None:
        super().__init__()
        self.ir = a
        self.wq = Linear(a.q_lora_rank or d, a.indexer_heads * a.indexer_head_dim)
        self.wk = Linear(d, a.indexer_head_dim)
        self.k_norm = Norm(a.indexer_head_dim, bias=True)
        self.weights_proj = Linear(d, a.indexer_heads)


def _qk_norms(module: nn.Module, a: AttentionIR, key_norm: bool = True) -> None:
    """QK-norm weights; `key_norm=False` where the layer computes no keys (it reuses another layer's KV)."""
    if a.qk_norm == "per_head":
        module.q_norm = Norm(a.head_dim)
        if key_norm:
            module.k_norm = Norm(a.head_dim)
    elif a.qk_norm == "whole":
        module.q_norm = Norm(a.n_heads * a.head_dim)
        if key_norm:
            module.k_norm = Norm(a.n_kv_heads * a.head_dim)


class GatedDeltaNet(nn.Module):
    def __init__(self, d: int, g: GatedDeltaNetIR) -> None:
        super().__init__()
        self.ir = g
        key_dim, value_dim = g.n_k_heads * g.head_k_dim, g.n_v_heads * g.head_v_dim
        self.in_proj_qkvz = Linear(d, 2 * key_dim + 2 * value_dim)
        self.in_proj_ba = Linear(d, 2 * g.n_v_heads)
        self.conv1d = nn.Module()
        self.conv1d.weight = _param(2 * key_dim + value_dim, 1, g.conv_kernel)
        self.dt_bias = _param(g.n_v_heads)
        self.A_log = _param(g.n_v_heads)
        self.norm = Norm(g.head_v_dim)
        self.out_proj = Linear(value_dim, d)


class KimiDeltaAttention(nn.Module):
    def __init__(self, d: int, k) -> None:
        super().__init__()
        self.ir = k
        inner = k.n_heads * k.head_dim
        self.q_proj = Linear(d, inner)
        self.k_proj = Linear(d, inner)
        self.v_proj = Linear(d, inner)
        self.conv1d = nn.Module()
        self.conv1d.weight = _param(3 * inner, 1, k.conv_kernel)
        self.dt_bias = _param(inner)
        self.A_log = _param(k.n_heads)
        self.f_a_proj = Linear(d, k.head_dim)
        self.f_b_proj = Linear(k.head_dim, inner)
        self.b_proj = Linear(d, k.n_heads)
        self.g_a_proj = Linear(d, k.head_dim)
        self.g_b_proj = Linear(k.head_dim, inner)
        self.o_norm = Norm(k.head_dim)
        self.o_proj = Linear(inner, d)


class Mamba2(nn.Module):
    def __init__(self, d: int, m) -> None:
        super().__init__()
        self.ir = m
        inner = m.n_heads * m.head_dim
        conv_dim = inner + 2 * m.n_groups * m.state_dim
        self.in_proj = Linear(d, 2 * inner + 2 * m.n_groups * m.state_dim + m.n_heads, m.bias)
        self.conv1d = nn.Module()
        self.conv1d.weight = _param(conv_dim, 1, m.conv_kernel)
        self.conv1d.bias = _param(conv_dim) if m.conv_bias else None
        self.dt_bias = _param(m.n_heads)
        self.A_log = _param(m.n_heads)
        self.D = _param(m.n_heads)
        self.norm = Norm(inner)
        self.out_proj = Linear(inner, d, m.bias)


class FeedForward(nn.Module):
    """Gated (SwiGLU/GeGLU: gate and up fused) or plain two-matrix MLP."""

    def __init__(self, d: int, f: FFNIR) -> None:
        super().__init__()
        self.gated = f.gated
        self.gate_up = Linear(d, (2 if f.gated else 1) * f.d_ff, f.bias)
        self.down = Linear(f.d_ff, d, f.bias)


class Experts(nn.Module):
    """All routed experts of a layer as stacked tensors."""

    def __init__(self, d: int, n: int, f: FFNIR) -> None:
        super().__init__()
        width = (2 if f.gated else 1) * f.d_ff
        self.gate_up = _param(n, width, d)
        self.down = _param(n, d, f.d_ff)
        if f.bias:
            self.gate_up_bias = _param(n, width)
            self.down_bias = _param(n, d)


class AltUp(nn.Module):
    """One layer's AltUp coefficients (Gemma 3n); its router norm is the layer's `altup_norm`."""

    def __init__(self, d: int, n: int) -> None:
        super().__init__()
        self.router = Linear(d, n)
        self.prediction_coefs = Linear(n, n * n)
        self.correction_coefs = Linear(n, n)
        self.output_scale = _param(d)


class Laurel(nn.Module):
    """LAuReL's low-rank learned residual (Gemma 3n); its norm is the layer's `laurel_norm`."""

    def __init__(self, d: int, rank: int) -> None:
        super().__init__()
        self.left = Linear(d, rank)
        self.right = Linear(rank, d)


class PerLayerInput(nn.Module):
    """How a layer takes in its per-layer embedding (Gemma 3n): gate (d -> dim), times the embedding,
    project back (dim -> d); the norm after it is the layer's `per_layer_input_norm`."""

    def __init__(self, d: int, dim: int) -> None:
        super().__init__()
        self.gate = Linear(d, dim)
        self.proj = Linear(dim, d)


class MoE(nn.Module):
    def __init__(self, d: int, m: MoEIR) -> None:
        super().__init__()
        self.n_experts, self.top_k, self.gated = m.n_experts, m.top_k, m.expert.gated
        self.router = Linear(d, m.n_experts, m.router_bias)
        self.experts = Experts(d, m.n_experts, m.expert)
        if m.shared is not None:
            self.shared = FeedForward(d, m.shared)
            if m.shared_gate:
                self.shared_gate = Linear(d, 1)
        if m.score_correction_parameter:
            # Laguna's checkpoint keeps the routing bias as a parameter (frozen), so it is counted
            self.router_correction = _param(m.n_experts)
        if m.score_correction_bias:
            # a buffer, as in DeepSeek's and transformers' code: set by load balancing, not by gradients
            self.register_buffer("e_score_correction_bias", torch.empty(m.n_experts, device=META))


class LatentMoE(nn.Module):
    """Nemotron 3 Super's latent MoE: the router and the shared expert read the token at d; the routed
    experts run in a latent of width l, between `latent_down` (d -> l) and `latent_up` (l -> d)."""

    def __init__(self, d: int, m: MoEIR) -> None:
        super().__init__()
        assert m.latent_dim is not None
        self.n_experts, self.top_k, self.gated = m.n_experts, m.top_k, m.expert.gated
        self.router = Linear(d, m.n_experts, m.router_bias)
        if m.score_correction_parameter:
            self.router_correction = _param(m.n_experts)
        self.latent_down = Linear(d, m.latent_dim, m.latent_bias)
        self.experts = Experts(m.latent_dim, m.n_experts, m.expert)
        self.latent_up = Linear(m.latent_dim, d, m.latent_bias)
        if m.shared is not None:
            self.shared = FeedForward(d, m.shared)
            if m.shared_gate:
                self.shared_gate = Linear(d, 1)
        if m.score_correction_bias:
            self.register_buffer("e_score_correction_bias", torch.empty(m.n_experts, device=META))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, S, d = x.shape
        tokens = x.reshape(B * S, d)
        latent = self.latent_down(tokens)  # (B*S, l): the routed experts' input
        routed = _routed(self.experts, latent, self.router(tokens), self.top_k, self.gated)  # (B*S, l)
        out = self.latent_up(routed).reshape(B, S, d)
        if hasattr(self, "shared"):
            shared = self.shared(x)
            if hasattr(self, "shared_gate"):
                shared = shared * torch.sigmoid(self.shared_gate(x))
            out = out + shared
        return out


class Layer(nn.Module):
    def __init__(self, ir: ModelIR, layer: LayerIR) -> None:
        super().__init__()
        d, norm = ir.d_model, ir.norm
        place = norm.placement
        self.kind = layer.label

        def norms(prefix: str) -> None:
            if place in ("pre", "sandwich"):
                setattr(self, f"{prefix}_norm", Norm(d, norm.bias))
            if place in ("post", "sandwich"):
                setattr(self, f"{prefix}_post_norm", Norm(d, norm.bias))

        if layer.attention is not None:
            a = layer.attention
            self.attn = (
                MultiHeadLatentAttention(d, a) if a.is_mla else Attention(d, a, layer.kv_shared_from is not None)
            )
            norms("attn")
        elif layer.gated_deltanet is not None:
            self.mixer = GatedDeltaNet(d, layer.gated_deltanet)
            norms("mixer")
        elif layer.mamba2 is not None:
            self.mixer = Mamba2(d, layer.mamba2)
            norms("mixer")
        elif layer.kda is not None:
            self.mixer = KimiDeltaAttention(d, layer.kda)
            norms("mixer")
        if layer.dense is not None:
            self.ffn = FeedForward(d, layer.dense)
            norms("ffn")
        elif layer.moe is not None:
            self.ffn = LatentMoE(d, layer.moe) if layer.moe.latent_dim else MoE(d, layer.moe)
            norms("ffn")
        if ir.altup_inputs:
            self.altup = AltUp(d, ir.altup_inputs)
            self.altup_norm = Norm(d, norm.bias)
        if ir.laurel_rank:
            self.laurel = Laurel(d, ir.laurel_rank)
            self.laurel_norm = Norm(d, norm.bias)
        if ir.per_layer_embedding_dim:
            self.per_layer_input = PerLayerInput(d, ir.per_layer_embedding_dim)
            self.per_layer_input_norm = Norm(d, norm.bias)


class MTPModule(nn.Module):
    def __init__(self, ir: ModelIR) -> None:
        super().__init__()
        assert ir.mtp is not None
        d = ir.d_model
        self.enorm = Norm(d, ir.norm.bias)
        self.hnorm = Norm(d, ir.norm.bias)
        self.eh_proj = Linear(2 * d, d)
        self.layer = Layer(ir, ir.mtp.layer)
        self.final_norm = Norm(d, ir.norm.bias)
        if ir.mtp.stores_embedding:
            self.embed_tokens = Embedding(ir.vocab_size, d)
        if ir.mtp.stores_head:
            self.head = Linear(d, ir.vocab_size)


class Model(nn.Module):
    def __init__(self, ir: ModelIR, with_mtp: bool = True) -> None:
        super().__init__()
        d = ir.d_model
        self.ir = ir
        self.embed_tokens = Embedding(ir.vocab_size, d)
        if ir.learned_positions:
            self.pos_embed = Embedding(ir.learned_positions, d)
        if ir.per_layer_embedding_dim:
            width = ir.n_layers * ir.per_layer_embedding_dim
            self.per_layer_embed = Embedding(ir.per_layer_embedding_vocab, width)
            self.per_layer_input = Linear(d, width)  # the token embedding projected to every layer's slot
            self.per_layer_input_norm = Norm(ir.per_layer_embedding_dim, ir.norm.bias)
        if ir.altup_inputs:
            # AltUp's extra residual streams: projected from the embedding, and back before the final norm
            self.altup_in = nn.ModuleList(Linear(d, d) for _ in range(ir.altup_inputs - 1))
            self.altup_out = nn.ModuleList(Linear(d, d) for _ in range(ir.altup_inputs - 1))
        self.layers = nn.ModuleList(Layer(ir, layer) for layer in ir.layers)
        self.norm = Norm(d, ir.norm.bias)
        self.lm_head = Linear(d, ir.vocab_size)
        if ir.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight  # one matrix, counted once
        if ir.mtp is not None and with_mtp:
            self.mtp = nn.ModuleList(MTPModule(ir) for _ in range(ir.mtp.n_modules))


def build(ir: ModelIR, with_mtp: bool = True) -> Model:
    """The model of `ir` on the meta device; no memory for weights, no initialisation."""
    return Model(ir, with_mtp=with_mtp)


# ---------------------------------------------------------------------------
# Forward passes (meta tensors, for the FLOP counters)

LINEAR_CHUNK = 64  # chunk size of the chunked linear-attention / SSD algorithms


def _split_heads(x: torch.Tensor, n: int, dim: int) -> torch.Tensor:
    """(B, S, n*dim) -> (B*n, S, dim)"""
    B, S, _ = x.shape
    return x.reshape(B, S, n, dim).transpose(1, 2).reshape(B * n, S, dim)


def _merge_heads(x: torch.Tensor, B: int, n: int) -> torch.Tensor:
    """(B*n, S, dim) -> (B, S, n*dim)"""
    _, S, dim = x.shape
    return x.reshape(B, n, S, dim).transpose(1, 2).reshape(B, S, n * dim)


def _repeat_heads(x: torch.Tensor, B: int, n_kv: int, n: int) -> torch.Tensor:
    """(B*n_kv, T, d) -> (B*n, T, d): each KV head serves n / n_kv query heads (GQA)."""
    if n == n_kv:
        return x
    _, T, d = x.shape
    return x.reshape(B, n_kv, 1, T, d).expand(B, n_kv, n // n_kv, T, d).reshape(B * n, T, d)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T) v with explicit 3-D bmm: q (BH, S, dq), k (BH, T, dq), v (BH, T, dv)."""
    scores = torch.bmm(q, k.transpose(1, 2))
    return torch.bmm(scores.softmax(-1), v)


def _with_cache(new: torch.Tensor, n_keys: int) -> torch.Tensor:
    """Prepend `n_keys - S` cached positions (empty meta tensors) to this step's keys or values."""
    cached = n_keys - new.shape[1]
    if cached <= 0:
        return new
    past = torch.empty(new.shape[0], cached, new.shape[2], device=new.device, dtype=new.dtype)
    return torch.cat([past, new], dim=1)


def _keep(out: torch.Tensor, *used: torch.Tensor) -> torch.Tensor:
    """Tie results that only feed element-wise work (gates, decays, the final recurrent state) to the
    output, with reductions no counter counts, so that jit tracing (fvcore) does not drop them."""
    for t in used:
        out = out + t.sum() * 0
    return out


def keys_traced(a: AttentionIR, S: int, ctx: int) -> int:
    """Keys each query sees in the traced forward: the full square in prefill; exact in decode."""
    if S > 1:
        return S
    if a.window:
        return min(ctx, a.window_keys)
    if a.chunk:
        return (ctx - 1) % a.chunk + 1
    return ctx


def _attention_forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
    a: AttentionIR = self.ir
    B, S, _ = x.shape
    q = self.q_proj(x)
    if a.output_gate == "elementwise":
        q, gate = q.split(a.n_heads * a.head_dim, dim=-1)
    if self.kv_shared:  # keys and values come from an earlier layer's cache: no projection here
        k = x.new_empty(B, S, a.n_kv_heads * a.head_dim)
        v = x.new_empty(B, S, a.n_kv_heads * a.v_head_dim)
    else:
        k = self.k_proj(x)
        v = k if a.k_eq_v is not None else self.v_proj(x)
    n_keys = keys_traced(a, S, ctx)
    q = _split_heads(q, a.n_heads, a.head_dim)
    k = _repeat_heads(_with_cache(_split_heads(k, a.n_kv_heads, a.head_dim), n_keys), B, a.n_kv_heads, a.n_heads)
    v = _repeat_heads(_with_cache(_split_heads(v, a.n_kv_heads, a.v_head_dim), n_keys), B, a.n_kv_heads, a.n_heads)
    out = _merge_heads(_attend(q, k, v), B, a.n_heads)
    if a.output_gate == "elementwise":
        out = out * torch.sigmoid(gate)
    elif a.output_gate == "headwise":
        out = _keep(out, self.gate_proj(x))
    return self.o_proj(out)


Attention.forward = _attention_forward


def _mla_forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
    """Naive MLA: K and V decompressed from the latent once per token."""
    a: AttentionIR = self.ir
    B, S, _ = x.shape
    if a.q_lora_rank:
        latent_q = self.q_a_proj(x)
        q = self.q_b_proj(latent_q)
    else:
        latent_q = x
        q = self.q_proj(x)
    kv_a = self.kv_a_proj(x)
    latent, k_rope = kv_a.split([a.kv_lora_rank, a.qk_rope_head_dim], dim=-1)
    kv = self.kv_b_proj(latent).reshape(B, S, a.n_heads, a.qk_nope_head_dim + a.v_head_dim)
    k_nope, v = kv.split([a.qk_nope_head_dim, a.v_head_dim], dim=-1)
    k = torch.cat([k_nope, k_rope.unsqueeze(2).expand(B, S, a.n_heads, a.qk_rope_head_dim)], dim=-1)
    q = _split_heads(q, a.n_heads, a.head_dim)
    k = _split_heads(k.reshape(B, S, -1), a.n_heads, a.head_dim)
    v = _split_heads(v.reshape(B, S, -1), a.n_heads, a.v_head_dim)
    n_keys = keys_traced(a, S, ctx)
    k, v = _with_cache(k, n_keys), _with_cache(v, n_keys)
    if a.indexer_topk:
        if a.indexer_heads:
            idx = self.indexer(x, latent_q, n_keys)  # (B, S, selected): the keys each query keeps
        else:  # a shared-indexer layer reuses an earlier layer's selection: as many keys, no scoring here
            keep = min(n_keys, a.indexer_topk)
            idx = torch.arange(keep, device=x.device).expand(B, S, keep)
        selected = idx.shape[-1]
        H = a.n_heads

        def gather(t: torch.Tensor, dim: int) -> torch.Tensor:
            t = t.reshape(B, H, 1, n_keys, dim).expand(B, H, S, n_keys, dim)
            index = idx.reshape(B, 1, S, selected, 1).expand(B, H, S, selected, dim)
            return torch.gather(t, 3, index).reshape(B * H * S, selected, dim)

        out = _attend(q.reshape(B * H * S, 1, a.head_dim), gather(k, a.head_dim), gather(v, a.v_head_dim))
        out = out.reshape(B * H, S, a.v_head_dim)
    else:
        out = _attend(q, k, v)
    return self.o_proj(_merge_heads(out, B, a.n_heads))


MultiHeadLatentAttention.forward = _mla_forward


def _indexer_forward(self, x: torch.Tensor, latent_q: torch.Tensor, n_keys: int) -> torch.Tensor:
    """Lightning-indexer scores of every query against every key; returns the kept keys' indices."""
    a: AttentionIR = self.ir
    B, S, _ = x.shape
    Hi = a.indexer_heads
    q = _split_heads(self.wq(latent_q), Hi, a.indexer_head_dim)
    k = _repeat_heads(_with_cache(self.wk(x), n_keys), B, 1, Hi)  # one key shared by all indexer heads
    scores = torch.bmm(q, k.transpose(1, 2)).relu().reshape(B, Hi, S, n_keys)
    weights = self.weights_proj(x).transpose(1, 2).unsqueeze(-1)  # (B, Hi, S, 1): element-wise from here
    combined = (scores * weights).sum(1)  # (B, S, n_keys)
    return torch.topk(combined, min(n_keys, a.indexer_topk), dim=-1).indices


Indexer.forward = _indexer_forward


def _chunk_groups(S: int) -> list[tuple[int, int, int]]:
    """(start, chunk length, number of chunks): the full chunks of LINEAR_CHUNK tokens, then the rest."""
    full, rest = divmod(int(S), LINEAR_CHUNK)  # int(): under jit tracing a size may be a tensor
    groups = [(0, LINEAR_CHUNK, full)] if full else []
    return groups + ([(full * LINEAR_CHUNK, rest, 1)] if rest else [])


def _to_chunks(t: torch.Tensor, start: int, c: int, n: int) -> torch.Tensor:
    """(BH, S, d) -> (n * BH, c, d): n chunks of c tokens from `start`, chunk-major, one bmm batch."""
    BH, _, d = t.shape
    return t[:, start : start + n * c].reshape(BH, n, c, d).transpose(0, 1).reshape(n * BH, c, d)


def _from_chunks(t: torch.Tensor, n: int) -> torch.Tensor:
    """(n * BH, c, d) -> (BH, n * c, d), the inverse of `_to_chunks`."""
    _, c, d = t.shape
    return t.reshape(n, -1, c, d).transpose(0, 1).reshape(-1, n * c, d)


def _chunked_delta_rule(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
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
    for start, c, n in _chunk_groups(S):
        qc, kc, vc = (_to_chunks(t, start, c, n) for t in (q, k, v))  # (n*BH, c, d)
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
        outs.append(_from_chunks(torch.baddbmm(torch.bmm(scores, v_new), qc, read), n))  # Q S + tril(Q K^T) V'
    return _keep(torch.cat(outs, dim=1), state)  # the final state is what a cache keeps


def _delta_rule_step(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One recurrent decode step per head: S^T k, S += k v'^T, S^T q: 3 dk dv multiply-adds."""
    BH, _, dk = q.shape
    state = torch.empty(BH, dk, v.shape[-1], device=q.device, dtype=q.dtype)
    v_new = v - torch.bmm(k, state)
    state = state + torch.bmm(k.transpose(1, 2), v_new)
    return _keep(torch.bmm(q, state), state)


def _gdn_forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
    g: GatedDeltaNetIR = self.ir
    B, S, _ = x.shape
    key_dim, value_dim = g.n_k_heads * g.head_k_dim, g.n_v_heads * g.head_v_dim
    q, k, v, z = self.in_proj_qkvz(x).split([key_dim, key_dim, value_dim, value_dim], dim=-1)
    beta_and_decay = self.in_proj_ba(x)
    q = _repeat_heads(_split_heads(q, g.n_k_heads, g.head_k_dim), B, g.n_k_heads, g.n_v_heads)
    k = _repeat_heads(_split_heads(k, g.n_k_heads, g.head_k_dim), B, g.n_k_heads, g.n_v_heads)
    v = _split_heads(v, g.n_v_heads, g.head_v_dim)
    out = _chunked_delta_rule(q, k, v) if S > 1 else _delta_rule_step(q, k, v)
    return self.out_proj(_keep(_merge_heads(out, B, g.n_v_heads) * z, beta_and_decay))


GatedDeltaNet.forward = _gdn_forward


def _kda_forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
    kd = self.ir
    B, S, _ = x.shape
    q, k, v = (_split_heads(p(x), kd.n_heads, kd.head_dim) for p in (self.q_proj, self.k_proj, self.v_proj))
    forget = self.f_b_proj(self.f_a_proj(x))  # channel-wise decay (low rank)
    beta = self.b_proj(x)
    gate = self.g_b_proj(self.g_a_proj(x))
    out = _chunked_delta_rule(q, k, v) if S > 1 else _delta_rule_step(q, k, v)
    return self.o_proj(_keep(_merge_heads(out, B, kd.n_heads) * gate, forget, beta))


KimiDeltaAttention.forward = _kda_forward


def _mamba2_forward(self, x: torch.Tensor, ctx: int) -> torch.Tensor:
    """Mamba-2 (SSD).  Prefill per chunk of c tokens and head: C B^T (c^2 N), its product with X
    (c^2 P), the carried state's contribution C S (c N P) and the chunk state B^T X (c N P).
    Decode: S += B x^T, y = C S: 2 N P.  B and C are shared by the heads of a group."""
    m = self.ir
    B, S, _ = x.shape
    inner, gn = m.n_heads * m.head_dim, m.n_groups * m.state_dim
    z, xs, b, c, dt = self.in_proj(x).split([inner, inner, gn, gn, m.n_heads], dim=-1)
    xs = _split_heads(xs, m.n_heads, m.head_dim)
    b = _repeat_heads(_split_heads(b, m.n_groups, m.state_dim), B, m.n_groups, m.n_heads)
    c = _repeat_heads(_split_heads(c, m.n_groups, m.state_dim), B, m.n_groups, m.n_heads)
    BH, N, P = B * m.n_heads, m.state_dim, m.head_dim
    state = torch.empty(BH, N, P, device=x.device, dtype=x.dtype)
    if S == 1:
        state = state + torch.bmm(b.transpose(1, 2), xs)
        y = torch.bmm(c, state)
    else:
        # A chunk's state increment B^T X does not depend on the carried state (the decays are
        # element-wise), so every chunk's products run batched; the carried state is a running sum.
        outs = []
        for start, chunk, n in _chunk_groups(S):
            xc, bc, cc = (_to_chunks(t, start, chunk, n) for t in (xs, b, c))  # (n*BH, c, P|N)
            intra = torch.bmm(torch.bmm(cc, bc.transpose(1, 2)).tril(), xc)  # (n*BH, c, P)
            increments = torch.bmm(bc.transpose(1, 2), xc).reshape(n, BH, N, P)
            carried = increments.cumsum(0) - increments + state  # the state before each chunk
            outs.append(_from_chunks(torch.baddbmm(intra, cc, carried.reshape(n * BH, N, P)), n))
            state = carried[-1] + increments[-1]
        y = torch.cat(outs, dim=1)
    return self.out_proj(_keep(_merge_heads(y, B, m.n_heads) * z, state, dt))


Mamba2.forward = _mamba2_forward


def _ffn_forward(self, x: torch.Tensor) -> torch.Tensor:
    h = self.gate_up(x)
    if self.gated:
        gate, up = h.chunk(2, dim=-1)
        h = F.silu(gate) * up
    else:
        h = F.relu(h)
    return self.down(h)


FeedForward.forward = _ffn_forward


def _routed(experts: Experts, tokens: torch.Tensor, logits: torch.Tensor, top_k: int, gated: bool) -> torch.Tensor:
    """tokens (T, w) through their top-k experts by `logits` (T, n): a gather of the chosen experts'
    stacked weights and one bmm per projection; (T, w) out, the experts' outputs mixed by their scores."""
    T, w = tokens.shape
    weights, idx = torch.topk(logits, top_k, dim=-1)
    flat = idx.reshape(-1)  # (T*k,)
    xk = tokens.unsqueeze(1).expand(T, top_k, w).reshape(-1, w, 1)  # (T*k, w, 1)
    h = torch.bmm(experts.gate_up[flat], xk)  # (T*k, width, 1)
    if gated:
        gate, up = h.chunk(2, dim=1)
        h = F.silu(gate) * up
    else:
        h = F.relu(h)
    out = torch.bmm(experts.down[flat], h).reshape(T, top_k, w)
    return (out * weights.softmax(-1).unsqueeze(-1)).sum(1)


def _moe_forward(self, x: torch.Tensor) -> torch.Tensor:
    """Top-k routing, then a gather of the chosen experts' stacked weights and one bmm per projection."""
    B, S, d = x.shape
    tokens = x.reshape(B * S, d)
    out = _routed(self.experts, tokens, self.router(tokens), self.top_k, self.gated).reshape(B, S, d)
    if hasattr(self, "shared"):
        shared = self.shared(x)
        if hasattr(self, "shared_gate"):
            shared = shared * torch.sigmoid(self.shared_gate(x))
        out = out + shared
    return out


MoE.forward = _moe_forward


def _altup_predict(self, streams: torch.Tensor) -> torch.Tensor:
    """streams (B, S, n, d) -> predicted streams: coefficients from the active stream, then a per-token
    (d x n) @ (n x n) mix of the streams."""
    B, S, n, d = streams.shape
    coefs = self.prediction_coefs(self.router(streams[:, :, 0])).reshape(B * S, n, n)
    mixed = torch.bmm(streams.reshape(B * S, n, d).transpose(1, 2), coefs)  # (B*S, d, n)
    return mixed.transpose(1, 2).reshape(B, S, n, d) + streams


def _altup_correct(self, predicted: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """Spread the active stream's innovation to every stream with per-stream coefficients (element-wise)."""
    coefs = self.correction_coefs(self.router(active))  # (B, S, n)
    innovation = (active - predicted[:, :, 0]).unsqueeze(2)
    return predicted + innovation * coefs.unsqueeze(-1)


AltUp.predict, AltUp.correct = _altup_predict, _altup_correct
Laurel.forward = lambda self, x: self.right(self.left(x))
PerLayerInput.forward = lambda self, x, embedding: self.proj(F.gelu(self.gate(x)) * embedding)


def _layer_forward(self, x: torch.Tensor, ctx: int, per_layer_embedding: torch.Tensor | None = None) -> torch.Tensor:
    """x is (B, S, d), or (B, S, n, d) AltUp streams whose first is the one the layer runs on."""
    # norms are element-wise and left out: no counter counts them
    streams = None
    if hasattr(self, "altup"):
        streams = self.altup.predict(x)
        x = streams[:, :, 0]
    h = x
    if hasattr(self, "attn"):
        x = x + self.attn(h, ctx)
    elif hasattr(self, "mixer"):
        x = x + self.mixer(h, ctx)
    if hasattr(self, "laurel"):
        x = x + self.laurel(h)
    if hasattr(self, "ffn"):
        x = x + self.ffn(x)
    if streams is not None:
        streams = self.altup.correct(streams, x)
        x = streams[:, :, 0]
    if hasattr(self, "per_layer_input"):
        added = self.per_layer_input(x, per_layer_embedding)
        if streams is None:
            return x + added
        return torch.cat([streams[:, :, :1], streams[:, :, 1:] + added.unsqueeze(2)], dim=2)
    return x if streams is None else streams


Layer.forward = _layer_forward


def _model_forward(self, input_ids: torch.Tensor, ctx: int | None = None, last_token_logits: bool = False):
    """Logits for `input_ids` (B, S): prefill when S > 1 (ctx = S), or one decode step at context `ctx`."""
    B, S = input_ids.shape
    ctx = S if ctx is None else ctx
    x = F.embedding(input_ids, self.embed_tokens.weight)
    per_layer = [None] * len(self.layers)
    if hasattr(self, "per_layer_embed"):
        table = F.embedding(input_ids, self.per_layer_embed.weight) + self.per_layer_input(x)
        per_layer = table.reshape(B, S, len(self.layers), -1).unbind(2)
    if hasattr(self, "altup_in"):
        x = torch.stack([x] + [p(x) for p in self.altup_in], dim=2)
    for layer, embedding in zip(self.layers, per_layer):
        x = layer(x, ctx, embedding)
    if hasattr(self, "altup_out"):
        x = torch.stack([x[:, :, 0]] + [p(x[:, :, i + 1]) for i, p in enumerate(self.altup_out)], dim=2).mean(2)
    if last_token_logits:
        x = x[:, -1:]
    return self.lm_head(x)


Model.forward = _model_forward
