"""GGUF tensor names: llama.cpp's table per architecture, held against llmarch's weights like the
safetensors families of `naming.py` (split out of it: the same `Family` and rule helpers)."""

from __future__ import annotations

from typing import Optional

from .naming import Family, Rules, split, to

# ---------------------------------------------------------------------------
# GGUF: llama.cpp's tensor names, one table per llama.cpp architecture (gguf-py's MODEL_TENSORS and
# TENSOR_NAMES), shapes in torch's order (GGUF stores the dimensions reversed: `GgufTensor.shape` undoes it).
# Experts are always stacked (`ffn_gate_exps` `[n, d_expert, d]`); llama.cpp's converter reshapes a few
# Mamba-2 vectors (convert_hf_to_gguf.py's Mamba2Model: conv1d squeezed to `[channels, kernel]`, A and D
# `[heads, 1]`, the gated norm `[groups, d_inner / groups]`).

GGUF_NORMS = {
    "attn_norm": "attn_norm",
    "mixer_norm": "attn_norm",
    "ffn_norm": "ffn_norm",
    "attn_post_norm": "post_attention_norm",
    "ffn_post_norm": "post_ffw_norm",
}
GGUF_ATTENTION: Rules = (
    (r"attn\.(q|k|v)_proj\.(weight|bias)", to("attn_{0}.{1}")),
    (r"attn\.o_proj\.(weight|bias)", to("attn_output.{0}")),
    (r"attn\.(q|k)_norm\.weight", to("attn_{0}_norm.weight")),
)
GGUF_MLP: Rules = (
    (r"ffn\.gate_up\.weight", split("ffn_gate.weight", "ffn_up.weight")),
    (r"ffn\.down\.weight", to("ffn_down.weight")),
)
GGUF_MOE: Rules = (
    (r"ffn\.router\.weight", to("ffn_gate_inp.weight")),
    (r"ffn\.e_score_correction_bias", to("exp_probs_b.bias")),
    (r"ffn\.experts\.gate_up", split("ffn_gate_exps.weight", "ffn_up_exps.weight", axis=1)),
    (r"ffn\.experts\.down", to("ffn_down_exps.weight")),
    (r"ffn\.shared\.gate_up\.weight", split("ffn_gate_shexp.weight", "ffn_up_shexp.weight")),
    (r"ffn\.shared\.down\.weight", to("ffn_down_shexp.weight")),
    (r"ffn\.shared_gate\.weight", to("ffn_gate_inp_shexp.weight")),
)
# Nemotron-H: one `attn_norm` per layer, ungated (relu^2) FFNs, Mamba-2 blocks as `ssm_*`
GGUF_NEMOTRON_H: Rules = (
    (r"mixer\.in_proj\.weight", to("ssm_in.weight")),
    (r"mixer\.out_proj\.weight", to("ssm_out.weight")),
    (r"mixer\.conv1d\.weight", to("ssm_conv1d.weight", shape=lambda s, layer: (s[0], s[2]))),
    (r"mixer\.conv1d\.bias", to("ssm_conv1d.bias")),
    (r"mixer\.dt_bias", to("ssm_dt.bias")),
    (r"mixer\.A_log", to("ssm_a", shape=lambda s, layer: s + (1,))),
    (r"mixer\.D", to("ssm_d", shape=lambda s, layer: s + (1,))),
    (
        r"mixer\.norm\.weight",
        to("ssm_norm.weight", shape=lambda s, layer: (layer.mamba2.n_groups, s[0] // layer.mamba2.n_groups)),
    ),
    (r"ffn\.router\.weight", to("ffn_gate_inp.weight")),
    (r"ffn\.e_score_correction_bias", to("exp_probs_b.bias")),
    (r"ffn\.experts\.gate_up", to("ffn_up_exps.weight")),
    (r"ffn\.experts\.down", to("ffn_down_exps.weight")),
    (r"ffn\.shared\.gate_up\.weight", to("ffn_up_shexp.weight")),
    (r"ffn\.shared\.down\.weight", to("ffn_down_shexp.weight")),
    (r"ffn\.gate_up\.weight", to("ffn_up.weight")),
    (r"ffn\.down\.weight", to("ffn_down.weight")),
) + GGUF_ATTENTION


def gguf_family(rules: Rules, norms: Optional[dict] = None) -> Family:
    return Family(
        rules,
        prefixes=(("", "output"),),
        layouts=("stacked",),
        layers="blk",
        norms=norms or GGUF_NORMS,
        outer={"embed_tokens.weight": "token_embd.weight", "norm.weight": "output_norm.weight"},
    )


# llama.cpp architecture (a GGUF's `general.architecture`) -> its table
GGUF_FAMILIES: dict[str, Family] = {
    "llama": gguf_family(GGUF_ATTENTION + GGUF_MLP),
    "qwen3": gguf_family(GGUF_ATTENTION + GGUF_MLP),
    "qwen3moe": gguf_family(GGUF_ATTENTION + GGUF_MOE),
    "nemotron_h_moe": gguf_family(GGUF_NEMOTRON_H, dict.fromkeys(("attn_norm", "mixer_norm", "ffn_norm"), "attn_norm")),
}
# tensors llama.cpp's converter adds beside the model's weights: listed, not differences
GGUF_EXTRAS = ("rope_freqs.weight",)
