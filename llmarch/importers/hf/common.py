"""The spec pieces several families build with: FFN kinds, the base fields, norms, heads, biases, layer
patterns, MoE and DeepSeek's MLA and MoE layout; `TextType`, what a family registers; and the checkpoint
module names several families share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from ...kinds import ATTENTION_KINDS, LINEAR_MIXER_KINDS, MIXER_LETTERS
from ...limits import MAX_CONTEXT, MAX_D_MODEL, MAX_HEAD_DIM, MAX_HEADS, MAX_LAYERS, MAX_VOCAB
from ..checkpoints.naming import Family, Rules, by_layout, experts, split, to
from .config import Config, _show
from .keys import Derived, KeyTable, Reject, _only
from .rope import _global_local, _rope

GATED_FFN = {
    "silu": "swiglu",
    "swish": "swiglu",
    "gelu": "geglu",
    "gelu_pytorch_tanh": "geglu",
    "gelu_new": "geglu",
    "gelu_fast": "geglu",
}


PLAIN_FFN = {
    "gelu": "gelu_mlp",
    "gelu_new": "gelu_mlp",
    "gelu_pytorch_tanh": "gelu_mlp",
    "gelu_fast": "gelu_mlp",
    "relu2": "relu2_mlp",
}


def _ffn_kind(cfg: Config, key: str, kinds: Mapping[str, str]) -> str:
    act = cfg.str(key)
    if act not in kinds:
        raise cfg.error(key, f"activation `{act}` has no llmarch FFN kind here", f"supported: {', '.join(kinds)}")
    return kinds[act]


def _base(cfg: Config, context: str = "max_position_embeddings") -> dict:
    return {
        "vocab_size": cfg.int("vocab_size", 1, MAX_VOCAB),
        "d_model": cfg.int("hidden_size", 1, MAX_D_MODEL),
        "n_layers": cfg.int("num_hidden_layers", 1, MAX_LAYERS),
        "context_length": cfg.int(context, 1, MAX_CONTEXT),
        "tie_embeddings": cfg.bool("tie_word_embeddings"),
    }


def _rmsnorm(cfg: Config, placement: str = "pre", eps: str = "rms_norm_eps") -> dict:
    return {"kind": "rmsnorm", "placement": placement, "eps": cfg.number(eps)}


def _heads(cfg: Config, d_model: int) -> dict:
    """kind (mha when every head has its own K/V, else gqa), heads, KV heads, head_dim when not d_model / heads."""
    n_heads, n_kv = cfg.int("num_attention_heads", 1, MAX_HEADS), cfg.int("num_key_value_heads", 1, MAX_HEADS)
    attn: dict[str, Any] = {"kind": "mha" if n_kv == n_heads else "gqa", "n_heads": n_heads}
    if n_kv != n_heads:
        if n_heads % n_kv:
            raise cfg.error("num_key_value_heads", f"{n_kv} does not divide num_attention_heads ({n_heads})")
        attn["n_kv_heads"] = n_kv
    head_dim = cfg.int("head_dim", 1, MAX_HEAD_DIM)
    if head_dim * n_heads != d_model:
        attn["head_dim"] = head_dim
    return attn


def _biases(cfg: Config, key: str = "attention_bias", o_bias: bool = True) -> dict:
    """q/k/v (and, where the model has it, output) projection biases from one config flag."""
    bias = cfg.bool(key)
    return {"qkv_bias": True, "o_bias": o_bias} if bias else {}


def _pattern(letters: list[str], start: int = 0) -> str:
    """The shortest pattern that, tiled from layer 0, reproduces `letters` from index `start` on.

    A layout that does not repeat at least twice is written out in full (one letter per layer).
    """
    n = len(letters)
    for period in range(1, n // 2 + 1):
        slots: list[Optional[str]] = [None] * period
        fits = True
        for i in range(start, n):
            slot = slots[i % period]
            if slot is None:
                slots[i % period] = letters[i]
            elif slot != letters[i]:
                fits = False
                break
        if fits:
            fill = letters[start] if start < n else letters[0]  # slots only the prefix covers
            return "".join(s or fill for s in slots)
    return "".join(letters[start] if i < start else c for i, c in enumerate(letters))


@dataclass(frozen=True)
class _Letters:
    """A builder's per-layer mixer and FFN letters; `_settle` writes the `layers:` block from them once every
    other block is known (the spec's FFN default depends on whether a `moe:` block remains)."""

    mixers: tuple[str, ...]
    ffns: tuple[str, ...]
    explicit: bool = False  # write both patterns even where they equal the defaults (Nemotron-H)


def _layers(mixers: list[str], ffns: list[str], explicit: bool = False) -> _Letters:
    return _Letters(tuple(mixers), tuple(ffns), explicit)


# the attention kind of each mixer letter (the override keys of `attention.overrides`), and the spec
# block of each linear mixer's letter, from the kinds registry
ATTENTION_LETTERS = {letter: kind for letter, kind in MIXER_LETTERS.items() if kind in ATTENTION_KINDS}


LINEAR_BLOCKS = {letter: kind for letter, kind in MIXER_LETTERS.items() if kind in LINEAR_MIXER_KINDS}


def _settle(spec: dict) -> None:
    """Drop the blocks no layer uses and write the `layers:` block (shortest patterns, leading dense layers
    as dense_prefix).

    A builder reads a config's every block, but an edited config may leave one unused: a DeepSeek stack
    cut below its dense prefix has no expert layer, a Qwen3-Next stack of full-attention layers no
    DeltaNet.  Left in, an unused `moe:` block would make experts the spec's default FFN (issue 26) and
    the spec loader refuses unused blocks.
    """
    n = spec["n_layers"]
    letters = spec.get("layers")
    if not isinstance(letters, _Letters):
        letters = _Letters(("G",) * n, (("E" if "moe" in spec else "D"),) * n)
    mixers, ffns = letters.mixers, letters.ffns
    mtp = spec.get("mtp") or {}
    # P: the dense FFN and the experts side by side (Gemma 4 26B-A4B), which reads both blocks
    if "E" not in ffns and "P" not in ffns and mtp.get("ffn") != "moe":
        spec.pop("moe", None)
    if "D" not in ffns and "P" not in ffns and (not mtp or mtp.get("ffn") != "dense"):
        spec.pop("ffn", None)
    for letter, block in LINEAR_BLOCKS.items():
        if letter not in mixers:
            spec.pop(block, None)
    kinds_used = {ATTENTION_LETTERS[m] for m in mixers if m in ATTENTION_LETTERS}
    if mtp:
        kinds_used.add(mtp.get("attention", "global"))
    if not kinds_used:
        spec.pop("attention", None)
    elif "attention" in spec:
        attn = spec["attention"]
        if "local" not in kinds_used:
            attn.pop("window", None)
            attn.pop("window_excludes_query", None)  # says how to read a window there is no longer
        if "chunked" not in kinds_used:
            attn.pop("chunk", None)
        if kinds_used == {"nope"}:  # every attention layer without positions (SmolLM3 with no RoPE layer)
            attn.pop("rope", None)
        overrides = attn.get("overrides") or {}
        for kind in [k for k in overrides if k not in kinds_used]:
            del overrides[kind]
        if "overrides" in attn and not overrides:
            del attn["overrides"]

    out: dict[str, Any] = {}
    mixer = _pattern(list(mixers))
    if mixer != "G" or letters.explicit:
        out["mixer"] = mixer
    prefix = 0
    if "E" in ffns:
        while ffns[prefix] == "D":
            prefix += 1
    ffn = _pattern(list(ffns), prefix)
    if ffn != ("E" if "moe" in spec else "D") or letters.explicit:  # the spec's default: experts with `moe:`
        out["ffn"] = ffn
    if prefix:
        out["dense_prefix"] = prefix
    spec.pop("layers", None)
    if out:
        spec["layers"] = out


def _layer_kinds(cfg: Config, key: str, letters: Mapping[str, str], n_layers: int) -> list[str]:
    kinds = cfg.list(key, n_layers)
    out = []
    for i, kind in enumerate(kinds):
        if not isinstance(kind, str) or kind not in letters:
            raise cfg.error(
                (key, i),
                f"layer kind {_show(kind)} is not supported for model type `{cfg.type_name}`",
                f"supported: {', '.join(letters)}",
            )
        out.append(letters[kind])
    return out


def _mlp_layer_ffns(cfg: Config, spec: dict, kind: str) -> list[str]:
    """Per-layer FFN letters from `mlp_layer_types` ("dense" / "sparse"); the dense FFN block when a layer
    needs it."""
    ffns = _layer_kinds(cfg, "mlp_layer_types", {"dense": "D", "sparse": "E"}, spec["n_layers"])
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    return ffns


# transformers' default mlp_layer_types of Hy3 and Laguna
ONE_DENSE_THEN_EXPERTS = Derived(
    "one dense layer, then experts", lambda r: ["dense"] + ["sparse"] * (r.int("num_hidden_layers") - 1)
)


def _moe(
    n_experts: int, top_k: int, d_expert: int, expert_kind: str, *, n_shared: int = 0, d_shared: int = 0, **flags: bool
) -> dict:
    moe: dict[str, Any] = {"n_experts": n_experts, "top_k": top_k, "d_expert": d_expert, "expert_kind": expert_kind}
    if n_shared and d_shared:
        moe.update(n_shared_experts=n_shared, d_shared=d_shared)
    moe.update({k: v for k, v in flags.items() if v})
    return moe


def _llama_like(
    cfg: Config,
    *,
    qk_norm: str = "none",
    norm: str = "pre",
    o_bias: bool = True,
    bias_key: Optional[str] = "attention_bias",
    mlp_bias_key: Optional[str] = None,
    window_key: Optional[str] = None,
    layer_types: bool = False,
    rope_scaled: tuple[str, ...] = ("global", "local"),
) -> dict:
    """Dense decoder: GQA/MHA + gated FFN (Llama, Mistral, Ministral 3, OLMo 2 and 3).

    Layer kinds come from `layer_types` (full / sliding attention), or, with `window_key`, every layer is
    sliding-window when that key holds a window.
    """
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg, norm)
    attn = _heads(cfg, spec["d_model"])
    if bias_key:
        attn.update(_biases(cfg, bias_key, o_bias))
    if qk_norm != "none":
        attn["qk_norm"] = qk_norm
    if layer_types:
        mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
        window = cfg.int("sliding_window") if "L" in mixers else None
        cfg.touch("sliding_window")
    else:
        window = cfg.opt_int(window_key) if window_key else None
        mixers = ["L" if window else "G"] * n
    if window:
        attn["window"] = window
    spec["attention"] = _global_local(attn, _rope(cfg, scaled=rope_scaled), mixers)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    if mlp_bias_key and cfg.bool(mlp_bias_key):
        spec["ffn"]["bias"] = True
    spec["layers"] = _layers(mixers, ["D"] * n)
    return spec


def _mla(cfg: Config) -> dict:
    return {
        "kind": "mla",
        "n_heads": cfg.int("num_attention_heads"),
        "q_lora_rank": cfg.opt_int("q_lora_rank"),
        "kv_lora_rank": cfg.int("kv_lora_rank"),
        "qk_nope_head_dim": cfg.int("qk_nope_head_dim"),
        "qk_rope_head_dim": cfg.int("qk_rope_head_dim"),
        "v_head_dim": cfg.int("v_head_dim"),
    }


def _first_k_dense(r: Config) -> list[str]:
    k, n = r.int("first_k_dense_replace", 0), r.int("num_hidden_layers")
    return ["dense" if i < k else "sparse" for i in range(n)]


def _deepseek_ffns(cfg: Config) -> list[str]:
    return ["D" if t == "dense" else "E" for t in _first_k_dense(cfg)]


def _deepseek_moe(cfg: Config, spec: dict, n_shared: int) -> None:
    """DeepSeekMoE's blocks (DeepSeek-V3, Kimi K2, GLM-4.5): dense prefix, routed + shared experts,
    all layers global attention."""
    n = spec["n_layers"]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _deepseek_ffns(cfg)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_expert = cfg.int("moe_intermediate_size")
    # transformers keeps DeepSeek's e_score_correction_bias as a buffer in every MoE layer
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(["G"] * n, ffns)


def _no_rope_layers(r: Config) -> list[int]:
    interval = r.int("no_rope_layer_interval")
    return [int((i + 1) % interval != 0) for i in range(r.int("num_hidden_layers"))]


# Routing details: how experts are picked changes no parameter (e_score_correction_bias is always a buffer)
DEEPSEEK_IRRELEVANT = """
    num_key_value_heads n_group topk_group routed_scaling_factor norm_topk_prob topk_method scoring_func aux_loss_alpha
    seq_aux ep_size rope_interleave pretraining_tp
"""


# MLA head widths transformers writes out (it sets them itself, whatever the config says)
MLA_DERIVED = {
    "head_dim": Derived("qk_rope_head_dim", lambda r: r.int("qk_rope_head_dim")),
    "qk_head_dim": Derived(
        "qk_nope_head_dim + qk_rope_head_dim", lambda r: r.int("qk_nope_head_dim") + r.int("qk_rope_head_dim")
    ),
}


DEEPSEEK_REJECTED = {
    "attention_bias": Reject("llmarch's MLA has no projection biases"),
    "moe_layer_freq": Reject("transformers places experts in every layer after first_k_dense_replace", _only(1)),
}


@dataclass(frozen=True)
class TextType:
    """A model type whose config describes a text model."""

    name: str
    family: str
    keys: KeyTable
    build: Callable[[Config], dict]
    note: Optional[str] = None  # what the config cannot say, added to the spec's notes
    # the weights block from quantization_config, adjusted by keys of the type's own (DeepSeek V4's expert_dtype)
    adjust_weights: Optional[Callable[[Config, Optional[dict]], Optional[dict]]] = None


# Module names, as each model type's checkpoints and transformers name them, to read ignore lists against.
# Per component, the modules of one layer (`{e}`: an expert's index); `other` lists the layer's modules that
# no weight format covers (routers, convolutions, norms), which an ignore list may name harmlessly.
_ATTN = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")


_MLA = (
    "self_attn.q_a_proj",
    "self_attn.q_b_proj",
    "self_attn.kv_a_proj_with_mqa",
    "self_attn.kv_b_proj",
    "self_attn.o_proj",
)


_MLP = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


_EXPERTS = ("mlp.experts.{e}.gate_proj", "mlp.experts.{e}.up_proj", "mlp.experts.{e}.down_proj")


_SHARED_EXPERTS = ("mlp.shared_experts.gate_proj", "mlp.shared_experts.up_proj", "mlp.shared_experts.down_proj")


_W123 = ("block_sparse_moe.experts.{e}.w1", "block_sparse_moe.experts.{e}.w2", "block_sparse_moe.experts.{e}.w3")


_DEEPSEEK_NAMES = {
    "attention": _MLA,
    "dense_ffn": _MLP,
    "routed_experts": _EXPERTS,
    "shared_experts": _SHARED_EXPERTS,
    "other": (
        "mlp.gate",
        "input_layernorm",
        "post_attention_layernorm",
        "self_attn.q_a_layernorm",
        "self_attn.kv_a_layernorm",
    ),
}


# Qwen-style attention with a per-head output gate `g_proj` over DeepSeek-style experts (Laguna, Step 3.5)
_GATED_MOE_NAMES = {
    "attention": _ATTN + ("self_attn.g_proj",),
    "dense_ffn": _MLP,
    "routed_experts": _EXPERTS,
    "shared_experts": _SHARED_EXPERTS,
    "other": ("mlp.gate", "input_layernorm", "post_attention_layernorm", "self_attn.q_norm", "self_attn.k_norm"),
}


_DENSE_NAMES = {
    "attention": _ATTN,
    "dense_ffn": _MLP,
    "other": ("input_layernorm", "post_attention_layernorm", "self_attn.q_norm", "self_attn.k_norm"),
}


# Checkpoint tensor names (verify), as transformers names them, for the rule sets several families share: each
# rule maps llmarch's weight (its name under `layers.N.`) to the tensors a checkpoint stores (verify/naming.py)
ATTENTION_TENSORS: Rules = (
    (r"attn\.(q|k|v|o)_proj\.(weight|bias)", to("self_attn.{0}_proj.{1}")),
    (r"attn\.(q|k)_norm\.weight", to("self_attn.{0}_norm.weight")),
    (r"attn\.sinks", to("self_attn.sinks")),
)
MLA_TENSORS: Rules = (
    (r"attn\.(q_a|q_b|kv_b|o)_proj\.weight", to("self_attn.{0}_proj.weight")),
    (r"attn\.q_proj\.weight", to("self_attn.q_proj.weight")),
    (r"attn\.kv_a_proj\.weight", to("self_attn.kv_a_proj_with_mqa.weight")),
    (r"attn\.(q_a|kv_a)_norm\.weight", to("self_attn.{0}_layernorm.weight")),
)
# DeepSeek V3.2's lightning indexer (GLM-5's too), inside the attention block
INDEXER_TENSORS: Rules = (
    (r"attn\.indexer\.wq\.weight", to("self_attn.indexer.wq_b.weight")),
    (r"attn\.indexer\.(wk|weights_proj)\.weight", to("self_attn.indexer.{0}.weight")),
    (r"attn\.indexer\.k_norm\.(weight|bias)", to("self_attn.indexer.k_norm.{0}")),
)
MLP_TENSORS: Rules = (
    (r"ffn\.gate_up\.weight", split("mlp.gate_proj.weight", "mlp.up_proj.weight")),
    (r"ffn\.down\.weight", to("mlp.down_proj.weight")),
)


def routed_expert_tensors(shared: str = "shared_experts", router: str = "mlp.gate") -> Rules:
    """Routed experts as Qwen3-MoE, OLMoE and DeepSeek-V3 checkpoints name them."""
    return (
        (r"ffn\.router\.weight", to(router + ".weight")),
        (r"ffn\.e_score_correction_bias", to(router + ".e_score_correction_bias")),
        (
            r"ffn\.experts\.gate_up",
            experts(
                ("mlp.experts.{e}.gate_proj.weight", "mlp.experts.{e}.up_proj.weight"), to("mlp.experts.gate_up_proj")
            ),
        ),
        (r"ffn\.experts\.down", experts(("mlp.experts.{e}.down_proj.weight",), to("mlp.experts.down_proj"))),
        (
            r"ffn\.shared\.gate_up\.weight",
            split(f"mlp.{shared}.gate_proj.weight", f"mlp.{shared}.up_proj.weight"),
        ),
        (r"ffn\.shared\.down\.weight", to(f"mlp.{shared}.down_proj.weight")),
        (r"ffn\.shared_gate\.weight", to("mlp.shared_expert_gate.weight")),
    )


# Mixtral's experts (MiniMax-M2's too): `block_sparse_moe.experts.{e}.w1/w2/w3`, stacked as transformers 5 saves them
MIXTRAL_TENSORS: Rules = (
    (r"ffn\.router\.weight", by_layout(to("block_sparse_moe.gate.weight"), to("mlp.gate.weight"))),
    (
        r"ffn\.experts\.gate_up",
        experts(
            ("block_sparse_moe.experts.{e}.w1.weight", "block_sparse_moe.experts.{e}.w3.weight"),
            to("mlp.experts.gate_up_proj"),
        ),
    ),
    (r"ffn\.experts\.down", experts(("block_sparse_moe.experts.{e}.w2.weight",), to("mlp.experts.down_proj"))),
)
DENSE_TENSORS = Family(ATTENTION_TENSORS + MLP_TENSORS)
