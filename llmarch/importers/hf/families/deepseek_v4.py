"""DeepSeek V4: `deepseek_v4` (Flash, Pro) - compressed attention (sliding-only, CSA, HCA), hyper-connections,
hash routing.

Its configs ship legacy spellings that transformers 5.23's DeepseekV4Config folds in `__post_init__`; both are
read here, with the same precedence: `layer_types` > `compress_ratios` (one 0 / 4 / 128 per layer, plus one
for the MTP layer) > the class's default (2 HCA layers, then CSA and HCA alternating); `compress_rates`, with
`compress_rate_csa` / `compress_rate_hca` on top; `mlp_layer_types` > `num_hash_layers` (default 3);
`partial_rotary_factor` > `qk_rope_head_dim / head_dim` > 64 / 512.
"""

from __future__ import annotations

from typing import Any, Optional

from ....limits import MAX_CONTEXT, MAX_HEAD_DIM, MAX_HEADS
from ...checkpoints.naming import Family, experts, split, to
from ..common import _SHARED_EXPERTS, TextType, _base, _layers, _moe, _rmsnorm
from ..config import Config, _show
from ..keys import _QUANT, Derived, Reject, _keys, _only
from ..quant import ModuleNames
from ..rope import _scaling

CSA, HCA, SLIDING = "compressed_sparse_attention", "heavily_compressed_attention", "sliding_attention"
LETTERS = {SLIDING: "L", CSA: "S", HCA: "H"}
KINDS = {"L": "local", "S": "csa", "H": "hca"}
RATIO_TYPES = {0: SLIDING, 4: CSA, 128: HCA}  # transformers' _COMPRESS_RATIO_TO_LAYER_TYPE: these three only
DEFAULT_RATES = {CSA: 4, HCA: 128}


def _default_layer_types(r: Config) -> list[str]:
    """The legacy `compress_ratios` (0 / 4 / 128 per layer, cut to the layer count), else transformers'
    default: two HCA layers, then CSA and HCA alternating."""
    n = r.int("num_hidden_layers")
    if r.has("compress_ratios") and r.get("compress_ratios") is not None:
        ratios = r.int_list("compress_ratios", 0, MAX_CONTEXT)
        if len(ratios) < n:
            raise r.error("compress_ratios", f"{len(ratios)} entries for {n} layers (one per layer, and the MTP's)")
        for i, ratio in enumerate(ratios):
            if ratio not in RATIO_TYPES:
                raise r.error(
                    ("compress_ratios", i),
                    f"compress ratio {ratio} has no layer type in transformers (0 sliding, 4 CSA, 128 HCA)",
                    "give layer_types and compress_rates instead",
                )
        return [RATIO_TYPES[ratio] for ratio in ratios[:n]]
    return [HCA] * min(n, 2) + [CSA if i % 2 else HCA for i in range(max(n - 2, 0))]


def _default_mlp_layer_types(r: Config) -> list[str]:
    """The legacy `num_hash_layers` (default 3) hash-routed layers first, then learned routing."""
    n = r.int("num_hidden_layers")
    k = r.int("num_hash_layers", 0) if r.has("num_hash_layers") and r.get("num_hash_layers") is not None else 3
    return ["hash_moe"] * min(n, k) + ["moe"] * max(0, n - k)


def _default_partial(r: Config) -> float:
    if r.has("qk_rope_head_dim"):
        return r.int("qk_rope_head_dim") / r.int("head_dim")
    return 64 / 512  # transformers' default_partial_rotary_factor, whatever head_dim is


def _rates(cfg: Config) -> dict[str, int]:
    given = cfg.mapping("compress_rates") or {}
    rates = dict(DEFAULT_RATES)
    for kind, value in given.items():
        if kind not in DEFAULT_RATES:
            raise cfg.error(("compress_rates", kind), f"no layer type `{kind}`", f"one of: {', '.join(DEFAULT_RATES)}")
        rates[kind] = value
    where: dict[str, Any] = {kind: ("compress_rates", kind) for kind in rates}
    for key, kind in (("compress_rate_csa", CSA), ("compress_rate_hca", HCA)):  # the legacy scalars win
        if cfg.has(key) and cfg.get(key) is not None:
            rates[kind], where[kind] = cfg.get(key), key
    for kind, value in rates.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_CONTEXT:
            raise cfg.error(where[kind], f"expected a compression ratio of at least 2, got {_show(value)}")
    return rates


def _rope_blocks(cfg: Config, partial: float) -> tuple[dict, dict]:
    """The sliding-only layers' RoPE (rope_theta, no scaling) and the compressed layers' (compress_rope_theta,
    with the config's YaRN): transformers applies the scaling to the compressed layers only."""
    main: dict[str, Any] = {"theta": cfg.number("rope_theta")}
    compress: dict[str, Any] = {"theta": cfg.number("compress_rope_theta")}
    scaling = None
    nested = cfg.mapping("rope_parameters")
    legacy = cfg.mapping("rope_scaling")
    if nested and isinstance(nested.get("main"), dict) and isinstance(nested.get("compress"), dict):
        for label, block in (("main", main), ("compress", compress)):
            given = nested[label]
            if given.get("rope_theta") is not None:
                block["theta"] = given["rope_theta"]
            found = _scaling(cfg, ("rope_parameters", label), given)
            if label == "main" and found is not None:
                raise cfg.error(("rope_parameters", "main"), "transformers scales the compressed layers' RoPE only")
            scaling = found if label == "compress" else scaling
    elif nested or legacy:
        key = "rope_parameters" if nested else "rope_scaling"
        scaling = _scaling(cfg, (key,), nested or legacy)
    if partial < 1:
        main["partial"] = compress["partial"] = partial
    if scaling:
        compress["scaling"] = scaling
    return main, compress


def build_deepseek_v4(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    head_dim = cfg.int("head_dim", 1, MAX_HEAD_DIM)
    partial = cfg.number("partial_rotary_factor")
    if not 0 < partial <= 1:
        raise cfg.error("partial_rotary_factor", f"expected a fraction of head_dim in (0, 1], got {_show(partial)}")
    cfg.touch("qk_rope_head_dim")  # read through partial_rotary_factor
    types = cfg.str_list("layer_types")
    if len(types) < n:
        raise cfg.error("layer_types", f"expected one entry per layer ({n}), got {len(types)}")
    letters = []
    for i, kind in enumerate(types[:n]):
        if kind not in LETTERS:
            raise cfg.error(("layer_types", i), f"layer kind {_show(kind)} is not DeepSeek V4's", ", ".join(LETTERS))
        letters.append(LETTERS[kind])
    rates = _rates(cfg)
    main, compress = _rope_blocks(cfg, partial)
    attn: dict[str, Any] = {
        "kind": "compressed",
        "n_heads": cfg.int("num_attention_heads", 1, MAX_HEADS),
        "n_kv_heads": cfg.int("num_key_value_heads"),
        "head_dim": head_dim,
        "q_lora_rank": cfg.int("q_lora_rank"),
        "sinks": True,  # every DeepSeek V4 attention has per-head sinks
        "k_eq_v": {"cache": "one"},  # kv_proj: one tensor is both, cached once
        "window": cfg.int("sliding_window", 1, MAX_CONTEXT),
        "grouped_output": {"groups": cfg.int("o_groups"), "rank": cfg.int("o_lora_rank")},
        "rope": main,
    }
    overrides: dict[str, dict] = {}
    if "S" in letters:
        overrides["csa"] = {
            "compress": {"ratio": rates[CSA]},
            "indexer": {
                "n_heads": cfg.int("index_n_heads"),
                "head_dim": cfg.int("index_head_dim"),
                "topk": cfg.int("index_topk"),
            },
            "rope": compress,
        }
    else:
        cfg.touch("index_n_heads", "index_head_dim", "index_topk")
    if "H" in letters:
        overrides["hca"] = {"compress": {"ratio": rates[HCA]}, "rope": compress}
    if overrides:
        attn["overrides"] = overrides
    spec["attention"] = attn
    mlp_types = cfg.str_list("mlp_layer_types")
    if len(mlp_types) < n:
        raise cfg.error("mlp_layer_types", f"expected one entry per layer ({n}), got {len(mlp_types)}")
    hashed = 0
    for i, kind in enumerate(mlp_types[:n]):
        if kind not in ("hash_moe", "moe"):
            raise cfg.error(("mlp_layer_types", i), f"layer kind {_show(kind)} is not DeepSeek V4's", "hash_moe, moe")
        if kind == "hash_moe":
            if i != hashed:  # llmarch's hash routing covers the first k MoE layers, as every V4 config has it
                raise cfg.error(("mlp_layer_types", i), "a hash_moe layer after a moe layer is not supported")
            hashed += 1
    d_expert = cfg.int("moe_intermediate_size")
    limit = cfg.opt_number("swiglu_limit")
    if cfg.str("hidden_act") != "silu":
        raise cfg.error("hidden_act", f"activation {_show(cfg.str('hidden_act'))} is not supported", "silu")
    kind = "swiglu_clamped" if limit else "swiglu"
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=1,
        d_shared=d_expert,
        score_correction_bias=True,
    )
    if hashed:
        spec["moe"]["hash_layers"] = hashed
    spec["hyper_connections"] = {
        "n_streams": cfg.int("hc_mult"),
        "sinkhorn_iters": cfg.int("hc_sinkhorn_iters"),
        "eps": cfg.number("hc_eps"),
    }
    n_mtp = cfg.int("num_nextn_predict_layers", 0)
    if n_mtp:
        # the MTP layer's kind is the legacy compress_ratios' extra entry where there is one (Flash, Pro: 0)
        ratios = cfg.get("compress_ratios") if cfg.has("compress_ratios") else None
        extra = ratios[n] if isinstance(ratios, list) and len(ratios) > n else 0
        mtp_kind = KINDS[LETTERS[RATIO_TYPES.get(extra, SLIDING)]]
        if mtp_kind == "csa" and "csa" not in overrides or mtp_kind == "hca" and "hca" not in overrides:
            mtp_kind = "local"  # no compressed layer of that kind to copy: transformers builds no MTP anyway
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe", "attention": mtp_kind}
    spec["layers"] = _layers(letters, ["E"] * n)
    return spec


def expert_weights(cfg: Config, weights: Optional[dict]) -> Optional[dict]:
    """`expert_dtype: fp4` (a top-level key in V4's configs, inside quantization_config in V4.1's): the routed
    experts are fp4 e2m1 with a ue8m0 scale per 32 weights, llmarch's mxfp4, beside fp8 block quantisation."""
    q = cfg.mapping("quantization_config") or {}
    dtype = cfg.get("expert_dtype") if cfg.has("expert_dtype") else q.get("expert_dtype")
    if dtype is None:
        return weights
    if dtype != "fp4":
        raise cfg.error("expert_dtype", f"expert dtype {_show(dtype)} has no llmarch format", "fp4")
    out = dict(weights or {"dtype": "bf16", "overrides": {}})
    out["overrides"] = dict(out.get("overrides") or {}, routed_experts="mxfp4")
    return out


DEEPSEEK_V4_KEYS = {
    "vocab_size": 129280,
    "hidden_size": 4096,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 43,
    "num_attention_heads": 64,
    "num_key_value_heads": 1,
    "head_dim": 512,
    "q_lora_rank": 1024,
    "num_experts_per_tok": 6,
    "n_routed_experts": 256,
    "max_position_embeddings": 1048576,
    "rope_theta": 10000.0,
    "compress_rope_theta": 160000.0,
    "rope_scaling": None,
    "rope_parameters": None,
    "hc_mult": 4,
    "hc_sinkhorn_iters": 20,
    "hc_eps": 1.0e-6,
    "swiglu_limit": 10.0,
    "sliding_window": 128,
    "o_groups": 8,
    "o_lora_rank": 1024,
    "index_n_heads": 64,
    "index_head_dim": 128,
    "index_topk": 512,
    "num_nextn_predict_layers": 1,
    "hidden_act": "silu",
    "rms_norm_eps": 1.0e-6,
    "tie_word_embeddings": False,
    "layer_types": Derived("compress_ratios, else 2 HCA then CSA / HCA alternating", _default_layer_types),
    "compress_rates": Derived("4 (CSA) and 128 (HCA)", lambda r: dict(DEFAULT_RATES)),
    "mlp_layer_types": Derived("num_hash_layers (3) hash_moe layers, then moe", _default_mlp_layer_types),
    "partial_rotary_factor": Derived("qk_rope_head_dim / head_dim, else 64 / 512", _default_partial),
    "qk_rope_head_dim": Derived(
        "head_dim x partial_rotary_factor", lambda r: int(r.int("head_dim") * r.number("partial_rotary_factor"))
    ),
    # legacy spellings transformers folds into the keys above (no attribute of their own)
    "compress_ratios": None,
    "compress_rate_csa": None,
    "compress_rate_hca": None,
    "num_hash_layers": None,
    "expert_dtype": None,
    **_QUANT,
}


TYPES = [
    TextType(
        "deepseek_v4",
        "deepseek",
        _keys(
            DEEPSEEK_V4_KEYS,
            "scoring_func norm_topk_prob routed_scaling_factor topk_method",  # routing: no parameter
            {
                "attention_bias": Reject("DeepSeek V4's projections have no biases"),
                "mlp_bias": Reject("DeepSeek V4's experts have no biases"),
                "n_shared_experts": Reject(
                    "transformers builds one shared expert of moe_intermediate_size whatever the count", _only(1)
                ),
            },
        ),
        build_deepseek_v4,
        note="The MTP module is counted as DeepSeek V3's, outside the total; the compressors' projections are "
        "bf16 in the checkpoint and counted with the attention's format",
        adjust_weights=expert_weights,
    ),
]


_V4_ATTENTION = (
    "self_attn.q_a_proj",
    "self_attn.q_b_proj",
    "self_attn.kv_proj",
    "self_attn.o_a_proj",
    "self_attn.o_b_proj",
    "self_attn.compressor.kv_proj",
    "self_attn.compressor.gate_proj",
    "self_attn.compressor.indexer.kv_proj",
    "self_attn.compressor.indexer.gate_proj",
    "self_attn.compressor.indexer.q_b_proj",
    "self_attn.compressor.indexer.scorer.weights_proj",
)


MODULE_NAMES = {
    "deepseek_v4": ModuleNames(
        {
            "attention": _V4_ATTENTION,
            "routed_experts": ("mlp.experts.{e}.gate_proj", "mlp.experts.{e}.up_proj", "mlp.experts.{e}.down_proj"),
            "shared_experts": _SHARED_EXPERTS,
            "other": ("mlp.gate", "input_layernorm", "post_attention_layernorm", "attn_hc", "ffn_hc"),
        }
    )
}


# Checkpoint tensor names (verify). DeepSeek V4 ships DeepSeek's own names (those transformers' conversion
# mapping renames on load), no `model.` prefix: `embed`, `head`, `hc_head_*`, per layer `attn.wq_a` .. `wo_b`,
# `attn.kv_norm`, the compressors (`ape`, `wkv`, `wgate`, `norm`; the indexer's compressor under
# `attn.indexer.compressor`), `ffn.gate` (its bias the routing correction, `tid2eid` the hash table), experts
# `w1`/`w2`/`w3` one tensor each, `hc_attn_*`/`hc_ffn_*`. Its fp8 and fp4 matrices each carry an E8M0 `.scale`
# (quant_layout "deepseek"); the compressors and the indexer's weights projection stay bf16, the hash table
# int64 (a local copy's tensor list, tests/test_verify.py). Where it keeps its MTP module is not known here.
DEEPSEEK_V4_TENSORS = (
    (r"attn\.sinks", to("attn.attn_sink")),
    (r"attn\.(q_a|q_b|o_a|o_b)_proj\.weight", to("attn.w{0}.weight")),
    (r"attn\.kv_proj\.weight", to("attn.wkv.weight")),
    (r"attn\.q_a_norm\.weight", to("attn.q_norm.weight")),
    (r"attn\.kv_norm\.weight", to("attn.kv_norm.weight")),
    (r"attn\.compressor\.position_bias", to("attn.compressor.ape")),
    (r"attn\.compressor\.(kv|gate)_proj\.weight", to("attn.compressor.w{0}.weight")),
    (r"attn\.compressor\.kv_norm\.weight", to("attn.compressor.norm.weight")),
    (r"attn\.compressor\.indexer\.position_bias", to("attn.indexer.compressor.ape")),
    (r"attn\.compressor\.indexer\.(kv|gate)_proj\.weight", to("attn.indexer.compressor.w{0}.weight")),
    (r"attn\.compressor\.indexer\.kv_norm\.weight", to("attn.indexer.compressor.norm.weight")),
    (r"attn\.compressor\.indexer\.q_b_proj\.weight", to("attn.indexer.wq_b.weight")),
    (r"attn\.compressor\.indexer\.weights_proj\.weight", to("attn.indexer.weights_proj.weight")),
    (r"ffn\.router\.weight", to("ffn.gate.weight")),
    (r"ffn\.e_score_correction_bias", to("ffn.gate.bias")),
    (r"ffn\.tid2eid", to("ffn.gate.tid2eid")),
    (r"ffn\.experts\.gate_up", experts(("ffn.experts.{e}.w1.weight", "ffn.experts.{e}.w3.weight"), to(""))),
    (r"ffn\.experts\.down", experts(("ffn.experts.{e}.w2.weight",), to(""))),
    (r"ffn\.shared\.gate_up\.weight", split("ffn.shared_experts.w1.weight", "ffn.shared_experts.w3.weight")),
    (r"ffn\.shared\.down\.weight", to("ffn.shared_experts.w2.weight")),
    (r"hc\.(attn|ffn)\.(fn|base|scale)", to("hc_{0}_{1}")),
)
CHECKPOINT_NAMES = {
    "deepseek_v4": Family(
        DEEPSEEK_V4_TENSORS,
        prefixes=(("", "head"),),
        layouts=("per_expert",),
        mtp="unchecked",
        norms={"attn_norm": "attn_norm", "ffn_norm": "ffn_norm"},
        outer={
            "embed_tokens.weight": "embed.weight",
            **{f"hc_head.{p}": f"hc_head_{p}" for p in ("fn", "base", "scale")},
        },
        quant_layout="deepseek",
        fixed_dtypes=(
            (r"\.compressor\.(wkv|wgate)\.weight$", ("BF16",)),
            (r"\.indexer\.weights_proj\.weight$", ("BF16",)),
            (r"\.tid2eid$", ("I64",)),
        ),
    ),
}
