"""FLOPs of a forward pass, analytic, over the IR (no torch).

Conventions (printed under every table):
- A multiply-add is 2 FLOPs.  Element-wise work (norms, activations, gates, softmax, rotary,
  residuals, the depthwise short convolutions) is excluded.
- Causal attention counts only the keys each query may attend to: query t (1-based) sees t keys,
  min(t, window) on sliding-window layers, ((t - 1) mod chunk) + 1 on chunked layers, and
  min(t, top-k) for DeepSeek sparse attention (whose indexer scores all t keys).
- Attention scores and values cost n_heads x (d_qk + d_v) multiply-adds per (query, key) pair;
  MLA is counted in its naive form (K and V decompressed once per token).
- MoE: top_k routed experts per token, shared experts fully, the router d_model x n_experts.
- The LM head runs for every prefill token unless `last_token_logits`.
- Linear attention (Gated DeltaNet, Kimi Delta Attention) in prefill: the chunked delta rule with
  chunk 64, 3 c^2 d_k + 2 c^2 d_v + 3 c d_k d_v multiply-adds per chunk of c tokens and head (the
  triangular solve excluded); in decode, the recurrent step, 3 d_k d_v per head.  Mamba-2 (SSD) in
  prefill: c^2 N + c^2 P + 2 c N P per chunk and head; in decode, 2 N P per head.
- Gemma 3n: per-layer inputs cost d x (layers x dim) per token once and 2 d x dim per layer;
  AltUp (n streams) 2 (n - 1) d^2 per token once and, per layer, the router twice (2 d n), the
  coefficient projections (n^3 + n^2) and the stream mix (d n^2); LAuReL 2 d x rank per layer.
  A layer that reuses another's KV has no key/value projections.
- Decode: one token at context `ctx` (it is the ctx-th token).
The traced counts of `flop_counters.py` must agree with these after `normalise`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ir import AttentionIR, LayerIR, ModelIR
from .params import attention_params, ffn_params, gated_deltanet_params, kda_params, mamba2_params

CHUNK = 64

COMPONENTS = (
    "attention_proj",
    "attention_scores",
    "linear_mixer_proj",
    "linear_recurrence",
    "dense_ffn",
    "routed_experts",
    "shared_experts",
    "router",
    "per_layer_input",
    "altup",
    "laurel",
    "lm_head",
)

CONVENTIONS = {
    "flop": "a multiply-add is 2 FLOPs; element-wise ops, norms, softmax and short convolutions are excluded",
    "causal": "causal attention counts only the keys each query may attend to (t, min(t, window), its chunk, min(t, top-k) for sparse attention)",
    "mla": "MLA is counted in its naive form: K and V decompressed once per token",
    "moe": "top_k routed experts per token; shared experts fully; router d_model x n_experts",
    "lm_head": "the LM head runs for every prefill token unless --last-token-logits",
    "linear_attention": "prefill: chunked algorithm, chunk 64 (delta rule: 3c^2 dk + 2c^2 dv + 3c dk dv per chunk and head, triangular solve excluded; SSD: c^2 N + c^2 P + 2c N P); decode: recurrent step",
    "suffixes": "G = 1e9, T = 1e12 (decimal)",
    "decode": "one token at context ctx, i.e. the ctx-th token",
    "layer_extras": "Gemma 3n's per-layer inputs, AltUp (router twice, coefficients, the d x n^2 stream mix) and LAuReL are matrix products and counted; KV-sharing layers have no K/V projections",
}


@dataclass
class FlopCount:
    tokens: int
    by_component: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))

    @property
    def flops(self) -> int:
        return sum(self.by_component.values())


def attention_keys(a: AttentionIR, t: int) -> int:
    """Keys the t-th token (1-based) attends to in the main attention."""
    if a.window:
        return min(t, a.window_keys)
    if a.chunk:
        return (t - 1) % a.chunk + 1
    if a.indexer_topk:
        return min(t, a.indexer_topk)
    return t


def prefill_pairs(a: AttentionIR, S: int) -> int:
    """Sum over the S prefill tokens of the keys each attends to (closed forms, no loop over S)."""
    if a.window:
        w = min(a.window_keys, S)
        return w * (w + 1) // 2 + (S - w) * a.window_keys
    if a.chunk:
        full, rest = divmod(S, a.chunk)
        return full * a.chunk * (a.chunk + 1) // 2 + rest * (rest + 1) // 2
    if a.indexer_topk:
        k = min(a.indexer_topk, S)
        return k * (k + 1) // 2 + (S - k) * a.indexer_topk
    return S * (S + 1) // 2


def pair_macs(a: AttentionIR) -> int:
    return a.n_heads * (a.head_dim + a.v_head_dim)


def indexer_pair_macs(a: AttentionIR) -> int:
    return (a.indexer_heads or 0) * (a.indexer_head_dim or 0)


def _projection_macs(d: int, a: AttentionIR, kv_shared: bool = False) -> int:
    """Weights one token multiplies in the attention projections (norms, sinks and biases excluded);
    a layer that reuses another layer's KV (`kv_shared`) has no key/value projections."""
    if kv_shared:
        return _projection_macs(d, a) - d * a.n_kv_heads * (a.head_dim + a.v_head_dim)
    total = attention_params(d, a)
    # subtract what is not a matrix: QK-norm weights, sinks, biases, the MLA/indexer norms
    if a.qk_norm == "per_head":
        total -= 2 * a.head_dim
    elif a.qk_norm == "whole":
        total -= (a.n_heads + a.n_kv_heads) * a.head_dim
    if a.sinks:
        total -= a.n_heads
    if a.is_mla:
        total -= (a.q_lora_rank or 0) + a.kv_lora_rank
    else:
        q_out = a.n_heads * a.head_dim * (2 if a.output_gate == "elementwise" else 1)
        if a.qkv_bias:
            total -= q_out + a.n_kv_heads * (a.head_dim + a.v_head_dim)
    if a.o_bias:
        total -= d
    if a.indexer_heads:
        total -= 2 * a.indexer_head_dim
    return total


def _matrix_macs_ffn(d: int, f) -> int:
    bias = (2 * f.d_ff if f.gated else f.d_ff) + d if f.bias else 0
    return ffn_params(d, f) - bias


def _delta_rule_chunk(c: int, dk: int, dv: int) -> int:
    return 3 * c * c * dk + 2 * c * c * dv + 3 * c * dk * dv


def _ssd_chunk(c: int, n: int, p: int) -> int:
    return c * c * n + c * c * p + 2 * c * n * p


def _chunks(S: int):
    full, rest = divmod(S, CHUNK)
    return [(CHUNK, full)] + ([(rest, 1)] if rest else [])


def layer_macs(ir: ModelIR, layer: LayerIR, S: int, ctx: int) -> dict[str, int]:
    """Multiply-adds of one layer for S new tokens (prefill from 0 when S > 1, else one decode step at ctx)."""
    d = ir.d_model
    out = dict.fromkeys(COMPONENTS, 0)
    decode = S == 1
    a = layer.attention
    if a is not None:
        out["attention_proj"] = S * _projection_macs(d, a, layer.kv_shared_from is not None)
        if decode:
            out["attention_scores"] = attention_keys(a, ctx) * pair_macs(a) + ctx * indexer_pair_macs(a)
        else:
            out["attention_scores"] = prefill_pairs(a, S) * pair_macs(a) + S * (S + 1) // 2 * indexer_pair_macs(a)
    elif layer.gated_deltanet is not None:
        g = layer.gated_deltanet
        out["linear_mixer_proj"] = S * (gated_deltanet_params(d, g) - _gdn_non_matrix(g))
        if decode:
            out["linear_recurrence"] = g.n_v_heads * 3 * g.head_k_dim * g.head_v_dim
        else:
            out["linear_recurrence"] = g.n_v_heads * sum(
                n * _delta_rule_chunk(c, g.head_k_dim, g.head_v_dim) for c, n in _chunks(S)
            )
    elif layer.kda is not None:
        k = layer.kda
        inner = k.n_heads * k.head_dim
        non_matrix = 3 * inner * k.conv_kernel + inner + k.n_heads + k.head_dim
        out["linear_mixer_proj"] = S * (kda_params(d, k) - non_matrix)
        if decode:
            out["linear_recurrence"] = k.n_heads * 3 * k.head_dim * k.head_dim
        else:
            out["linear_recurrence"] = k.n_heads * sum(
                n * _delta_rule_chunk(c, k.head_dim, k.head_dim) for c, n in _chunks(S)
            )
    elif layer.mamba2 is not None:
        m = layer.mamba2
        inner = m.n_heads * m.head_dim
        conv_dim = inner + 2 * m.n_groups * m.state_dim
        non_matrix = conv_dim * m.conv_kernel + (conv_dim if m.conv_bias else 0) + 3 * m.n_heads + inner
        if m.bias:
            non_matrix += 2 * inner + 2 * m.n_groups * m.state_dim + m.n_heads + d
        out["linear_mixer_proj"] = S * (mamba2_params(d, m) - non_matrix)
        if decode:
            out["linear_recurrence"] = m.n_heads * 2 * m.state_dim * m.head_dim
        else:
            out["linear_recurrence"] = m.n_heads * sum(
                n * _ssd_chunk(c, m.state_dim, m.head_dim) for c, n in _chunks(S)
            )
    if layer.dense is not None:
        out["dense_ffn"] = S * _matrix_macs_ffn(d, layer.dense)
    elif layer.moe is not None:
        moe = layer.moe
        out["router"] = S * d * moe.n_experts
        out["routed_experts"] = S * moe.top_k * _matrix_macs_ffn(d, moe.expert)
        if moe.shared is not None:
            out["shared_experts"] = S * (_matrix_macs_ffn(d, moe.shared) + (d if moe.shared_gate else 0))
    if ir.per_layer_embedding_dim:
        out["per_layer_input"] = S * 2 * d * ir.per_layer_embedding_dim
    if ir.altup_inputs:
        n = ir.altup_inputs
        out["altup"] = S * (2 * d * n + n**3 + n**2 + d * n * n)
    if ir.laurel_rank:
        out["laurel"] = S * 2 * d * ir.laurel_rank
    return out


def _gdn_non_matrix(g) -> int:
    conv_dim = 2 * g.n_k_heads * g.head_k_dim + g.n_v_heads * g.head_v_dim
    return conv_dim * g.conv_kernel + 2 * g.n_v_heads + g.head_v_dim


def _count(ir: ModelIR, S: int, ctx: int, lm_tokens: int) -> FlopCount:
    result = FlopCount(tokens=S)
    for layer in ir.layers:
        for k, v in layer_macs(ir, layer, S, ctx).items():
            result.by_component[k] += 2 * v
    result.by_component["lm_head"] = 2 * lm_tokens * ir.d_model * ir.vocab_size
    if ir.per_layer_embedding_dim:  # the embedding projected to every layer's per-layer input
        result.by_component["per_layer_input"] += 2 * S * ir.d_model * ir.n_layers * ir.per_layer_embedding_dim
    if ir.altup_inputs:  # extra streams projected in at the start and out at the end
        result.by_component["altup"] += 2 * S * 2 * (ir.altup_inputs - 1) * ir.d_model**2
    return result


def prefill(ir: ModelIR, seq: int, batch: int = 1, last_token_logits: bool = False) -> FlopCount:
    """FLOPs of a prefill of `seq` tokens (per batch x seq tokens)."""
    one = _count(ir, seq, seq, 1 if last_token_logits else seq)
    return FlopCount(tokens=batch * seq, by_component={k: v * batch for k, v in one.by_component.items()})


def decode(ir: ModelIR, ctx: int, batch: int = 1) -> FlopCount:
    """FLOPs of one decode step: the ctx-th token of each of `batch` sequences."""
    one = _count(ir, 1, ctx, 1)
    return FlopCount(tokens=batch, by_component={k: v * batch for k, v in one.by_component.items()})


def traced_excess(ir: ModelIR, seq: int, batch: int = 1) -> int:
    """FLOPs a traced prefill counts beyond the causal ones: the traced forward computes the full
    S x S square of scores and values (S x min(S, top-k) for sparse attention, plus its indexer's
    S x S), while `prefill` counts only the keys each query may attend to."""
    excess = 0
    for layer in ir.layers:
        a = layer.attention
        if a is None:
            continue
        traced_keys = min(seq, a.indexer_topk) if a.indexer_topk else seq
        excess += (seq * traced_keys - prefill_pairs(a, seq)) * pair_macs(a)
        excess += (seq * seq - seq * (seq + 1) // 2) * indexer_pair_macs(a)
    return 2 * batch * excess
