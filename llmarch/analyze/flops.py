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
- DeepSeek V4: query t (1-based) sees min(t, window) window keys plus the t // ratio compressed entries
  whose windows have closed (csa: at most top-k of them; its indexer, index heads x index head dim per
  pair, scores them all), n_heads x 2 head_dim per pair (the keys are the values); the compressors'
  softmax pooling and the hyper-connections' Sinkhorn iterations are element-wise and excluded; each
  hyper-connection costs its projection, (n + 2) n x n d, and the collapse, stream mix and expansion,
  (n^2 + 2n) d, per token; the final head n x n d + n d once.
- Decode: one token at context `ctx` (it is the ctx-th token).
The traced counts of `flop_counters.py` must agree with these after `normalise`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import LayerIR, ModelIR
from ..mechanisms.layers import layer_mechanisms, model_mechanisms
from ..mechanisms.layers import table_conventions as mechanism_table_conventions

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
    "hyper_connections",
    "ngram_projection",  # LongCat's n-gram rows projected back to d_model (the lookups are not products)
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
    "compressed": "DeepSeek V4: query t sees min(t, window) keys plus t // ratio compressed entries (csa: at most top-k, its indexer scoring all), n_heads x 2 head_dim per pair (K = V); the compressors' softmax pooling is element-wise; hyper-connections cost (n + 2) n x n d (their projection) + (n^2 + 2n) d (collapse, mix, expand) per token and sublayer",
}


def table_conventions(irs: list[ModelIR]) -> dict[str, str]:
    """The lines a human table of `irs` prints (a mechanism's own line only where a model holds it)."""
    return mechanism_table_conventions(CONVENTIONS, list(irs))


@dataclass
class FlopCount:
    tokens: int
    by_component: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))

    @property
    def flops(self) -> int:
        return sum(self.by_component.values())


def layer_macs(ir: ModelIR, layer: LayerIR, S: int, ctx: int) -> dict[str, int]:
    """Multiply-adds of one layer for S new tokens (prefill from 0 when S > 1, else one decode step at ctx):
    each mechanism's matrix entries times S, plus what its sequence costs (scores, recurrences)."""
    out = dict.fromkeys(COMPONENTS, 0)
    for mechanism in layer_mechanisms(ir, layer):
        for k, v in mechanism.token_macs(ir.d_model).items():
            out[k] += S * v
        for k, v in mechanism.sequence_macs(S, ctx).items():
            out[k] += v
    return out


def _count(ir: ModelIR, S: int, ctx: int, lm_tokens: int) -> FlopCount:
    result = FlopCount(tokens=S)
    for layer, n in ir.layer_groups:  # equal layers cost the same: one of each, times how many
        for k, v in layer_macs(ir, layer, S, ctx).items():
            result.by_component[k] += 2 * n * v
    result.by_component["lm_head"] = 2 * lm_tokens * ir.d_model * ir.vocab_size
    for mechanism in model_mechanisms(ir):  # weights a token meets once, outside the layers
        for k, v in mechanism.model_token_macs(ir.d_model).items():
            result.by_component[k] += 2 * S * v
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
    excess = sum(m.traced_excess_macs(seq) for layer in ir.layers for m in layer_mechanisms(ir, layer))
    return 2 * batch * excess
