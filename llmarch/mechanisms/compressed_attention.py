"""DeepSeek V4's compressed attention: sliding-only (local), compressed sparse (csa) and heavily compressed
(hca) layers, one kind with three layer shapes.

Every layer: queries from a latent (`q_a_proj` -> weighted RMSNorm -> `q_b_proj` -> a weightless per-head
RMSNorm), one key head that is also the value head (`kv_proj` -> weighted `kv_norm`, cached once), partial
RoPE, per-head sinks, a window of recent tokens, and the grouped low-rank output projection (`o_a_proj`, one
block per group of heads, then `o_b_proj`).  A csa or hca layer also keeps compressed entries of the whole
past: its compressor projects every token to a key/value and a gate, and pools each `ratio` tokens into one
entry (softmax over the window with a learned position bias, then its own norm and RoPE); csa pools
overlapping windows of 2 x ratio (two series per token, so its projections are twice as wide) and lets each
query see only the top-k entries its lightning indexer picks (the indexer has its own compressor at its head
dim, queried from the latent); hca pools disjoint windows and every query sees every entry.

Which keys a query sees (query t, 1-based, at position t - 1): min(t, window) window keys, plus the
entries whose windows have closed, floor(t / ratio) (csa: at most top-k of them; its indexer scores all).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Optional

from ..ir import AttentionIR
from .attention import Attention
from .base import Box, CacheRow, Weight, linear, norm, vector


def closed_entries_sum(n: int, ratio: int) -> int:
    """sum over t = 1..n of floor(t / ratio): the compressed entries queries 1..n see (closed form)."""
    if n <= 0:
        return 0
    q, rem = divmod(n, ratio)
    return ratio * q * (q - 1) // 2 + q * (rem + 1)


def window_pairs(window: int, S: int) -> int:
    """sum over t = 1..S of min(t, window)."""
    w = min(window, S)
    return w * (w + 1) // 2 + (S - w) * window


class CompressedAttention(Attention):
    conventions = ("compressed",)  # kvcache's and flops' lines about DeepSeek V4's cache and scores

    def __init__(self, a: AttentionIR) -> None:
        super().__init__(a)
        self.indexer = None  # its indexer is part of the compressor (weights below), not DeepSeek V3.2's

    @property
    def ratio(self) -> Optional[int]:
        return self.ir.compress_ratio

    @property
    def label(self) -> str:
        a = self.ir
        if a.compress_ratio is None:
            return "sliding K=V MQA"
        return f"{'CSA' if a.compress_overlap else 'HCA'} 1/{a.compress_ratio} K=V MQA"

    def mix_name(self, kind: str) -> str:
        if self.ratio is None:
            return f"local({self.ir.window:,})"
        return f"{kind}(1/{self.ratio})"

    def mix_detail(self) -> str:
        return f"window {self.ir.window:,}" if self.ratio is None else f"1/{self.ratio} compressed"

    def option_labels(self) -> list[str]:
        a = self.ir
        out = super().option_labels()
        out.append(f"q rank {a.q_lora_rank:,}")
        out.append(f"{a.o_groups} output groups x {a.o_lora_rank:,}")
        if a.indexer_topk:
            out.append(f"indexer top-{a.indexer_topk:,}")
        return out

    def box(self) -> Box:
        """Its window, its compressed entries (csa: the indexer's top-k), one K=V head."""
        a = self.ir
        if self.ratio is None:
            title = "Sliding-window attention, one K=V head"
        elif a.compress_overlap:
            title = f"Compressed sparse attention (1/{self.ratio})"
        else:
            title = f"Heavily compressed attention (1/{self.ratio})"
        notes = [
            ("heads", f"{a.n_heads} heads, 1 K=V head"),
            ("head_dim", f"head dim {a.head_dim}, query rank {a.q_lora_rank:,}"),
            ("window", f"window {a.window_keys:,} tokens"),
        ]
        if self.ratio:
            pooled = f"windows of {2 * self.ratio}, stride {self.ratio}" if a.compress_overlap else "disjoint"
            notes.append(("compress", f"1 entry per {self.ratio} tokens ({pooled})"))
            if a.indexer_heads:
                notes.append(("indexer", f"indexer {a.indexer_heads} x {a.indexer_head_dim}, top {a.indexer_topk:,}"))
            else:
                notes.append(("indexer", "every entry attended"))
        notes.append(("output", f"output: {a.o_groups} groups x rank {a.o_lora_rank:,}"))
        notes.append(("position", self.box_position()))
        if a.sinks:
            notes.append(("attention_extras", "sinks"))
        window = f"window's last {a.window - 1} tokens"
        if self.ratio:
            per_token = a.head_dim * 2 / self.ratio
            notes.append(("kv", f"KV cache {per_token:g} B/token/layer (bf16) + the {window}"))
        else:
            notes.append(("kv", f"KV cache: the {window} only"))
        features = {
            "mixer": self.label,
            "position": a.position,
            "window": "yes" if a.window else "no",
            "qk_norm": "no" if a.qk_norm == "none" else "yes",
            "sinks": "yes" if a.sinks else "no",
            "gate": "yes" if a.output_gate != "none" else "no",
        }
        # its label names its window and its entries: no "sliding-window" before it
        words = self.label + (" without RoPE" if a.position == "nope" else "")
        return Box("attention", title, tuple(notes), block_words=words, features=tuple(features.items()))

    def module(self, d_model: int):
        from .compressed_attention_torch import CompressedAttentionModule

        return CompressedAttentionModule(d_model, self.ir)

    # -- weights --------------------------------------------------------------------------------------

    def _compressor_width(self) -> int:
        """Channels a token projects to per compressor: two series (this window's and the next's) on csa."""
        return (2 if self.ir.compress_overlap else 1) * self.ir.head_dim

    def weights(self, d_model: int) -> list[Weight]:
        a, p, d = self.ir, f"{self.slot}.", d_model
        q_out = a.n_heads * a.head_dim
        out = linear(f"{p}q_a_proj", d, a.q_lora_rank, "attention", split="replicated")
        out += norm(f"{p}q_a_norm", a.q_lora_rank, "attention")
        out += linear(f"{p}q_b_proj", a.q_lora_rank, q_out, "attention")
        out += linear(f"{p}kv_proj", d, a.head_dim, "attention", split="replicated")
        out += norm(f"{p}kv_norm", a.head_dim, "attention")
        # block-diagonal: each of o_groups groups of heads (q_out / o_groups channels) to o_lora_rank
        out += [Weight(f"{p}o_a_proj.weight", (a.o_groups * a.o_lora_rank, q_out // a.o_groups), True, "attention")]
        out += linear(f"{p}o_b_proj", a.o_groups * a.o_lora_rank, d, "attention", split="row")
        out += vector(f"{p}sinks", (a.n_heads,), "attention", split="column")
        if self.ratio is None:
            return out
        c, w = f"{p}compressor.", self._compressor_width()
        out += linear(f"{c}kv_proj", d, w, "attention", split="replicated")
        out += linear(f"{c}gate_proj", d, w, "attention", split="replicated")
        out += vector(f"{c}position_bias", (self.ratio, w), "attention")
        out += norm(f"{c}kv_norm", a.head_dim, "attention")
        if a.indexer_heads:
            i, iw = f"{c}indexer.", 2 * a.indexer_head_dim  # the indexer's compressor overlaps as csa's does
            out += linear(f"{i}kv_proj", d, iw, "attention", split="replicated")
            out += linear(f"{i}gate_proj", d, iw, "attention", split="replicated")
            out += vector(f"{i}position_bias", (self.ratio, iw), "attention")
            out += norm(f"{i}kv_norm", a.indexer_head_dim, "attention")
            out += linear(f"{i}q_b_proj", a.q_lora_rank, a.indexer_heads * a.indexer_head_dim, "attention")
            out += linear(f"{i}weights_proj", d, a.indexer_heads, "attention", split="replicated")
        return out

    # -- the cache ------------------------------------------------------------------------------------

    def cache_elements_per_token(self) -> int:
        return self.ir.head_dim  # one tensor is both key and value

    def mha_elements_per_token(self) -> int:
        return self.ir.n_heads * 2 * self.ir.head_dim

    def gallery_elements_per_token(self) -> Fraction:
        """The compressed entries at their ratio; the window (and a sliding-only layer) left out, as the
        gallery's DeepSeek V4 figures count (Flash 5.4 KiB, Pro 7.7 KiB per token)."""
        return Fraction(self.ir.head_dim, self.ratio) if self.ratio else Fraction(0)

    @property
    def cache_limit(self) -> Optional[int]:
        return self.ir.window - 1 if self.ratio is None else None

    def cache_parts(self, ctx: int) -> dict[str, int]:
        """Elements this layer keeps for one sequence after `ctx` tokens, by part (transformers 5.23's
        DeepseekV4CSACache / HCACache): the window's last window - 1 tokens; one entry per `ratio` tokens;
        the compressor's pending tokens (ctx mod ratio, a key/value and a gate each, at its projection
        width); csa's overlap slice (the last closed window's first series, key/value and gate: 2 x ratio
        x head_dim, once a window has closed); csa's indexer keeps the same at its head dim."""
        a = self.ir
        out = {"window": min(ctx, a.window - 1) * a.head_dim}
        if self.ratio is None:
            return out
        entries, pending = divmod(ctx, self.ratio)
        out["compressed"] = entries * a.head_dim
        out["pending"] = pending * 2 * self._compressor_width()
        out["overlap"] = 2 * self.ratio * a.head_dim if a.compress_overlap and entries else 0
        if a.indexer_heads:
            out["indexer_keys"] = entries * a.indexer_head_dim
            out["indexer_pending"] = pending * 2 * 2 * a.indexer_head_dim
            out["indexer_overlap"] = 2 * self.ratio * a.indexer_head_dim if entries else 0
        return out

    def cache_row(self, kind: str, ctx: int, kv_bytes, state_bytes) -> CacheRow:
        a, parts = self.ir, self.cache_parts(ctx)
        tokens = min(ctx, a.window - 1)
        # the compressor's pending tokens and overlap slices are its state (fp32 by default: transformers
        # keeps the compressor's projections in float32); entries and indexer keys are cache, at kv_bytes
        state = parts.get("pending", 0) + parts.get("overlap", 0) + parts.get("indexer_pending", 0)
        state += parts.get("indexer_overlap", 0)
        entries = parts.get("compressed", 0) + parts.get("indexer_keys", 0)
        formula = f"{a.head_dim} x {kv_bytes} B x {tokens:,} window"
        if self.ratio is not None:
            n = ctx // self.ratio
            width = f"({a.head_dim} + {a.indexer_head_dim})" if a.indexer_heads else f"{a.head_dim}"
            formula += f" + {width} x {kv_bytes} B x {n:,} entries + {state:,} x {state_bytes} B state"
        return CacheRow(
            key=(kind, a.head_dim, self.ratio, a.indexer_head_dim, a.window),
            label=f"{self.mix_name(kind)} K=V x {a.head_dim}"
            + (f" + indexer x {a.indexer_head_dim}" if a.indexer_heads else "")
            + f", last {a.window - 1} tokens",
            elements_per_token=a.head_dim,
            tokens=tokens,
            fixed_bytes=int(state * state_bytes),
            formula=formula,
            gallery_elements_per_token=self.gallery_elements_per_token(),
            extra_bytes=int(entries * kv_bytes),
        )

    def cache_share(self, tp: int) -> float:
        return 1.0  # one key head: every rank holds it (transformers keeps this attention replicated)

    # -- FLOPs ----------------------------------------------------------------------------------------

    def pair_macs(self) -> int:
        """A query's product with one key (head_dim) and with the same tensor as a value, per head."""
        return self.ir.n_heads * 2 * self.ir.head_dim

    def _indexer_pair_macs(self) -> int:
        a = self.ir
        return a.indexer_heads * a.indexer_head_dim if a.indexer_heads else 0

    def _entries_seen(self, t: int) -> int:
        entries = t // self.ratio
        return min(entries, self.ir.indexer_topk) if self.ir.indexer_topk else entries

    def score_macs(self, t: int) -> int:
        """The t-th query: its window and the compressed entries it sees; the indexer scores every entry."""
        a = self.ir
        keys = min(t, a.window)
        if self.ratio is None:
            return keys * self.pair_macs()
        return (keys + self._entries_seen(t)) * self.pair_macs() + t // self.ratio * self._indexer_pair_macs()

    def _prefill_entries(self, S: int) -> int:
        """sum over the S prefill queries of the entries each sees (csa: capped at top-k)."""
        topk = self.ir.indexer_topk
        if not topk:
            return closed_entries_sum(S, self.ratio)
        below = min(S, topk * self.ratio - 1)  # queries that see fewer than top-k entries
        return closed_entries_sum(below, self.ratio) + topk * (S - below)

    def sequence_macs(self, S: int, ctx: int) -> dict[str, int]:
        if S == 1:
            return {"attention_scores": self.score_macs(ctx)}
        macs = window_pairs(self.ir.window, S) * self.pair_macs()
        if self.ratio is not None:
            macs += self._prefill_entries(S) * self.pair_macs()
            macs += closed_entries_sum(S, self.ratio) * self._indexer_pair_macs()
        return {"attention_scores": macs}

    def traced_excess_macs(self, S: int) -> int:
        # the traced prefill scores every query against all S tokens and all S // ratio entries (csa:
        # min(top-k, S // ratio) gathered ones), and its indexer against all S // ratio entries
        excess = (S * S - window_pairs(self.ir.window, S)) * self.pair_macs()
        if self.ratio is not None:
            entries = S // self.ratio
            seen = min(entries, self.ir.indexer_topk) if self.ir.indexer_topk else entries
            excess += (S * seen - self._prefill_entries(S)) * self.pair_macs()
            excess += (S * entries - closed_entries_sum(S, self.ratio)) * self._indexer_pair_macs()
        return excess
