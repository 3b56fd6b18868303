"""Softmax attention: MHA, GQA and MQA with their options (QK-norm, biases, sinks, output gate,
sliding window, chunks, no positions), a sparse-attention indexer as a part, and cross-layer KV
sharing (a layer that reuses an earlier layer's keys and values, Gemma 3n).

Which keys a query sees is a property of the kind, stated once here (`keys_seen`, `prefill_pairs`).
"""

from __future__ import annotations

import math
from typing import Any, Optional

from ..ir import AttentionIR
from .base import Box, CacheRow, Mechanism, Weight, linear, norm, vector
from .indexer import Indexer


def keys_seen(a: AttentionIR, t: int) -> int:
    """Keys the t-th token (1-based) attends to in the main attention."""
    if a.window:
        return min(t, a.window_keys)
    if a.chunk:
        return (t - 1) % a.chunk + 1
    if a.indexer_topk:
        return min(t, a.indexer_topk)
    return t


def prefill_pairs(a: AttentionIR, S: int) -> int:
    """Sum over the S prefill tokens of `keys_seen` (closed forms, no loop over S)."""
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


def qk_norm_weights(prefix: str, a: AttentionIR, key_norm: bool = True) -> list[Weight]:
    """QK-norm weights; `key_norm=False` where the layer computes no keys (it reuses another layer's KV)."""
    if a.qk_norm == "per_head":
        dims = [("q_norm", a.head_dim)] + ([("k_norm", a.head_dim)] if key_norm else [])
    elif a.qk_norm == "whole":
        dims = [("q_norm", a.n_heads * a.head_dim)] + ([("k_norm", a.n_kv_heads * a.head_dim)] if key_norm else [])
    else:  # none, or an L2 norm without weights
        dims = []
    return [w for name, dim in dims for w in norm(f"{prefix}{name}", dim, "attention")]


def cca_weights(p: str, d: int, a: AttentionIR) -> list[Weight]:
    """Compressed convolutional attention (ZAYA): the value heads' current and delayed halves, the two
    causal convolutions over the concatenated q and k channels (depthwise, then grouped by head, each with
    a bias), and the key temperature per KV head.  The convolutions are not matrices a token multiplies
    (as the linear mixers' short convolutions)."""
    half = a.n_kv_heads * a.v_head_dim // 2
    channels = (a.n_heads + a.n_kv_heads) * a.head_dim
    depthwise, grouped = a.cca_kernels
    return [
        *linear(f"{p}v_proj_current", d, half, "attention", a.qkv_bias),
        *linear(f"{p}v_proj_delayed", d, half, "attention", a.qkv_bias),
        *vector(f"{p}conv_qk_depthwise.weight", (channels, 1, depthwise), "attention", "column"),
        *vector(f"{p}conv_qk_depthwise.bias", (channels,), "attention", "column"),
        *vector(f"{p}conv_qk_grouped.weight", (channels, a.head_dim, grouped), "attention", "column"),
        *vector(f"{p}conv_qk_grouped.bias", (channels,), "attention", "column"),
        *vector(f"{p}temp", (a.n_kv_heads,), "attention", "column"),
    ]


class Attention(Mechanism):
    """MHA / GQA / MQA.  With `kv_shared` the layer reuses an earlier layer's keys and values: it has
    no key/value projections and no key norm."""

    slot = "attn"
    norm_prefix = "attn"
    attends = True

    def __init__(self, a: AttentionIR, kv_shared_from: Optional[int] = None) -> None:
        self.ir = a
        self.kv_shared_from = kv_shared_from  # the earlier layer whose keys and values it reuses
        self.kv_shared = kv_shared_from is not None
        self.indexer: Optional[Indexer] = Indexer(a) if a.indexer_heads else None

    @property
    def label(self) -> str:
        """The words people use for its heads: MHA, GQA or MQA."""
        a = self.ir
        return "MHA" if a.n_kv_heads == a.n_heads else ("MQA" if a.n_kv_heads == 1 else "GQA")

    @property
    def conventions(self) -> tuple[str, ...]:
        """kvcache's window line for a window or chunk; flops' extras line for a layer reusing another's KV."""
        return ("windows",) * bool(self.ir.window or self.ir.chunk) + ("layer_extras",) * self.kv_shared

    def layer_note(self) -> str:
        return f" KV of L{self.kv_shared_from}" if self.kv_shared else ""

    def hyperparameters(self) -> dict[str, Any]:
        a = self.ir
        out: dict[str, Any] = {"attention.n_heads": a.n_heads, "attention.n_kv_heads": a.n_kv_heads}
        if a.rope is not None:
            out["attention.rope.theta"] = a.rope.theta
        return out

    def mix_name(self, kind: str) -> str:
        if self.ir.chunk:
            return f"chunked({self.ir.chunk:,})"
        if self.ir.window:
            return f"local({self.ir.window:,})"
        return kind

    def mix_detail(self) -> str:
        if self.ir.chunk:
            return f"chunks of {self.ir.chunk:,}"
        return f"window {self.ir.window:,}" if self.ir.window else ""

    def position_label(self) -> str:
        a = self.ir
        if a.position != "rope":
            return {"nope": "NoPE", "absolute": "learned absolute"}[a.position]
        text = "RoPE"
        if a.rope and a.rope.partial < 1:
            text = f"partial RoPE ({a.rope.partial:g})"
        if a.rope and a.rope.frequency_fraction < 1:
            text = f"p-RoPE ({a.rope.frequency_fraction:.0%})"
        if a.rope and a.rope.scaling:
            text += f" + {a.rope.scaling}"
        return text

    def option_labels(self) -> list[str]:
        """The panel's attention extras: biases, sinks, an output gate."""
        a, out = self.ir, []
        if a.qkv_bias or a.o_bias:
            out.append("bias")
        if a.sinks:
            out.append("sinks")
        if a.output_gate != "none":
            out.append(f"{a.output_gate} output gate")
        if a.k_eq_v is not None:
            out.append("values = keys")
        return out

    def latent_ranks(self) -> Optional[dict[str, Optional[int]]]:
        """An MLA's ranks for the panel; None for attention without a latent."""
        return None

    @property
    def identity(self) -> tuple:
        return (type(self).__name__, self.ir, self.kv_shared)

    def box_title(self) -> str:
        """The box's words for its heads, before a window or chunk qualifies them."""
        names = {"MHA": "multi-head", "GQA": "grouped-query", "MQA": "multi-query"}
        return f"Masked {names[self.label]} attention"

    def box_rank_notes(self) -> list[tuple[str, str]]:
        """An MLA's ranks in its box; none for attention without a latent."""
        return []

    def box_position(self) -> str:
        a = self.ir
        if a.position == "nope":
            return "no positional encoding (NoPE)"
        if a.position == "absolute":
            return "learned absolute positions"
        if a.rope and a.rope.partial < 1:
            return f"partial RoPE ({a.rope.partial:g} of each head)"
        if a.rope and a.rope.frequency_fraction < 1:
            return f"p-RoPE ({a.rope.frequency_fraction:.0%} of the frequency pairs)"
        return "RoPE"

    def box(self) -> Box:
        a = self.ir
        title = self.box_title()
        if a.window:
            title = "Sliding-window " + title[0].lower() + title[1:]
        elif a.chunk:
            title = "Chunked " + title[0].lower() + title[1:]
        notes = [("heads", f"{a.n_heads} heads, {a.n_kv_heads} KV heads")]
        notes.append(
            ("head_dim", f"head dim {a.head_dim}" + (f", value {a.v_head_dim}" if a.v_head_dim != a.head_dim else ""))
        )
        notes += self.box_rank_notes()
        if self.indexer is not None:
            notes.append(("indexer", self.indexer.box_note()))
        if a.window:
            notes.append(("window", f"window {a.window_keys:,} tokens"))
        if a.chunk:
            notes.append(("chunk", f"chunks of {a.chunk:,} tokens"))
        if a.cca_kernels is not None:
            taps = f"{a.cca_kernels[0]} + {a.cca_kernels[1]} taps"
            notes.append(("cca", f"CCA: q, k convolved ({taps}), half of V delayed"))
        notes.append(("position", self.box_position()))
        extras = (["QK-norm"] if a.qk_norm != "none" else []) + (["sinks"] if a.sinks else [])
        extras += [f"{a.output_gate} output gate"] if a.output_gate != "none" else []
        extras += ["bias"] if a.qkv_bias or a.o_bias else []
        extras += ["values = keys"] if a.k_eq_v else []
        if extras:
            notes.append(("attention_extras", ", ".join(extras)))
        if self.kv_shared:
            notes.append(("kv", f"reuses layer {self.kv_shared_from}'s KV cache"))
        else:
            # what the layer's cache stores (Gemma 4's values-are-keys layers keep both), not the gallery's count
            stored = self.cache_elements_per_token() if a.k_eq_v is not None else self.gallery_elements_per_token()
            notes.append(("kv", f"KV cache {stored * 2:,} B/token/layer (bf16)"))
        words = ("sliding-window " if a.window else "chunked " if a.chunk else "") + self.label
        features = {
            "mixer": self.label,
            "position": a.position,
            "window": "yes" if a.window else "no",
            "qk_norm": "no" if a.qk_norm == "none" else "yes",
            "sinks": "yes" if a.sinks else "no",
            "gate": "yes" if a.output_gate != "none" else "no",
        }
        return Box(
            "attention",
            title,
            tuple(notes),
            block_words=words + (" without RoPE" if a.position == "nope" else ""),
            features=tuple(features.items()),
        )

    def _projections(self, d: int, p: str) -> list[Weight]:
        a = self.ir
        q_out = a.n_heads * a.head_dim * (2 if a.output_gate == "elementwise" else 1)  # the gate rides on q
        out = linear(f"{p}q_proj", d, q_out, "attention", a.qkv_bias)
        if not self.kv_shared:
            out += linear(f"{p}k_proj", d, a.n_kv_heads * a.head_dim, "attention", a.qkv_bias)
            if a.cca_kernels is not None:
                out += cca_weights(p, d, a)
            elif a.k_eq_v is None:  # otherwise the keys serve as the values
                out += linear(f"{p}v_proj", d, a.n_kv_heads * a.v_head_dim, "attention", a.qkv_bias)
        out += linear(f"{p}o_proj", a.n_heads * a.v_head_dim, d, "attention", a.o_bias, split="row")
        if a.output_gate == "headwise":
            out += linear(f"{p}gate_proj", d, a.n_heads, "attention")
        return out + qk_norm_weights(p, a, key_norm=not self.kv_shared)

    def module(self, d_model: int):
        from .attention_torch import AttentionModule

        return AttentionModule(d_model, self.ir, kv_shared=self.kv_shared)

    def weights(self, d_model: int) -> list[Weight]:
        p = f"{self.slot}."
        out = self._projections(d_model, p)
        if self.ir.sinks:
            out += vector(f"{p}sinks", (self.ir.n_heads,), "attention", split="column")
        if self.indexer is not None:
            out += self.indexer.weights(d_model, f"{p}indexer.")
        return out

    def gguf_metadata(self) -> list[tuple[str, tuple, str]]:
        a = self.ir
        out = [
            ("attention.head_count", (a.n_heads,), "attention.n_heads"),
            ("attention.head_count_kv", (a.n_kv_heads,), "attention.n_kv_heads"),
            ("attention.key_length", (a.head_dim,), "attention.head_dim"),
            ("attention.value_length", (a.v_head_dim,), "attention.v_head_dim"),
        ]
        if a.window:
            out.append(("attention.sliding_window", (a.window,), "attention.window"))
        if a.rope is not None:
            out.append(("rope.freq_base", (a.rope.theta,), "attention.rope.theta"))
            out.append(("rope.dimension_count", (int(a.head_dim * a.rope.partial),), "attention.rope.partial"))
        return out

    def cache_elements_per_token(self) -> int:
        """Elements one token adds to this layer's cache: K and V per KV head, or one tensor where the
        values are the keys and the kind caches them once (DeepSeek V4; Gemma 4 caches both, since its
        keys are normed and rotated and its values are not)."""
        a = self.ir
        if a.k_eq_v == "one":
            return a.n_kv_heads * a.head_dim
        return a.n_kv_heads * (a.head_dim + a.v_head_dim)

    def gallery_elements_per_token(self) -> int:
        """What the gallery-style figure counts for this layer (conventions.KV_PER_TOKEN_ALL_LAYERS): a layer
        whose values are its keys counts one tensor, whatever its cache stores (Gemma 4 31B: 840 KiB)."""
        a = self.ir
        if a.k_eq_v is not None:
            return a.n_kv_heads * a.head_dim
        return self.cache_elements_per_token()

    def cache_formula(self) -> str:
        a = self.ir
        if a.k_eq_v == "one":
            return f"{a.n_kv_heads} x {a.head_dim}"
        return f"{a.n_kv_heads} x ({a.head_dim} + {a.v_head_dim})"

    def cache_label(self) -> str:
        a, kind = self.ir, self.label
        if a.k_eq_v == "one":
            return f"{kind} {a.n_kv_heads} KV x {a.head_dim}, V = K cached once"
        dims = f"{a.head_dim}" if a.head_dim == a.v_head_dim else f"(K {a.head_dim} + V {a.v_head_dim})"
        return f"{kind} {a.n_kv_heads} KV x {dims}" + (", V = K" if a.k_eq_v else "")

    @property
    def cache_limit(self) -> Optional[int]:
        """The most tokens its cache holds (a window's keys, a chunk), or None: the whole context."""
        return self.ir.window_keys or self.ir.chunk

    def parallel_error(self, tp: int, ep: int, model: str, kind: str) -> Optional[str]:
        if self.ir.n_heads % tp:
            # a template for ParameterError: {tp} becomes the CLI's flag, {model} the model's name
            return f"{{tp}} {tp} does not divide {{model}}'s {self.ir.n_heads} attention heads ({kind} layers)"
        return None

    def mha_elements_per_token(self) -> int:
        """What the layer would cache as plain MHA: keys and values of every query head (a baseline)."""
        return self.ir.n_heads * (self.ir.head_dim + self.ir.v_head_dim)

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> CacheRow:
        if self.kv_shared:  # keys and values live in the earlier layer's cache
            src = self.kv_shared_from
            return CacheRow(("shared", kind, src), f"{kind} reusing layer {src}'s KV", 0, 0, 0, "0")
        a = self.ir
        elems = self.cache_elements_per_token()
        limit = self.cache_limit
        tokens = min(ctx, limit) if limit else ctx
        if a.window:
            where = f"local({a.window:,} + query)" if a.window_excludes_query else f"local({a.window:,})"
        else:
            where = f"chunked({a.chunk:,})" if a.chunk else kind
        state, formula = self.cca_state_elements(), f"{self.cache_formula()} x {kv_bytes} B x {tokens:,}"
        if state:
            taps = a.cca_kernels[0] - 1 + a.cca_kernels[1] - 1
            channels = (a.n_heads + a.n_kv_heads) * a.head_dim
            formula += f" + ({taps} x {channels:,} + {a.n_kv_heads * a.v_head_dim // 2}) x {kv_bytes} B"
        return CacheRow(
            key=(kind, elems, limit, state),
            label=f"{where} {self.cache_label()}" + (", CCA state" if state else ""),
            elements_per_token=elems,
            tokens=tokens,
            fixed_bytes=int(state * kv_bytes),
            formula=formula,
            gallery_elements_per_token=self.gallery_elements_per_token(),
        )

    def cca_state_elements(self) -> int:
        """Compressed convolutional attention's fixed state (ZAYA's conv and recurrent cache states): the
        last (depthwise - 1) + (grouped - 1) q/k inputs of the convolutions and the previous token's delayed
        value half, held at the cache's dtype as transformers holds them; 0 without CCA."""
        a = self.ir
        if a.cca_kernels is None:
            return 0
        taps = a.cca_kernels[0] - 1 + a.cca_kernels[1] - 1
        return taps * (a.n_heads + a.n_kv_heads) * a.head_dim + a.n_kv_heads * a.v_head_dim // 2

    def cache_share(self, tp: int) -> float:
        """The part of the cache one of `tp` ranks holds: its KV heads (all of them replicated when
        there are fewer heads than ranks)."""
        return math.ceil(self.ir.n_kv_heads / tp) / self.ir.n_kv_heads

    def pair_macs(self) -> int:
        """Multiply-adds of one (query, key) pair: a q.k dot product and a weighted v, per head."""
        return self.ir.n_heads * (self.ir.head_dim + self.ir.v_head_dim)

    def _indexer_pair_macs(self) -> int:
        return self.indexer.pair_macs() if self.indexer is not None else 0

    def score_macs(self, t: int) -> int:
        """Scores and values of the t-th query; the indexer (if any) scores all t keys."""
        return keys_seen(self.ir, t) * self.pair_macs() + t * self._indexer_pair_macs()

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        if S == 1:
            return {"attention_scores": self.score_macs(ctx)}
        causal = S * (S + 1) // 2
        return {"attention_scores": prefill_pairs(self.ir, S) * self.pair_macs() + causal * self._indexer_pair_macs()}

    def traced_excess_macs(self, S: int) -> int:
        # the traced forward computes the full S x S square of scores and values (S x min(S, top-k)
        # for sparse attention, plus its indexer's S x S)
        traced_keys = min(S, self.ir.indexer_topk) if self.ir.indexer_topk else S
        return (S * traced_keys - prefill_pairs(self.ir, S)) * self.pair_macs() + (
            S * S - S * (S + 1) // 2
        ) * self._indexer_pair_macs()
