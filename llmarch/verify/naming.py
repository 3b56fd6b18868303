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
from typing import Callable, Optional

# (checkpoint name, checkpoint shape, the (out, in) orientation when it is a matrix of a linear map)
Entry = tuple[str, tuple[int, ...], Optional[tuple[int, ...]]]
Producer = Callable[[tuple, tuple[int, ...], str], list[Entry]]  # (match groups, llmarch shape, layout)


def to(template: str, transpose: bool = False) -> Producer:
    """One tensor, renamed (and for transformers' gpt-oss experts, stored `[n, in, out]`)."""

    def make(groups, shape, layout):
        out = shape[:-2] + (shape[-1], shape[-2]) if transpose else shape
        return [(template.format(*groups), out, shape if len(shape) >= 2 else None)]

    return make


def split(*templates: str) -> Producer:
    """llmarch's fused tensor (`gate_up` `[2 * d_ff, d]`) as equal parts along its first dimension."""

    def make(groups, shape, layout):
        part = (shape[0] // len(templates),) + shape[1:]
        return [(t.format(*groups), part, part if len(part) >= 2 else None) for t in templates]

    return make


def experts(per_expert: tuple[str, ...], stacked: Producer) -> Producer:
    """Stacked experts `[n, width, d]`: one tensor per expert and part, or transformers' stacked tensor."""

    def make(groups, shape, layout):
        if layout == "stacked":
            return stacked(groups, shape, layout)
        n, width = shape[0], shape[1]
        part = (width // len(per_expert),) + shape[2:]
        return [(t.format(*groups, e=e), part, part if len(part) >= 2 else None) for e in range(n) for t in per_expert]

    return make


def by_layout(per_expert: Producer, stacked: Producer) -> Producer:
    return lambda groups, shape, layout: (stacked if layout == "stacked" else per_expert)(groups, shape, layout)


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


@dataclass(frozen=True)
class Family:
    layer: Rules
    prefixes: tuple[tuple[str, str], ...] = (
        ("model.", "lm_head"),
        ("model.language_model.", "lm_head"),  # a multimodal wrapper, transformers 5
        ("language_model.model.", "language_model.lm_head"),  # the older wrapper layout
    )
    layouts: tuple[str, ...] = ("per_expert", "stacked")
    mtp: Optional[str] = None  # "deepseek" | "qwen"
    norms: tuple[tuple[str, str], ...] = ()  # llmarch's norm -> the family's name, where it differs from `norm_name`
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
FAMILIES: dict[str, Family] = {
    **{t: DENSE for t in ("llama", "mistral", "ministral3", "qwen3", "olmo2", "olmo3", "smollm3", "granite")},
    "gemma3_text": DENSE,
    "phi3": PHI3,
    **{t: Family(ATTENTION + MLP + moe()) for t in ("qwen3_moe", "olmoe")},
    "mixtral": Family(ATTENTION + MIXTRAL_MOE),
    "gpt_oss": Family(ATTENTION + GPT_OSS_MOE, layouts=("mxfp4", "stacked")),
    "qwen3_next": Family(ATTENTION + GATED_DELTANET + MLP + moe("shared_expert"), mtp="qwen"),
    **{t: Family(MLA + MLP + moe(), mtp="deepseek") for t in ("deepseek_v3", "kimi_k2")},
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
    # Arcee Trinity: the element-wise output gate is its own `gate_proj` (llmarch's q_proj holds the query, then
    # the gate); the router is `mlp.router.gate` and its expert_bias a parameter; four norms per block by name
    "afmoe": Family(
        ((r"attn\.q_proj\.weight", split("self_attn.q_proj.weight", "self_attn.gate_proj.weight")),)
        + ATTENTION
        + ((r"ffn\.router_correction", to("mlp.expert_bias")),)
        + MLP
        + moe(router="mlp.router.gate"),
        norms=(("ffn_norm", "pre_mlp_layernorm"), ("ffn_post_norm", "post_mlp_layernorm")),
    ),
}
# a multimodal wrapper's model type -> the family of its text model
WRAPPERS = {"gemma3": "gemma3_text", "mistral3": "ministral3", "qwen3_5": "qwen3_5_text"}


def norm_name(name: str, placement: str) -> Optional[str]:
    """llmarch's per-layer norms under transformers' names (pre-norm, post-norm and sandwich placements)."""
    return {
        "attn_norm": "input_layernorm",
        "mixer_norm": "input_layernorm",
        "attn_post_norm": "post_attention_layernorm",
        "ffn_norm": "post_attention_layernorm" if placement == "pre" else "pre_feedforward_layernorm",
        "ffn_post_norm": "post_feedforward_layernorm",
    }.get(name)


def in_layer(family: Family, rest: str, shape: tuple[int, ...], layout: str, placement: str) -> Optional[list[Entry]]:
    """A weight inside one layer (`rest` follows `layers.{i}.`) as checkpoint names inside that layer."""
    head, _, tail = rest.partition(".")
    if tail == "weight" or tail == "bias":
        norm = dict(family.norms).get(head) or norm_name(head, placement)
        if norm:
            return [(f"{norm}.{tail}", shape, None)]
    for pattern, make in family.rules():
        m = pattern.match(rest)
        if m:
            return make(m.groups(), shape, layout)
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
    family: Family,
    name: str,
    shape: tuple[int, ...],
    n_layers: int,
    prefix: str,
    head: str,
    layout: str,
    placement: str,
) -> Optional[list[Entry]]:
    """llmarch's weight `name` as the checkpoint's tensors, or None where the family's table has no entry."""
    parts = name.split(".")
    if name == "lm_head.weight":
        return [(f"{head}.weight", shape, shape)]
    if parts[0] in ("embed_tokens", "norm") and len(parts) == 2:
        return [(prefix + name, shape, shape if parts[0] == "embed_tokens" else None)]
    if parts[0] == "layers":
        inner = in_layer(family, ".".join(parts[2:]), shape, layout, placement)
        return None if inner is None else [(f"{prefix}layers.{parts[1]}.{n}", s, oi) for n, s, oi in inner]
    if parts[0] == "mtp" and family.mtp:
        k, rest = int(parts[1]), ".".join(parts[2:])
        if family.mtp == "deepseek":
            base = f"{prefix}layers.{n_layers + k}."
            if rest in MTP_DEEPSEEK:
                return [(base + MTP_DEEPSEEK[rest], shape, shape if len(shape) == 2 else None)]
        else:
            base = f"mtp.layers.{k}."
            if rest in MTP_QWEN:
                return [(MTP_QWEN[rest], shape, shape if len(shape) == 2 else None)]
        if rest.startswith("layer."):
            inner = in_layer(family, rest[len("layer.") :], shape, layout, placement)
            return None if inner is None else [(base + n, s, oi) for n, s, oi in inner]
    return None
