"""Parameter counts in closed form over the IR (no torch).

Conventions (also in `conventions.py`, printed under every table):
- `total` counts every parameter once; a tied embedding/LM-head matrix once.
- `embedding` = the lookup tables: token, learned-position and per-layer embeddings.
- `active` = the parameters one token multiplies: everything but the lookup
  tables, routed experts scaled by top_k / n_experts, the LM head (a tied
  matrix counts here, once, as the LM head).  MTP modules are excluded.
- `active_incl_embeddings` = active + the lookup tables (a tied matrix still once).
- Buffers such as DeepSeek's `e_score_correction_bias` are not parameters (as in
  transformers); they are reported separately under `buffers`.
The module walk in `params_module.py` must agree with this file exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from .ir import FFNIR, AttentionIR, GatedDeltaNetIR, KdaIR, LayerIR, Mamba2IR, ModelIR, MoEIR

COMPONENTS = (
    "token_embedding",
    "position_embedding",
    "per_layer_embedding",
    "attention",
    "linear_mixer",
    "dense_ffn",
    "routed_experts",
    "shared_experts",
    "router",
    "per_layer_input",
    "altup",
    "laurel",
    "norms",
    "lm_head",
)
LOOKUP_COMPONENTS = ("token_embedding", "position_embedding", "per_layer_embedding")


@dataclass
class ParamCount:
    by_component: dict[str, int]
    active_by_component: dict[str, int]
    mtp: int = 0
    buffers: int = 0
    tied: bool = False

    @property
    def total(self) -> int:
        return sum(self.by_component.values())

    @property
    def embedding(self) -> int:
        return sum(self.by_component[c] for c in LOOKUP_COMPONENTS)

    @property
    def non_embedding(self) -> int:
        return self.total - self.embedding

    @property
    def active(self) -> int:
        return sum(self.active_by_component.values())

    @property
    def active_incl_embeddings(self) -> int:
        lookup = self.embedding
        if self.tied:  # the tied matrix is already in `active`, as the LM head
            lookup -= self.by_component["token_embedding"]
        return self.active + lookup

    def as_dict(self) -> dict:
        return {
            "total": self.total,
            "active": self.active,
            "active_incl_embeddings": self.active_incl_embeddings,
            "embedding": self.embedding,
            "non_embedding": self.non_embedding,
            "by_component": dict(self.by_component),
            "active_by_component": dict(self.active_by_component),
            "mtp": self.mtp,
            "buffers": self.buffers,
            "tied_embeddings": self.tied,
        }


def linear(d_in: int, d_out: int, bias: bool = False) -> int:
    return d_in * d_out + (d_out if bias else 0)


def norm_params(ir: ModelIR, dim: int) -> int:
    return dim * (2 if ir.norm.bias else 1)  # weight, and a bias when the spec asks for one (any norm kind)


def ffn_params(d: int, f: FFNIR) -> int:
    if f.gated:  # gate and up projections, then down
        return 2 * linear(d, f.d_ff, f.bias) + linear(f.d_ff, d, f.bias)
    return linear(d, f.d_ff, f.bias) + linear(f.d_ff, d, f.bias)


def kv_projection_params(d: int, a: AttentionIR) -> int:
    """The key/value projections and the key norm: what a layer that reuses another's KV lacks."""
    params = linear(d, a.n_kv_heads * a.head_dim, a.qkv_bias) + linear(d, a.n_kv_heads * a.v_head_dim, a.qkv_bias)
    if a.qk_norm == "per_head":
        params += a.head_dim
    elif a.qk_norm == "whole":
        params += a.n_kv_heads * a.head_dim
    return params


def attention_params(d: int, a: AttentionIR, kv_shared: bool = False) -> int:
    """Projections, QK-norms, sinks and the sparse-attention indexer of one layer; a layer that
    reuses another layer's KV (`kv_shared`) has no key/value projections or key norm."""
    if a.is_mla:
        q_out = a.n_heads * a.head_dim
        if a.q_lora_rank:
            q = linear(d, a.q_lora_rank) + a.q_lora_rank + linear(a.q_lora_rank, q_out)  # + q_a_layernorm
        else:
            q = linear(d, q_out)
        kv = (
            linear(d, a.kv_lora_rank + a.qk_rope_head_dim)  # latent + shared rope key
            + a.kv_lora_rank  # kv_a_layernorm
            + linear(a.kv_lora_rank, a.n_heads * (a.qk_nope_head_dim + a.v_head_dim))
        )
        out = linear(a.n_heads * a.v_head_dim, d, a.o_bias)
        total = q + kv + out
    else:
        q_out = a.n_heads * a.head_dim
        if a.output_gate == "elementwise":
            q_out *= 2  # the gate comes out of the query projection
        total = (
            linear(d, q_out, a.qkv_bias)
            + linear(d, a.n_kv_heads * a.head_dim, a.qkv_bias)
            + linear(d, a.n_kv_heads * a.v_head_dim, a.qkv_bias)
            + linear(a.n_heads * a.v_head_dim, d, a.o_bias)
        )
        if a.output_gate == "headwise":
            total += linear(d, a.n_heads)
    if a.qk_norm == "per_head":
        total += 2 * a.head_dim
    elif a.qk_norm == "whole":
        total += (a.n_heads + a.n_kv_heads) * a.head_dim
    if a.sinks:
        total += a.n_heads
    if a.indexer_heads:
        # DeepSeek V3.2 lightning indexer: q from the query latent, one shared key, a LayerNorm on it, head weights
        q_in = a.q_lora_rank or d
        total += (
            linear(q_in, a.indexer_heads * a.indexer_head_dim)
            + linear(d, a.indexer_head_dim)
            + 2 * a.indexer_head_dim
            + linear(d, a.indexer_heads)
        )
    if kv_shared:
        total -= kv_projection_params(d, a)
    return total


def gated_deltanet_params(d: int, g: GatedDeltaNetIR) -> int:
    key_dim = g.n_k_heads * g.head_k_dim
    value_dim = g.n_v_heads * g.head_v_dim
    conv_dim = 2 * key_dim + value_dim
    return (
        linear(d, 2 * key_dim + 2 * value_dim)  # q, k, v and the output-gate z
        + linear(d, 2 * g.n_v_heads)  # beta and the decay input a
        + conv_dim * g.conv_kernel  # depthwise short convolution, no bias
        + 2 * g.n_v_heads  # dt_bias and A_log
        + g.head_v_dim  # gated RMSNorm over each head
        + linear(value_dim, d)
    )


def kda_params(d: int, k: KdaIR) -> int:
    inner = k.n_heads * k.head_dim
    return (
        3 * linear(d, inner)  # q, k, v
        + 3 * inner * k.conv_kernel  # a short depthwise conv on each of q, k, v, no bias
        + inner
        + k.n_heads  # channel-wise decay: dt_bias per channel, A_log per head
        + linear(d, k.head_dim)
        + linear(k.head_dim, inner)  # low-rank forget-gate projection
        + linear(d, k.n_heads)  # beta
        + linear(d, k.head_dim)
        + linear(k.head_dim, inner)  # low-rank output-gate projection
        + k.head_dim  # gated RMSNorm over each head
        + linear(inner, d)
    )


def mamba2_params(d: int, m: Mamba2IR) -> int:
    inner = m.n_heads * m.head_dim
    conv_dim = inner + 2 * m.n_groups * m.state_dim  # x, B and C go through the short convolution
    return (
        linear(d, 2 * inner + 2 * m.n_groups * m.state_dim + m.n_heads, m.bias)  # z, x, B, C, dt
        + conv_dim * m.conv_kernel
        + (conv_dim if m.conv_bias else 0)  # depthwise conv
        + 3 * m.n_heads  # dt_bias, A_log, D
        + inner  # gated RMSNorm
        + linear(inner, d, m.bias)
    )


def moe_params(d: int, m: MoEIR) -> dict[str, int]:
    out = {
        "router": linear(d, m.n_experts, m.router_bias) + (m.n_experts if m.score_correction_parameter else 0),
        "routed_experts": m.n_experts * ffn_params(d, m.expert),
        "shared_experts": 0,
    }
    if m.shared is not None:
        out["shared_experts"] = ffn_params(d, m.shared) + (linear(d, 1) if m.shared_gate else 0)
    return out


def altup_layer_params(d: int, n: int) -> int:
    """One layer's AltUp: the router (d -> n), prediction (n -> n x n) and correction (n -> n)
    coefficients and the output scale; its router norm is counted with the norms."""
    return linear(d, n) + linear(n, n * n) + linear(n, n) + d


def layer_params(ir: ModelIR, layer: LayerIR) -> dict[str, int]:
    """Parameters of one layer, by component (norms included)."""
    d = ir.d_model
    out = dict.fromkeys(
        (
            "attention",
            "linear_mixer",
            "dense_ffn",
            "routed_experts",
            "shared_experts",
            "router",
            "per_layer_input",
            "altup",
            "laurel",
            "norms",
        ),
        0,
    )
    sublayers = 0
    extra_norms = 0
    if layer.attention is not None:
        out["attention"] = attention_params(d, layer.attention, kv_shared=layer.kv_shared_from is not None)
        sublayers += 1
    elif layer.gated_deltanet is not None:
        out["linear_mixer"] = gated_deltanet_params(d, layer.gated_deltanet)
        sublayers += 1
    elif layer.kda is not None:
        out["linear_mixer"] = kda_params(d, layer.kda)
        sublayers += 1
    elif layer.mamba2 is not None:
        out["linear_mixer"] = mamba2_params(d, layer.mamba2)
        sublayers += 1
    if layer.dense is not None:
        out["dense_ffn"] = ffn_params(d, layer.dense)
        sublayers += 1
    elif layer.moe is not None:
        out.update(moe_params(d, layer.moe))
        sublayers += 1
    if ir.per_layer_embedding_dim:  # gate (d -> dim) and projection back (dim -> d), then a norm
        out["per_layer_input"] = 2 * linear(d, ir.per_layer_embedding_dim)
        extra_norms += 1
    if ir.altup_inputs:
        out["altup"] = altup_layer_params(d, ir.altup_inputs)
        extra_norms += 1  # router norm
    if ir.laurel_rank:
        out["laurel"] = 2 * linear(d, ir.laurel_rank)
        extra_norms += 1
    per_sublayer = 2 if ir.norm.placement == "sandwich" else 1
    out["norms"] = (sublayers * per_sublayer + extra_norms) * norm_params(ir, d)
    return out


def layer_active(layer: LayerIR, params: dict[str, int]) -> dict[str, int]:
    active = dict(params)
    if layer.moe is not None:
        active["routed_experts"] = params["routed_experts"] // layer.moe.n_experts * layer.moe.top_k
    return active


def mtp_params(ir: ModelIR) -> int:
    """One MTP module: two input norms, the 2d -> d projection, a layer, a final norm, stored copies."""
    if ir.mtp is None:
        return 0
    d = ir.d_model
    per_module = (
        2 * norm_params(ir, d)  # enorm, hnorm
        + linear(2 * d, d)  # eh_proj
        + sum(layer_params(ir, ir.mtp.layer).values())
        + norm_params(ir, d)  # shared_head.norm
    )
    if ir.mtp.stores_embedding:
        per_module += ir.vocab_size * d
    if ir.mtp.stores_head:
        per_module += ir.vocab_size * d
    return ir.mtp.n_modules * per_module


def count_params(ir: ModelIR) -> ParamCount:
    d = ir.d_model
    total = dict.fromkeys(COMPONENTS, 0)
    active = dict.fromkeys(COMPONENTS, 0)
    buffers = 0
    total["token_embedding"] = ir.vocab_size * d
    if ir.learned_positions:
        total["position_embedding"] = ir.learned_positions * d
    if ir.per_layer_embedding_dim:
        ple_width = ir.n_layers * ir.per_layer_embedding_dim
        total["per_layer_embedding"] = ir.per_layer_embedding_vocab * ple_width
        # the token embedding projected to every layer's slot (d -> layers x dim), then a norm over dim
        total["per_layer_input"] = active["per_layer_input"] = linear(d, ple_width)
        total["norms"] = active["norms"] = norm_params(ir, ir.per_layer_embedding_dim)
    if ir.altup_inputs:
        # the extra streams are projected from the embedding at the start and back at the end
        total["altup"] = active["altup"] = 2 * (ir.altup_inputs - 1) * linear(d, d)
    for layer in ir.layers:
        p = layer_params(ir, layer)
        for k, v in layer_active(layer, p).items():
            active[k] += v
        for k, v in p.items():
            total[k] += v
        if layer.moe is not None and layer.moe.score_correction_bias:
            buffers += layer.moe.n_experts
    final_norm = norm_params(ir, d)
    total["norms"] += final_norm
    active["norms"] += final_norm
    if ir.tie_embeddings:
        active["lm_head"] = total["token_embedding"]
    else:
        total["lm_head"] = ir.vocab_size * d
        active["lm_head"] = total["lm_head"]
    return ParamCount(
        by_component=total, active_by_component=active, mtp=mtp_params(ir), buffers=buffers, tied=ir.tie_embeddings
    )
