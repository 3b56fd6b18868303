"""The kinds, defined once: every vocabulary of mechanism kinds the schema, the IR and import-hf share.

The IR holds the words below, never a pattern letter.  The letters are what users write in the YAML
layer patterns, one table per pattern (`D` is Gated DeltaNet in `mixer:` and dense in `ffn:`; the
patterns stay as users know them), and only resolve reads them.  No imports from llmarch.
"""

from __future__ import annotations

from typing import Literal, get_args

# A layer's mixer: an attention layer kind, a linear mixer, or none
# full causal, sliding window, chunks, no positions; DeepSeek V4's compressed sparse (csa) and heavily compressed
# (hca) layers: a window plus compressed entries of the whole past
AttentionLayerKind = Literal["global", "local", "chunked", "nope", "csa", "hca"]
LinearMixerKind = Literal["gated_deltanet", "kda", "mamba2", "lightning", "mlstm"]
MixerKind = Literal[AttentionLayerKind, LinearMixerKind, "none"]
# A layer's FFN
FFNSlotKind = Literal["dense", "moe", "parallel", "none"]  # parallel: a dense FFN beside the experts, summed

ATTENTION_KINDS: tuple[str, ...] = get_args(AttentionLayerKind)
LINEAR_MIXER_KINDS: tuple[str, ...] = get_args(LinearMixerKind)

# Options of the attention mechanism
AttentionVariant = Literal["mha", "gqa", "mqa", "mla", "compressed"]  # compressed: DeepSeek V4's attention
QKNorm = Literal["none", "per_head", "whole", "l2"]
OutputGate = Literal["none", "elementwise", "headwise"]
Position = Literal["rope", "nope", "absolute"]
KEqVCache = Literal["k_and_v", "one"]  # values that are the keys: cached apart, or as one tensor

# Kinds of feed-forward network (dense, a routed expert, the shared experts)
FFNKind = Literal["swiglu", "swiglu_clamped", "geglu", "gelu_mlp", "relu2_mlp"]
GATED_FFN_KINDS: tuple[str, ...] = ("swiglu", "swiglu_clamped", "geglu")  # gate and up projections

# The block's residual norms
NormKind = Literal["rmsnorm", "layernorm"]
NormPlacement = Literal["pre", "post", "sandwich"]
# The block's residual: the mixer and then the FFN, each added in turn, or both from one norm added together
ResidualKind = Literal["sequential", "parallel"]

# The parameter components every count is broken into (params, the spec's `weights.overrides`, the tables),
# in the order the tables print them
PARAMETER_COMPONENTS: tuple[str, ...] = (
    "token_embedding",
    "position_embedding",
    "per_layer_embedding",
    "ngram_embedding",  # LongCat's hashed n-gram tables (lookups)
    "ngram_projection",  # their projections back to d_model (products, once per token)
    "attention",
    "linear_mixer",
    "dense_ffn",
    "routed_experts",
    "shared_experts",
    "router",
    "per_layer_input",
    "altup",
    "laurel",
    "hyper_connections",
    "norms",
    "lm_head",
)

# The letters of the YAML layer patterns, per pattern
MIXER_LETTERS: dict[str, str] = {
    "G": "global",
    "L": "local",
    "C": "chunked",  # attention within fixed chunks (Llama 4)
    "N": "nope",
    "S": "csa",  # compressed sparse attention (DeepSeek V4)
    "H": "hca",  # heavily compressed attention (DeepSeek V4)
    "D": "gated_deltanet",
    "K": "kda",
    "M": "mamba2",
    "T": "lightning",  # Lightning attention (Ling 2.5); L is taken by local attention
    "X": "mlstm",  # xLSTM's matrix-memory LSTM
    "-": "none",
}
FFN_LETTERS: dict[str, str] = {"D": "dense", "E": "moe", "P": "parallel", "-": "none"}
assert set(MIXER_LETTERS.values()) == set(get_args(MixerKind))
assert set(FFN_LETTERS.values()) == set(get_args(FFNSlotKind))

# The words people read for the kinds above: every human text (tables, diagrams, `show --layers`) says these,
# and JSON keeps the kinds themselves. A kind missing here is shown as itself (test_kind_words_cover_the_kinds)
KIND_WORDS: dict[str, str] = {
    # layer mixers
    "nope": "NoPE",
    "csa": "CSA",
    "hca": "HCA",
    "gated_deltanet": "Gated DeltaNet",
    "kda": "KDA",
    "mamba2": "Mamba-2",
    "lightning": "Lightning",
    "mlstm": "mLSTM",
    # a layer's FFN
    "moe": "MoE",
    "parallel": "dense + MoE",
    # kinds of FFN
    "swiglu": "SwiGLU",
    "swiglu_clamped": "SwiGLU, clamped",
    "geglu": "GeGLU",
    "gelu_mlp": "GELU MLP",
    "relu2_mlp": "ReLU² MLP",
    # QK-norm
    "per_head": "per head",
    "whole": "whole projection",
    "l2": "L2, weightless",
}


def kind_words(kind: str) -> str:
    """A kind as people read it: `gated_deltanet` → 'Gated DeltaNet' (the words that need none are themselves)."""
    return KIND_WORDS.get(kind, kind)
