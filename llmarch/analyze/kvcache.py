"""KV-cache (and recurrent-state) memory of one sequence, per layer kind, at a context length.

Conventions (printed under every table):
- Attention layers cache n_kv_heads x (K head dim + V head dim) elements per token.
- MLA caches its compressed latent as inference engines do: kv_lora_rank + qk_rope_head_dim per
  token (one shared "head", no x2 for K and V), not the decompressed K and V; DeepSeek V3.2's
  indexer adds its key (index_head_dim) per token to the total.
- Sliding-window and chunked layers hold min(context, window or chunk) tokens, the window being the keys
  one query attends, itself included (transformers' mask k > q - window, which every shipped family's
  config means); a family whose window counts earlier tokens only (MiMo-V2-Flash: 128 earlier + the
  query) holds window + 1. Layers that reuse another layer's KV hold nothing.
- Linear-attention and state-space layers hold a fixed state whatever the context: Gated DeltaNet
  v_heads x d_k x d_v, Kimi Delta Attention heads x d x d, Mamba-2 heads x head_dim x state_dim, in
  the state dtype (default fp32), plus the short-convolution state, (kernel - 1) x channels, in the
  KV dtype.
- DeepSeek V4's compressed attention: every layer keeps its window's last `window - 1` tokens of one
  head_dim tensor that is key and value (as transformers' DeepseekV4 cache does); a csa (hca) layer adds
  ctx // ratio compressed entries of head_dim (csa: and its indexer's keys of index_head_dim), and its
  compressor's state in the state dtype: the ctx % ratio pending tokens (key/value and gate at the
  projection width, 2 x head_dim on csa) and, on csa, the overlap slice (key/value and gate, ratio x
  head_dim, for the main and the indexer compressor).  The engine total counts all of it, the fixed
  buffers included; the gallery-style figure counts the entries at their ratio only.
- Quantised caches count nominal bits per element (no scales).  Batch multiplies the total.
- Context suffixes: k = 1024 tokens, m = 1024 x 1024 (128k = 131,072).
- per_token_bytes_all_layers is the gallery's figure, not the engine's: see
  conventions.KV_PER_TOKEN_ALL_LAYERS (windows ignored, state and indexer keys left out).
No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional, Sequence

from ..conventions import KV_PER_TOKEN_ALL_LAYERS
from ..errors import ParameterError, shorten
from ..ir import ModelIR
from ..mechanisms.layers import layer_mixer
from ..mechanisms.layers import table_conventions as mechanism_table_conventions

DTYPE_BYTES: dict[str, Fraction] = {
    "fp32": Fraction(4),
    "bf16": Fraction(2),
    "fp16": Fraction(2),
    "fp8": Fraction(1),
    "int8": Fraction(1),
    "int4": Fraction(1, 2),
}

CONVENTIONS = {
    "attention": "attention layers cache n_kv_heads x (K head dim + V head dim) elements per token",
    "mla": "MLA caches the compressed latent, kv_lora_rank + qk_rope_head_dim per token (not decompressed K/V); a DSA indexer adds its key dim",
    "windows": "sliding-window / chunked layers hold min(context, window or chunk) tokens, a window being the keys one query attends, itself included (window + 1 where a family's window counts earlier tokens only, as MiMo-V2-Flash's)",
    "state": "linear-attention / SSM layers hold a fixed state (state dtype) plus the conv state (kernel - 1) x channels (KV dtype)",
    "compressed": "DeepSeek V4: every layer keeps its window's last window - 1 tokens of one K=V tensor; csa / hca layers add one entry per ratio tokens (csa: and its indexer's key), and their compressors' state (pending tokens, key/value and gate, and csa's overlap slice, in the state dtype); the total counts it all",
    "quantised": "quantised caches count nominal bits per element, no scales",
    "context": "k = 1024 tokens, m = 1024 x 1024 tokens; tables print exact integers",
    "bytes": "KiB/MiB/GiB = 1024^1/2/3",
    "per_token_all_layers": KV_PER_TOKEN_ALL_LAYERS,
}


def table_conventions(irs: Sequence[ModelIR], kv_dtype: str = "bf16") -> dict[str, str]:
    """The lines a human table of `irs` prints (a mechanism's own line only where a model holds it; the
    quantised-cache line only for a cache below 16 bits)."""
    lines = mechanism_table_conventions(CONVENTIONS, list(irs))
    return {k: v for k, v in lines.items() if k != "quantised" or DTYPE_BYTES[kv_dtype] < 2}


def dtype_bytes(name: str, parameter: str = "kv_dtype") -> Fraction:
    try:
        return DTYPE_BYTES[name]
    except KeyError:
        raise ParameterError(
            f"unknown {{{parameter}}} `{{name}}`; one of: {', '.join(DTYPE_BYTES)}", name=shorten(name)
        ) from None


@dataclass(frozen=True)
class KindRow:
    kind: str  # e.g. "52 x local(1024) GQA 16 KV x 128"
    key: tuple  # what makes two layers the same row
    layers: int
    elements_per_token: int  # per layer
    bytes_per_token_per_layer: int
    tokens_cached: int  # per layer
    fixed_bytes: int  # per layer: recurrent state
    bytes: int  # all layers of this kind at this context, one sequence
    formula: str


@dataclass
class KVResult:
    name: str  # with a what-if's edits (`ModelIR.edited_name`): a plot's legend tells a model from its edit
    ctx_tokens: int
    batch: int
    kv_dtype: str
    state_dtype: str
    rows: list[KindRow]
    per_token_bytes_all_layers: int
    baseline: Optional[dict] = None
    sweep: list[dict] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return self.batch * sum(r.bytes for r in self.rows)

    def as_dict(self) -> dict:
        out = {
            "ctx_tokens": self.ctx_tokens,
            "batch": self.batch,
            "kv_dtype": self.kv_dtype,
            "state_dtype": self.state_dtype,
            "total_bytes": self.total_bytes,
            "per_token_bytes_all_layers": self.per_token_bytes_all_layers,
            "by_layer_kind": [
                {
                    "kind": r.kind,
                    "layers": r.layers,
                    "bytes_per_token_per_layer": r.bytes_per_token_per_layer,
                    "tokens_cached": r.tokens_cached,
                    "fixed_bytes": r.fixed_bytes,
                    "bytes": r.bytes,
                    "formula": r.formula,
                }
                for r in self.rows
            ],
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline
        if self.sweep:
            out["sweep"] = self.sweep
        return out


def kv_cache(ir: ModelIR, ctx: int, batch: int = 1, kv_dtype: str = "bf16", state_dtype: str = "fp32") -> KVResult:
    """The cache of `batch` sequences of `ctx` tokens, one row per layer kind."""
    kv, state = dtype_bytes(kv_dtype), dtype_bytes(state_dtype, "state_dtype")
    if batch < 1:
        raise ParameterError("{batch} must be at least 1")
    groups: dict[tuple, dict] = {}
    per_token_all = Fraction(0)
    for layer, n in ir.layer_groups:  # equal layers cache the same: one of each, times how many
        mixer = layer_mixer(ir, layer)
        row = mixer.cache_row(layer.mixer, ctx, kv, state) if mixer is not None else None
        if row is None:
            continue
        per_token_all += n * row.gallery_elements_per_token * kv
        g = groups.setdefault(
            row.key,
            {
                "label": row.label,
                "n": 0,
                "elems": row.elements_per_token,
                "tokens": row.tokens,
                "fixed": row.fixed_bytes,
                "formula": row.formula,
                "extra": row.extra_bytes,
            },
        )
        g["n"] += n
    rows = []
    for key, g in groups.items():
        per_layer = int(g["elems"] * kv * g["tokens"]) + g["fixed"] + g["extra"]
        rows.append(
            KindRow(
                kind=f"{g['n']} x {g['label']}",
                key=key,
                layers=g["n"],
                elements_per_token=g["elems"],
                bytes_per_token_per_layer=int(g["elems"] * kv),
                tokens_cached=g["tokens"],
                fixed_bytes=g["fixed"],
                bytes=g["n"] * per_layer,
                formula=f"{g['n']} x {g['formula']}",
            )
        )
    return KVResult(ir.edited_name, ctx, batch, kv_dtype, state_dtype, rows, int(per_token_all))


def baseline(ir: ModelIR, result: KVResult, kind: str) -> dict:
    """The same model's cache without its savings: `global` (no windows, linear layers as full
    attention) or `mha` (n_heads x (d_qk + d_v) per token on every layer)."""
    kv = dtype_bytes(result.kv_dtype)
    mixers = [m for m in (layer_mixer(ir, layer) for layer in ir.layers) if m is not None]
    attn = [m for m in mixers if m.attends]
    if not attn and kind == "global":
        raise ParameterError("{ir} has no attention layers to take a global baseline from", ir=ir.name)
    # a linear layer counts as the model's full attention (its first layer without a window or chunk)
    ref = next((m for m in attn if m.cache_limit is None), attn[0] if attn else None)
    per_token = Fraction(0)
    for mixer in mixers:
        a = mixer if mixer.attends else ref
        if kind == "global":
            elems = a.cache_elements_per_token()
        elif kind == "mha":
            if a is None:
                continue
            elems = a.mha_elements_per_token()
        else:
            raise ParameterError("unknown {baseline} `{kind}`; one of: global, mha", kind=shorten(kind))
        per_token += elems * kv
    total = int(per_token * result.ctx_tokens) * result.batch
    return {
        "kind": kind,
        "total_bytes": total,
        "factor": round(total / result.total_bytes, 3) if result.total_bytes else None,
    }


def kv_answer(
    ir: ModelIR,
    ctx: int,
    batch: int = 1,
    kv_dtype: str = "bf16",
    state_dtype: str = "fp32",
    baseline_kind: Optional[str] = None,
    sweep: Sequence[int] = (),
) -> KVResult:
    """`kvcache`'s answer for one model: the cache at `ctx`, with its baseline and its totals over `sweep`."""
    r = kv_cache(ir, ctx, batch, kv_dtype, state_dtype)
    if baseline_kind:
        r.baseline = baseline(ir, r, baseline_kind)
    for t in sweep:
        r.sweep.append({"ctx_tokens": t, "total_bytes": kv_cache(ir, t, batch, kv_dtype, state_dtype).total_bytes})
    return r
