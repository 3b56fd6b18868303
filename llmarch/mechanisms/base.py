"""The floor every mechanism stands on: the protocol, its records and the count helpers.

No torch here (the CLI's counting commands must not load it); the torch primitives the meta build
shares (`Linear`, `Norm`, `Embedding`, uninitialised parameters) are in `primitives.py`, on the
same floor.  Nothing here imports a mechanism or an analyzer, so mechanisms, the model builder and
the analyzers all import downwards and never in a circle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Optional

# How a weight is laid out across tensor-parallel ranks (Megatron's vocabulary): `column` splits
# the output features, `row` the input features, `expert` whole experts, `replicated` nothing.
Split = Literal["column", "row", "expert", "replicated"]

# The analyzers' FLOP component of each parameter component that holds matrices a token multiplies.
FLOP_COMPONENT = {"attention": "attention_proj", "linear_mixer": "linear_mixer_proj"}


@dataclass(frozen=True)
class Weight:
    """One parameter tensor of a mechanism, named as the meta build names it (relative to the layer,
    or to the model for model-level weights)."""

    name: str
    shape: tuple[int, ...]
    matrix: bool  # a linear map a token's activations multiply; norms, biases, sinks, convolutions, lookups are not
    component: str  # a value of params.COMPONENTS
    split: Split = "replicated"

    @property
    def entries(self) -> int:
        return math.prod(self.shape)


def linear(
    name: str, d_in: int, d_out: int, component: str, bias: bool = False, split: Split = "column"
) -> list[Weight]:
    """A `Linear(d_in, d_out)`: its weight is stored (d_out, d_in), as torch stores it."""
    out = [Weight(f"{name}.weight", (d_out, d_in), True, component, split)]
    if bias:
        out.append(Weight(f"{name}.bias", (d_out,), False, component, "replicated" if split == "row" else split))
    return out


def norm(name: str, dim: int, component: str, bias: bool = False) -> list[Weight]:
    """A `Norm(dim)`: a scale, and a shift when the spec asks for one."""
    out = [Weight(f"{name}.weight", (dim,), False, component)]
    if bias:
        out.append(Weight(f"{name}.bias", (dim,), False, component))
    return out


def vector(name: str, shape: tuple[int, ...], component: str, split: Split = "replicated") -> list[Weight]:
    """A parameter no token multiplies as a matrix (sinks, decays, gates' biases, short convolutions)."""
    return [Weight(name, shape, False, component, split)]


def by_component(weights: list[Weight]) -> dict[str, int]:
    """Parameters of `weights`, summed per component."""
    out: dict[str, int] = {}
    for w in weights:
        out[w.component] = out.get(w.component, 0) + w.entries
    return out


def matrix_macs(weights: list[Weight]) -> dict[str, int]:
    """Multiply-adds of one token through `weights`: the entries of every matrix, per FLOP component."""
    out: dict[str, int] = {}
    for w in weights:
        if w.matrix:
            key = FLOP_COMPONENT.get(w.component, w.component)
            out[key] = out.get(key, 0) + w.entries
    return out


@dataclass(frozen=True)
class CacheRow:
    """What one layer of a mechanism keeps for one sequence at a context, as the KV table shows it."""

    key: tuple  # what makes two layers one row
    label: str
    elements_per_token: int
    tokens: int  # tokens cached
    fixed_bytes: int  # a state whatever the context
    formula: str  # per layer
    gallery_elements_per_token: int = 0  # what the gallery-style all-layers figure counts for it
    extra_bytes: int = 0  # cache that grows with the context but not per cached token (compressed entries)


# Where an extra acts in its block, in the order the block runs them: around it (before the mixer and
# after the FFN), beside the mixer, after the FFN.
EXTRA_PLACES = ("around", "beside_mixer", "after_ffn")


@dataclass(frozen=True)
class Routing:
    """A router over expert boxes: how many experts, how many a token meets, how many shared ones, and
    whether the experts come from a frozen token table (hash routing) rather than from the router."""

    n_experts: int
    top_k: int
    n_shared: int
    by_token: bool = False


@dataclass(frozen=True)
class Box:
    """What a mechanism's box in the block diagram shows: data, no drawing code.

    `kind` is its colour (`attention`, `mixer`, `ffn`, `moe`, `extras`); `notes` are its annotation lines,
    each (key, text), the key naming what the line shows so that it is compared with its peers in other
    models; `block_words` names it in the block's title ("sliding-window GQA", "MoE"); `features` are the
    values the callouts compare across models (`mixer`, `ffn`, `shared`, attention's options); `routing`
    draws a router over experts; an extra's notes join the block's extras box at its `place`, and its
    `embedding_notes` the embedding's.  A block residual mechanism with `branches` draws the mixer and
    the FFN side by side, both fed by its norm (`title`) and meeting in one add (`notes`)."""

    kind: str
    title: str = ""
    notes: tuple[tuple[str, str], ...] = ()
    block_words: str = ""
    features: tuple[tuple[str, str], ...] = ()
    routing: Optional[Routing] = None
    place: str = ""  # an extra's: one of EXTRA_PLACES
    embedding_notes: tuple[tuple[str, str], ...] = ()
    branches: bool = False


class Mechanism:
    """The protocol: one kind of mixer, FFN or extra, stating once what every analyzer needs.

    `slot` is the attribute its torch module takes in the layer (`attn`, `mixer`, `ffn`, ...),
    `norm_prefix` the name of the residual norms the block gives it (`attn_norm`, `attn_post_norm`),
    and `sublayer` whether those norms follow the block's placement (pre, post, sandwich: one or two)
    or are a single norm of its own (the Gemma 3n extras); `normed` False where the block gives it no
    norm at all (Gemma 4's layer scalar)."""

    slot: str = ""
    norm_prefix: str = ""
    sublayer: bool = True
    normed: bool = True
    label: str = ""
    attends: bool = False  # a softmax attention: its cache grows with the context (the KV baselines use it)
    experts: int = 0  # routed experts, which expert parallelism splits
    hash_routed: bool = False  # its experts come from a frozen token table, not from the router (DeepSeek V4)
    kv_shared: bool = False  # it reuses an earlier layer's cache instead of keeping its own
    in_layers: bool = True  # a model-level mechanism that is also in every layer (False: model weights only)
    # the keys of the convention lines about it alone (DeepSeek V4's "compressed"): a human table prints such a
    # line only when a model of its answer holds it; JSON keeps every line
    conventions: tuple[str, ...] = ()

    def mix_name(self, kind: str) -> str:
        """How the panel's layer mix names a layer of `kind` holding it (`local(1,024)` for a window)."""
        return kind

    def mix_detail(self) -> str:
        """What the layer mix's words leave out for a layer holding it ('window 1,024'; '' for nothing)."""
        return ""

    def layer_note(self) -> str:
        """What `show --layers` adds after a layer's kind for it ('' for nothing)."""
        return ""

    def panel_extra(self) -> Optional[tuple[str, Any]]:
        """A model-level extra's entry in the panel's layer extras: (words, value)."""
        return None

    def box(self) -> Box:
        """What its box in the block diagram shows."""
        raise NotImplementedError

    @property
    def identity(self) -> tuple:
        """What tells two layers' instances of the kind apart (the diagram draws one block per distinct
        mixer and FFN): its kind and its IR block."""
        return (type(self).__name__, self.ir)

    def weights(self, d_model: int) -> list[Weight]:
        """Its parameters in one layer, named relative to the layer (`attn.q_proj.weight`)."""
        raise NotImplementedError

    def module(self, d_model: int) -> Any:
        """Its torch module for the meta build: a `primitives.Part` whose parameters are `weights`, named
        alike, with `forward` beside `__init__`.  It lives in the kind's `<kind>_torch.py`, imported here
        when called, so that the counting commands never load torch."""
        raise NotImplementedError

    def model_module(self, d_model: int) -> Any:
        """The torch modules of its `model_weights` as a `primitives.ModelPart`, or None."""
        return None

    def model_weights(self, d_model: int) -> list[Weight]:
        """Its parameters stored once per model, outside the layers (named relative to the model)."""
        return []

    def fused_parts(self) -> dict[str, tuple[int, ...]]:
        """Its weights that fuse projections of unequal widths into one matrix (named as `weights` names them),
        each with its parts' output widths in order: what a checkpoint may store as separate tensors."""
        return {}

    def hyperparameters(self) -> dict[str, Any]:
        """The spec fields it is built from that a checkpoint's metadata may state (a GGUF's head and expert
        counts), by the spec's field name (`attention.n_heads`)."""
        return {}

    def active(self, params: dict[str, int]) -> dict[str, int]:
        """The part of its per-component `params` one token multiplies (a MoE's top-k experts)."""
        return dict(params)

    def active_fewest(self, params: dict[str, int]) -> dict[str, int]:
        """`active` when a token meets the fewest experts its routing allows (LongCat's zero experts)."""
        return self.active(params)

    def buffers(self) -> int:
        """Elements of its buffers: state that is loaded with the weights but is not a parameter."""
        return 0

    def token_macs(self, d_model: int) -> dict[str, int]:
        """Multiply-adds of one token through its weights, per FLOP component: the matrix entries."""
        return matrix_macs(self.weights(d_model))

    def model_token_macs(self, d_model: int) -> dict[str, int]:
        """Multiply-adds of one token through its model-level weights (lookups are not products)."""
        return matrix_macs(self.model_weights(d_model))

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        """Multiply-adds of what is not a weight (attention scores, recurrences) for S new tokens:
        a prefill from 0 when S > 1, else one decode step as the ctx-th token."""
        return {}

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> Optional[CacheRow]:
        """Its cache at `ctx` tokens with elements of `kv_bytes` (and a recurrent state of `state_bytes`),
        on a layer of `kind` (a kinds.MixerKind); None when it caches nothing."""
        return None

    def parallel_error(self, tp: int, ep: int, model: str, kind: str) -> Optional[str]:
        """Why `tp` tensor-parallel and `ep` expert-parallel ranks cannot split it, or None."""
        return None

    def experts_hit(self, batch: int) -> float:
        """How many of its routed experts a decode step of `batch` sequences reads."""
        return 0.0

    def cache_share(self, tp: int) -> float:
        """The part of its cache one of `tp` tensor-parallel ranks holds (split by heads by default)."""
        return 1 / tp

    def gguf_parts(self, d_model: int) -> dict[str, tuple[tuple[int, ...], ...]]:
        """The weights (named as `weights` names them) that llama.cpp's converter stores reshaped or cut in
        parts, each part's shape in torch's order; every other weight keeps its shape in a GGUF file."""
        return {}

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        """What a GGUF file's `<arch>.` metadata states about it: (key, the values that agree with the spec,
        the spec field deciding them); a key several converters write differently accepts each."""
        return []

    def traced_excess_macs(self, S: int) -> int:
        """Multiply-adds a traced prefill of S tokens computes beyond `sequence_macs` (masked keys)."""
        return 0
