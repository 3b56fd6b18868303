"""The spec file format: one pydantic model per YAML block.

This is the single definition of every key a spec may hold (docs/spec-format.md
explains them; `llmarch schema` exports this as JSON Schema).  Everything is
strict: unknown keys, strings for numbers, floats for counts and booleans for
sizes are rejected, and every size has an upper bound far above any real model
so no input can make the builder run for minutes.

Validation of one block at a time lives here; rules that tie blocks together
(layer patterns against the layer count, windows against the context) live in
`resolve.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from ..kinds import (
    PARAMETER_COMPONENTS,
    AttentionLayerKind,
    AttentionVariant,
    FFNKind,
    KEqVCache,
    NormKind,
    NormPlacement,
    OutputGate,
    Position,
    QKNorm,
    ResidualKind,
)

# Upper bounds, documented in docs/spec-format.md ("Limits"): defined in `limits` (no pydantic there, so
# import-hf's families and verify read them without the schema), re-exported here
from ..limits import (
    MAX_ADJUSTMENTS,
    MAX_CONTEXT,
    MAX_D_FF,
    MAX_D_MODEL,
    MAX_ENTRIES,
    MAX_EXPERTS,
    MAX_HEAD_DIM,
    MAX_HEADS,
    MAX_LAYERS,
    MAX_TOTAL_PARAMS,
    MAX_VOCAB,
)


def _int(le: int, ge: int = 1, description: str | None = None):
    return Annotated[int, Field(strict=True, ge=ge, le=le, description=description)]


Count = _int(MAX_LAYERS)
Heads = _int(MAX_HEADS)
HeadDim = _int(MAX_HEAD_DIM)
Width = _int(MAX_D_FF)
# strict: `true` and "10000" are not numbers (an int is still a float)
Real = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Positive = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False)]


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RopeScaling(Block):
    """Context extension applied to RoPE; it changes no parameter count."""

    kind: Literal["linear", "dynamic", "yarn", "llama3", "longrope"]
    factor: Optional[Positive] = None
    original_context_length: Optional[_int(MAX_CONTEXT)] = None
    low_freq_factor: Optional[Positive] = None
    high_freq_factor: Optional[Positive] = None
    beta_fast: Optional[Positive] = None
    beta_slow: Optional[Positive] = None
    mscale: Optional[Positive] = None
    mscale_all_dim: Optional[Real] = None
    truncate: Optional[StrictBool] = None


class Rope(Block):
    theta: Positive = Field(description="RoPE base frequency")
    partial: Annotated[float, Field(strict=True, gt=0, le=1)] = Field(
        1.0, description="fraction of each head's q/k channels that are rotated (partial RoPE)"
    )
    frequency_fraction: Annotated[float, Field(strict=True, gt=0, le=1)] = Field(
        1.0,
        description="p-RoPE (Gemma 4's proportional RoPE): the fraction of the head's frequency pairs that rotate; "
        "the frequencies are the whole head's and the other pairs have frequency zero (no rotation), unlike "
        "`partial`, which rotates the first channels at frequencies of their own",
    )
    scaling: Optional[RopeScaling] = None


class Indexer(Block):
    """DeepSeek Sparse Attention's lightning indexer (DeepSeek V3.2)."""

    n_heads: Heads
    head_dim: HeadDim
    topk: _int(MAX_CONTEXT)
    layers: Optional[str] = Field(
        None,
        description="one letter per layer: F runs its own indexer, S reuses the top-k selection of the "
        "nearest earlier F layer and holds no indexer (GLM-5's shared-indexer layers); default: every layer F",
    )


class KEqV(Block):
    """Attention whose values are its keys: no V projection (Gemma 4's attention_k_eq_v, DeepSeek V4)."""

    cache: KEqVCache = Field(
        "k_and_v",
        description="what the cache stores per KV head: k_and_v, keys and values apart (Gemma 4: they differ "
        "after the key's norm and RoPE); one, a single tensor serving as both (DeepSeek V4)",
    )


class Cca(Block):
    """ZAYA's compressed convolutional attention (CCA): q and k mixed over time by a depthwise then a
    grouped causal convolution (biased), half of each value head projected from the previous token, and a
    learned per-KV-head key temperature after the L2 QK-norm."""

    depthwise_kernel: _int(16) = Field(2, description="cca_time0: the depthwise convolution's taps")
    grouped_kernel: _int(16) = Field(2, description="cca_time1: the per-head grouped convolution's taps")


class Compress(Block):
    """DeepSeek V4's compressor: one cached entry pooled (softmax-gated, with a learned position bias, normed and
    rotated) from every `ratio` tokens; csa layers pool overlapping windows of 2 x ratio, hca layers disjoint ones."""

    ratio: Annotated[int, Field(strict=True, ge=2, le=MAX_CONTEXT)] = Field(
        description="tokens per compressed entry (DeepSeek V4: 4 on csa layers, 128 on hca layers)"
    )


class GroupedOutput(Block):
    """DeepSeek V4's grouped low-rank output projection: the heads in `groups` groups, each projected to `rank`
    on its own (a block-diagonal matrix), then all groups x rank mixed to d_model."""

    groups: Heads
    rank: _int(MAX_D_MODEL)


_ATTN_FIELDS_DOC = {
    "kind": "mha | gqa | mqa | mla | compressed (DeepSeek V4: q-LoRA, one K=V head, windows and compressed entries)",
    "n_heads": "query heads",
    "n_kv_heads": "key/value heads (mha: = n_heads, mqa: 1)",
    "head_dim": "query/key head dimension (default d_model / n_heads)",
    "v_head_dim": "value head dimension when it differs from head_dim",
}


class AttentionFields(Block):
    """Every attention key, all optional: used as-is for per-kind overrides."""

    kind: Optional[AttentionVariant] = Field(None, description=_ATTN_FIELDS_DOC["kind"])
    n_heads: Optional[Heads] = Field(None, description=_ATTN_FIELDS_DOC["n_heads"])
    n_kv_heads: Optional[Heads] = Field(None, description=_ATTN_FIELDS_DOC["n_kv_heads"])
    head_dim: Optional[HeadDim] = Field(None, description=_ATTN_FIELDS_DOC["head_dim"])
    v_head_dim: Optional[HeadDim] = Field(None, description=_ATTN_FIELDS_DOC["v_head_dim"])
    # MLA
    q_lora_rank: Optional[_int(MAX_D_MODEL)] = Field(
        None, description="MLA's (and DeepSeek V4's) query compression rank (null: none)"
    )
    kv_lora_rank: Optional[_int(MAX_D_MODEL)] = Field(None, description="MLA key/value latent rank")
    qk_nope_head_dim: Optional[HeadDim] = Field(None, description="MLA per-head q/k channels without RoPE")
    qk_rope_head_dim: Optional[HeadDim] = Field(None, description="MLA decoupled RoPE channels (shared key)")
    # details
    qk_norm: Optional[QKNorm] = Field(
        None,
        description="RMSNorm on q and k: per head (shared over heads), over the whole projection, "
        "or l2 (a weightless L2 norm, Llama 4)",
    )
    qkv_bias: Optional[StrictBool] = Field(None, description="bias on the q, k and v projections")
    o_bias: Optional[StrictBool] = Field(None, description="bias on the output projection")
    sinks: Optional[StrictBool] = Field(None, description="learned per-head attention-sink logits")
    output_gate: Optional[OutputGate] = Field(
        None, description="sigmoid gate on the attention output, from an extra query-side projection"
    )
    window: Optional[_int(MAX_CONTEXT)] = Field(
        None,
        description="sliding-window size in tokens (local layers): the keys one query attends, itself included "
        "(transformers' mask k > q - window), unless window_excludes_query",
    )
    window_excludes_query: Optional[StrictBool] = Field(
        None,
        description="the window counts earlier tokens only: a query attends `window` earlier tokens plus itself "
        "(MiMo-V2-Flash's sliding_window_size 128 = 129 keys, as its transformers config class states)",
    )
    chunk: Optional[_int(MAX_CONTEXT)] = Field(None, description="chunk size in tokens (chunked layers)")
    position: Optional[Position] = Field(
        None, description="rope; nope (no positional signal); absolute (learned positions added to the input)"
    )
    rope: Optional[Rope] = None
    indexer: Optional[Indexer] = None
    k_eq_v: Optional[KEqV] = Field(None, description="the values are the keys: no V projection")
    cca: Optional[Cca] = Field(None, description="compressed convolutional attention (ZAYA)")
    compress: Optional[Compress] = Field(None, description="compressed entries of the past (csa and hca layers)")
    grouped_output: Optional[GroupedOutput] = Field(
        None, description="grouped low-rank output projection (kind compressed)"
    )


class Attention(AttentionFields):
    """The attention of every attention layer, with per-kind overrides."""

    overrides: Optional[dict[AttentionLayerKind, AttentionFields]] = Field(
        None, description="per layer kind, keys that differ from the block above"
    )


class GatedDeltaNet(Block):
    """Gated DeltaNet (Qwen3-Next): fast-weight delta rule with a scalar gate per head."""

    n_k_heads: Heads
    n_v_heads: Heads
    head_k_dim: HeadDim
    head_v_dim: HeadDim
    conv_kernel: _int(64) = 4

    @model_validator(mode="after")
    def _check(self) -> "GatedDeltaNet":
        # each key head serves n_v_heads / n_k_heads value heads (grouped like GQA)
        if self.n_v_heads % self.n_k_heads:
            raise ValueError(f"n_v_heads ({self.n_v_heads}) is not a multiple of n_k_heads ({self.n_k_heads})")
        return self


class KimiDeltaAttention(Block):
    """Kimi Delta Attention (Kimi Linear): Gated DeltaNet with a channel-wise gate."""

    n_heads: Heads
    head_dim: HeadDim
    conv_kernel: _int(64) = 4


class LightningAttention(Block):
    """Lightning attention (Ling 2.5, Ling 2.6): linear attention with a fixed per-head decay (ALiBi
    slopes, a buffer), RoPE and QK-norm on its queries and keys, a grouped RMSNorm and a sigmoid output
    gate; as many key and value heads as query heads."""

    n_heads: Heads
    head_dim: HeadDim
    qk_norm: StrictBool = True
    qkv_bias: StrictBool = False
    out_bias: StrictBool = False
    norm_groups: Heads = Field(1, description="groups of the RMSNorm over the heads' output (group_norm_size)")

    @model_validator(mode="after")
    def _check(self) -> "LightningAttention":
        width = self.n_heads * self.head_dim
        if width % self.norm_groups:
            raise ValueError(f"n_heads x head_dim ({width}) is not a multiple of norm_groups ({self.norm_groups})")
        return self


class Mamba2(Block):
    n_heads: Heads
    head_dim: HeadDim
    state_dim: HeadDim
    n_groups: Heads = 1
    conv_kernel: _int(64) = 4
    bias: StrictBool = False
    conv_bias: StrictBool = True

    @model_validator(mode="after")
    def _check(self) -> "Mamba2":
        # each group's B and C serve n_heads / n_groups heads
        if self.n_heads % self.n_groups:
            raise ValueError(f"n_heads ({self.n_heads}) is not a multiple of n_groups ({self.n_groups})")
        return self


class MLSTM(Block):
    """xLSTM's mLSTM (xLSTM 7B): a matrix memory per head, C_t = f_t C_{t-1} + i_t v_t k_t^T, read by the
    query and normalised by n_t = f_t n_{t-1} + i_t k_t; scalar input and forget gates per head, a sigmoid
    output gate over the values, a per-head norm."""

    n_heads: Heads
    qk_dim: Width = Field(description="query/key width over all heads (d_model x qk_dim_factor)")
    v_dim: Width = Field(description="value width over all heads (d_model x v_dim_factor)")
    bias: StrictBool = Field(False, description="biases on q, k, v, the output gate, out_proj and the head norm")

    @model_validator(mode="after")
    def _check(self) -> "MLSTM":
        for key in ("qk_dim", "v_dim"):
            if getattr(self, key) % self.n_heads:
                raise ValueError(f"{key} ({getattr(self, key)}) is not a multiple of n_heads ({self.n_heads})")
        return self


class FFN(Block):
    kind: FFNKind = "swiglu"
    d_ff: Width
    bias: StrictBool = False


class RouterMLP(Block):
    """ZAYA's router: d_model -> hidden (biased), a normed two-layer GELU MLP, logits over the experts
    and one skip expert that computes nothing; its hidden state is carried to the next layer's router,
    scaled by a learned vector (every layer but the first)."""

    hidden: Width = Field(description="router_hidden_size")
    skip_expert: StrictBool = Field(True, description="one more routing class that runs no expert")
    carried_state: StrictBool = Field(True, description="the previous layer's router state, scaled, is added")


class MoE(Block):
    n_experts: _int(MAX_EXPERTS)
    top_k: _int(MAX_EXPERTS)
    d_expert: Width = Field(description="intermediate size of one routed expert")
    expert_kind: Optional[FFNKind] = Field(None, description="default: the dense FFN's kind")
    n_shared_experts: _int(MAX_EXPERTS, ge=0) = 0
    d_shared: Optional[Width] = Field(
        None, description="intermediate size of the shared-expert FFN (all shared experts together)"
    )
    shared_gate: StrictBool = Field(False, description="a learned sigmoid gate on the shared expert (Qwen)")
    router_bias: StrictBool = False
    expert_bias: StrictBool = False
    score_correction_bias: StrictBool = Field(
        False, description="DeepSeek's e_score_correction_bias: a buffer, not a parameter"
    )
    score_correction_parameter: StrictBool = Field(
        False,
        description="the same per-expert routing bias kept as a parameter, counted with the router (Laguna)",
    )
    zero_experts: _int(MAX_EXPERTS, ge=0) = Field(
        0,
        description="zero-computation (identity) experts the router may also choose (LongCat): router outputs, "
        "no weights; a token meets between 0 and top_k real experts",
    )
    shortcut: StrictBool = Field(
        False,
        description="LongCat's shortcut-connected MoE: the layer's dense FFN (`ffn:`) runs beside the experts "
        "on the same input, and the experts' output joins the residual one layer later",
    )
    router_mlp: Optional[RouterMLP] = Field(None, description="an MLP router instead of one linear map (ZAYA)")
    hash_layers: _int(MAX_LAYERS, ge=0) = Field(
        0,
        description="the first k MoE layers choose their experts from a frozen token -> experts table (a buffer of "
        "vocab_size x top_k, not a parameter) instead of the router's top-k; the router still weights them "
        "(DeepSeek V4's hash routing); those layers have no score correction bias",
    )
    router_scale: StrictBool = Field(
        False,
        description="the router reads its input through a weightless RMSNorm and a learned per-channel scale "
        "(Gemma 4's router.scale)",
    )
    per_expert_scale: StrictBool = Field(
        False, description="a learned scale per expert on the routing weights (Gemma 4's router.per_expert_scale)"
    )
    latent_dim: Optional[Width] = Field(
        None,
        description="latent MoE (Nemotron 3 Super's moe_latent_size): the routed experts run in a latent of this "
        "width, between a d_model -> latent_dim projection and a latent_dim -> d_model one that every token "
        "passes through; the router and the shared experts stay at d_model",
    )
    latent_bias: StrictBool = Field(False, description="biases on the two latent projections (Nemotron's mlp_bias)")

    @model_validator(mode="after")
    def _check(self) -> "MoE":
        if self.top_k > self.n_experts:
            raise ValueError(f"top_k ({self.top_k}) is larger than n_experts ({self.n_experts})")
        if self.n_shared_experts and self.d_shared is None:
            raise ValueError("n_shared_experts is set but d_shared (the shared experts' size) is not")
        if self.score_correction_bias and self.score_correction_parameter:
            raise ValueError(
                "score_correction_bias (a buffer) and score_correction_parameter (a parameter) are the same "
                "bias; set the one the checkpoint holds"
            )
        if self.latent_bias and self.latent_dim is None:
            raise ValueError("latent_bias is set but latent_dim is not; remove it or set latent_dim")
        if self.router_mlp is not None:
            # the MLP router holds its own biases and balancing biases; a linear router's flags would be counted nowhere
            for key in ("router_bias", "score_correction_bias", "score_correction_parameter", "hash_layers"):
                if getattr(self, key):
                    raise ValueError(f"{key} describes a linear router; router_mlp replaces it: remove {key}")
        if not self.n_shared_experts:
            # a shared-expert size or gate with no shared expert would be counted nowhere
            for key in ("d_shared", "shared_gate"):
                if getattr(self, key):
                    raise ValueError(f"{key} is set but n_shared_experts is 0; remove it or set n_shared_experts")
        return self


class Norm(Block):
    kind: NormKind = "rmsnorm"
    bias: StrictBool = False
    placement: NormPlacement = Field(
        "pre", description="pre: before each sublayer; post: after it, inside the residual; sandwich: both"
    )
    eps: Optional[Positive] = None
    layer_scalar: StrictBool = Field(
        False,
        description="each block's output is multiplied by a learned scalar that the checkpoint keeps as a buffer "
        "(Gemma 4's layer_scalar): one buffer element per layer, reported under buffers, not parameters",
    )
    depth_scaled: StrictBool = Field(
        False,
        description="the norms after each sublayer start with gains of about 1/sqrt(n_layers) (Trinity's "
        "depth-scaled sandwich norm): an initialisation, no parameter; `show` and the diagram name it",
    )

    @model_validator(mode="after")
    def _check(self) -> "Norm":
        if self.depth_scaled and self.placement == "pre":
            raise ValueError("depth_scaled scales the norms after each sublayer, and placement `pre` has none")
        return self


class BlockLayout(Block):
    """How a layer's mixer and FFN meet the residual stream."""

    residual: ResidualKind = Field(
        "sequential",
        description="sequential: x + mixer(norm(x)), then + ffn(norm(.)); parallel: x + mixer(norm(x)) + "
        "ffn(norm(x)), one norm read by both (Cohere's Command R / Command A / Tiny Aya block)",
    )


class Layers(Block):
    mixer: Union[Annotated[str, Field(min_length=1, max_length=MAX_LAYERS)], list[str]] = Field(
        "G",
        description="pattern of mixer letters tiled from layer 0, or a per-layer list of kind names",
    )
    ffn: Optional[Union[Annotated[str, Field(min_length=1, max_length=MAX_LAYERS)], list[str]]] = Field(
        None,
        description="pattern of FFN letters (D dense, E experts, P the dense FFN and the experts in parallel, "
        "their outputs summed (Gemma 4 26B-A4B), - none); default E with moe, else D",
    )
    dense_prefix: _int(MAX_LAYERS, ge=0) = Field(0, description="the first k layers use the dense FFN")


class PerLayerEmbeddings(Block):
    """Gemma 3n: a small embedding per layer, looked up by token id and mixed with a projection of
    the token embedding; each layer gates it in (d_model -> dim), projects it back and norms it."""

    dim: HeadDim
    vocab_size: Optional[_int(MAX_VOCAB)] = Field(None, description="rows of the per-layer table (default vocab_size)")


class NgramEmbedding(Block):
    """LongCat's N-gram embeddings: splits x (neighbors - 1) hashed tables of the n-grams ending at each
    token (orders 2..neighbors), table i of vocab_ratio x vocab_size + 2i + 1 rows and d_model / tables
    columns, each projected back to d_model and added to the token embedding."""

    vocab_ratio: _int(1000)
    neighbors: _int(16, ge=2) = Field(description="the longest n-gram (LongCat's emb_neighbor_num)")
    splits: _int(64) = Field(description="hashed tables per n-gram order (LongCat's emb_split_num)")


class AltUp(Block):
    """Gemma 3n's Alternating Updates: n_inputs copies of the residual stream; each layer runs on one and
    predicts/corrects the others with small learned coefficients."""

    n_inputs: _int(16, ge=2)


class Laurel(Block):
    """Gemma 3n's LAuReL: a low-rank (d_model -> rank -> d_model) learned residual beside attention."""

    rank: HeadDim


class HyperConnections(Block):
    """Manifold-constrained hyper-connections (DeepSeek V4): the residual is n_streams copies of d_model; before
    each attention and FFN a learned projection of the flattened streams gives the weights that collapse them
    into the sublayer's input, expand its output back, and mix the streams (a Sinkhorn-normalised matrix)."""

    n_streams: _int(16, ge=2)
    sinkhorn_iters: _int(1_000) = 20
    eps: Optional[Positive] = None


class MTP(Block):
    n_modules: _int(16)
    ffn: Literal["dense", "moe"] = "moe"
    attention: Literal["global", "local", "csa", "hca"] = Field(
        "global", description="the attention kind of the MTP layer"
    )
    stores_embedding: StrictBool = Field(
        False, description="the checkpoint stores a copy of the token embedding per module"
    )
    stores_head: StrictBool = Field(False, description="the checkpoint stores a copy of the LM head per module")


WeightFormat = Literal["fp32", "bf16", "fp16", "fp8", "fp8_block128", "int8", "mxfp4", "int4_g32", "int4_g128"]
Component = Literal[PARAMETER_COMPONENTS]  # the parameter components (kinds.py)


class Weights(Block):
    dtype: WeightFormat = "bf16"
    overrides: Optional[dict[Component, WeightFormat]] = None


class Adjustment(Block):
    what: str
    kind: Literal["fp8_block_scales", "vision_tower", "other"] = Field(
        "other", description="how the tests check `params`: fp8_block_scales and vision_tower are recomputed"
    )
    params: _int(MAX_TOTAL_PARAMS, ge=-MAX_TOTAL_PARAMS)
    source: Optional[str] = None


class Reference(Block):
    total: Optional[str] = Field(None, description='published total, e.g. "671B", "116.83B", "1T"')
    active: Optional[str] = None
    convention: Literal["all", "no_input_embedding", "no_embeddings"] = "all"
    active_convention: Optional[Literal["all", "no_input_embedding", "no_embeddings"]] = Field(
        None, description="the active figure's convention when it differs from the total's"
    )
    rounding: Literal["nearest", "down"] = Field(
        "nearest", description="how the publisher rounded: to the nearest last digit, or down (truncated, as Meta does)"
    )
    includes_mtp: StrictBool = Field(False, description="the published figure includes the MTP modules")
    adjustments: list[Adjustment] = Field(
        default_factory=list, max_length=MAX_ADJUSTMENTS, description="parts outside llmarch's model"
    )
    kv_per_token: Optional[str] = Field(
        None,
        description="published KV cache per token at bf16 over all attention layers, the LLM Architecture Gallery's "
        'convention (see README, Conventions), e.g. "68.6 KiB"',
    )
    kv_per_token_config: Optional[str] = Field(
        None,
        description="llmarch's figure from the config where it disagrees with kv_per_token, to the same "
        "precision; `note` names the config values that decide it",
    )
    source: str
    note: Optional[str] = None


class Budgets(Block):
    """Ceilings checked by `llmarch check` (see budgets.py for the units)."""

    max_total: Optional[str] = Field(None, description='e.g. "8B"')
    max_active: Optional[str] = Field(None, description='e.g. "2B"')
    max_kv: Optional[str] = Field(None, description='bytes at a context, e.g. "4GiB@128k"')
    max_prefill_flops_per_token: Optional[str] = Field(None, description='e.g. "20G@4096"')
    max_decode_flops_per_token: Optional[str] = Field(None, description='e.g. "20G@32k"')


class Spec(Block):
    # metadata
    extends: Optional[str] = None
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", max_length=64)]
    display_name: Optional[str] = None
    family: Optional[str] = None
    release_date: Optional[str] = None
    aliases: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$", max_length=64)]] = Field(
        default_factory=list, max_length=MAX_ENTRIES
    )
    sources: dict[str, str] = Field(default_factory=dict, max_length=MAX_ENTRIES)
    notes: Optional[str] = None
    reference: Optional[list[Reference]] = Field(None, max_length=MAX_ENTRIES)
    # shape
    vocab_size: _int(MAX_VOCAB)
    d_model: _int(MAX_D_MODEL)
    n_layers: Count
    context_length: _int(MAX_CONTEXT)
    tie_embeddings: StrictBool = False
    learned_positions: Optional[_int(MAX_CONTEXT)] = Field(
        None, description="size of a learned absolute position table"
    )
    per_layer_embeddings: Optional[PerLayerEmbeddings] = None
    altup: Optional[AltUp] = None
    ngram_embedding: Optional[NgramEmbedding] = None
    laurel: Optional[Laurel] = None
    residual_scaling: StrictBool = Field(
        False,
        description="ZAYA's learned residual scaling: each residual add is (out + b) * s + (x + c) * r, four "
        "vectors per sublayer, and the embedding is scaled and shifted once",
    )
    hyper_connections: Optional[HyperConnections] = None
    kv_shared_layers: _int(MAX_LAYERS, ge=0) = Field(
        0, description="the last k layers reuse the KV of the last earlier layer of their kind (Gemma 3n)"
    )
    kv_shared_d_ff: Optional[Width] = Field(
        None,
        description="the dense FFN's width on the KV-sharing layers when it differs from ffn.d_ff (Gemma 4 E2B's "
        "use_double_wide_mlp: twice intermediate_size)",
    )
    norm: Norm = Norm()
    block: BlockLayout = BlockLayout()
    attention: Optional[Attention] = None
    gated_deltanet: Optional[GatedDeltaNet] = None
    kda: Optional[KimiDeltaAttention] = None
    mamba2: Optional[Mamba2] = None
    lightning: Optional[LightningAttention] = None
    mlstm: Optional[MLSTM] = None
    ffn: Optional[FFN] = None
    moe: Optional[MoE] = None
    layers: Layers = Layers()
    mtp: Optional[MTP] = None
    weights: Weights = Weights()
    budgets: Optional[Budgets] = None
