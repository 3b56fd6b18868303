"""GGUF tensor names: llama.cpp's table per architecture (gguf-py's MODEL_TENSORS and TENSOR_NAMES), held
against llmarch's weights.

Each table maps a weight inside a layer (the part of llmarch's name after `layers.N.`) to the GGUF tensors
`blk.N.<name>` that hold it: renamed (`attn.q_proj.weight` -> `attn_q.weight`), cut in equal parts (llmarch's
fused `gate_up` -> `ffn_gate` and `ffn_up`; stacked experts along their second dimension), or several llmarch
weights fused into one (Phi-3's `attn_qkv`).  Shapes are in torch's order (`GgufTensor.shape` undoes GGUF's
reversed dimensions); experts are always stacked (`ffn_gate_exps` `[n, d_expert, d]`).  Where llama.cpp's
converter reshapes a weight or cuts it unequally (Mamba-2's vectors, MLA's `kv_b`), the mechanism says how
(`Mechanism.gguf_parts`): this module names, it never reads a mechanism's fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

# (a regular expression on the weight's name inside its layer, the GGUF names it fills (a template each, the
# groups of the match filled in), the axis along which several names cut it in equal parts)
Rule = tuple[str, tuple[str, ...], int]


def rule(pattern: str, *names: str, axis: int = 0) -> Rule:
    return (pattern, names, axis)


ATTENTION: tuple[Rule, ...] = (
    rule(r"attn\.(q|k|v)_proj\.(weight|bias)", "attn_{0}.{1}"),
    rule(r"attn\.o_proj\.(weight|bias)", "attn_output.{0}"),
    rule(r"attn\.(q|k)_norm\.weight", "attn_{0}_norm.weight"),
    rule(r"attn\.sinks", "attn_sinks.weight"),
)
# DeepSeek's MLA; llama.cpp cuts kv_b into `attn_k_b` and `attn_v_b` (the shapes from the mechanism)
MLA: tuple[Rule, ...] = (
    rule(r"attn\.(q_a|q_b)_proj\.weight", "attn_{0}.weight"),
    rule(r"attn\.(q_a|kv_a)_norm\.weight", "attn_{0}_norm.weight"),
    rule(r"attn\.kv_a_proj\.weight", "attn_kv_a_mqa.weight"),
    rule(r"attn\.kv_b_proj\.weight", "attn_k_b.weight", "attn_v_b.weight"),
) + ATTENTION
# DeepSeek's sparse-attention indexer inside the attention block (GLM-5)
INDEXER: tuple[Rule, ...] = (
    rule(r"attn\.indexer\.wq\.weight", "indexer.attn_q_b.weight"),
    rule(r"attn\.indexer\.wk\.weight", "indexer.attn_k.weight"),
    rule(r"attn\.indexer\.k_norm\.(weight|bias)", "indexer.k_norm.{0}"),
    rule(r"attn\.indexer\.weights_proj\.weight", "indexer.proj.weight"),
)
MLP: tuple[Rule, ...] = (
    rule(r"ffn\.gate_up\.(weight|bias)", "ffn_gate.{0}", "ffn_up.{0}"),
    rule(r"ffn\.down\.(weight|bias)", "ffn_down.{0}"),
)
UNGATED_MLP: tuple[Rule, ...] = (  # llmarch's `gate_up` of a relu^2 or GELU MLP is the up projection alone
    rule(r"ffn\.gate_up\.(weight|bias)", "ffn_up.{0}"),
    rule(r"ffn\.down\.(weight|bias)", "ffn_down.{0}"),
)
MOE: tuple[Rule, ...] = (
    rule(r"ffn\.router\.(weight|bias)", "ffn_gate_inp.{0}"),
    rule(r"ffn\.e_score_correction_bias", "exp_probs_b.bias"),
    rule(r"ffn\.experts\.gate_up", "ffn_gate_exps.weight", "ffn_up_exps.weight", axis=1),
    rule(r"ffn\.experts\.down", "ffn_down_exps.weight"),
    rule(r"ffn\.experts\.gate_up_bias", "ffn_gate_exps.bias", "ffn_up_exps.bias", axis=1),
    rule(r"ffn\.experts\.down_bias", "ffn_down_exps.bias"),
    rule(r"ffn\.shared\.gate_up\.weight", "ffn_gate_shexp.weight", "ffn_up_shexp.weight"),
    rule(r"ffn\.shared\.down\.weight", "ffn_down_shexp.weight"),
    rule(r"ffn\.shared_gate\.weight", "ffn_gate_inp_shexp.weight"),
)
UNGATED_MOE: tuple[Rule, ...] = (
    rule(r"ffn\.experts\.gate_up", "ffn_up_exps.weight"),
    rule(r"ffn\.shared\.gate_up\.weight", "ffn_up_shexp.weight"),
    # the latent MoE's projections around the routed experts (Nemotron 3 Super)
    rule(r"ffn\.latent_(down|up)\.(weight|bias)", "ffn_latent_{0}.{1}"),
) + MOE
# Mamba-2 (Nemotron-H, Granite 4 hybrids) as `ssm_*` (the reshapes from the mechanism)
MAMBA2: tuple[Rule, ...] = (
    rule(r"mixer\.in_proj\.weight", "ssm_in.weight"),
    rule(r"mixer\.out_proj\.weight", "ssm_out.weight"),
    rule(r"mixer\.conv1d\.(weight|bias)", "ssm_conv1d.{0}"),
    rule(r"mixer\.dt_bias", "ssm_dt.bias"),
    rule(r"mixer\.A_log", "ssm_a"),
    rule(r"mixer\.D", "ssm_d"),
    rule(r"mixer\.norm\.weight", "ssm_norm.weight"),
)
# Qwen3-Next's Gated DeltaNet as llama.cpp's converter writes it since it cut the fused projection: q, k, v
# in `attn_qkv`, the gate z in `attn_gate` (the parts' widths from the mechanism), beta and a in `ssm_ba`
GATED_DELTANET: tuple[Rule, ...] = (
    rule(r"mixer\.in_proj_qkvz\.weight", "attn_qkv.weight", "attn_gate.weight"),
    rule(r"mixer\.in_proj_ba\.weight", "ssm_ba.weight"),
    rule(r"mixer\.out_proj\.weight", "ssm_out.weight"),
    rule(r"mixer\.conv1d\.weight", "ssm_conv1d.weight"),
    rule(r"mixer\.dt_bias", "ssm_dt.bias"),
    rule(r"mixer\.A_log", "ssm_a"),
    rule(r"mixer\.norm\.weight", "ssm_norm.weight"),
)
# Arcee's AFMoE (Trinity): llmarch's q_proj holds the queries and the elementwise output gate, which llama.cpp
# stores apart (`attn_gate`); the routing bias is a parameter (`router_correction`)
AFMOE: tuple[Rule, ...] = (
    rule(r"attn\.q_proj\.weight", "attn_q.weight", "attn_gate.weight"),
    rule(r"ffn\.router_correction", "exp_probs_b.bias"),
)
# GPT-2: q, k and v fused in `attn_qkv` (biases too), an ungated MLP, LayerNorms with biases
GPT2: tuple[Rule, ...] = (
    rule(r"attn\.(q|k|v)_proj\.(weight|bias)", "attn_qkv.{1}"),
    rule(r"attn\.o_proj\.(weight|bias)", "attn_output.{0}"),
) + UNGATED_MLP
# Qwen3.5's Gated DeltaNet: beta and a apart (`ssm_beta`, `ssm_alpha`)
QWEN35_DELTANET: tuple[Rule, ...] = (
    rule(r"mixer\.in_proj_ba\.weight", "ssm_beta.weight", "ssm_alpha.weight"),
) + GATED_DELTANET
# Phi-3: q, k and v fused in `attn_qkv`, gate and up in one `ffn_up`
PHI3: tuple[Rule, ...] = (
    rule(r"attn\.(q|k|v)_proj\.weight", "attn_qkv.weight"),
    rule(r"attn\.o_proj\.weight", "attn_output.weight"),
    rule(r"ffn\.gate_up\.weight", "ffn_up.weight"),
    rule(r"ffn\.down\.weight", "ffn_down.weight"),
)

# Gemma 4 26B-A4B's MoE beside a dense FFN: the dense branch as `ffn_*`, its post-norm `post_ffw_norm_1`; the
# experts' pre- and post-norms `pre_ffw_norm_2`, `post_ffw_norm_2`; experts kept fused (`ffn_gate_up_exps`);
# the converter names the router's input scale `ffn_gate_inp.scale` and the per-expert output scale
# `ffn_down_exps.scale`
PARALLEL_FFN: tuple[Rule, ...] = (
    rule(r"ffn\.dense\.gate_up\.weight", "ffn_gate.weight", "ffn_up.weight"),
    rule(r"ffn\.dense\.down\.weight", "ffn_down.weight"),
    rule(r"ffn\.moe\.router\.weight", "ffn_gate_inp.weight"),
    rule(r"ffn\.moe\.router_scale", "ffn_gate_inp.scale"),
    rule(r"ffn\.moe\.per_expert_scale", "ffn_down_exps.scale"),
    rule(r"ffn\.moe\.experts\.gate_up", "ffn_gate_up_exps.weight"),
    rule(r"ffn\.moe\.experts\.down", "ffn_down_exps.weight"),
    rule(r"ffn\.moe_norm\.weight", "pre_ffw_norm_2.weight"),
    rule(r"ffn\.dense_post_norm\.weight", "post_ffw_norm_1.weight"),
    rule(r"ffn\.moe_post_norm\.weight", "post_ffw_norm_2.weight"),
)
# Gemma 3n's and Gemma 4 E2B/E4B's per-layer inputs inside a layer: gate, projection (the post-norm is a norm)
PER_LAYER_INPUTS: tuple[Rule, ...] = (
    rule(r"per_layer_input\.gate\.weight", "inp_gate.weight"),
    rule(r"per_layer_input\.proj\.weight", "proj.weight"),
)

# llmarch's per-layer norms (`attn_norm`, `ffn_post_norm`, ...) under llama.cpp's names
NORMS = {
    "attn_norm": "attn_norm",
    "mixer_norm": "attn_norm",
    "input_norm": "attn_norm",  # the parallel block's one norm (Cohere 2)
    "ffn_norm": "ffn_norm",
    "attn_post_norm": "post_attention_norm",
    "ffn_post_norm": "post_ffw_norm",
}
# architectures whose pre-FFN norm is `post_attention_norm` (transformers' `post_attention_layernorm` kept)
POST_ATTENTION_FFN_NORM = NORMS | {"ffn_norm": "post_attention_norm"}
# the per-layer inputs' post-norm (`post_per_layer_input_norm`)
PER_LAYER_NORMS = NORMS | {"per_layer_input_norm": "post_norm"}


@dataclass(frozen=True)
class GgufTable:
    rules: tuple[Rule, ...]
    norms: dict[str, str] = field(default_factory=lambda: NORMS)
    # tensors llama.cpp's converter writes beside the model's weights: listed apart, not differences
    extras: tuple[str, ...] = ("rope_freqs.weight",)
    # model-level weights (a regular expression each) the converter stacks along a new first axis into one
    # tensor (Gemma 3n's AltUp projections `altup_in.0..2` -> `altup_proj` `[3, d, d]`)
    stacked: tuple[tuple[str, str], ...] = ()
    # model-level weights the converter pads with rows to the model's vocabulary (Gemma 3n's per-layer
    # embedding, 262,144 rows padded to the 262,400 of the token embedding)
    vocab_padded: tuple[str, ...] = ()

    def outer(self, name: str, shape: tuple[int, ...], vocab_size: int) -> Optional[list[tuple[str, tuple[int, ...]]]]:
        """A model-level weight as (GGUF name, shape) pairs; a stacked part's shape has a leading 1 (the
        parts of one tensor are summed along it); None where neither the table nor OUTER names it."""
        for pattern, gguf_name in self.stacked:
            if re.fullmatch(pattern, name):
                return [(gguf_name, (1,) + shape)]
        if name not in OUTER:
            return None
        return [(OUTER[name], (vocab_size,) + shape[1:] if name in self.vocab_padded else shape)]

    def names(
        self, rest: str, shape: tuple[int, ...], parts: Optional[tuple[tuple[int, ...], ...]] = None
    ) -> Optional[list[tuple[str, tuple[int, ...]]]]:
        """A weight inside a layer (`rest` follows `layers.N.`) as (GGUF name inside `blk.N.`, shape) pairs, in
        the shapes `parts` gives where the converter reshapes it; None where the table has no entry."""
        head, _, tail = rest.partition(".")
        if tail in ("weight", "bias") and head in self.norms:
            return [(f"{self.norms[head]}.{tail}", shape)]
        for pattern, templates, axis in self.rules:
            m = re.fullmatch(pattern, rest)
            if m is None:
                continue
            names = [t.format(*m.groups()) for t in templates]
            if parts is not None and len(parts) == len(names):
                return list(zip(names, parts))
            cut = list(shape)
            cut[axis] //= len(names)
            return [(n, tuple(cut)) for n in names]
        return None


# Kimi Linear's Kimi Delta Attention as `ssm_*` (q, k, v and the output as attention's): the short
# convolutions of q, k and v apart and A reshaped (the shapes from the mechanism), dt_bias as `ssm_dt`
KDA: tuple[Rule, ...] = (
    rule(r"mixer\.(q|k|v)_proj\.weight", "attn_{0}.weight"),
    rule(r"mixer\.o_proj\.weight", "attn_output.weight"),
    rule(r"mixer\.conv1d\.weight", "ssm_conv1d_q.weight", "ssm_conv1d_k.weight", "ssm_conv1d_v.weight"),
    rule(r"mixer\.dt_bias", "ssm_dt.bias"),
    rule(r"mixer\.A_log", "ssm_a"),
    rule(r"mixer\.(f_a|f_b|g_a|g_b)_proj\.weight", "ssm_{0}.weight"),
    rule(r"mixer\.b_proj\.weight", "ssm_beta.weight"),
    rule(r"mixer\.o_norm\.weight", "ssm_norm.weight"),
)

# Gemma 3n: AltUp's router, coefficients, output scale and router norm; LAuReL's low-rank pair and post-norm
ALTUP_LAUREL: tuple[Rule, ...] = (
    rule(r"altup\.router\.weight", "altup_router.weight"),
    rule(r"altup\.prediction_coefs\.weight", "altup_predict_coef.weight"),
    rule(r"altup\.correction_coefs\.weight", "altup_correct_coef.weight"),
    rule(r"altup\.output_scale", "altup_correct_scale.weight"),
    rule(r"laurel\.left\.weight", "laurel_l.weight"),
    rule(r"laurel\.right\.weight", "laurel_r.weight"),
)

# llama.cpp architecture (a GGUF's `general.architecture`) -> its table; each is tested on a file written by
# the `gguf` package (tests/test_verify_gguf.py), its names through gguf-py's own TensorNameMap
GGUF_TABLES: dict[str, GgufTable] = {
    "llama": GgufTable(ATTENTION + MLP + MOE),  # Llama 3, Mistral 7B, Mixtral (ffn_*_exps)
    "qwen3": GgufTable(ATTENTION + MLP),
    "qwen3moe": GgufTable(ATTENTION + MOE),
    "smollm3": GgufTable(ATTENTION + MLP),
    "granite": GgufTable(ATTENTION + MLP),
    "olmo2": GgufTable(ATTENTION + MLP),  # post-norm: post_attention_norm, post_ffw_norm
    "olmoe": GgufTable(ATTENTION + MOE),
    "gemma3": GgufTable(ATTENTION + MLP),  # sandwich norms
    "cohere2": GgufTable(ATTENTION + MLP),
    "phi3": GgufTable(PHI3, extras=("rope_factors_long.weight", "rope_factors_short.weight")),
    "minimax-m2": GgufTable(ATTENTION + MOE),
    "deepseek2": GgufTable(MLA + MLP + MOE),  # DeepSeek V3, R1, Kimi K2
    # Mistral Small 4: DeepSeek's MLA and MoE, its experts kept as transformers stacks them (gate and up fused)
    "mistral4": GgufTable((rule(r"ffn\.experts\.gate_up", "ffn_gate_up_exps.weight"),) + MLA + MLP + MOE),
    "glm-dsa": GgufTable(MLA + INDEXER + MLP + MOE),  # GLM-5
    "glm4moe": GgufTable(ATTENTION + MLP + MOE, POST_ATTENTION_FFN_NORM),
    "gpt-oss": GgufTable(ATTENTION + MOE, POST_ATTENTION_FFN_NORM),
    "qwen3next": GgufTable(GATED_DELTANET + ATTENTION + MOE, POST_ATTENTION_FFN_NORM),
    "qwen35": GgufTable(QWEN35_DELTANET + ATTENTION + MLP, POST_ATTENTION_FFN_NORM),
    "qwen35moe": GgufTable(QWEN35_DELTANET + ATTENTION + MOE, POST_ATTENTION_FFN_NORM),
    "llama4": GgufTable(ATTENTION + MLP + MOE),
    "mistral3": GgufTable(ATTENTION + MLP),  # Ministral 3
    # Gemma 4: sandwich norms, the layer scalar; the global layers' keys are their values
    # (no attn_v); its proportional RoPE's factors (`rope_freqs`) beside; 26B-A4B's MoE beside a dense FFN,
    # E2B's and E4B's per-layer inputs
    "gemma4": GgufTable(
        PARALLEL_FFN
        + ATTENTION
        + MLP
        + PER_LAYER_INPUTS
        + (rule(r"layer_scalar\.scalar", "layer_output_scale.weight"),),
        PER_LAYER_NORMS,
    ),
    # Gemma 3n: per-layer inputs, AltUp (its projections stacked), LAuReL
    "gemma3n": GgufTable(
        ATTENTION + MLP + PER_LAYER_INPUTS + ALTUP_LAUREL,
        PER_LAYER_NORMS | {"altup_norm": "altup_router_norm", "laurel_norm": "laurel_post_norm"},
        stacked=(
            (r"altup_in\.\d+\.weight", "altup_proj.weight"),
            (r"altup_out\.\d+\.weight", "altup_unembd_proj.weight"),
        ),
        vocab_padded=("per_layer_embed.weight",),
    ),
    "kimi-linear": GgufTable(KDA + MLA + MLP + MOE),  # Kimi Linear: KDA and MLA layers, DeepSeekMoE
    # Grok 2.5: the dense MLP beside the experts (`residual_moe`) as `ffn_*` (llmarch's always-on shared
    # expert), the attention's post-norm `attn_output_norm`
    "grok": GgufTable(
        (
            rule(r"ffn\.shared\.gate_up\.weight", "ffn_gate.weight", "ffn_up.weight"),
            rule(r"ffn\.shared\.down\.weight", "ffn_down.weight"),
        )
        + ATTENTION
        + MOE,
        NORMS | {"attn_post_norm": "attn_output_norm"},
    ),
    # Step 3.5 Flash: a head-wise attention gate (`attn_gate`, one row per head)
    "step35": GgufTable((rule(r"attn\.gate_proj\.weight", "attn_gate.weight"),) + ATTENTION + MLP + MOE),
    "mimo2": GgufTable(ATTENTION + MLP + MOE),  # MiMo-V2-Flash: sinks on the sliding-window layers
    "afmoe": GgufTable(AFMOE + ATTENTION + MLP + MOE),  # sandwich norms
    # older converters wrote GPT-2's tied head a second time as `output`
    "gpt2": GgufTable(GPT2, extras=("output.weight",)),
    "nemotron_h": GgufTable(MAMBA2 + ATTENTION + UNGATED_MLP, dict.fromkeys(NORMS, "attn_norm")),
    "nemotron_h_moe": GgufTable(MAMBA2 + ATTENTION + UNGATED_MLP + UNGATED_MOE, dict.fromkeys(NORMS, "attn_norm")),
}
# model-level weights of the meta build -> llama.cpp's names
OUTER = {
    "embed_tokens.weight": "token_embd.weight",
    "pos_embed.weight": "position_embd.weight",  # GPT-2's learned positions
    "norm.weight": "output_norm.weight",
    "norm.bias": "output_norm.bias",
    "lm_head.weight": "output.weight",
    # Gemma 3n's and Gemma 4 E2B/E4B's per-layer inputs: their embedding, the projection of the model's
    # embedding and its norm
    "per_layer_embed.weight": "per_layer_token_embd.weight",
    "per_layer_input.weight": "per_layer_model_proj.weight",
    "per_layer_input_norm.weight": "per_layer_proj_norm.weight",
}
