"""The intermediate representation: a frozen, fully resolved, per-layer model.

Patterns are expanded, defaults applied and cross-block rules checked before an
IR exists (see `resolve.py`), so builders and analyzers read values, never
re-derive them, and never look at a model's name.  No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Optional, Union

from .kinds import GATED_FFN_KINDS


@dataclass(frozen=True)
class RopeIR:
    theta: float
    partial: float = 1.0
    frequency_fraction: float = 1.0  # p-RoPE: the head's frequency pairs that rotate, the rest at frequency zero
    scaling: Optional[str] = None  # e.g. "yarn x40 from 4096"


@dataclass(frozen=True)
class AttentionIR:
    kind: str  # "mha" | "gqa" | "mqa" | "mla"
    n_heads: int
    n_kv_heads: int
    head_dim: int  # query/key channels per head (MLA: nope + rope)
    v_head_dim: int
    qk_norm: str = "none"  # "none" | "per_head" | "whole"
    qkv_bias: bool = False
    o_bias: bool = False
    sinks: bool = False
    output_gate: str = "none"  # "none" | "elementwise" | "headwise"
    window: Optional[int] = None  # as the config states it; see window_keys
    window_excludes_query: bool = False
    chunk: Optional[int] = None
    position: str = "rope"  # "rope" | "nope" | "absolute"
    rope: Optional[RopeIR] = None
    # MLA only
    q_lora_rank: Optional[int] = None
    kv_lora_rank: Optional[int] = None
    qk_nope_head_dim: Optional[int] = None
    qk_rope_head_dim: Optional[int] = None
    # DeepSeek sparse attention indexer
    indexer_heads: Optional[int] = None
    indexer_head_dim: Optional[int] = None
    indexer_topk: Optional[int] = None
    # values are the keys (no V projection): what the cache stores, "k_and_v" or "one" tensor
    k_eq_v: Optional[str] = None
    # compressed convolutional attention (ZAYA): the depthwise and grouped convolutions' taps
    cca_kernels: Optional[tuple[int, int]] = None
    # DeepSeek V4 (kind "compressed"): one compressed entry per `compress_ratio` tokens, pooled over overlapping
    # windows of 2 x ratio when `compress_overlap` (csa layers); the grouped low-rank output projection
    compress_ratio: Optional[int] = None
    compress_overlap: bool = False
    o_groups: Optional[int] = None
    o_lora_rank: Optional[int] = None

    @property
    def is_mla(self) -> bool:
        return self.kind == "mla"

    @property
    def window_keys(self) -> Optional[int]:
        """Keys one query attends on a sliding-window layer, itself included: what the cache holds."""
        if self.window is None:
            return None
        return self.window + 1 if self.window_excludes_query else self.window


@dataclass(frozen=True)
class GatedDeltaNetIR:
    n_k_heads: int
    n_v_heads: int
    head_k_dim: int
    head_v_dim: int
    conv_kernel: int


@dataclass(frozen=True)
class KdaIR:
    n_heads: int
    head_dim: int
    conv_kernel: int


@dataclass(frozen=True)
class LightningIR:
    n_heads: int  # query, key and value heads alike
    head_dim: int
    qk_norm: bool
    qkv_bias: bool
    out_bias: bool
    norm_groups: int


@dataclass(frozen=True)
class Mamba2IR:
    n_heads: int
    head_dim: int
    state_dim: int
    n_groups: int
    conv_kernel: int
    bias: bool
    conv_bias: bool


@dataclass(frozen=True)
class MlstmIR:
    n_heads: int
    qk_head_dim: int
    v_head_dim: int
    bias: bool


@dataclass(frozen=True)
class FFNIR:
    kind: str  # "swiglu" | "swiglu_clamped" | "geglu" | "gelu_mlp" | "relu2_mlp"
    d_ff: int
    bias: bool = False

    @property
    def gated(self) -> bool:
        return self.kind in GATED_FFN_KINDS


@dataclass(frozen=True)
class NgramEmbeddingIR:
    """LongCat's N-gram embeddings (see schema.NgramEmbedding)."""

    vocab_ratio: int
    neighbors: int
    splits: int

    @property
    def tables(self) -> int:
        return self.splits * (self.neighbors - 1)


@dataclass(frozen=True)
class MoEIR:
    n_experts: int
    top_k: int
    expert: FFNIR  # one routed expert
    n_shared_experts: int
    shared: Optional[FFNIR]  # all shared experts as one FFN
    shared_gate: bool
    router_bias: bool
    expert_bias: bool
    score_correction_bias: bool
    score_correction_parameter: bool = False  # Laguna keeps it as a parameter (requires_grad=False)
    router_hidden: Optional[int] = None  # ZAYA's MLP router: its width (None: one linear router)
    skip_expert: bool = False  # ZAYA: one more routing class that runs no expert
    router_carry: bool = False  # ZAYA: the previous layer's router state is added, scaled by a vector
    hash_table_rows: Optional[int] = None  # hash routing: a frozen token -> top_k experts table of this many rows
    router_scale: bool = False  # Gemma 4: a weightless norm and a learned per-channel scale on the router input
    per_expert_scale: bool = False  # Gemma 4: a learned scale per expert on the routing weights
    latent_dim: Optional[int] = None  # latent MoE: the routed experts' width in and out (Nemotron 3 Super)
    latent_bias: bool = False
    zero_experts: int = 0  # LongCat's identity experts: router outputs, no weights
    beside: Optional[FFNIR] = None  # LongCat's shortcut MoE: the layer's dense FFN, on the same input


@dataclass(frozen=True)
class ParallelFFNIR:
    """A dense MLP and a MoE reading the same input, their outputs summed (Gemma 4's `parallel` layers)."""

    dense: FFNIR
    moe: MoEIR


# The layer as tagged unions: the words `mixer` and `ffn` are the tags, `mixer_ir` and `ffn_ir` what they carry
# (`ffn` derived from its member).
# A new mixer or FFN kind is one more member here (and its mechanism in mechanisms/layers.py's tables).
MixerIR = Union[AttentionIR, GatedDeltaNetIR, KdaIR, Mamba2IR, LightningIR, MlstmIR]
FFNBlockIR = Union[FFNIR, MoEIR, ParallelFFNIR]


@dataclass(frozen=True)
class LayerIR:
    index: int
    mixer: str  # a kinds.MixerKind (a word; the pattern letters stay in resolve): the mixer's tag
    mixer_ir: Optional[MixerIR] = None  # None where `mixer` is "none"
    ffn_ir: Optional[FFNBlockIR] = None  # None for a layer without an FFN
    kv_shared_from: Optional[int] = None  # reuses the KV cache of this earlier layer (Gemma 3n)

    @property
    def ffn(self) -> str:
        """The FFN's tag, a kinds.FFNSlotKind: read off the member (unlike the mixer's, whose attention
        kinds, local or global, share one member)."""
        return _FFN_TAGS[type(self.ffn_ir)]

    # Read-only views of the unions, for readers that ask about one kind (None when the layer holds another)
    @property
    def attention(self) -> Optional[AttentionIR]:
        return self.mixer_ir if isinstance(self.mixer_ir, AttentionIR) else None

    @property
    def gated_deltanet(self) -> Optional[GatedDeltaNetIR]:
        return self.mixer_ir if isinstance(self.mixer_ir, GatedDeltaNetIR) else None

    @property
    def kda(self) -> Optional[KdaIR]:
        return self.mixer_ir if isinstance(self.mixer_ir, KdaIR) else None

    @property
    def mamba2(self) -> Optional[Mamba2IR]:
        return self.mixer_ir if isinstance(self.mixer_ir, Mamba2IR) else None

    @property
    def lightning(self) -> Optional[LightningIR]:
        return self.mixer_ir if isinstance(self.mixer_ir, LightningIR) else None

    @property
    def mlstm(self) -> Optional[MlstmIR]:
        return self.mixer_ir if isinstance(self.mixer_ir, MlstmIR) else None

    @property
    def dense(self) -> Optional[FFNIR]:
        """The layer's dense MLP: its FFN, or the dense half of a parallel FFN."""
        f = self.ffn_ir
        return f.dense if isinstance(f, ParallelFFNIR) else f if isinstance(f, FFNIR) else None

    @property
    def moe(self) -> Optional[MoEIR]:
        """The layer's experts: its FFN, or the MoE half of a parallel FFN."""
        f = self.ffn_ir
        return f.moe if isinstance(f, ParallelFFNIR) else f if isinstance(f, MoEIR) else None

    @property
    def label(self) -> str:
        """Short kind label, e.g. 'local/moe'."""
        return f"{self.mixer}/{self.ffn}"

    def shape_key(self) -> tuple:
        """Every field but the layer's position: layers equal here have the same weights, cost and cache."""
        return tuple(getattr(self, name) for name in _LAYER_SHAPE_FIELDS)


_FFN_TAGS = {FFNIR: "dense", MoEIR: "moe", ParallelFFNIR: "parallel", type(None): "none"}


def ffn_block(ffn: str, dense: Optional[FFNIR], moe: Optional[MoEIR]) -> Optional[FFNBlockIR]:
    """The FFN union member a layer's tag asks for, from the model's dense FFN and MoE."""
    if ffn == "parallel":
        return ParallelFFNIR(dense, moe)
    return {"dense": dense, "moe": moe}.get(ffn)


_LAYER_SHAPE_FIELDS = tuple(f.name for f in fields(LayerIR) if f.name != "index")  # all but the position


@dataclass(frozen=True)
class NormIR:
    kind: str  # "rmsnorm" | "layernorm"
    bias: bool
    placement: str  # "pre" | "post" | "sandwich"
    residual: str = "sequential"  # a kinds.ResidualKind: "parallel" is one norm read by mixer and FFN at once
    layer_scalar: bool = False  # Gemma 4: a learned scalar on each block's output, a buffer (not a parameter)
    depth_scaled: bool = False  # the post-sublayer norms' gains start at ~1/sqrt(L) (Trinity): no parameter


@dataclass(frozen=True)
class MtpIR:
    n_modules: int
    layer: LayerIR  # the transformer layer inside each module
    stores_embedding: bool
    stores_head: bool


@dataclass(frozen=True)
class ReferenceIR:
    total: Optional[str]
    active: Optional[str]
    convention: str
    active_convention: str
    rounding: str
    includes_mtp: bool
    adjustments: tuple[tuple[str, str, int], ...]  # (kind, what, params)
    source: str
    note: Optional[str] = None
    kv_per_token: Optional[str] = None  # e.g. "68.6 KiB", bf16, gallery-style
    kv_per_token_config: Optional[str] = None  # llmarch's own figure where the published one disagrees


@dataclass(frozen=True)
class ModelIR:
    name: str
    display_name: str
    family: Optional[str]
    release_date: Optional[str]
    aliases: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]
    vocab_size: int
    d_model: int
    n_layers: int
    context_length: int
    tie_embeddings: bool
    learned_positions: Optional[int]
    per_layer_embedding_dim: Optional[int]
    per_layer_embedding_vocab: Optional[int]
    altup_inputs: Optional[int]  # Gemma 3n AltUp: copies of the residual stream
    laurel_rank: Optional[int]  # Gemma 3n LAuReL low-rank residual
    norm: NormIR
    layers: tuple[LayerIR, ...]
    mtp: Optional[MtpIR]
    weight_dtype: str
    weight_overrides: tuple[tuple[str, str], ...]
    references: tuple[ReferenceIR, ...] = ()
    hc_streams: Optional[int] = None  # hyper-connections: residual streams (DeepSeek V4)
    hc_sinkhorn_iters: Optional[int] = None
    budgets: tuple[tuple[str, str], ...] = ()  # (kind, text) from the spec's `budgets:` block
    ngram_embedding: Optional[NgramEmbeddingIR] = None
    warnings: tuple[str, ...] = ()
    path: Optional[str] = None  # the spec file
    notes: Optional[str] = field(default=None, compare=False)
    residual_scaling: bool = False  # ZAYA's learned scale and shift on both sides of every residual add
    # what-if edits applied to the spec (`--set`, `name[key=value]`): (key path, value as written, value as
    # JSON text), in the order applied; empty for a spec as written.  display_name then carries them too.
    edits: tuple[tuple[str, str, str], ...] = ()

    @cached_property
    def layer_groups(self) -> tuple[tuple[LayerIR, int], ...]:
        """Each distinct layer (its first occurrence) and how many layers equal it but for their position.

        Equal layers have the same weights, cost and cache, so the analyzers count one of each and
        multiply: a 61-layer model has two or three.  (A cached property is kept outside the fields:
        equality, hashing and `asdict` ignore it.)"""
        groups: dict[tuple, list] = {}
        for layer in self.layers:
            key = layer.shape_key()
            if key in groups:
                groups[key][1] += 1
            else:
                groups[key] = [layer, 1]
        return tuple((layer, n) for layer, n in groups.values())

    @property
    def edited_name(self) -> str:
        """The spec name with its edits as written, `qwen3-8b (n_layers=40)`: how a plot's legend tells a
        model from its what-if; the name alone when unedited."""
        if not self.edits:
            return self.name
        return f"{self.name} ({', '.join(f'{key}={written}' for key, written, _ in self.edits)})"

    def edit_fields(self) -> dict:
        """The `edits` field of a JSON model object: `{"edits": {"n_layers": 40}}`, or nothing when unedited
        (an unedited model's answer is unchanged)."""
        import json

        return {"edits": {key: json.loads(value) for key, _, value in self.edits}} if self.edits else {}

    def layer_kinds(self) -> list[tuple[str, list[int]]]:
        """Distinct layer labels in order of first appearance, with their layer indices."""
        out: dict[str, list[int]] = {}
        for layer in self.layers:
            out.setdefault(layer.label, []).append(layer.index)
        return list(out.items())
