"""import-hf at the edges: configs edited away from the shipped ones import to transformers' own counts.

A builder can be right for every vendored config and wrong for a config one edit away (issue 26: a
DeepSeek-V3 config trimmed to 2 layers with `first_k_dense_replace: 3` imported as two MoE layers).
So each family (every model type import-hf supports) starts from a vendored config in
tests/data/configs, is edited (fewer layers, one layer of each kind, dense prefix none and all,
windows larger than the context, ...) and the import's total and active parameters are held against
transformers 5 built on meta from the same edited config.  A family added later joins with one row
of FAMILIES (a test below fails until it does).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable, Optional

import pytest
import yaml

import llmarch
from conftest import CONFIGS, causal_lm_on_meta, upstream_config
from llmarch.errors import SpecError
from llmarch.importers import hf as import_hf
from llmarch.importers.hf import import_config, spec_yaml
from llmarch.spec.resolve import to_ir
from llmarch.spec.validate import validate
from llmarch.spec.yamlsafe import load_text

# ---------------------------------------------------------------------------
# Edits of a text config (a dict, edited in place)

# Per-layer list keys, cut with the layer count (an index list keeps the indices still in range)
PER_LAYER_LISTS = (
    "layer_types",
    "mlp_layer_types",
    "no_rope_layers",
    "moe_layer_freq",
    "hybrid_layer_pattern",
    "layers_block_type",
    "intermediate_size",
    "activation_sparsity_pattern",
    "num_attention_heads_per_layer",
)
ZERO_BASED_INDICES = ("mlp_only_layers", "moe_layers")


def trim(raw: dict, n: int) -> None:
    """Keep the first `n` layers: the layer count and every per-layer key that follows it."""
    # the layer count under the config's own name (GPT-2's n_layer, xLSTM's num_blocks, LongCat's num_layers:
    # decoder layers of two sublayers, transformers' num_hidden_layers = 2 x n)
    raw[next((k for k in ("n_layer", "num_blocks", "num_layers") if k in raw), "num_hidden_layers")] = n
    for key in PER_LAYER_LISTS:
        if isinstance(raw.get(key), list) and raw[key]:
            raw[key] = raw[key][:n]
    for key in ZERO_BASED_INDICES:
        if isinstance(raw.get(key), list):
            raw[key] = [i for i in raw[key] if i < n]
    if isinstance(raw.get("hybrid_override_pattern"), str):
        raw["hybrid_override_pattern"] = raw["hybrid_override_pattern"][:n]
    linear = raw.get("linear_attn_config")
    if isinstance(linear, dict):  # Kimi Linear: 1-based layer numbers
        for key in ("full_attn_layers", "kda_layers"):
            if key in linear:
                linear[key] = [i for i in linear[key] if i <= n]
    if raw.get("num_kv_shared_layers", 0) >= n:
        raw["num_kv_shared_layers"] = n // 2


@dataclass(frozen=True)
class Edit:
    """Trim to `n_layers`, then set `values` (None deletes a key); `label` names the case."""

    label: str
    n_layers: int
    values: dict = field(default_factory=dict)
    refused: str = ""  # import-hf must refuse the config, naming this key (transformers builds what no spec says)

    def apply(self, raw: dict) -> dict:
        raw = copy.deepcopy(raw)
        trim(raw, self.n_layers)
        for key, value in self.values.items():
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        return raw


def kinds(label: str, key: str, values: list) -> Edit:
    """A stack whose per-layer `key` is exactly `values` (one layer of each kind, or a mix)."""
    return Edit(label, len(values), {key: values})


# Edits every family gets: one layer, and a short stack
COMMON = (Edit("1 layer", 1), Edit("3 layers", 3))

S, F, LIN = "sliding_attention", "full_attention", "linear_attention"


@dataclass(frozen=True)
class Family:
    model_type: str  # the model type import-hf reads (a wrapper's, for multimodal families)
    config: str  # tests/data/configs/<config>.json, or <config>.values.yaml
    edits: tuple = ()
    wrapper: bool = False  # the edits apply to text_config; transformers builds the whole wrapper
    # the config in the names transformers reads, where the vendor's remote code reads others
    for_transformers: Optional[Callable[[dict], dict]] = None
    skip: str = ""  # why transformers cannot build it here
    # text-config keys removed before editing: a quantisation ignore list names modules (shared experts)
    # that a stack trimmed below its dense prefix no longer has, which import-hf rightly refuses
    drop: tuple = ()
    retype: bool = False  # import the config as `model_type` (a family of a type the vendored config does not name)
    # (total, active) transformers' build leaves out or miscounts, by hand, where no transformers class builds it all
    by_hand: Optional[Callable[[dict], tuple[int, int]]] = None


NGRAM_KEYS = ("ngram_vocab_size_ratio", "emb_neighbor_num", "emb_split_num")


def longcat_for_transformers(raw: dict) -> dict:
    """LongCat in what transformers' longcat_flash builds right: no n-gram keys (transformers has none), and no
    zero experts, whose gate_up_proj rows transformers adds although a zero expert is the identity (its
    LongcatFlashExperts sizes gate_up_proj over n_routed_experts + zero_expert_num, down_proj over
    n_routed_experts); `longcat_by_hand` adds back the router rows the zero experts do have."""
    out = {k: v for k, v in raw.items() if k not in NGRAM_KEYS}
    return dict(out, model_type="longcat_flash", zero_expert_num=0)


def longcat_by_hand(raw: dict) -> tuple[int, int]:
    """What `longcat_for_transformers` leaves out: the router's zero_expert_num output rows (d each) in each of
    num_layers MoE blocks, multiplied by every token; and the n-gram embeddings (publisher's
    modeling_longcat_ngram.py): k (n - 1) tables, table i of ratio x vocab + 2i + 1 rows of d / (k (n - 1))
    (lookups, not active), each projected back to d by a bias-free Linear (active)."""
    d = raw["hidden_size"]
    router = raw["num_layers"] * raw.get("zero_expert_num", 256) * d
    if raw.get("ngram_vocab_size_ratio") is None:
        return router, router
    tables = raw["emb_split_num"] * (raw["emb_neighbor_num"] - 1)
    dim = d // tables
    rows = sum(raw["ngram_vocab_size_ratio"] * raw["vocab_size"] + 2 * i + 1 for i in range(tables))
    projections = tables * dim * d
    return router + rows * dim + projections, router + projections


LONGCAT_EDITS = (
    Edit("no zero experts", 2, {"zero_expert_num": 0}),
    Edit("more zero experts than top_k", 1, {"zero_expert_num": 300}),
    Edit("2 experts of 1", 2, {"n_routed_experts": 2, "moe_topk": 1}),
)


def mimo_layer_types(raw: dict) -> dict:
    """MiMo-V2-Flash's hub keys (Xiaomi's code) in transformers 5's names: 0 global, 1 sliding; 0 dense, 1 experts."""
    return dict(
        raw,
        layer_types=[S if p else F for p in raw["hybrid_layer_pattern"]],
        mlp_layer_types=["sparse" if f else "dense" for f in raw["moe_layer_freq"]],
    )


DEEPSEEK_PREFIX = (
    Edit("2 layers, first_k_dense_replace 3 (issue 26)", 2, {"first_k_dense_replace": 3}),
    Edit("dense prefix 0", 3, {"first_k_dense_replace": 0}),
    Edit("dense prefix = all layers", 3, {"first_k_dense_replace": 3}),
    Edit("dense prefix 1 of 2", 2, {"first_k_dense_replace": 1}),
)
NO_SHARED = Edit("no shared experts", 2, {"n_shared_experts": 0, "first_k_dense_replace": 1})

# DeepSeek V4: its configs' legacy spellings (compress_ratios, num_hash_layers, qk_rope_head_dim, rope_scaling)
# and transformers 5's (layer_types, compress_rates, mlp_layer_types, partial_rotary_factor), each alone
CSA, HCA = "compressed_sparse_attention", "heavily_compressed_attention"
V4_MODERN = {
    "compress_ratios": None,
    "num_hash_layers": None,
    "qk_rope_head_dim": None,
    "layer_types": [S, CSA, HCA],
    "compress_rates": {CSA: 4, HCA: 128},
    "mlp_layer_types": ["hash_moe", "moe", "moe"],
    "partial_rotary_factor": 0.125,
}
DEEPSEEK_V4 = (
    kinds("one layer of each kind", "layer_types", [S, CSA, HCA]),
    Edit("transformers 5's spellings", 3, V4_MODERN),
    Edit("other compression rates (legacy scalars)", 3, {"compress_rate_csa": 8, "compress_rate_hca": 64}),
    Edit("other compression rates (compress_rates)", 3, dict(V4_MODERN, compress_rates={CSA: 2, HCA: 16})),
    Edit("no ratios: the class's default pattern", 4, {"compress_ratios": None}),
    Edit("1 hash layer", 3, {"num_hash_layers": 1}),
    Edit("no hash layer", 3, {"num_hash_layers": 0}),
    Edit("every layer hash-routed", 3, {"num_hash_layers": 5}),
    Edit("one shared expert whatever the count", 2, {"n_shared_experts": 2}, refused="n_shared_experts"),
)

FAMILIES = (
    Family("llama", "llama-3.2-1b", (Edit("untied", 2, {"tie_word_embeddings": False}),)),
    Family(
        "mistral",
        "mistral-7b",
        (
            Edit("no window", 2, {"sliding_window": None}),
            Edit("window larger than the context", 2, {"sliding_window": 65536, "max_position_embeddings": 4096}),
        ),
    ),
    Family(
        "mixtral",
        "mixtral-8x7b",
        (
            Edit("window", 2, {"sliding_window": 4096}),
            Edit("top-1 of 2 experts", 2, {"num_local_experts": 2, "num_experts_per_tok": 1}),
        ),
    ),
    Family("ministral3", "ministral-3-8b", (Edit("window", 2, {"sliding_window": 4096}),), wrapper=True),
    Family("mistral3", "mistral-small-3.1-24b", (Edit("window", 2, {"sliding_window": 4096}),), wrapper=True),
    # Mistral Small 4's text model from its collected values (transformers builds Mistral4ForCausalLM alone)
    Family("mistral4", "mistral-small-4-119b", (*DEEPSEEK_PREFIX, NO_SHARED)),
    Family("olmo2", "olmo-2-7b"),
    Family(
        "olmo3",
        "olmo-3-7b",
        (
            kinds("one sliding layer", "layer_types", [S]),
            kinds("one full layer", "layer_types", [F]),
            kinds("all full", "layer_types", [F, F, F]),
            Edit("window larger than the context", 4, {"sliding_window": 131072}),
        ),
    ),
    Family(
        "qwen3",
        "qwen3-0.6b",
        (
            Edit(
                "sliding from layer 1", 3, {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 1}
            ),
            Edit(
                "sliding on every layer",
                2,
                {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 0},
            ),
            Edit(
                "sliding after the last layer",
                2,
                {"use_sliding_window": True, "sliding_window": 4096, "max_window_layers": 5},
            ),
            Edit(
                "window larger than the context",
                2,
                {"use_sliding_window": True, "sliding_window": 10**6, "max_window_layers": 1},
            ),
        ),
    ),
    Family(
        "qwen3_moe",
        "qwen3-30b-a3b",
        (
            Edit("every layer dense", 2, {"mlp_only_layers": [0, 1]}),
            Edit("dense layer 0", 2, {"mlp_only_layers": [0]}),
            Edit("experts every 2nd layer", 3, {"decoder_sparse_step": 2}),
            Edit("sparse step beyond the stack", 2, {"decoder_sparse_step": 3}),
        ),
    ),
    Family(
        "qwen3_next",
        "qwen3-next-80b-a3b",
        (
            kinds("one linear layer", "layer_types", [LIN]),
            Edit("layer_types from full_attention_interval 2", 4, {"layer_types": None, "full_attention_interval": 2}),
            kinds("one full layer", "layer_types", [F]),
            kinds("all full", "layer_types", [F, F]),
            Edit("every layer dense", 2, {"mlp_only_layers": [0, 1], "layer_types": [LIN, F]}),
            Edit(
                "no shared expert",
                2,
                {"shared_expert_intermediate_size": 0, "layer_types": [LIN, F]},
                refused="shared_expert_intermediate_size",
            ),
        ),
    ),
    Family("deepseek_v3", "deepseek-v3", (*DEEPSEEK_PREFIX, NO_SHARED)),
    Family(
        "deepseek_v32",
        "deepseek-v3.2-exp",
        (
            *DEEPSEEK_PREFIX,
            kinds("all dense by mlp_layer_types", "mlp_layer_types", ["dense", "dense"]),
            kinds("all sparse by mlp_layer_types", "mlp_layer_types", ["sparse", "sparse"]),
        ),
    ),
    Family("kimi_k2", "kimi-k2", DEEPSEEK_PREFIX),
    Family("glm4_moe", "glm-4.5-air", (*DEEPSEEK_PREFIX, NO_SHARED)),
    Family(
        "kimi_linear",
        "kimi-linear-48b-a3b",
        (
            Edit("one KDA layer", 1, {"linear_attn_config": {"full_attn_layers": [], "kda_layers": [1]}}),
            Edit("one MLA layer", 1, {"linear_attn_config": {"full_attn_layers": [1], "kda_layers": []}}),
            Edit("linear_attn_config by default", 5, {"linear_attn_config": None}),
            Edit(
                "all dense",
                2,
                {"first_k_dense_replace": 2, "linear_attn_config": {"full_attn_layers": [2], "kda_layers": [1]}},
            ),
            Edit(
                "dense prefix 0",
                2,
                {"first_k_dense_replace": 0, "linear_attn_config": {"full_attn_layers": [2], "kda_layers": [1]}},
            ),
        ),
    ),
    Family(
        "gemma3_text",
        "gemma-3-1b",
        (
            kinds("one sliding layer", "layer_types", [S]),
            kinds("one full layer", "layer_types", [F]),
            kinds("all full", "layer_types", [F, F]),
            Edit("window larger than the context", 3, {"sliding_window": 65536}),
            Edit("layer_types from sliding_window_pattern 2", 4, {"layer_types": None, "sliding_window_pattern": 2}),
        ),
    ),
    Family("gemma3", "gemma-3-4b", (kinds("all full", "layer_types", [F, F]),), wrapper=True),
    Family(
        "gemma3n_text",
        "gemma-3n-e4b",
        (
            Edit("no shared KV", 2, {"num_kv_shared_layers": 0}),
            Edit("4 layers, 2 sharing", 4, {"layer_types": [S, F, S, F], "num_kv_shared_layers": 2}),
        ),
    ),
    Family("gemma3n", "gemma-3n-e4b", wrapper=True, skip="the timm vision tower needs torchvision"),
    Family(
        "gemma4",
        "gemma-4-31b",
        (
            kinds("all full", "layer_types", [F, F]),
            Edit("values are not keys (num_global_key_value_heads unread)", 2, {"attention_k_eq_v": False}),
            Edit("transformers' per_layer_config stated", 2, {"per_layer_config": {"1": {"head_dim": 256}}}),
            Edit("bidirectional", 2, {"use_bidirectional_attention": "all"}, refused="use_bidirectional_attention"),
        ),
        wrapper=True,
    ),
    Family(
        "gemma4_text",
        "gemma-4-26b-a4b",
        (
            Edit("no MoE block", 2, {"enable_moe_block": False}),
            Edit("top-1 of 4 experts", 2, {"num_experts": 4, "top_k_experts": 1}),
            # E2B's mechanisms on the same stack: per-layer embeddings, 2 of 4 layers sharing KV, double-wide MLP
            Edit(
                "per-layer embeddings, KV sharing, double-wide MLP",
                4,
                {
                    "layer_types": [S, F, S, F],
                    "enable_moe_block": False,
                    "hidden_size_per_layer_input": 64,
                    "vocab_size_per_layer_input": 1000,
                    "num_kv_shared_layers": 2,
                    "use_double_wide_mlp": True,
                    "attention_k_eq_v": False,
                },
            ),
        ),
    ),
    Family(
        "gpt_oss",
        "gpt-oss-20b",
        (
            kinds("one sliding layer", "layer_types", [S]),
            kinds("all full", "layer_types", [F, F]),
            Edit("window larger than the context", 2, {"sliding_window": 10**6}),
            Edit("layer_types by default (alternating)", 3, {"layer_types": None}),
        ),
    ),
    Family("olmoe", "olmoe-1b-7b", (Edit("top-1", 2, {"num_experts_per_tok": 1}),)),
    Family(
        "smollm3",
        "smollm3-3b",
        (
            Edit("no NoPE layer", 2, {"no_rope_layers": [1, 1]}),
            Edit("all NoPE", 2, {"no_rope_layers": [0, 0]}),
            Edit("no_rope_layers from interval 2", 4, {"no_rope_layers": None, "no_rope_layer_interval": 2}),
        ),
    ),
    Family(
        "llama4_text",
        "llama-4-scout",
        (
            Edit("experts every 2nd layer", 4, {"interleave_moe_layer_step": 2, "moe_layers": [1, 3]}),
            Edit("no MoE layer", 2, {"interleave_moe_layer_step": 3, "moe_layers": []}),
            Edit("no chunking", 2, {"attention_chunk_size": None}),
            Edit("moe_layers from interleave step 2", 4, {"moe_layers": None, "interleave_moe_layer_step": 2}),
        ),
        wrapper=True,
    ),
    Family("llama4", "llama-4-scout", (Edit("no MoE layer", 2, {"moe_layers": []}),), wrapper=True),
    Family("minimax_m2", "minimax-m2"),
    Family(
        "nemotron_h",
        "nemotron-3-nano-30b-a3b",
        tuple(
            Edit(f"pattern {p}", len(p), {"hybrid_override_pattern": p})
            for p in ("M", "E", "*", "-", "M-", "*E", "ME*-", "MM")
        ),
    ),
    Family(
        "nemotron_h",
        "nemotron-3-super-120b-a12b",  # latent MoE and an MTP block (not built by transformers, nor counted in total)
        (
            Edit("pattern E", 1, {"hybrid_override_pattern": "E"}),
            Edit("pattern ME*", 3, {"hybrid_override_pattern": "ME*"}),
            Edit("no latent", 2, {"moe_latent_size": None}),
            Edit("latent 512", 2, {"moe_latent_size": 512}),
            Edit("no MTP", 2, {"num_nextn_predict_layers": 0}),
            Edit("MTP block as a list", 2, {"mtp_layers_block_type": ["attention", "moe"]}),
            Edit("MTP block *-", 2, {"mtp_hybrid_override_pattern": "*-"}),
            Edit("MTP block ME", 2, {"mtp_hybrid_override_pattern": "ME"}, refused="mtp_hybrid_override_pattern"),
        ),
    ),
    Family("gpt2", "gpt2", (Edit("n_inner given", 2, {"n_inner": 1000}),)),
    Family(
        "qwen3_5_text",
        "qwen3.6-27b",
        (
            kinds("one linear layer", "layer_types", [LIN]),
            kinds("one full layer", "layer_types", [F]),
            kinds("all full", "layer_types", [F, F]),
        ),
    ),
    Family("qwen3_5", "qwen3.6-27b", (kinds("all full", "layer_types", [F, F]),), wrapper=True),
    Family(
        "qwen3_5_moe_text",
        "qwen3.5-397b-a17b",
        (kinds("one linear layer", "layer_types", [LIN]), kinds("all full", "layer_types", [F, F])),
    ),
    Family("qwen3_5_moe", "qwen3.5-397b-a17b", (kinds("all full", "layer_types", [F, F]),), wrapper=True),
    Family("glm_moe_dsa", "glm-5", DEEPSEEK_PREFIX),
    Family("hy_v3", "hy3-preview"),
    Family("laguna", "laguna-xs.2"),
    # LongCat-Flash-Lite's collected values; transformers' longcat_flash builds it less the n-gram embeddings,
    # with phantom zero-expert rows (see longcat_for_transformers)
    Family(
        "longcat_flash_ngram",
        "longcat-flash-lite",
        (
            *LONGCAT_EDITS,
            Edit("no n-gram embeddings", 2, dict.fromkeys(NGRAM_KEYS)),
            Edit("2 tables of order 2", 1, {"emb_neighbor_num": 2, "emb_split_num": 2, "ngram_vocab_size_ratio": 3}),
            Edit("n-gram keys partly given", 1, {"emb_split_num": None}, refused="emb_split_num"),
        ),
        for_transformers=longcat_for_transformers,
        by_hand=longcat_by_hand,
    ),
    Family(
        "longcat_flash",
        "longcat-flash-lite",
        LONGCAT_EDITS,
        for_transformers=longcat_for_transformers,
        by_hand=longcat_by_hand,
        drop=NGRAM_KEYS,
        retype=True,
    ),
    # Step 3.5 Flash's collected values: the hub's legacy keys (moe_layers_enum, attention_other_setting, per-layer
    # rope lists padded with the 3 MTP layers); transformers builds its step3p7 text model plus the LM head
    Family(
        "step3p5",
        "step-3.5-flash",
        (
            kinds("one sliding layer", "layer_types", [S]),
            kinds("full then sliding", "layer_types", [F, S]),
            Edit("experts from layer 1", 3, {"moe_layers_enum": "1,2"}),
            Edit("every layer dense", 2, {"moe_layers_enum": ""}),
            Edit("3 dense MTP layers", 2, {"num_nextn_predict_layers": 3, "moe_layers_enum": "1"}),
            Edit("MTP layers without moe_layers_enum", 4, {"num_nextn_predict_layers": 2, "moe_layers_enum": None}),
            Edit(
                "MTP layers of two FFN kinds",
                2,
                {"num_nextn_predict_layers": 3, "moe_layers_enum": "1,2"},
                refused="mlp_layer_types",
            ),
            Edit("no shared expert", 4, {"share_expert_dim": 0}),
            Edit(
                "transformers' own keys",
                4,
                {
                    "layer_types": [F, S, S, S],
                    "mlp_layer_types": ["dense", "sparse", "sparse", "sparse"],
                    "num_sliding_attention_heads": 32,
                    "rope_parameters": {
                        "full_attention": {"rope_type": "default", "rope_theta": 5e6, "partial_rotary_factor": 0.5},
                        "sliding_attention": {"rope_type": "default", "rope_theta": 1e4},
                    },
                },
            ),
        ),
        # the MTP layers continue moe_layers_enum past a trimmed stack (layers 3 on are experts), which would mix
        # their FFN kinds; the two MTP edits above set them
        drop=("num_nextn_predict_layers",),
    ),
    Family(
        "afmoe",
        "trinity-large",  # collected values: no verbatim config was found
        (
            kinds("all sliding", "layer_types", [S, S]),
            kinds("all global (no RoPE anywhere)", "layer_types", [F, F]),
            Edit("global every 2nd layer", 4, {"global_attn_every_n_layers": 2}),
            Edit("dense prefix 0", 3, {"num_dense_layers": 0}),
            Edit("dense prefix beyond the stack", 2, {"num_dense_layers": 6}),
            Edit("no shared expert", 8, {"num_shared_experts": 0}),
            Edit("two shared experts", 8, {"num_shared_experts": 2}),
        ),
    ),
    Family("phi3", "phi-4", (Edit("window on every layer", 2, {"sliding_window": 2048}),)),
    Family("granite", "granite-4.1-30b", (Edit("untied", 2, {"tie_word_embeddings": False}),)),
    Family("kimi_k25", "kimi-k2.5", DEEPSEEK_PREFIX, wrapper=True, drop=("quantization_config",)),
    Family(
        "cohere2",
        "tiny-aya",
        (
            kinds("one full layer", "layer_types", [F]),
            kinds("all sliding", "layer_types", [S, S]),
            Edit("layer_types from sliding_window_pattern 2", 4, {"layer_types": None, "sliding_window_pattern": 2}),
            Edit("untied", 2, {"tie_word_embeddings": False}),
        ),
    ),
    Family(
        "cohere2_moe",
        "command-a-plus",
        (
            Edit("dense prefix 1", 3, {"first_k_dense_replace": 1, "layer_types": None}),
            Edit(
                "dense prefix 2 of its own width",
                3,
                {"first_k_dense_replace": 2, "prefix_dense_intermediate_size": 1024, "layer_types": None},
            ),
            Edit("no shared experts", 2, {"num_shared_experts": 0}),
            Edit("RMSNorm", 2, {"rms_norm_eps": 1e-6}),
        ),
    ),
    Family(
        "xlstm",
        "xlstm-7b",
        (
            Edit(
                "tied: refused (transformers keeps a separate head)",
                2,
                {"tie_word_embeddings": True},
                "tie_word_embeddings",
            ),
            Edit("wider keys, rounded FFN", 2, {"qk_dim_factor": 1.0, "ffn_proj_factor": 1.3}),
            Edit("hidden_size and num_hidden_layers by their config names", 2, {"hidden_size": 4096}),
        ),
    ),
    # ZAYA1-8B's collected values (no verbatim config): CCA, the MLP router with a skip expert, residual scaling
    Family(
        "zaya",
        "zaya1-8b",
        (
            Edit(
                "sliding then full",
                2,
                {"layer_types": ["hybrid_sliding", "hybrid"], "sliding_window": 512},
            ),
            Edit("attention biases", 2, {"attention_bias": True}),
            Edit("kernels 3 and 4", 2, {"cca_time0": 3, "cca_time1": 4}),
            Edit("32 experts, router width 128", 2, {"num_experts": 32, "router_hidden_size": 128}),
            Edit("MHA, head_dim 64", 2, {"num_key_value_heads": 8, "head_dim": 64}),
            Edit("untied", 2, {"tie_word_embeddings": False}),
            Edit("LM head bias: refused", 2, {"lm_head_bias": True}, refused="lm_head_bias"),
        ),
    ),
    Family(
        "cohere2_vision", "command-a-plus", (Edit("one shared expert", 2, {"num_shared_experts": 1}),), wrapper=True
    ),
    Family(
        "mimo_v2_flash",
        "mimo-v2-flash",
        for_transformers=mimo_layer_types,
        edits=(
            Edit("all global", 2, {"hybrid_layer_pattern": [0, 0]}),
            Edit("all sliding", 2, {"hybrid_layer_pattern": [1, 1]}),
            Edit("all dense", 2, {"moe_layer_freq": [0, 0]}),
            Edit("all experts", 2, {"moe_layer_freq": [1, 1]}),
        ),
    ),
    Family("deepseek_v4", "deepseek-v4-flash", DEEPSEEK_V4),
    Family(
        "mimo_v2",
        "mimo-v2.5",
        for_transformers=mimo_layer_types,
        # its fp8 ignore list names every layer's o_proj (refused: tests/test_import_hf.py, REFUSED_CONFIGS);
        # `rope_scaling: {rope_type: default}` would replace transformers' per-layer-kind RoPE (no count changes)
        drop=("quantization_config", "rope_scaling"),
        edits=(
            Edit("all global", 2, {"hybrid_layer_pattern": [0, 0]}),
            Edit("all dense", 2, {"moe_layer_freq": [0, 0]}),
        ),
    ),
)


def base_config(family: Family) -> dict:
    """The vendored config (a values file's `values`), with a text family's text_config unwrapped."""
    if (CONFIGS / f"{family.config}.json").is_file():
        raw = copy.deepcopy(upstream_config(family.config))
    else:
        raw = yaml.safe_load((CONFIGS / f"{family.config}.values.yaml").read_text())["values"]
    if not family.wrapper and "text_config" in raw:
        text = raw["text_config"]
        text.setdefault("model_type", family.model_type)
        if "tie_word_embeddings" in raw:
            text.setdefault("tie_word_embeddings", raw["tie_word_embeddings"])
        raw = text
    return raw


def edited(family: Family, edit: Edit) -> dict:
    raw = base_config(family)
    if family.drop:
        text = raw.get("text_config", raw) if family.wrapper else raw
        for key in family.drop:
            text.pop(key, None)
    if family.wrapper and family.model_type in import_hf.WRAPPER_TYPES:
        raw = dict(raw, text_config=edit.apply(raw["text_config"]))
        # A wrapper silent on tying: transformers 5 applies its class default, import-hf the text config's
        # (checkpoints written by transformers 4 tie only when the text config says so); state it once.
        raw.setdefault("tie_word_embeddings", raw["text_config"].get("tie_word_embeddings", False))
    elif family.wrapper:  # a text type whose vendored config is a wrapper's: import its text config alone
        raw = edit.apply(dict(raw["text_config"], model_type=family.model_type))
    else:
        raw = edit.apply(dict(raw, model_type=family.model_type) if family.retype else raw)
    return raw


# ---------------------------------------------------------------------------
# transformers' counts


def _hf_config(raw: dict):
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    # Kimi K2 ships DeepSeek-V3's code (auto_map), which transformers names deepseek_v3; transformers implements
    # Xiaomi's mimo_v2 (MiMo-V2.5) as mimo_v2_flash
    renamed = {"kimi_k2": "deepseek_v3", "mimo_v2": "mimo_v2_flash"}
    model_type = renamed.get(raw["model_type"], raw["model_type"])
    return CONFIG_MAPPING[model_type](**{k: v for k, v in raw.items() if k != "model_type"})


def _experts(cfg) -> tuple[int, int]:
    n = next(getattr(cfg, k) for k in ("num_local_experts", "n_routed_experts", "num_experts") if hasattr(cfg, k))
    top_k = next(
        getattr(cfg, k)
        for k in ("num_experts_per_tok", "num_experts_per_token", "experts_per_token", "top_k_experts")
        if hasattr(cfg, k)
    )
    return n, top_k


def transformers_counts(raw: dict) -> tuple[int, int]:
    """(total, active) of transformers' language model built on meta from `raw`.

    active is llmarch's convention computed from transformers' modules: every parameter but the lookup
    tables (an embedding tied to the head counts once, as the head) with each routed-expert module
    scaled by top_k / n_experts.
    """
    import torch
    from torch import nn
    from transformers import AutoModelForImageTextToText

    cfg = _hf_config(raw)
    text_cfg = cfg.get_text_config()
    wrapper = text_cfg is not cfg
    if wrapper:
        with torch.device("meta"):
            model = AutoModelForImageTextToText.from_config(cfg)
    else:
        model = causal_lm_on_meta(cfg)  # AutoModelForCausalLM, or the class it does not map (Mistral 4, Step 3.5)
    head = model.get_output_embeddings().weight

    def in_text_model(name: str) -> bool:
        return not wrapper or "language_model" in name or name.startswith("lm_head")

    total, active, seen = 0, 0, set()
    lookup = {id(m.weight) for n, m in model.named_modules() if isinstance(m, nn.Embedding) and m.weight is not head}
    for name, module in model.named_modules():
        if name.split(".")[-1] == "experts" and in_text_model(name):
            n, top_k = _experts(text_cfg)
            routed = sum(p.numel() for p in module.parameters())
            active -= routed - routed // n * top_k
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen or not in_text_model(name):
            continue
        seen.add(id(p))
        total += p.numel()
        if id(p) not in lookup:
            active += p.numel()
    return total, active


# ---------------------------------------------------------------------------
# The harness


def _cases():
    for family in FAMILIES:
        for edit in (*COMMON, *family.edits):
            marks = [pytest.mark.skip(reason=family.skip)] if family.skip else []
            # a model type with two rows (Nemotron-H: Nano, and Super's latent MoE) names its config too
            twin = sum(f.model_type == family.model_type for f in FAMILIES) > 1
            name = f"{family.model_type}[{family.config}]" if twin else family.model_type
            yield pytest.param(family, edit, id=f"{name}-{edit.label}", marks=marks)


def imported_counts(raw: dict, family: Family):
    imported = import_config(raw, name="edited", source=f"{family.config} (edited)")
    located = load_text(spec_yaml(imported), "edited.yaml")
    count = llmarch.count_params(to_ir(validate(located), located))
    return count.total, count.active


@pytest.mark.parametrize("family,edit", list(_cases()))
def test_edited_config_imports_to_transformers_counts(family, edit):
    raw = edited(family, edit)
    if edit.refused:
        with pytest.raises(SpecError, match=edit.refused):
            imported_counts(raw, family)
        return
    total, active = imported_counts(raw, family)
    hf_total, hf_active = transformers_counts(family.for_transformers(raw) if family.for_transformers else raw)
    if family.by_hand:
        extra_total, extra_active = family.by_hand(raw)
        hf_total, hf_active = hf_total + extra_total, hf_active + extra_active
    assert total == hf_total, f"total: import-hf {total:,}, transformers {hf_total:,}"
    assert active == hf_active, f"active: import-hf {active:,}, transformers {hf_active:,}"


def test_every_supported_type_has_a_family():
    """A model type import-hf learns joins the harness (one row of FAMILIES)."""
    assert {f.model_type for f in FAMILIES} == set(import_hf.SUPPORTED_TYPES)


def test_issue_26_deepseek_trimmed_below_its_dense_prefix():
    """The reported case, by hand: 2 layers, both dense (first_k_dense_replace 3 > 2), so no expert."""
    family = next(f for f in FAMILIES if f.model_type == "deepseek_v3")
    raw = edited(family, Edit("issue 26", 2, {"first_k_dense_replace": 3}))
    imported = import_config(raw, name="edited", source="deepseek-v3 (edited)")
    located = load_text(spec_yaml(imported), "edited.yaml")
    ir = to_ir(validate(located), located)
    assert [layer.ffn for layer in ir.layers] == ["dense", "dense"]
    d, d_ff = raw["hidden_size"], raw["intermediate_size"]
    assert llmarch.count_params(ir).by_component["dense_ffn"] == 2 * 3 * d * d_ff
