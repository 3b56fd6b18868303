"""`llmarch verify` on GGUF files of each llama.cpp architecture verify maps: files written by the `gguf`
package from transformers' build of the vendored config (full size, on the meta device), each tensor renamed
as llama.cpp's convert_hf_to_gguf.py renames it (gguf-py's own TensorNameMap, after the converter's
reshapes, written out here from its code), the metadata from the config's values under gguf-py's keys.  Each
file passes; a removed tensor, a wrong shape and a metadata mismatch each fail it."""

from __future__ import annotations

import math
import re
from functools import lru_cache

import pytest
from test_verify_gguf import _gguf_names, _quant, write_gguf

from conftest import (
    causal_lm_on_meta,
    collected_values,
    has_config,
    text_config,
    transformers_model,
    upstream_config,
)

gguf = pytest.importorskip("gguf")


@lru_cache(maxsize=2)
def built(spec: str):
    """transformers' config and model on meta: from the verbatim config, or from the collected values where
    no verbatim copy was found (Phi-4, Tiny Aya, Granite 4.1)."""
    if has_config(spec):
        return transformers_model(spec)
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    raw = text_config(collected_values(spec))
    cfg = CONFIG_MAPPING[raw["model_type"]](**{k: v for k, v in raw.items() if k != "model_type"})
    return cfg, causal_lm_on_meta(cfg)


def state(spec: str) -> dict[str, tuple]:
    """transformers' state dict of the vendored config, names and shapes (a tied matrix once)."""
    _, model = built(spec)
    seen, out = set(), {}
    for name, t in model.state_dict(keep_vars=True).items():
        if id(t) not in seen:
            seen.add(id(t))
            out[name] = tuple(t.shape)
    return out


def stacked_experts(name: str, shape: tuple) -> list[tuple[str, tuple]]:
    """transformers 5's stacked experts `[n, 2 f, d]` / `[n, d, f]` under the names convert_hf_to_gguf.py
    gives the experts it stacks (`model.layers.{bid}.mlp.experts.gate_proj.weight`, ...) before naming them."""
    if name.endswith("experts.gate_up_proj"):
        n, width, d = shape
        base = name[: -len("gate_up_proj")]
        return [(base + "gate_proj.weight", (n, width // 2, d)), (base + "up_proj.weight", (n, width // 2, d))]
    if name.endswith("experts.down_proj"):
        return [(name + ".weight", shape)]
    if name.endswith("e_score_correction_bias"):  # the converter's rename, so that `.bias` is a suffix
        return [(name[: -len("_bias")] + ".bias", shape)]
    return [(name, shape)]


def rope_theta(raw: dict, layer_type: str = "full_attention") -> float:
    """The global layers' RoPE base, as the converters write `rope.freq_base` (a config may list it per layer)."""
    if isinstance(raw.get("rope_theta"), (int, float)):
        return float(raw["rope_theta"])
    params = raw["rope_parameters"]
    return float(params.get(layer_type, params).get("rope_theta"))


def common_metadata(raw: dict) -> dict:
    head_dim = raw.get("head_dim") or raw["hidden_size"] // raw["num_attention_heads"]
    return {
        "block_count": raw["num_hidden_layers"],
        "context_length": raw.get("max_position_embeddings"),  # None: the config states none
        "embedding_length": raw["hidden_size"],
        "head_count": raw["num_attention_heads"],
        "head_count_kv": raw["num_key_value_heads"],
        "key_length": head_dim,
        "value_length": head_dim,
    }


def config(spec: str) -> dict:
    """The vendored config's values, transformers' defaults filled in (a wrapper's text config is terse)."""
    cfg, _ = built(spec)
    return cfg.to_dict() | text_config(upstream_config(spec) if has_config(spec) else collected_values(spec))


def convert(spec: str, arch, rename=stacked_experts) -> tuple[dict, dict]:
    raw = config(spec)
    hf = {}
    layers = raw.get("num_hidden_layers") or raw["n_layer"]
    for name, shape in state(spec).items():
        hf.update(rename(name, shape))
    return raw, _gguf_names(arch, layers, hf)


def with_nextn(tensors: dict, raw: dict) -> dict:
    """The MTP layer as the converter keeps it after the model's blocks: a block like the last one, and its
    nextn tensors named from gguf-py's TENSOR_NAMES, shapes by hand (eh_proj `[d, 2 d]`); transformers does
    not build it."""
    n, d = raw["num_hidden_layers"], raw["hidden_size"]
    T, names = gguf.MODEL_TENSOR, gguf.TENSOR_NAMES
    last = {k[len(f"blk.{n - 1}.") :]: s for k, s in tensors.items() if k.startswith(f"blk.{n - 1}.")}
    out = tensors | {f"blk.{n}.{k}": s for k, s in last.items()}
    for t, shape in ((T.NEXTN_EH_PROJ, (d, 2 * d)), (T.NEXTN_ENORM, (d,)), (T.NEXTN_HNORM, (d,))):
        out[names[t].format(bid=n) + ".weight"] = shape
    return out


def deepseek2(spec: str):
    """DeepSeek V3 and Kimi K2 as `deepseek2`: MLA's kv_b cut per head into `attn_k_b` (transposed:
    `[heads, kv_lora_rank, nope]`) and `attn_v_b` (`[heads, v_head_dim, kv_lora_rank]`), as the converter's MLA
    absorption does; metadata as it writes it since (one KV head of latent + rope key)."""

    def rename(name, shape):
        if fused and name.endswith(("experts.gate_up_proj", "experts.down_proj")):
            return [(name + ".weight", shape)]  # Mistral 4's converter keeps transformers' stacks
        if name.endswith("kv_b_proj.weight"):
            heads, nope, v = raw["num_attention_heads"], raw["qk_nope_head_dim"], raw["v_head_dim"]
            assert shape == (heads * (nope + v), raw["kv_lora_rank"])
            k_b = (heads, raw["kv_lora_rank"], nope)
            v_b = (heads, v, raw["kv_lora_rank"])
            return [(name.replace("kv_b_proj", "k_b_proj"), k_b), (name.replace("kv_b_proj", "v_b_proj"), v_b)]
        return stacked_experts(name, shape)

    raw = config(spec)
    glm, fused = raw["model_type"] == "glm_moe_dsa", raw["model_type"] == "mistral4"
    arch = gguf.MODEL_ARCH.GLM_DSA if glm else gguf.MODEL_ARCH.MISTRAL4 if fused else gguf.MODEL_ARCH.DEEPSEEK2
    raw, tensors = convert(spec, arch, rename)
    metadata = common_metadata(raw) | {
        "head_count_kv": 1,
        "key_length": raw["kv_lora_rank"] + raw["qk_rope_head_dim"],
        "value_length": raw["kv_lora_rank"],
        "key_length_mla": raw["qk_nope_head_dim"] + raw["qk_rope_head_dim"],
        "value_length_mla": raw["v_head_dim"],
        "q_lora_rank": raw["q_lora_rank"],
        "kv_lora_rank": raw["kv_lora_rank"],
        "rope_dimension_count": raw["qk_rope_head_dim"],
        "rope_freq_base": rope_theta(raw),
        "feed_forward_length": raw["intermediate_size"],
        "expert_feed_forward_length": raw["moe_intermediate_size"],
        "expert_count": raw["n_routed_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_shared_count": raw["n_shared_experts"],
        "leading_dense_block_count": raw["first_k_dense_replace"],
        "vocab_size": raw["vocab_size"],
    }
    if glm:  # GLM-5 (`glm-dsa`): the indexer's tensors, and the MTP layer kept as one more block
        mtp = raw["num_nextn_predict_layers"]
        metadata |= {"block_count": raw["num_hidden_layers"] + mtp, "nextn_predict_layers": mtp}
        metadata |= {
            "indexer_head_count": raw["index_n_heads"],
            "indexer_key_length": raw["index_head_dim"],
            "indexer_top_k": raw["index_topk"],
        }
        return "glm-dsa", metadata, with_nextn(tensors, raw)
    return gguf.MODEL_ARCH_NAMES[arch], metadata, tensors


def gemma3(spec: str):
    """Gemma 3 (`gemma3`): sandwich norms, QK-norm, the local layers' window, the global layers' RoPE base."""
    raw, tensors = convert(spec, gguf.MODEL_ARCH.GEMMA3)
    metadata = common_metadata(raw) | {
        "feed_forward_length": raw["intermediate_size"],
        "sliding_window": raw["sliding_window"],
        "rope_freq_base": rope_theta(raw),
    }
    return "gemma3", metadata, tensors


def gpt_oss(spec: str):
    """gpt-oss (`gpt-oss`): transformers' experts `[n, in, out]` with interleaved gate and up columns, which
    the converter de-interleaves and transposes to `[n, out, in]`; biases `[n, out]`; the sinks."""

    def rename(name, shape):
        if name.endswith("experts.gate_up_proj"):
            n, d, width = shape
            base = name[: -len("gate_up_proj")]
            return [(base + "gate_proj.weight", (n, width // 2, d)), (base + "up_proj.weight", (n, width // 2, d))]
        if name.endswith("experts.gate_up_proj_bias"):
            n, width = shape
            base = name[: -len("gate_up_proj_bias")]
            return [(base + "gate_proj.bias", (n, width // 2)), (base + "up_proj.bias", (n, width // 2))]
        if name.endswith("experts.down_proj"):
            n, f, d = shape
            return [(name + ".weight", (n, d, f))]
        if name.endswith("experts.down_proj_bias"):
            return [(name[: -len("_bias")] + ".bias", shape)]
        if name.endswith("self_attn.sinks"):  # the converter gives the sinks a `.weight`
            return [(name + ".weight", shape)]
        return [(name, shape)]

    raw, tensors = convert(spec, gguf.MODEL_ARCH.GPT_OSS, rename)
    metadata = common_metadata(raw) | {
        "sliding_window": raw["sliding_window"],
        "rope_freq_base": rope_theta(raw),
        "expert_count": raw["num_local_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_feed_forward_length": raw["intermediate_size"],
    }
    return "gpt-oss", metadata, tensors


def glm4moe(spec: str):
    """GLM-4.5 Air (`glm4moe`): a dense first layer, DeepSeek-style routing; the converter keeps the MTP
    layer as one more block (`block_count` 47, `nextn_predict_layers` 1) whose tensors transformers does not
    build: its nextn tensors named from gguf-py's TENSOR_NAMES, shapes by hand (eh_proj `[d, 2 d]`)."""
    raw, tensors = convert(spec, gguf.MODEL_ARCH.GLM4_MOE)
    n = raw["num_hidden_layers"]
    tensors = with_nextn(tensors, raw)
    metadata = common_metadata(raw) | {
        "block_count": n + raw["num_nextn_predict_layers"],
        "nextn_predict_layers": raw["num_nextn_predict_layers"],
        "rope_freq_base": rope_theta(raw),
        "feed_forward_length": raw["intermediate_size"],
        "expert_feed_forward_length": raw["moe_intermediate_size"],
        "expert_count": raw["n_routed_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_shared_count": raw["n_shared_experts"],
        "leading_dense_block_count": raw["first_k_dense_replace"],
    }
    return "glm4moe", metadata, tensors


def qwen3next(spec: str):
    """Qwen3-Next (`qwen3next`): the converter cuts the Gated DeltaNet's `in_proj_qkvz` into q, k, v
    (`attn_qkv`) and the gate z (`attn_gate`), squeezes the depthwise kernel to `[channels, kernel]` and
    renames `dt_bias` to `dt_proj.bias`; attention's q_proj keeps the output gate fused."""

    def rename(name, shape):
        if name.endswith("linear_attn.in_proj_qkvz.weight"):  # cut per head group into q, k, v and z
            key = raw["linear_num_key_heads"] * raw["linear_key_head_dim"]
            value = raw["linear_num_value_heads"] * raw["linear_value_head_dim"]
            assert shape[0] == 2 * key + 2 * value
            base = name[: -len("in_proj_qkvz.weight")]
            return [
                (base + "in_proj_qkv.weight", (2 * key + value, shape[1])),
                (base + "in_proj_z.weight", (value, shape[1])),
            ]
        if name.endswith("linear_attn.conv1d.weight"):
            return [(name, (shape[0], shape[2]))]
        if name.endswith(".dt_bias"):
            return [(name[: -len(".dt_bias")] + ".dt_proj.bias", shape)]
        return stacked_experts(name, shape)

    raw = config(spec)
    raw, tensors = convert(spec, gguf.MODEL_ARCH.QWEN3NEXT, rename)
    metadata = common_metadata(raw) | {
        "rope_freq_base": rope_theta(raw),
        "rope_dimension_count": int(raw["head_dim"] * raw["partial_rotary_factor"]),
        "expert_count": raw["num_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_feed_forward_length": raw["moe_intermediate_size"],
        "expert_shared_feed_forward_length": raw["shared_expert_intermediate_size"],
        "ssm_conv_kernel": raw["linear_conv_kernel_dim"],
        "ssm_state_size": raw["linear_key_head_dim"],
        "ssm_group_count": raw["linear_num_key_heads"],
        "ssm_time_step_rank": raw["linear_num_value_heads"],
        "ssm_inner_size": raw["linear_value_head_dim"] * raw["linear_num_value_heads"],
    }
    return "qwen3next", metadata, tensors


def qwen35(spec: str):
    """Qwen3.5 and 3.6 (`qwen35`, `qwen35moe`): transformers' Gated DeltaNet holds q, k, v (`attn_qkv`), z
    (`attn_gate`), b (`ssm_beta`) and a (`ssm_alpha`) apart; the converter squeezes the depthwise kernel,
    renames `dt_bias` and reorders value heads (shapes kept); written as with its `--no-mtp`."""

    def rename(name, shape):
        if name.endswith("linear_attn.conv1d.weight"):
            return [(name, (shape[0], shape[2]))]
        if name.endswith(".dt_bias"):
            return [(name[: -len(".dt_bias")] + ".dt_proj.bias", shape)]
        return stacked_experts(name, shape)

    raw = config(spec)
    moe = "num_experts" in raw and raw.get("num_experts")
    arch = gguf.MODEL_ARCH.QWEN35MOE if moe else gguf.MODEL_ARCH.QWEN35
    raw, tensors = convert(spec, arch, rename)
    rope = raw.get("rope_parameters") or {}
    metadata = common_metadata(raw) | {
        "rope_freq_base": rope_theta(raw),
        "rope_dimension_count": int(raw["head_dim"] * rope.get("partial_rotary_factor", 0.25)),
        "ssm_conv_kernel": raw["linear_conv_kernel_dim"],
        "ssm_state_size": raw["linear_key_head_dim"],
        "ssm_group_count": raw["linear_num_key_heads"],
        "ssm_time_step_rank": raw["linear_num_value_heads"],
        "ssm_inner_size": raw["linear_value_head_dim"] * raw["linear_num_value_heads"],
    }
    if moe:
        metadata |= {
            "expert_count": raw["num_experts"],
            "expert_used_count": raw["num_experts_per_tok"],
            "expert_feed_forward_length": raw["moe_intermediate_size"],
            "expert_shared_feed_forward_length": raw["shared_expert_intermediate_size"],
        }
    else:
        metadata["feed_forward_length"] = raw["intermediate_size"]
    return gguf.MODEL_ARCH_NAMES[arch], metadata, tensors


def llama4(spec: str):
    """Llama 4 (`llama4`): transformers' experts `[n, in, out]`, gate and up in halves of the outputs, which
    the converter transposes to `[n, out, in]` and cuts in two."""

    def rename(name, shape):
        if name.endswith("experts.gate_up_proj"):
            n, d, width = shape
            base = name[: -len("gate_up_proj")]
            return [(base + "gate_proj.weight", (n, width // 2, d)), (base + "up_proj.weight", (n, width // 2, d))]
        if name.endswith("experts.down_proj"):
            n, f, d = shape
            return [(name + ".weight", (n, d, f))]
        return [(name, shape)]

    raw, tensors = convert(spec, gguf.MODEL_ARCH.LLAMA4, rename)
    metadata = common_metadata(raw) | {
        "rope_freq_base": rope_theta(raw),
        "expert_count": raw["num_local_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_feed_forward_length": raw["intermediate_size"],
        "feed_forward_length": raw["intermediate_size_mlp"],
    }
    return "llama4", metadata, tensors


def nemotron_h(spec: str):
    """Nemotron-H (`nemotron_h`; with experts `nemotron_h_moe`, Nemotron 3 Super's latent MoE included): the
    converter's Mamba2Model reshapes (conv1d squeezed, A and D `[heads, 1]`, the gated norm per group) and
    `dt_bias` renamed to `dt_proj.bias`; llama.cpp's per-layer head counts, 0 where a layer has no attention."""
    raw = config(spec)
    groups = raw["n_groups"]

    def rename(name, shape):
        name = re.sub(r"^model\.", "backbone.", name)
        experts = re.match(r"backbone\.layers\.(\d+)\.mixer\.experts\.(up|down)_proj(\.weight)?$", name)
        if experts:  # the names the converter gives the experts it stacks
            return [(f"model.layers.{experts[1]}.mlp.experts.{experts[2]}_proj.weight", shape)]
        if name.endswith("e_score_correction_bias"):
            return [(name[: -len("_bias")] + ".bias", shape)]
        if name.endswith(".dt_bias"):
            return [(name[: -len(".dt_bias")] + ".dt_proj.bias", shape)]
        if name.endswith("conv1d.weight"):
            return [(name, (shape[0], shape[2]))]
        if name.endswith((".A_log", ".D")):
            return [(name, shape + (1,))]
        if name.endswith("mixer.norm.weight"):
            return [(name, (groups, shape[0] // groups))]
        return [(name, shape)]

    moe = "E" in raw["hybrid_override_pattern"]
    raw, tensors = convert(spec, gguf.MODEL_ARCH.NEMOTRON_H_MOE if moe else gguf.MODEL_ARCH.NEMOTRON_H, rename)
    pattern = raw["hybrid_override_pattern"]
    metadata = common_metadata(raw) | {
        "head_count": [raw["num_attention_heads"] if c == "*" else 0 for c in pattern],
        "head_count_kv": [raw["num_key_value_heads"] if c == "*" else 0 for c in pattern],
        "ssm_conv_kernel": raw["conv_kernel"],
        "ssm_state_size": raw["ssm_state_size"],
        "ssm_group_count": groups,
        "ssm_time_step_rank": raw["mamba_num_heads"],
        "ssm_inner_size": raw["mamba_num_heads"] * raw["mamba_head_dim"],
    }
    if moe:
        metadata |= {"expert_count": raw["n_routed_experts"], "expert_used_count": raw["num_experts_per_tok"]}
        return "nemotron_h_moe", metadata, tensors
    return "nemotron_h", metadata, tensors


def gpt2(spec: str):
    """GPT-2 (`gpt2`): every linear a Conv1D stored `[in, out]`, which the converter transposes; the
    attention's causal-mask buffers dropped."""

    def rename(name, shape):
        if name.endswith((".attn.bias", ".attn.masked_bias")):
            return []
        if name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            return [(name, shape[::-1])]
        return [(name, shape)]

    raw, tensors = convert(spec, gguf.MODEL_ARCH.GPT2, rename)
    metadata = {
        "block_count": raw["n_layer"],
        "context_length": raw["n_ctx"] if "n_ctx" in raw else raw["n_positions"],
        "embedding_length": raw["n_embd"],
        "feed_forward_length": 4 * raw["n_embd"],
        "head_count": raw["n_head"],
    }
    return "gpt2", metadata, tensors


def gemma4(spec: str):
    """Gemma 4 (`gemma4`): the converter gives the layer scalar a `.weight`, states the global layers' head
    size as `key_length` (the local ones' as `key_length_swa`), the KV heads per layer, and adds `rope_freqs`
    for the global layers' proportional RoPE (global_head_dim / 2 factors).  26B-A4B's experts beside the
    dense FFN: stacked experts given a `.weight` (gate and up kept fused), the router's `scale` written as
    `ffn_gate_inp.scale` and `per_expert_scale` as `ffn_down_exps.scale` (Gemma4Model.modify_tensors, not
    gguf-py's map, names these two).  E2B and E4B: the per-layer inputs through gguf-py's map."""
    T, names = gguf.MODEL_TENSOR, gguf.TENSOR_NAMES
    scales = {}

    def rename(name, shape):
        layer = re.search(r"layers\.(\d+)\.", name)
        if name.endswith("router.scale"):
            scales[names[T.FFN_GATE_INP].format(bid=int(layer[1])) + ".scale"] = shape
            return []
        if name.endswith("router.per_expert_scale"):
            scales[names[T.FFN_DOWN_EXP].format(bid=int(layer[1])) + ".scale"] = shape
            return []
        if name.endswith("layer_scalar") or (".experts." in name and not name.endswith(".weight")):
            return [(name + ".weight", shape)]
        return [(name, shape)]

    raw, tensors = convert(spec, gguf.MODEL_ARCH.GEMMA4, rename)
    tensors |= scales
    tensors["rope_freqs.weight"] = (raw["global_head_dim"] // 2,)
    swa = [t == "sliding_attention" for t in raw["layer_types"]]
    global_kv = raw.get("num_global_key_value_heads") or raw["num_key_value_heads"]
    metadata = common_metadata(raw) | {
        "key_length": raw["global_head_dim"],
        "value_length": raw["global_head_dim"],
        "head_count_kv": [raw["num_key_value_heads"] if s else global_kv for s in swa],
        "sliding_window": raw["sliding_window"],
        "rope_freq_base": rope_theta(raw),
        "rope_dimension_count": raw["global_head_dim"],
    }
    if not raw.get("use_double_wide_mlp"):  # else the converter writes the widths per layer
        metadata["feed_forward_length"] = raw["intermediate_size"]
    if raw.get("enable_moe_block"):
        metadata |= {
            "expert_count": raw["num_experts"],
            "expert_used_count": raw["top_k_experts"],
            "expert_feed_forward_length": raw["moe_intermediate_size"],
        }
    return "gemma4", metadata, tensors


def gemma3n(spec: str):
    """Gemma 3n (`gemma3n`), as Gemma3NModel.modify_tensors writes it: `correct_output_scale` given a
    `.weight`; AltUp's three input and three output projections each stacked into one `[3, d, d]` tensor
    (`altup_proj`, `altup_unembd_proj`); the per-layer embedding's 262,144 rows padded with zeros to the
    262,400 of `vocab_size`; the rest through gguf-py's map; its widths per layer (`intermediate_size` is a
    list) as an array."""
    raw = config(spec)
    n, d = raw["num_hidden_layers"], raw["hidden_size"]
    stacks = {"altup_projections": 0, "altup_unembed_projections": 0}

    def rename(name, shape):
        if name.endswith("_scale"):
            return [(name + ".weight", shape)]
        if name.endswith("embed_tokens_per_layer.weight"):
            return [(name, (raw["vocab_size"],) + shape[1:])]
        stack = re.match(r"model\.(altup_projections|altup_unembed_projections)\.\d+\.weight$", name)
        if stack:  # the converter emits the stack once it holds all three
            stacks[stack[1]] += 1
            return [(f"model.{stack[1]}.weight", (stacks[stack[1]],) + shape)] if stacks[stack[1]] == 3 else []
        return [(name, shape)]

    raw, tensors = convert(spec, gguf.MODEL_ARCH.GEMMA3N, rename)
    assert tensors["altup_proj.weight"] == (3, d, d) and tensors["per_layer_token_embd.weight"][0] == 262400
    metadata = common_metadata(raw) | {
        "feed_forward_length": raw["intermediate_size"],
        "sliding_window": raw["sliding_window"],
        "rope_freq_base": rope_theta(raw),
        "embedding_length_per_layer_input": raw["hidden_size_per_layer_input"],
    }
    assert len(metadata["feed_forward_length"]) == n
    return "gemma3n", metadata, tensors


def grok(spec: str):
    """Grok 2.5 (`grok`, model type `git`): transformers has no implementation, so the tensors are xAI's
    checkpoint names as SGLang's grok.py loads them and as GrokModel.modify_tensors reads them
    (`block_sparse_moe.experts.{e}.w1`/`w2`/`w3`, stacked per layer into gate, down and up), the shapes written
    out here from the collected config values; names through gguf-py's map (`pre_attn_norm`,
    `post_attn_norm`, `pre_moe_norm`, `post_moe_norm` are grok-2's entries there).  The converter states
    the dense MLP's width as `feed_forward_length` and the experts' as `expert_feed_forward_length`."""
    raw = text_config(collected_values(spec))
    d, n, f, fe = raw["hidden_size"], raw["num_hidden_layers"], raw["intermediate_size"], raw["moe_intermediate_size"]
    heads, kv, hd, experts, vocab = (
        raw["num_attention_heads"],
        raw["num_key_value_heads"],
        raw["head_dim"],
        raw["num_local_experts"],
        raw["vocab_size"],
    )
    hf = {"model.embed_tokens.weight": (vocab, d), "model.norm.weight": (d,), "lm_head.weight": (vocab, d)}
    for i in range(n):
        p = f"model.layers.{i}."
        hf |= {
            p + "self_attn.q_proj.weight": (heads * hd, d),
            p + "self_attn.k_proj.weight": (kv * hd, d),
            p + "self_attn.v_proj.weight": (kv * hd, d),
            p + "self_attn.o_proj.weight": (d, heads * hd),
            p + "pre_attn_norm.weight": (d,),
            p + "post_attn_norm.weight": (d,),
            p + "pre_moe_norm.weight": (d,),
            p + "post_moe_norm.weight": (d,),
            p + "block_sparse_moe.gate.weight": (experts, d),
            p + "mlp.gate_proj.weight": (f, d),
            p + "mlp.up_proj.weight": (f, d),
            p + "mlp.down_proj.weight": (d, f),
            # the converter's merged names: w1 (gate) `moe.linear`, w2 (down) `moe.linear_1`, w3 (up) `moe.linear_v`
            f"transformer.decoder_layer.{i}.moe.linear.weight": (experts, fe, d),
            f"transformer.decoder_layer.{i}.moe.linear_1.weight": (experts, d, fe),
            f"transformer.decoder_layer.{i}.moe.linear_v.weight": (experts, fe, d),
        }
    tensors = _gguf_names(gguf.MODEL_ARCH.GROK, n, hf)
    assert tensors["blk.0.ffn_gate_exps.weight"] == (8, 16384, 8192) and "blk.0.attn_output_norm.weight" in tensors
    metadata = common_metadata(raw) | {
        "rope_freq_base": raw["rope_theta"],
        "feed_forward_length": f,
        "expert_count": experts,
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_feed_forward_length": fe,
    }
    return "grok", metadata, tensors


def kimi_linear(spec: str):
    """Kimi Linear (`kimi-linear`), as llama.cpp's KimiLinearModel.modify_tensors writes it: transformers'
    fused short convolution cut back into the checkpoint's `q_conv1d`, `k_conv1d`, `v_conv1d`, each reshaped
    to (1, channels, 1, kernel); the forget gate's tensors under `self_attn` as the checkpoint names them, A
    kept (1, 1, heads, 1), `dt_bias` renamed to `dt_proj.bias`; MLA's kv_b cut as deepseek2's (the config's
    32 KV heads: tensors are converted before the metadata sets them to 1); metadata as its
    set_gguf_parameters writes it (1 KV head on MLA layers, 0 on KDA ones).  The config states no
    max_position_embeddings, so the file no context length."""
    raw = config(spec)
    linear = raw["linear_attn_config"]
    inner, kernel = linear["num_heads"] * linear["head_dim"], linear["short_conv_kernel_size"]

    def rename(name, shape):
        if name.endswith("self_attn.conv1d.weight"):
            assert shape == (3 * inner, 1, kernel)
            base = name[: -len("conv1d.weight")]
            return [(f"{base}{x}_conv1d.weight", (1, inner, 1, kernel)) for x in "qkv"]
        if ".forget_gate." in name:
            name = name.replace(".forget_gate.", ".")
            if name.endswith(".dt_bias"):
                return [(name[: -len(".dt_bias")] + ".dt_proj.bias", shape)]
            return [(name, shape)]
        if name.endswith("kv_b_proj.weight"):
            heads, nope, v = raw["num_key_value_heads"], raw["qk_nope_head_dim"], raw["v_head_dim"]
            assert shape == (heads * (nope + v), raw["kv_lora_rank"])
            k_b, v_b = (heads, raw["kv_lora_rank"], nope), (heads, v, raw["kv_lora_rank"])
            return [(name.replace("kv_b_proj", "k_b_proj"), k_b), (name.replace("kv_b_proj", "v_b_proj"), v_b)]
        return stacked_experts(name, shape)

    raw, tensors = convert(spec, gguf.MODEL_ARCH.KIMI_LINEAR, rename)
    assert tensors["blk.0.ssm_conv1d_q.weight"] == (1, 4096, 1, 4) and tensors["blk.0.ssm_a"] == (1, 1, 32, 1)
    full = linear["full_attn_layers"]  # 1-based
    metadata = {k: v for k, v in common_metadata(raw).items() if v is not None} | {
        "head_count_kv": [1 if i + 1 in full else 0 for i in range(raw["num_hidden_layers"])],
        "key_length": raw["kv_lora_rank"] + raw["qk_rope_head_dim"],
        "key_length_mla": raw["qk_nope_head_dim"] + raw["qk_rope_head_dim"],
        "value_length_mla": raw["v_head_dim"],
        "kv_lora_rank": raw["kv_lora_rank"],
        "rope_dimension_count": raw["qk_rope_head_dim"],
        "ssm_conv_kernel": kernel,
        "kda_head_dim": linear["head_dim"],
        "feed_forward_length": raw["intermediate_size"],
        "expert_feed_forward_length": raw["moe_intermediate_size"],
        "expert_count": raw["num_experts"],
        "expert_used_count": raw["num_experts_per_token"],
        "expert_shared_count": raw["num_shared_experts"],
        "leading_dense_block_count": raw["first_k_dense_replace"],
    }
    del metadata["value_length"]
    return "kimi-linear", metadata, tensors


def mimo2(spec: str):
    """MiMo-V2-Flash (`mimo2`, from its collected values): the sliding-window layers' sinks given a `.weight`
    as gpt-oss's, the routing bias a `.bias`; keys of 192 and values of 128 per head, 8 KV heads on the
    sliding-window layers and 4 on the global ones (llama.cpp's per-layer array); its MTP layers dropped."""

    def rename(name, shape):
        if name.endswith("self_attn.sinks"):
            return [(name + ".weight", shape)]
        return stacked_experts(name, shape)

    raw, tensors = convert(spec, gguf.MODEL_ARCH.MIMO2, rename)
    swa = [t == "sliding_attention" for t in raw["layer_types"]]
    metadata = common_metadata(raw) | {
        "value_length": raw["v_head_dim"],
        "head_count_kv": [raw["swa_num_key_value_heads"] if s else raw["num_key_value_heads"] for s in swa],
        "sliding_window": raw["sliding_window"],
        "rope_freq_base": rope_theta(raw),
        "feed_forward_length": raw["intermediate_size"],
        "expert_count": raw["n_routed_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_feed_forward_length": raw["moe_intermediate_size"],
    }
    return "mimo2", metadata, tensors


def step35(spec: str):
    """Step 3.5 Flash (`step35`, transformers' step3p7 text model): the head-wise attention gate, 96 heads on
    the sliding-window layers and 64 on the global ones, MTP dropped; names through gguf-py's map of
    transformers' names (StepFun's own checkpoints name modules their way, to the same GGUF names)."""
    raw, tensors = convert(spec, gguf.MODEL_ARCH.STEP35)
    metadata = common_metadata(raw) | {
        "sliding_window": raw["sliding_window"],
        "rope_freq_base": rope_theta(raw),
        "expert_count": raw["n_routed_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_feed_forward_length": raw["moe_intermediate_size"],
    }
    return "step35", metadata, tensors


def afmoe(spec: str):
    """Trinity (`afmoe`, from its collected values): the attention's output gate apart (`attn_gate`),
    sandwich norms, the routing bias `expert_bias` (given its `.bias`, as llama.cpp loads `exp_probs_b.bias`)."""

    def rename(name, shape):
        if name.endswith("mlp.expert_bias"):
            return [(name + ".bias", shape)]
        return stacked_experts(name, shape)

    raw, tensors = convert(spec, gguf.MODEL_ARCH.AFMOE, rename)
    metadata = common_metadata(raw) | {
        "rope_freq_base": rope_theta(raw),
        "sliding_window": raw["sliding_window"],
        "feed_forward_length": raw["intermediate_size"],
        "expert_count": raw["num_experts"],
        "expert_used_count": raw["num_experts_per_tok"],
        "expert_feed_forward_length": raw["moe_intermediate_size"],
        "expert_shared_count": raw["num_shared_experts"],
    }
    return "afmoe", metadata, tensors


def dense(arch_name: str):
    """A dense family whose converter renames only (Llama's, OLMo 2's, SmolLM3's)."""

    def make(spec: str):
        arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name)
        raw, tensors = convert(spec, arch)
        metadata = common_metadata(raw) | {
            "feed_forward_length": raw["intermediate_size"],
            "rope_freq_base": rope_theta(raw),
        }
        return arch_name, metadata, tensors

    return make


def moe(arch_name: str, experts_key: str):
    """A MoE family whose converter stacks the experts and renames (Mixtral as `llama`, OLMoE, MiniMax-M2)."""

    def make(spec: str):
        arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name)
        raw, tensors = convert(spec, arch)
        metadata = common_metadata(raw) | {
            "rope_freq_base": rope_theta(raw),
            "expert_count": raw[experts_key],
            "expert_used_count": raw["num_experts_per_tok"],
        }
        return arch_name, metadata, tensors

    return make


CASES = {
    "deepseek-v3": deepseek2,  # MLA, DeepSeekMoE, dense first layers
    "kimi-k2": deepseek2,
    "glm-5": deepseek2,  # glm-dsa: DeepSeek's MLA with the sparse-attention indexer, MTP kept
    "mistral-small-4-119b": deepseek2,  # mistral4: MLA, experts with gate and up fused
    "gemma-3-1b": gemma3,  # sandwich norms, sliding window, tied embedding
    "gemma-3-27b": gemma3,  # the text model of the multimodal wrapper
    "gpt-oss-20b": gpt_oss,  # sinks, expert biases
    "glm-4.5-air": glm4moe,  # MTP kept as an extra block
    "qwen3-next-80b-a3b": qwen3next,  # hybrid: Gated DeltaNet and gated attention, MoE with a shared expert
    "olmo-2-7b": dense("olmo2"),  # post-norm
    "olmo-3-7b": dense("olmo2"),
    "smollm3-3b": dense("smollm3"),
    "mistral-7b": dense("llama"),
    "phi-4": dense("phi3"),  # q, k, v fused in attn_qkv; gate and up in ffn_up
    "tiny-aya": dense("cohere2"),  # the parallel block's one norm
    "granite-4.1-30b": dense("granite"),
    "nemotron-3-nano-4b": nemotron_h,
    "nemotron-3-super-120b-a12b": nemotron_h,  # with latent MoE layers (nemotron_h_moe)
    "qwen3.6-27b": qwen35,  # Gated DeltaNet and gated attention, dense FFN
    "qwen3.5-122b-a10b": qwen35,  # the same with experts and a gated shared expert
    "llama-4-scout": llama4,  # MoE with a shared expert, chunked and NoPE layers
    "llama-4-maverick": llama4,  # MoE and dense layers interleaved
    "ministral-3-8b": dense("mistral3"),
    "gpt2-xl": gpt2,
    "trinity-large": afmoe,
    "mimo-v2-flash": mimo2,  # sinks on the sliding-window layers, per-layer KV heads
    "step-3.5-flash": step35,  # head-wise attention gate
    "gemma-3n-e4b": gemma3n,  # AltUp, LAuReL, per-layer inputs, KV shared by the last layers
    "kimi-linear-48b-a3b": kimi_linear,  # hybrid: KDA and MLA layers, DeepSeekMoE with a dense first layer
    "grok-2.5": grok,  # a dense MLP beside the experts, the attention's post-norm
    "gemma-4-31b": gemma4,  # global layers' keys as values, the layer scalar
    "gemma-4-26b-a4b": gemma4,  # MoE beside a dense FFN, each with its own norms
    "gemma-4-e2b": gemma4,  # per-layer inputs, KV shared by the last layers, double-wide MLPs there
    "gemma-4-e4b": gemma4,
    "mixtral-8x7b": moe("llama", "num_local_experts"),
    "olmoe-1b-7b": moe("olmoe", "num_experts"),
    "minimax-m2": moe("minimax-m2", "num_local_experts"),
}


# Metadata a converted file states against a spec's deliberate choice: Mistral Small 4's spec serves the
# advertised 262,144-token context, its config (and so a GGUF) states max_position_embeddings 1,048,576
KNOWN_DIFFERENCES = {"mistral-small-4-119b": {"context_length"}}


@pytest.mark.parametrize("spec", list(CASES))
def test_gguf_family_agrees_and_catches_each_difference(tmp_path, spec):
    import llmarch
    from llmarch.importers.checkpoints.gguf import read_gguf
    from llmarch.importers.checkpoints.gguf_verify import verify_gguf

    ir = llmarch.load(spec)
    arch, metadata, tensors = CASES[spec](spec)
    assert arch in MODEL_TYPE_ARCH[model_type_of(spec)]  # the architecture README states for it

    def answer(meta: dict, edited: dict, name: str) -> dict:
        path = tmp_path / f"{name}.gguf"
        write_gguf(path, arch, meta, edited)
        return verify_gguf(ir, read_gguf(path)).as_dict()

    known = {f"{arch}.{k}" for k in KNOWN_DIFFERENCES.get(spec, ())}

    def differing(result: dict) -> list[str]:
        return [m["key"] for m in result["metadata"] if not m["agree"] and m["key"] not in known]

    ok = answer(metadata, tensors, "ok")
    assert ok["missing"] == [] and ok["unexpected"] == [], (ok["missing"][:5], ok["unexpected"][:5])
    assert ok["shape_differences"] == [], ok["shape_differences"][:3]
    assert {m["key"] for m in ok["metadata"] if not m["agree"]} == known, ok["metadata"]
    compared = {m["key"][len(arch) + 1 :] for m in ok["metadata"]}
    assert {"block_count", "embedding_length", "attention.head_count"} <= compared
    assert ok["agree"] == (not known) and ok["model_type"] == arch
    n = ir.n_layers
    beyond = sorted(k for k in tensors if re.match(rf"blk\.{n}\.", k) or k == "rope_freqs.weight")
    assert ok["outside_text_model"] == beyond
    victim = next(k for k, s in tensors.items() if k.startswith(f"blk.{n - 1}.") and len(s) >= 2)
    removed = answer(metadata, {k: v for k, v in tensors.items() if k != victim}, "removed")
    assert removed["missing"] == [victim] and not removed["agree"]
    shape = tensors[victim]
    wider = answer(metadata, tensors | {victim: (shape[0] + 1,) + shape[1:]}, "wider")
    assert [d["tensor"] for d in wider["shape_differences"]] == [victim] and not wider["agree"]
    block, size = gguf.GGML_QUANT_SIZES[_quant(victim, (shape[0] + 1,) + shape[1:])]
    extra = ok["bytes"]["difference"]
    assert wider["bytes"]["difference"] == extra + math.prod(shape[1:]) // block * size
    more = answer(metadata | {"block_count": metadata["block_count"] + 1}, tensors, "meta")
    bad = [m for m in more["metadata"] if not m["agree"] and m["key"] not in known]
    assert [m["key"] for m in bad] == [f"{arch}.block_count"] and bad[0]["field"].startswith("n_layers")
    doubled = [h * 2 for h in metadata["head_count"]] if isinstance(metadata["head_count"], list) else None
    heads = answer(metadata | {"head_count": doubled or metadata["head_count"] * 2}, tensors, "heads")
    assert differing(heads) == [f"{arch}.attention.head_count"]


# ---------------------------------------------------------------------------
# Which llama.cpp architecture each shipped model type converts to (convert_hf_to_gguf.py's registrations),
# checked against gguf-py's MODEL_ARCH_NAMES, every shipped spec and README's table.  None: gguf-py defines
# no architecture for it; (): which one llama.cpp's converter gives it is not settled here.  Mistral Large 3
# ships Mistral's own params.json, no model type: its architecture (gguf-py's deepseek2 names list it).
MODEL_TYPE_ARCH: dict[str, tuple[str, ...] | None] = {
    "afmoe": ("afmoe",),
    "cohere2": ("cohere2",),
    "cohere2_moe": None,
    "deepseek_v3": ("deepseek2",),
    # its indexer: deepseek2 has no indexer tensors, glm-dsa has; a `DeepseekV32Model` converting to a
    # `deepseek32` architecture appears only in copies not tied to llama.cpp's own tree, and gguf-py 0.19.0
    # defines no such architecture
    "deepseek_v32": (),
    "deepseek_v4": None,
    "gemma3_text": ("gemma3",),
    "gemma3n_text": ("gemma3n",),
    "gemma4_text": ("gemma4",),
    "git": ("grok",),  # Grok 2.5's config says `git`
    "glm4_moe": ("glm4moe",),
    "glm_moe_dsa": ("glm-dsa",),
    "gpt2": ("gpt2",),
    "gpt_oss": ("gpt-oss",),
    "granite": ("granite",),
    "hy_v3": None,  # only the older hunyuan-moe and hunyuan-dense
    "kimi_k2": ("deepseek2",),
    "kimi_linear": ("kimi-linear",),  # conversion/kimi_linear.py
    "laguna": None,
    "llama": ("llama",),
    "llama4_text": ("llama4",),
    "longcat_flash_ngram": None,
    # llama.cpp's conversion/mimo.py (ggml-org/llama.cpp@051139f5) registers MiMoV2ForCausalLM (V2.5 and
    # V2.5-Pro) with MiMoV2FlashForCausalLM as MimoV2Model, `mimo2`; see LAYOUT_NOT_SETTLED
    "mimo_v2": ("mimo2",),
    "mimo_v2_flash": ("mimo2",),
    "minimax_m2": ("minimax-m2",),
    "ministral3": ("mistral3",),
    "mistral": ("llama", "mistral3"),  # Mistral 7B; Mistral Small 3.1's wrapper (llama in older files)
    "mistral4": ("mistral4",),
    "MistralLarge3ForCausalLM": ("deepseek2",),
    "mixtral": ("llama",),
    "nemotron_h": ("nemotron_h", "nemotron_h_moe"),  # without and with experts
    "olmo2": ("olmo2",),
    "olmo3": ("olmo2",),
    "olmoe": ("olmoe",),
    "phi3": ("phi3",),
    "qwen3": ("qwen3",),
    "qwen3_5_moe_text": ("qwen35moe",),
    "qwen3_5_text": ("qwen35",),
    "qwen3_moe": ("qwen3moe",),
    "qwen3_next": ("qwen3next",),
    "sarvam_mla": None,
    "sarvam_moe": None,
    "smollm3": ("smollm3",),
    "step3p5": ("step35",),
    "xlstm": None,
    "zaya": None,
}


def shipped_model_types() -> dict[str, list[str]]:
    from conftest import SPEC_NAMES

    out: dict[str, list[str]] = {}
    for spec in SPEC_NAMES:
        raw = upstream_config(spec) if has_config(spec) else collected_values(spec)
        model_type = text_config(raw).get("model_type") or raw["architecture"].split()[0]
        out.setdefault(model_type, []).append(spec)
    return out


def readme_rows() -> list[str]:
    from importlib.metadata import version as installed

    from llmarch.importers.checkpoints.gguf_naming import GGUF_TABLES

    version = installed("gguf")
    rows = ["| model type | llama.cpp architecture | verify | shipped specs |", "|---|---|---|---|"]
    for model_type, specs in sorted(shipped_model_types().items(), key=lambda kv: kv[0].lower()):
        archs = MODEL_TYPE_ARCH[model_type]
        if archs is None:
            arch, state = "none", f"no GGUF (gguf-py {version} defines no architecture)"
        elif not archs:
            arch, state = "not settled", "no table (exit 2)"
        else:
            arch = ", ".join(f"`{a}`" for a in archs)
            state = "tested" if all(a in GGUF_TABLES for a in archs) else "no table yet (exit 2)"
            gaps = [f"{s} ({NOT_NAMED[s]})" for s in specs if s in NOT_NAMED]
            if gaps and state == "tested":
                state += "; not yet named, exit 2: " + ", ".join(gaps)
            if model_type in LAYOUT_NOT_SETTLED:
                state += "; " + LAYOUT_NOT_SETTLED[model_type]
        rows.append(f"| `{model_type}` | {arch} | {state} | {', '.join(specs)} |")
    return rows


def test_every_shipped_model_type_has_its_llama_cpp_architecture_stated():
    shipped = shipped_model_types()
    assert set(shipped) == set(MODEL_TYPE_ARCH), set(shipped) ^ set(MODEL_TYPE_ARCH)
    names = set(gguf.MODEL_ARCH_NAMES.values())
    stated = {a for archs in MODEL_TYPE_ARCH.values() if archs for a in archs}
    assert stated <= names, stated - names
    squashed = {re.sub(r"[-_]", "", n) for n in names}
    for model_type, archs in MODEL_TYPE_ARCH.items():
        if archs is None:  # no architecture of that name, nor one it begins
            assert not any(n.startswith(re.sub(r"[-_]", "", model_type)) for n in squashed), model_type


def test_every_gguf_table_is_tested_on_a_file():
    import test_verify_gguf

    from llmarch.importers.checkpoints.gguf_naming import GGUF_TABLES

    tested = {a for spec in [*CASES, *test_verify_gguf.CASES] for a in MODEL_TYPE_ARCH[model_type_of(spec)]}
    assert set(GGUF_TABLES) <= tested, set(GGUF_TABLES) - tested


def model_type_of(spec: str) -> str:
    return next(t for t, specs in shipped_model_types().items() if spec in specs)


def test_readme_states_each_model_types_gguf_architecture():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("<!-- gguf-architectures -->")[1].split("<!-- /gguf-architectures -->")[0]
    assert block.strip().splitlines() == readme_rows(), "\n".join(readme_rows())


def test_cli_on_a_deepseek2_gguf_piped_at_80_columns(tmp_path):
    """The CLI as people run it, piped (no terminal) at 80 columns: the MLA metadata rows, exit 0; a
    `--set` the file contradicts, exit 1 naming the key; an architecture with no table, exit 2 in one
    paragraph naming the file and the architectures verify knows."""
    import os
    import subprocess
    import sys

    arch, metadata, tensors = deepseek2("deepseek-v3")
    path = tmp_path / "DeepSeek-V3-Q4_K_M.gguf"
    write_gguf(path, arch, metadata, tensors)
    env = os.environ | {"COLUMNS": "80", "NO_COLOR": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "llmarch", *args], capture_output=True, text=True, env=env, timeout=300
        )

    ok = run("verify", "deepseek-v3", str(path))
    assert ok.returncode == 0, ok.stderr
    assert "deepseek2.attention.kv_lora_rank" in ok.stdout and "deepseek2.attention.key_length_mla" in ok.stdout
    # only a line holding the file's path (a word never broken, pytest's folders are long) may pass 80 columns
    assert max(len(line.replace(str(path), "P")) for line in ok.stdout.splitlines()) <= 80
    differs = run("verify", "deepseek-v3", str(path), "--set", "attention.kv_lora_rank=256")
    assert differs.returncode == 1 and "deepseek2.attention.kv_lora_rank" in differs.stdout
    other = tmp_path / "other.gguf"
    write_gguf(other, "hunyuan-moe", {"block_count": 1}, {"token_embd.weight": (8, 32)})
    refused = run("verify", "deepseek-v3", str(other))
    assert refused.returncode == 2 and "hunyuan-moe" in refused.stderr and "deepseek2" in refused.stderr
    assert "Traceback" not in refused.stderr and "other.gguf" in refused.stderr
    bare = tmp_path / "bare.gguf"
    write_gguf(bare, "llama", {}, {"token_embd.weight": (8, 32)})
    _strip_architecture(bare)
    nameless = run("verify", "deepseek-v3", str(bare))
    assert nameless.returncode == 2 and "general.architecture" in nameless.stderr


def _strip_architecture(path) -> None:
    """Rename the `general.architecture` key in place (same length), as a file that never stated it."""
    raw = path.read_bytes()
    assert raw.count(b"general.architecture") == 1
    path.write_bytes(raw.replace(b"general.architecture", b"general.architectur_"))


# Model types whose architecture is settled but whose tensor layout in a file is not: README says how
LAYOUT_NOT_SETTLED = {
    "kimi_linear": (
        "the layout is llama.cpp's KimiLinearModel's as read (ggml-org/llama.cpp@051139f5): its kv_b cut reads "
        "the config's KV heads, which its metadata step then sets to 1, so it holds while tensors are converted "
        "first; a later converter may write it otherwise"
    ),
    "mimo_v2": (
        "the layout of V2.5's files is not settled: the converter keeps their fused `qkv_proj`, which gguf-py "
        "0.19.0's `mimo2` cannot name "
        "(no `attn_qkv`): a file holding `attn_qkv` differs from the table's `attn_q`, `attn_k`, `attn_v` "
        "(exit 1, both named)"
    ),
}

# Shipped specs of an architecture verify has a table for, whose blocks that table does not name yet
NOT_NAMED: dict[str, str] = {}


def protocol_weights(ir) -> list[tuple[str, tuple, bool]]:
    """Every weight name of the spec's distinct layers and of the model, from the mechanism protocol (the
    names the meta build gives, as tests/test_mechanisms.py holds): no torch, so every shipped spec is cheap."""
    from llmarch.mechanisms.layers import layer_weights, model_mechanisms

    out = [("embed_tokens.weight", (ir.vocab_size, ir.d_model), False), ("norm.weight", (ir.d_model,), False)]
    if not ir.tie_embeddings:
        out.append(("lm_head.weight", (ir.vocab_size, ir.d_model), False))
    if ir.learned_positions:
        out.append(("pos_embed.weight", (ir.learned_positions, ir.d_model), False))
    out += [(w.name, w.shape, False) for m in model_mechanisms(ir) for w in m.model_weights(ir.d_model)]
    for layer, _ in ir.layer_groups:
        out += [(f"layers.{layer.index}.{w.name}", w.shape, False) for w in layer_weights(ir, layer)]
    return out


def test_every_spec_of_a_tabled_architecture_is_named_by_the_table():
    """README's `tested` rows hold for each spec listed in them: every weight gets a GGUF name from one of its
    model type's architectures' tables, except the specs NOT_NAMED lists (README says which)."""
    import llmarch
    from llmarch.importers.checkpoints.gguf_naming import GGUF_TABLES
    from llmarch.importers.checkpoints.gguf_verify import expected_gguf_tensors

    named, unnamed = set(), {}
    for model_type, specs in shipped_model_types().items():
        archs = MODEL_TYPE_ARCH[model_type]
        if not archs or not all(a in GGUF_TABLES for a in archs):
            continue
        for spec in specs:
            ir = llmarch.load(spec)
            weights = protocol_weights(ir)
            missing = [expected_gguf_tensors(ir, GGUF_TABLES[a], weights)[1] for a in archs]
            if any(not m for m in missing):
                named.add(spec)
            else:
                unnamed[spec] = min(missing, key=len)[:2]
    assert set(unnamed) == set(NOT_NAMED), unnamed
    assert {"deepseek-v3", "glm-5", "nemotron-3-super-120b-a12b"} <= named


def test_gemma4_moe_beside_a_dense_ffn_states_both_widths_and_the_experts(tmp_path):
    """Gemma 4 26B-A4B's metadata as the converter writes it from the config: the dense branch's width
    (intermediate_size 2,112) as `feed_forward_length`, the experts' (moe_intermediate_size 704) and counts
    (128, top 8) as a MoE's; a file stating another expert count differs on that key alone."""
    import llmarch
    from llmarch.importers.checkpoints.gguf import read_gguf
    from llmarch.importers.checkpoints.gguf_verify import verify_gguf

    arch, metadata, tensors = gemma4("gemma-4-26b-a4b")
    assert (metadata["feed_forward_length"], metadata["expert_feed_forward_length"]) == (2112, 704)
    assert (metadata["expert_count"], metadata["expert_used_count"]) == (128, 8)
    ir = llmarch.load("gemma-4-26b-a4b")
    path = tmp_path / "ok.gguf"
    write_gguf(path, arch, metadata, tensors)
    ok = verify_gguf(ir, read_gguf(path)).as_dict()
    compared = {m["key"]: m["agree"] for m in ok["metadata"]}
    keys = ("feed_forward_length", "expert_feed_forward_length", "expert_count", "expert_used_count")
    assert all(compared[f"gemma4.{k}"] for k in keys), compared
    write_gguf(path, arch, metadata | {"expert_count": 64}, tensors)
    other = verify_gguf(ir, read_gguf(path)).as_dict()
    assert [m["key"] for m in other["metadata"] if not m["agree"]] == ["gemma4.expert_count"]
    assert not other["agree"]


def test_mimo2_file_with_fused_qkv_differs_naming_both(tmp_path):
    """README's caveat for MiMo-V2.5: a `mimo2` file whose attention is one fused `attn_qkv` (as the
    converter keeps V2.5's `qkv_proj`) differs from the table, the three parts missing and the fused tensor
    unexpected, on MiMo-V2-Flash's file (the same table) with layer 0's q, k and v fused by hand."""
    import llmarch
    from llmarch.importers.checkpoints.gguf import read_gguf
    from llmarch.importers.checkpoints.gguf_verify import verify_gguf

    arch, metadata, tensors = mimo2("mimo-v2-flash")
    parts = [f"blk.0.attn_{x}.weight" for x in "qkv"]
    fused = {k: v for k, v in tensors.items() if k not in parts}
    fused["blk.0.attn_qkv.weight"] = (sum(tensors[p][0] for p in parts), tensors[parts[0]][1])
    path = tmp_path / "fused.gguf"
    write_gguf(path, arch, metadata, fused)
    result = verify_gguf(llmarch.load("mimo-v2-flash"), read_gguf(path)).as_dict()
    assert result["missing"] == sorted(parts) and result["unexpected"] == ["blk.0.attn_qkv.weight"]
    assert not result["agree"]
