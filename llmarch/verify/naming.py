"""Each model type's checkpoint names for llmarch's weights: one table per family, in one place.

llmarch builds every weight on the meta device under its own names (`layers.3.attn.q_proj.weight`,
`layers.3.ffn.experts.gate_up` stacked `[n_experts, 2 * d_expert, d_model]`, `mtp.0.eh_proj.weight`).  A
family's table maps each to the tensors a checkpoint of that model type stores, with their shapes:

- renamed (`attn.q_proj` -> `self_attn.q_proj`), split (llmarch's fused `gate_up` -> `gate_proj` and
  `up_proj`), or unstacked (stacked experts -> one tensor per expert, `experts.{e}.gate_proj`);
- in each expert *layout* a checkpoint may use: transformers 5's stacked tensors (`experts.gate_up_proj`)
  or the per-expert tensors most checkpoints on the Hub hold; `verify` picks the one the checkpoint uses;
- under each *prefix* a checkpoint may use: `model.` for a text model, `model.language_model.` or
  `language_model.model.` inside a multimodal wrapper (whose vision tower is then outside the spec);
- MTP modules as DeepSeek stores them (an extra layer `model.layers.{n_layers + k}` with `enorm`, `hnorm`,
  `eh_proj`, `shared_head`) or as Qwen3-Next does (`mtp.fc`, `mtp.layers.{k}`).

Quantisation (the `_scale_inv`, `_blocks`/`_scales`, `_packed` companions) is applied afterwards, from the
spec's `weights:` formats, by `expected_tensors` in `verify/__init__.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, NamedTuple, Optional

if TYPE_CHECKING:  # annotations only: reading a checkpoint's headers need not load the IR's dataclasses
    from ..ir import LayerIR, ModelIR


class Entry(NamedTuple):
    name: str  # the checkpoint's tensor
    shape: tuple[int, ...]  # as the checkpoint stores it
    oi: Optional[tuple[int, ...]]  # the (out, in) orientation when it is a matrix of a linear map
    axis: int = 0  # where llmarch's parts meet when several fill one checkpoint tensor (GPT-2's c_attn: -1)


# (match groups, llmarch shape, expert layout, the layer's IR or None outside the layers)
Producer = Callable[[tuple, tuple[int, ...], str, "Optional[LayerIR]"], list[Entry]]


def to(template: str, transpose: bool = False, shape: Optional[Callable] = None) -> Producer:
    """One tensor, renamed; stored `[.., in, out]` when `transpose` (transformers' gpt-oss experts, GPT-2's
    Conv1D), or in the shape `shape(llmarch shape, layer IR)` gives (Kimi Linear's `A_log` `[1, 1, heads, 1]`)."""

    def make(groups, llmarch, layout, layer):
        out = llmarch[:-2] + (llmarch[-1], llmarch[-2]) if transpose else llmarch
        oi = llmarch if len(llmarch) >= 2 else None
        stored = shape(llmarch, layer) if shape else out
        return [Entry(template.format(*groups), stored, oi, -1 if transpose else 0)]

    return make


def split(*templates: str, axis: int = 0) -> Producer:
    """llmarch's fused tensor (`gate_up` `[2 * d_ff, d]`) as equal parts along its first dimension (the
    second for stacked experts `[n, 2 * d_expert, d]`, `axis=1`)."""

    def make(groups, shape, layout, layer):
        part = list(shape)
        part[axis] //= len(templates)
        part = tuple(part)
        return [Entry(t.format(*groups), part, part if len(part) >= 2 else None) for t in templates]

    return make


def split_at(widths: Callable[[LayerIR], tuple[int, ...]], *templates: str) -> Producer:
    """llmarch's fused tensor as parts of unequal widths along its first dimension, from the layer's IR
    (Qwen3.5's `in_proj_qkvz` is `in_proj_qkv` then `in_proj_z`)."""

    def make(groups, shape, layout, layer):
        sizes = widths(layer)
        if sum(sizes) != shape[0]:  # the IR and the build disagree: name the whole tensor, let shapes differ
            return [Entry(templates[0].format(*groups), shape, shape if len(shape) >= 2 else None)]
        out = []
        for t, n in zip(templates, sizes):
            part = (n,) + shape[1:]
            out.append(Entry(t.format(*groups), part, part if len(part) >= 2 else None))
        return out

    return make


def experts(per_expert: tuple[str, ...], stacked: Producer) -> Producer:
    """Stacked experts `[n, width, d]`: one tensor per expert and part, or transformers' stacked tensor."""

    def make(groups, shape, layout, layer):
        if layout == "stacked":
            return stacked(groups, shape, layout, layer)
        n, width = shape[0], shape[1]
        part = (width // len(per_expert),) + shape[2:]
        return [
            Entry(t.format(*groups, e=e), part, part if len(part) >= 2 else None) for e in range(n) for t in per_expert
        ]

    return make


def by_layout(per_expert: Producer, stacked: Producer) -> Producer:
    return lambda groups, shape, layout, layer: (stacked if layout == "stacked" else per_expert)(
        groups, shape, layout, layer
    )


Rules = tuple[tuple[str, Producer], ...]

ATTENTION: Rules = (
    (r"attn\.(q|k|v|o)_proj\.(weight|bias)", to("self_attn.{0}_proj.{1}")),
    (r"attn\.(q|k)_norm\.weight", to("self_attn.{0}_norm.weight")),
    (r"attn\.sinks", to("self_attn.sinks")),
)
MLA: Rules = (
    (r"attn\.(q_a|q_b|kv_b|o)_proj\.weight", to("self_attn.{0}_proj.weight")),
    (r"attn\.q_proj\.weight", to("self_attn.q_proj.weight")),
    (r"attn\.kv_a_proj\.weight", to("self_attn.kv_a_proj_with_mqa.weight")),
    (r"attn\.(q_a|kv_a)_norm\.weight", to("self_attn.{0}_layernorm.weight")),
)
# DeepSeek V3.2's lightning indexer (GLM-5's too), inside the attention block
INDEXER: Rules = (
    (r"attn\.indexer\.wq\.weight", to("self_attn.indexer.wq_b.weight")),
    (r"attn\.indexer\.(wk|weights_proj)\.weight", to("self_attn.indexer.{0}.weight")),
    (r"attn\.indexer\.k_norm\.(weight|bias)", to("self_attn.indexer.k_norm.{0}")),
)
MLP: Rules = (
    (r"ffn\.gate_up\.weight", split("mlp.gate_proj.weight", "mlp.up_proj.weight")),
    (r"ffn\.down\.weight", to("mlp.down_proj.weight")),
)


def moe(shared: str = "shared_experts", router: str = "mlp.gate") -> Rules:
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


MIXTRAL_MOE: Rules = (
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
# gpt-oss ships its experts stacked (MXFP4 `_blocks`/`_scales` `[n, out, in/32, 16]`); transformers' own
# bf16 state dict stores them `[n, in, out]`
GPT_OSS_MOE: Rules = (
    (r"ffn\.router\.(weight|bias)", to("mlp.router.{0}")),
    (r"ffn\.experts\.(gate_up|down)$", by_layout(to("mlp.experts.{0}_proj"), to("mlp.experts.{0}_proj", True))),
    (r"ffn\.experts\.(gate_up|down)_bias", to("mlp.experts.{0}_proj_bias")),
)
GATED_DELTANET: Rules = (
    (r"mixer\.(in_proj_qkvz|in_proj_ba|out_proj)\.weight", to("linear_attn.{0}.weight")),
    (r"mixer\.conv1d\.weight", to("linear_attn.conv1d.weight")),
    (r"mixer\.(dt_bias|A_log)", to("linear_attn.{0}")),
    (r"mixer\.norm\.weight", to("linear_attn.norm.weight")),
)


# Qwen3.5 keeps Qwen3-Next's Gated DeltaNet but stores its input projections apart: q, k, v (`in_proj_qkv`)
# and the gate z, beta and the decay input a
QWEN3_5_DELTANET: Rules = (
    (
        r"mixer\.in_proj_qkvz\.weight",
        split_at(
            lambda layer: (
                2 * layer.gated_deltanet.n_k_heads * layer.gated_deltanet.head_k_dim
                + layer.gated_deltanet.n_v_heads * layer.gated_deltanet.head_v_dim,
                layer.gated_deltanet.n_v_heads * layer.gated_deltanet.head_v_dim,
            ),
            "linear_attn.in_proj_qkv.weight",
            "linear_attn.in_proj_z.weight",
        ),
    ),
    (r"mixer\.in_proj_ba\.weight", split("linear_attn.in_proj_b.weight", "linear_attn.in_proj_a.weight")),
) + GATED_DELTANET
# MiniMax-M2 names its MoE as Mixtral does, its routing bias beside the gate
MINIMAX_MOE: Rules = (
    (
        r"ffn\.e_score_correction_bias",
        by_layout(to("block_sparse_moe.e_score_correction_bias"), to("mlp.e_score_correction_bias")),
    ),
) + MIXTRAL_MOE
# Llama 4 ships its routed experts stacked and stored `[n, in, out]`, under `feed_forward`
LLAMA4_FFN: Rules = (
    (r"ffn\.router\.weight", to("feed_forward.router.weight")),
    (r"ffn\.experts\.(gate_up|down)", to("feed_forward.experts.{0}_proj", True)),
    (
        r"ffn\.shared\.gate_up\.weight",
        split("feed_forward.shared_expert.gate_proj.weight", "feed_forward.shared_expert.up_proj.weight"),
    ),
    (r"ffn\.shared\.down\.weight", to("feed_forward.shared_expert.down_proj.weight")),
    (r"ffn\.gate_up\.weight", split("feed_forward.gate_proj.weight", "feed_forward.up_proj.weight")),
    (r"ffn\.down\.weight", to("feed_forward.down_proj.weight")),
)
# Hy3: the router under `mlp.router.gate`, the routing bias `mlp.expert_bias`, the shared expert `shared_mlp`
# (transformers' own state dict renames them DeepSeek's way)
HY_V3_MOE: Rules = (
    (r"ffn\.router\.weight", by_layout(to("mlp.router.gate.weight"), to("mlp.gate.weight"))),
    (r"ffn\.e_score_correction_bias", by_layout(to("mlp.expert_bias"), to("mlp.e_score_correction_bias"))),
    (
        r"ffn\.shared\.gate_up\.weight",
        by_layout(
            split("mlp.shared_mlp.gate_proj.weight", "mlp.shared_mlp.up_proj.weight"),
            split("mlp.shared_experts.gate_proj.weight", "mlp.shared_experts.up_proj.weight"),
        ),
    ),
    (
        r"ffn\.shared\.down\.weight",
        by_layout(to("mlp.shared_mlp.down_proj.weight"), to("mlp.shared_experts.down_proj.weight")),
    ),
) + moe()
# Kimi Linear (Moonshot's modeling_kimi.py): the KDA block under `self_attn`, its q/k/v convolutions apart
# and `A_log` `[1, 1, heads, 1]`; MoE layers' FFN under `block_sparse_moe` (Mixtral's w1/w2/w3 experts,
# DeepSeek's gate and shared experts), dense layers' under `mlp`
KIMI_LINEAR: Rules = (
    (
        (r"mixer\.(q|k|v|o|f_a|f_b|b|g_a|g_b)_proj\.weight", to("self_attn.{0}_proj.weight")),
        (
            r"mixer\.conv1d\.weight",
            split("self_attn.q_conv1d.weight", "self_attn.k_conv1d.weight", "self_attn.v_conv1d.weight"),
        ),
        (r"mixer\.dt_bias", to("self_attn.dt_bias")),
        (r"mixer\.A_log", to("self_attn.A_log", shape=lambda s, layer: (1, 1) + s + (1,))),
        (r"mixer\.o_norm\.weight", to("self_attn.o_norm.weight")),
        (r"ffn\.router\.weight", to("block_sparse_moe.gate.weight")),
        (r"ffn\.e_score_correction_bias", to("block_sparse_moe.gate.e_score_correction_bias")),
        (
            r"ffn\.experts\.gate_up",
            experts(("block_sparse_moe.experts.{e}.w1.weight", "block_sparse_moe.experts.{e}.w3.weight"), to("")),
        ),
        (r"ffn\.experts\.down", experts(("block_sparse_moe.experts.{e}.w2.weight",), to(""))),
        (
            r"ffn\.shared\.gate_up\.weight",
            split("block_sparse_moe.shared_experts.gate_proj.weight", "block_sparse_moe.shared_experts.up_proj.weight"),
        ),
        (r"ffn\.shared\.down\.weight", to("block_sparse_moe.shared_experts.down_proj.weight")),
    )
    + MLA
    + MLP
)
# Nemotron-H: every block is the layer's `mixer` (Mamba-2, attention, MoE or MLP) behind one `norm`; the
# FFNs are ungated (relu^2: llmarch's `gate_up` is the up projection alone)
NEMOTRON_H: Rules = (
    (r"mixer\.(in_proj|out_proj)\.weight", to("mixer.{0}.weight")),
    (r"mixer\.conv1d\.(weight|bias)", to("mixer.conv1d.{0}")),
    (r"mixer\.(dt_bias|A_log|D)", to("mixer.{0}")),
    (r"mixer\.norm\.weight", to("mixer.norm.weight")),
    (r"attn\.(q|k|v|o)_proj\.weight", to("mixer.{0}_proj.weight")),
    (r"ffn\.router\.weight", to("mixer.gate.weight")),
    (r"ffn\.e_score_correction_bias", to("mixer.gate.e_score_correction_bias")),
    (r"ffn\.experts\.gate_up", experts(("mixer.experts.{e}.up_proj.weight",), to("mixer.experts.up_proj"))),
    (r"ffn\.experts\.down", experts(("mixer.experts.{e}.down_proj.weight",), to("mixer.experts.down_proj"))),
    # the latent MoE's projections around the routed experts (Nemotron 3 Super)
    (r"ffn\.latent_down\.(weight|bias)", to("mixer.fc1_latent_proj.{0}")),
    (r"ffn\.latent_up\.(weight|bias)", to("mixer.fc2_latent_proj.{0}")),
    (r"ffn\.shared\.gate_up\.weight", to("mixer.shared_experts.up_proj.weight")),
    (r"ffn\.shared\.down\.weight", to("mixer.shared_experts.down_proj.weight")),
    (r"ffn\.gate_up\.weight", to("mixer.up_proj.weight")),
    (r"ffn\.down\.weight", to("mixer.down_proj.weight")),
)
# GPT-2: `transformer.h.{i}`, q/k/v fused in `c_attn`, every linear a Conv1D stored `[in, out]`
GPT2: Rules = (
    (r"attn\.(q|k|v)_proj\.weight", to("attn.c_attn.weight", True)),
    (r"attn\.(q|k|v)_proj\.bias", to("attn.c_attn.bias")),
    (r"attn\.o_proj\.weight", to("attn.c_proj.weight", True)),
    (r"attn\.o_proj\.bias", to("attn.c_proj.bias")),
    (r"ffn\.gate_up\.weight", to("mlp.c_fc.weight", True)),
    (r"ffn\.gate_up\.bias", to("mlp.c_fc.bias")),
    (r"ffn\.down\.weight", to("mlp.c_proj.weight", True)),
    (r"ffn\.down\.bias", to("mlp.c_proj.bias")),
)


@dataclass(frozen=True)
class Family:
    layer: Rules
    prefixes: tuple[tuple[str, str], ...] = (
        ("model.", "lm_head"),
        ("model.language_model.", "lm_head"),  # a multimodal wrapper, transformers 5
        ("language_model.model.", "language_model.lm_head"),  # the older wrapper layout
    )
    layouts: tuple[str, ...] = ("per_expert", "stacked")
    # "deepseek" | "qwen" | "unchecked" (the checkpoints' MTP naming is not known: MTP weights not held)
    mtp: Optional[str] = None
    layers: str = "layers"  # the decoder layers' container (GPT-2's `h`)
    norms: dict = field(default_factory=dict)  # llmarch's per-layer norm -> the family's, where not transformers'
    outer: dict = field(default_factory=dict)  # weights outside the layers, where not llmarch's own names
    compiled: list = field(default_factory=list, compare=False, repr=False)

    def rules(self):
        if not self.compiled:
            self.compiled.extend((re.compile(p + r"\Z"), make) for p, make in self.layer)
        return self.compiled


DENSE = Family(ATTENTION + MLP)
# Phi-3 fuses q, k and v into one `qkv_proj` (llmarch's three parts, stacked in that order) and keeps
# gate/up fused as llmarch does
PHI3 = Family(
    (
        (r"attn\.(q|k|v)_proj\.weight", to("self_attn.qkv_proj.weight")),
        (r"attn\.o_proj\.weight", to("self_attn.o_proj.weight")),
        (r"ffn\.gate_up\.weight", to("mlp.gate_up_proj.weight")),
        (r"ffn\.down\.weight", to("mlp.down_proj.weight")),
    )
)
# Gemma 4: the dense MLP beside the experts (26B-A4B: `ffn.dense` / `ffn.moe` in llmarch, `mlp` / `router` /
# `experts` beside it in the checkpoint, stacked experts only), per-layer inputs (E2B, E4B), the layer's scalar
GEMMA4: Rules = (
    (r"ffn\.dense\.gate_up\.weight", split("mlp.gate_proj.weight", "mlp.up_proj.weight")),
    (r"ffn\.dense\.down\.weight", to("mlp.down_proj.weight")),
    (r"ffn\.moe\.router\.weight", to("router.proj.weight")),
    (r"ffn\.moe\.router_scale", to("router.scale")),
    (r"ffn\.moe\.per_expert_scale", to("router.per_expert_scale")),
    (r"ffn\.moe\.experts\.(gate_up|down)", to("experts.{0}_proj")),
    (r"ffn\.moe_norm\.weight", to("pre_feedforward_layernorm_2.weight")),
    (r"ffn\.dense_post_norm\.weight", to("post_feedforward_layernorm_1.weight")),
    (r"ffn\.moe_post_norm\.weight", to("post_feedforward_layernorm_2.weight")),
    (r"per_layer_input\.gate\.weight", to("per_layer_input_gate.weight")),
    (r"per_layer_input\.proj\.weight", to("per_layer_projection.weight")),
    (r"layer_scalar\.scalar", to("layer_scalar")),  # llmarch's LayerScalar part holds it as `scalar`
)
PER_LAYER_TOP = {  # per-layer embeddings' model-level weights (Gemma 3n's and Gemma 4's names)
    "per_layer_embed.weight": "embed_tokens_per_layer.weight",
    "per_layer_input.weight": "per_layer_model_projection.weight",
    "per_layer_input_norm.weight": "per_layer_projection_norm.weight",
}

FAMILIES: dict[str, Family] = {
    **{t: DENSE for t in ("llama", "mistral", "ministral3", "qwen3", "olmo2", "olmo3", "smollm3", "granite")},
    "gemma3_text": DENSE,
    "gemma4_text": Family(ATTENTION + MLP + GEMMA4, layouts=("stacked",), outer=PER_LAYER_TOP),
    "phi3": PHI3,
    **{t: Family(ATTENTION + MLP + moe()) for t in ("qwen3_moe", "olmoe")},
    "mixtral": Family(ATTENTION + MIXTRAL_MOE),
    "gpt_oss": Family(ATTENTION + GPT_OSS_MOE, layouts=("mxfp4", "stacked")),
    "qwen3_next": Family(ATTENTION + GATED_DELTANET + MLP + moe("shared_expert"), mtp="qwen"),
    **{t: Family(MLA + MLP + moe(), mtp="deepseek") for t in ("deepseek_v3", "kimi_k2")},
    # Mistral 4 (Mistral Small 4's text model): DeepSeek-V3's module names, no MTP module
    "mistral4": Family(MLA + MLP + moe()),
    "deepseek_v32": Family(MLA + INDEXER + MLP + moe(), mtp="deepseek"),
    "glm4_moe": Family(ATTENTION + MLP + moe(), mtp="deepseek"),
    # Laguna: a per-head output gate `g_proj`; its routing bias a (frozen) parameter under DeepSeek's name
    "laguna": Family(
        ATTENTION
        + (
            (r"attn\.gate_proj\.weight", to("self_attn.g_proj.weight")),
            (r"ffn\.router_correction", to("mlp.gate.e_score_correction_bias")),
        )
        + MLP
        + moe()
    ),
    "glm_moe_dsa": Family(MLA + INDEXER + MLP + moe(), mtp="deepseek"),
    "qwen3_5_text": Family(ATTENTION + QWEN3_5_DELTANET + MLP, mtp="qwen"),
    "qwen3_5_moe_text": Family(ATTENTION + QWEN3_5_DELTANET + MLP + moe("shared_expert"), mtp="qwen"),
    # where these checkpoints keep their MTP modules is not known here: their MTP weights are not held
    "minimax_m2": Family(ATTENTION + MINIMAX_MOE, mtp="unchecked"),
    "hy_v3": Family(ATTENTION + HY_V3_MOE + MLP, mtp="unchecked"),
    **{
        t: Family(
            ((r"attn\.sinks", by_layout(to("self_attn.attention_sink_bias"), to("self_attn.sinks"))),)
            + ATTENTION
            + MLP
            + moe(),
            mtp="unchecked",
        )
        for t in ("mimo_v2_flash", "mimo_v2")
    },
    "llama4_text": Family(ATTENTION + LLAMA4_FFN, layouts=("stacked",)),
    "kimi_linear": Family(KIMI_LINEAR, layouts=("per_expert",)),
    "nemotron_h": Family(
        NEMOTRON_H,
        prefixes=(("backbone.", "lm_head"), ("model.", "lm_head")),
        norms={"mixer_norm": "norm", "attn_norm": "norm", "ffn_norm": "norm"},
        outer={"embed_tokens.weight": "embeddings.weight", "norm.weight": "norm_f.weight"},
        # Nemotron 3 Super's MTP block: transformers' NemotronH builds none, so where its checkpoints keep it is
        # not known here
        mtp="unchecked",
    ),
    # Gemma 3n: AltUp, LAuReL and the per-layer inputs under transformers' names (the model keeps
    # altup_inputs - 1 AltUp projections each way: 3 for Gemma 3n's 4 inputs)
    "gemma3n_text": Family(
        ATTENTION
        + MLP
        + (
            (r"altup\.output_scale", to("altup.correct_output_scale")),
            (r"altup\.router\.weight", to("altup.modality_router.weight")),
            (r"altup\.(prediction|correction)_coefs\.weight", to("altup.{0}_coefs.weight")),
            (r"laurel\.(left|right)\.weight", to("laurel.linear_{0}.weight")),
            (r"per_layer_input\.gate\.weight", to("per_layer_input_gate.weight")),
            (r"per_layer_input\.proj\.weight", to("per_layer_projection.weight")),
        ),
        norms={
            "altup_norm": "altup.router_norm",
            "laurel_norm": "laurel.post_laurel_norm",
        },
        outer={
            **PER_LAYER_TOP,
            **{f"altup_in.{k}.weight": f"altup_projections.{k}.weight" for k in range(8)},
            **{f"altup_out.{k}.weight": f"altup_unembed_projections.{k}.weight" for k in range(8)},
        },
    ),
    "gpt2": Family(
        GPT2,
        prefixes=(("transformer.", "lm_head"), ("", "lm_head")),
        layers="h",
        norms={"attn_norm": "ln_1", "ffn_norm": "ln_2"},
        outer={
            "embed_tokens.weight": "wte.weight",
            "pos_embed.weight": "wpe.weight",
            "norm.weight": "ln_f.weight",
            "norm.bias": "ln_f.bias",
        },
    ),
    # Cohere's parallel block: one `input_layernorm` per layer (llmarch's `input_norm`); Command A+'s experts
    # stacked as transformers' cohere2_moe stores them, its shared experts one MLP
    "cohere2": DENSE,
    "cohere2_moe": Family(ATTENTION + MLP + moe()),
    # Arcee Trinity: the element-wise output gate is its own `gate_proj` (llmarch's q_proj holds the query, then
    # the gate); the router is `mlp.router.gate` and its expert_bias a parameter; four norms per block by name
    "afmoe": Family(
        ((r"attn\.q_proj\.weight", split("self_attn.q_proj.weight", "self_attn.gate_proj.weight")),)
        + ATTENTION
        + ((r"ffn\.router_correction", to("mlp.expert_bias")),)
        + MLP
        + moe(router="mlp.router.gate"),
        norms={"ffn_norm": "pre_mlp_layernorm", "ffn_post_norm": "post_mlp_layernorm"},
    ),
}
# Step 3.5 Flash: the per-head output gate is `g_proj`; its MTP layers (num_nextn_predict_layers) are built by
# neither transformers' step3p5 nor known here: their weights are not held
FAMILIES["step3p5"] = Family(
    ((r"attn\.gate_proj\.weight", to("self_attn.g_proj.weight")),) + ATTENTION + MLP + moe(), mtp="unchecked"
)
# xLSTM 7B (transformers' xlstm): `backbone.blocks.{i}`, the mLSTM cell under `mlstm_layer` (its gates
# `*gate_preact`, its per-head norm `multihead_norm`), the gated FFN's halves `proj_up_gate` (the gate) and
# `proj_up`
FAMILIES["xlstm"] = Family(
    (
        (r"mixer\.(q|k|v|out_proj)\.weight", to("mlstm_layer.{0}.weight")),
        (r"mixer\.(o|i|f)gate\.(weight|bias)", to("mlstm_layer.{0}gate_preact.{1}")),
        (r"mixer\.head_norm\.weight", to("mlstm_layer.multihead_norm.weight")),
        (r"ffn\.gate_up\.weight", split("ffn.proj_up_gate.weight", "ffn.proj_up.weight")),
        (r"ffn\.down\.weight", to("ffn.proj_down.weight")),
    ),
    prefixes=(("backbone.", "lm_head"),),
    layers="blocks",
    layouts=("stacked",),
    norms={"mixer_norm": "norm_mlstm", "ffn_norm": "norm_ffn"},
    outer={"embed_tokens.weight": "embeddings.weight", "norm.weight": "out_norm.weight"},
)
# ZAYA1: the CCA attention's projections and convolutions under `self_attn.qkv_proj`, its temperature under
# `qk_norm`; the MLP router under `mlp.gate` (`router_mlp` its MLP); experts stacked as transformers' zaya
# stores them (its loader converts no per-expert layout); each block's residual scaling after attention and MLP
FAMILIES["zaya"] = Family(
    (
        (r"attn\.temp", to("self_attn.qk_norm.temp")),
        (
            r"attn\.(q_proj|k_proj|v_proj_current|v_proj_delayed|conv_qk_depthwise|conv_qk_grouped)\.(weight|bias)",
            to("self_attn.qkv_proj.{0}.{1}"),
        ),
        (r"attn\.o_proj\.weight", to("self_attn.o_proj.weight")),
        (r"ffn\.router\.(router_states_scale|balancing_biases)", to("mlp.gate.{0}")),
        (r"ffn\.router\.down_proj\.(weight|bias)", to("mlp.gate.down_proj.{0}")),
        (r"ffn\.router\.(norm|fc1|fc2|out_proj)\.(weight|bias)", to("mlp.gate.router_mlp.{0}.{1}")),
        (r"ffn\.experts\.(gate_up|down)", to("mlp.experts.{0}_proj")),
        (r"residual_scale\.mixer\.(\w+)", to("post_attention_residual_scale.{0}")),
        (r"residual_scale\.ffn\.(\w+)", to("post_mlp_residual_scale.{0}")),
    ),
    layouts=("stacked",),
    outer={"input_scale.scale": "input_hidden_states_scale", "input_scale.bias": "input_hidden_states_bias"},
)
# a multimodal wrapper's model type -> the family of its text model
WRAPPERS = {
    "gemma3": "gemma3_text",
    "gemma3n": "gemma3n_text",
    "gemma4": "gemma4_text",
    "mistral3": "ministral3",
    "qwen3_5": "qwen3_5_text",
    "qwen3_5_moe": "qwen3_5_moe_text",
    "llama4": "llama4_text",
    "kimi_k25": "kimi_k2",
}


def norm_name(family: Family, name: str, placement: str) -> Optional[str]:
    """llmarch's per-layer norms under the family's names (transformers' for pre-norm, post-norm and
    sandwich placements, unless the family names its own)."""
    if name in family.norms:
        return family.norms[name]
    return {
        "attn_norm": "input_layernorm",
        "mixer_norm": "input_layernorm",
        "input_norm": "input_layernorm",  # the parallel block's one norm
        "attn_post_norm": "post_attention_layernorm",
        "ffn_norm": "post_attention_layernorm" if placement == "pre" else "pre_feedforward_layernorm",
        "ffn_post_norm": "post_feedforward_layernorm",
        "per_layer_input_norm": "post_per_layer_input_norm",  # Gemma 3n's and Gemma 4's
    }.get(name)


def in_layer(
    family: Family, rest: str, shape: tuple[int, ...], layout: str, placement: str, layer: Optional[LayerIR]
) -> Optional[list[Entry]]:
    """A weight inside one layer (`rest` follows `layers.{i}.`) as checkpoint names inside that layer."""
    head, _, tail = rest.partition(".")
    if tail == "weight" or tail == "bias":
        norm = norm_name(family, head, placement)
        if norm:
            return [Entry(f"{norm}.{tail}", shape, None)]
    for pattern, make in family.rules():
        m = pattern.match(rest)
        if m:
            return make(m.groups(), shape, layout, layer)
    return None


MTP_DEEPSEEK = {
    "enorm.weight": "enorm.weight",
    "hnorm.weight": "hnorm.weight",
    "eh_proj.weight": "eh_proj.weight",
    "final_norm.weight": "shared_head.norm.weight",
    "head.weight": "shared_head.head.weight",
    "embed_tokens.weight": "embed_tokens.weight",
}
MTP_QWEN = {
    "enorm.weight": "mtp.pre_fc_norm_embedding.weight",
    "hnorm.weight": "mtp.pre_fc_norm_hidden.weight",
    "eh_proj.weight": "mtp.fc.weight",
    "final_norm.weight": "mtp.norm.weight",
}


def checkpoint_names(
    family: Family, name: str, shape: tuple[int, ...], ir: ModelIR, prefix: str, head: str, layout: str
) -> Optional[list[Entry]]:
    """llmarch's weight `name` as the checkpoint's tensors, None where the family's table has no entry, and
    no tensor for an MTP weight of a family whose checkpoints' MTP naming is not known (`mtp="unchecked"`)."""
    parts = name.split(".")
    placement = ir.norm.placement
    if name == "lm_head.weight":
        return [Entry(f"{head}.weight", shape, shape)]
    if parts[0] != "layers" and parts[0] != "mtp":
        outer = family.outer.get(name, name if parts[0] in ("embed_tokens", "norm") and len(parts) == 2 else None)
        return None if outer is None else [Entry(prefix + outer, shape, shape if len(shape) == 2 else None)]
    if parts[0] == "layers":
        i = int(parts[1])
        layer = ir.layers[i] if i < len(ir.layers) else None
        inner = in_layer(family, ".".join(parts[2:]), shape, layout, placement, layer)
        base = f"{prefix}{family.layers}.{i}."
        return None if inner is None else [e._replace(name=base + e.name) for e in inner]
    if family.mtp == "unchecked":
        return []
    if parts[0] == "mtp" and family.mtp:
        k, rest = int(parts[1]), ".".join(parts[2:])
        if family.mtp == "deepseek":
            base = f"{prefix}{family.layers}.{ir.n_layers + k}."
            if rest in MTP_DEEPSEEK:
                return [Entry(base + MTP_DEEPSEEK[rest], shape, shape if len(shape) == 2 else None)]
        else:
            base = f"mtp.layers.{k}."
            if rest in MTP_QWEN:
                return [Entry(MTP_QWEN[rest], shape, shape if len(shape) == 2 else None)]
        if rest.startswith("layer."):
            layer = ir.mtp.layer if ir.mtp else None
            inner = in_layer(family, rest[len("layer.") :], shape, layout, placement, layer)
            return None if inner is None else [e._replace(name=base + e.name) for e in inner]
    return None
