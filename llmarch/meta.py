"""Build a real `torch.nn.Module` from the IR on the meta device.

Parameters are created with `torch.empty(..., device="meta")` and never
initialised: default initialisation on meta goes through `torch._refs` and
imports `torch._dynamo` (about 1.7 s), more than the build itself.  Routed
experts are stacked tensors, `[n_experts, ...]`, one parameter per projection
per layer, as in gpt-fast, so a 1T-parameter model is a few thousand tensors.

Names follow the usual layout: `embed_tokens`, `layers.N.attn.q_proj`,
`layers.N.mixer.in_proj_qkvz`, `layers.N.ffn.experts.gate_up`,
`layers.N.ffn.router`, `layers.N.ffn.shared.down`, `norm`, `lm_head`, `mtp.N...`.
"""

from __future__ import annotations

import torch
from torch import nn

from .ir import AttentionIR, FFNIR, GatedDeltaNetIR, LayerIR, ModelIR, MoEIR

META = torch.device("meta")


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape, device=META))


class Linear(nn.Module):
    def __init__(self, d_in: int, d_out: int, bias: bool = False) -> None:
        super().__init__()
        self.weight = _param(d_out, d_in)
        self.bias = _param(d_out) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


class Norm(nn.Module):
    def __init__(self, dim: int, bias: bool = False) -> None:
        super().__init__()
        self.weight = _param(dim)
        self.bias = _param(dim) if bias else None


class Embedding(nn.Module):
    def __init__(self, n: int, dim: int) -> None:
        super().__init__()
        self.weight = _param(n, dim)


class Attention(nn.Module):
    """MHA / GQA / MQA with optional QK-norm, biases, sinks and output gate."""

    def __init__(self, d: int, a: AttentionIR) -> None:
        super().__init__()
        q_out = a.n_heads * a.head_dim * (2 if a.output_gate == "elementwise" else 1)
        self.q_proj = Linear(d, q_out, a.qkv_bias)
        self.k_proj = Linear(d, a.n_kv_heads * a.head_dim, a.qkv_bias)
        self.v_proj = Linear(d, a.n_kv_heads * a.v_head_dim, a.qkv_bias)
        self.o_proj = Linear(a.n_heads * a.v_head_dim, d, a.o_bias)
        if a.output_gate == "headwise":
            self.gate_proj = Linear(d, a.n_heads)
        _qk_norms(self, a)
        if a.sinks:
            self.sinks = _param(a.n_heads)


class MultiHeadLatentAttention(nn.Module):
    """DeepSeek's MLA: low-rank query, a shared latent for keys and values, a decoupled RoPE key."""

    def __init__(self, d: int, a: AttentionIR) -> None:
        super().__init__()
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
        self.wq = Linear(a.q_lora_rank or d, a.indexer_heads * a.indexer_head_dim)
        self.wk = Linear(d, a.indexer_head_dim)
        self.k_norm = Norm(a.indexer_head_dim, bias=True)
        self.weights_proj = Linear(d, a.indexer_heads)


def _qk_norms(module: nn.Module, a: AttentionIR) -> None:
    if a.qk_norm == "per_head":
        module.q_norm = Norm(a.head_dim)
        module.k_norm = Norm(a.head_dim)
    elif a.qk_norm == "whole":
        module.q_norm = Norm(a.n_heads * a.head_dim)
        module.k_norm = Norm(a.n_kv_heads * a.head_dim)


class GatedDeltaNet(nn.Module):
    def __init__(self, d: int, g: GatedDeltaNetIR) -> None:
        super().__init__()
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


class MoE(nn.Module):
    def __init__(self, d: int, m: MoEIR) -> None:
        super().__init__()
        self.n_experts, self.top_k = m.n_experts, m.top_k
        self.router = Linear(d, m.n_experts, m.router_bias)
        self.experts = Experts(d, m.n_experts, m.expert)
        if m.shared is not None:
            self.shared = FeedForward(d, m.shared)
            if m.shared_gate:
                self.shared_gate = Linear(d, 1)
        if m.score_correction_bias:
            # a buffer, as in DeepSeek's and transformers' code: set by load balancing, not by gradients
            self.register_buffer("e_score_correction_bias", torch.empty(m.n_experts, device=META))


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
            self.attn = MultiHeadLatentAttention(d, a) if a.is_mla else Attention(d, a)
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
            self.ffn = MoE(d, layer.moe)
            norms("ffn")


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
            self.per_layer_embed = Embedding(ir.per_layer_embedding_vocab, ir.n_layers * ir.per_layer_embedding_dim)
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
