"""`llmarch import-gguf FILE`: a spec drafted from a GGUF file's metadata and tensor shapes, then held against
the same file as `verify` holds it.

The metadata is read back into the Hugging Face config keys it came from (llama.cpp's converters write
`<arch>.embedding_length` from `hidden_size`, ...) and that config goes through import-hf, which applies
transformers' defaults to what the file does not state and lists them in the spec's header.  What the
metadata leaves out is read off the tensors: a tied head (no `output`), attention biases, sizes.  RoPE
scaling is read back where the metadata states it (`rope.scaling.type` linear or yarn, its factor, original
context and YaRN's betas; DeepSeek's `mscale_all_dim` from the log multiplier its converter writes as 0.1 x
it); Llama 3's is only the `rope_freqs` tensor, so its draft has none.  MTP modules are read back from
`nextn_predict_layers` (the blocks a converter keeps after the model's); the verification says whether the
file agrees with the draft.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from .cli_shared import output_option, write_answer
from .errors import LlmarchError
from .render.output import is_stdout

if TYPE_CHECKING:  # the CLI imports this module at start: reading a GGUF waits for the command
    from .importers.checkpoints.gguf import GgufFile

# llama.cpp architecture -> the model type import-hf reads its config as
MODEL_TYPES = {"llama": "llama", "qwen3": "qwen3", "qwen3moe": "qwen3_moe", "deepseek2": "deepseek_v3"}
# config key <- `<arch>.` metadata key, where the converters write one from the other
KEYS = {
    "hidden_size": "embedding_length",
    "max_position_embeddings": "context_length",
    "num_attention_heads": "attention.head_count",
    "num_key_value_heads": "attention.head_count_kv",
    "intermediate_size": "feed_forward_length",
    "rms_norm_eps": "attention.layer_norm_rms_epsilon",
    "rope_theta": "rope.freq_base",
    "vocab_size": "vocab_size",
    "num_experts_per_tok": "expert_used_count",
    "moe_intermediate_size": "expert_feed_forward_length",
}
QWEN_MOE_KEYS = {"num_experts": "expert_count"}
DEEPSEEK_KEYS = {
    "q_lora_rank": "attention.q_lora_rank",
    "kv_lora_rank": "attention.kv_lora_rank",
    "qk_rope_head_dim": "rope.dimension_count",
    "v_head_dim": "attention.value_length_mla",
    "n_routed_experts": "expert_count",
    "n_shared_experts": "expert_shared_count",
    "first_k_dense_replace": "leading_dense_block_count",
    "routed_scaling_factor": "expert_weights_scale",
    "norm_topk_prob": "expert_weights_norm",
    "n_group": "expert_group_count",
    "topk_group": "expert_group_used_count",
}
# `rope.scaling.` metadata key -> the config's `rope_scaling` key, where the converters write one from the other
SCALING_KEYS = {
    "factor": "factor",
    "original_context_length": "original_max_position_embeddings",
    "yarn_beta_fast": "beta_fast",
    "yarn_beta_slow": "beta_slow",
}
# DeepseekV2Model (deepseek2) writes `rope.scaling.yarn_log_multiplier` as 0.1 x the config's mscale_all_dim
DEEPSEEK_LOG_MULTIPLIER = 0.1
SIGMOID_GATING = 2  # llama.cpp's LLAMA_EXPERT_GATING_FUNC_TYPE_SIGMOID (`<arch>.expert_gating_func`)


def _number(meta: dict, key: str):
    value = meta.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def hf_config(gguf: GgufFile) -> dict:
    """The Hugging Face config a GGUF file's metadata and tensor shapes state (keys it does not state are left
    out, for import-hf's defaults)."""
    arch = gguf.architecture
    if arch not in MODEL_TYPES:
        raise LlmarchError(
            f"`{gguf.path}`: import-gguf drafts specs of the GGUF architectures {', '.join(sorted(MODEL_TYPES))}; "
            f"this file's is `{arch}` (`llmarch verify SPEC FILE` holds any spec against it)"
        )
    meta = {k[len(arch) + 1 :]: v for k, v in gguf.metadata.items() if k.startswith(arch + ".")}
    blocks = _number(meta, "block_count")
    if not isinstance(blocks, int) or blocks < 1:
        raise LlmarchError(f"`{gguf.path}` has no `{arch}.block_count`: not a model import-gguf can draft")
    extra = _number(meta, "nextn_predict_layers") or 0
    cfg: dict = {"model_type": MODEL_TYPES[arch], "num_hidden_layers": blocks - extra}
    keys = KEYS | {"deepseek2": DEEPSEEK_KEYS, "qwen3moe": QWEN_MOE_KEYS}.get(arch, {})
    for hf_key, gguf_key in keys.items():
        value = meta.get(gguf_key)
        if isinstance(value, (int, float)):
            cfg[hf_key] = value
    tensors = gguf.tensors
    _from_shapes(cfg, tensors, blocks - extra, arch)
    cfg["tie_word_embeddings"] = "output.weight" not in tensors
    scaling = _rope_scaling(meta, arch)
    if scaling is not None:
        cfg["rope_scaling"] = scaling
    if arch == "deepseek2":
        nope_rope = _number(meta, "attention.key_length_mla")
        if nope_rope is not None and "qk_rope_head_dim" in cfg:
            cfg["qk_nope_head_dim"] = nope_rope - cfg["qk_rope_head_dim"]
        if _number(meta, "expert_gating_func") == SIGMOID_GATING:
            cfg["scoring_func"] = "sigmoid"
        cfg["num_nextn_predict_layers"] = extra  # the MTP blocks the file keeps (0: dropped, as most do)
    else:
        cfg["attention_bias"] = "blk.0.attn_q.bias" in tensors
        if isinstance(meta.get("attention.key_length"), int):
            cfg["head_dim"] = meta["attention.key_length"]
    return {k: v for k, v in cfg.items() if v is not None}


def _rope_scaling(meta: dict, arch: str) -> Optional[dict]:
    """The config's `rope_scaling` the file's `rope.scaling.*` metadata states: linear or yarn with a factor;
    None for none (or a type import-hf could not read back from a GGUF)."""
    kind = meta.get("rope.scaling.type")
    factor = _number(meta, "rope.scaling.factor")
    if kind not in ("linear", "yarn") or factor is None:
        return None
    out: dict = {"rope_type": kind}
    for gguf_key, hf_key in SCALING_KEYS.items():
        value = _number(meta, f"rope.scaling.{gguf_key}")
        if value is not None and (kind == "yarn" or not gguf_key.startswith("yarn_")):
            out[hf_key] = value
    log_multiplier = _number(meta, "rope.scaling.yarn_log_multiplier")
    if kind == "yarn" and arch == "deepseek2" and log_multiplier is not None:
        # float32 in the file: 0.1 x 1.0 reads back as 0.10000000149; six significant digits undo that
        out["mscale_all_dim"] = float(f"{log_multiplier / DEEPSEEK_LOG_MULTIPLIER:.6g}")
    return out


def _from_shapes(cfg: dict, tensors: dict, n_layers: int, arch: str) -> None:
    """Sizes the metadata left out, read off the tensors (torch's order: a matrix is `[out, in]`)."""

    def first(suffix: str):
        return next(
            (tensors[f"blk.{i}.{suffix}"].shape for i in range(n_layers) if f"blk.{i}.{suffix}" in tensors), None
        )

    fills = {
        "vocab_size": (tensors["token_embd.weight"].shape if "token_embd.weight" in tensors else None, 0),
        "intermediate_size": (first("ffn_down.weight"), 1),
        "moe_intermediate_size": (first("ffn_down_exps.weight"), 2),
        "num_experts" if arch == "qwen3moe" else "n_routed_experts": (first("ffn_gate_inp.weight"), 0),
    }
    if arch != "deepseek2":
        fills["head_dim"] = (first("attn_k_norm.weight"), 0)
    for key, (shape, axis) in fills.items():
        if key not in cfg and shape is not None:
            cfg[key] = shape[axis]
    k_rows, heads = first("attn_k.weight"), cfg.get("num_attention_heads")
    q_rows = first("attn_q.weight")
    if arch != "deepseek2" and "head_dim" not in cfg and q_rows is not None and heads:
        cfg["head_dim"] = q_rows[0] // heads
    if arch != "deepseek2" and "num_key_value_heads" not in cfg and k_rows is not None and cfg.get("head_dim"):
        cfg["num_key_value_heads"] = k_rows[0] // cfg["head_dim"]


def held_against_gguf(text: str, name: str, gguf: GgufFile) -> tuple[bool, str]:
    """Whether the spec `text` agrees with the GGUF file, and the line that says so."""
    from .importers.checkpoints.gguf_verify import verify_gguf
    from .spec.resolve import to_ir
    from .spec.validate import validate
    from .spec.yamlsafe import load_text

    located = load_text(text, f"{name}.yaml")
    answer = verify_gguf(to_ir(validate(located), located), gguf)
    if answer.agree:
        found = len(answer.metadata)
        return True, (
            f"verified against {gguf.path}: all {answer.tensors['expected']:,} tensors and {found} metadata keys agree"
        )
    keys = [m["key"] for m in answer.metadata if not m["agree"]]
    first = (answer.missing + answer.unexpected + [d["tensor"] for d in answer.shape_differences] + keys)[:3]
    return False, (
        f"the spec differs from {gguf.path} (first: {', '.join(first)}); run `llmarch verify SPEC {gguf.path}` "
        "for the list"
    )


def import_gguf(
    file: str = typer.Argument(..., help="A GGUF file (llama, qwen3, qwen3moe or deepseek2 architecture)."),
    output: Optional[str] = output_option("Write the spec to FILE (YAML) instead of stdout"),
    name: Optional[str] = typer.Option(
        None, "--name", help="The spec's name (default: -o's file name, else the GGUF file's name)."
    ),
) -> None:
    """Draft a spec from a GGUF file and verify it against the file.

    The spec (YAML) is read from the file's metadata and tensor shapes. Keys the metadata does not state take transformers' defaults, listed in the spec's header. Exit 1 when
    the file does not agree with the spec drafted from it, 2 on bad input or another architecture.
    Example: llmarch import-gguf Qwen3-8B-Q4_K_M.gguf -o qwen3-8b-q4.yaml
    """
    from .importers.checkpoints.gguf import read_gguf
    from .importers.hf import import_config, spec_name, spec_yaml
    from .importers.hf.jsonfile import clean_name

    name = spec_name(name, None if is_stdout(output) else output)
    gguf = read_gguf(file)
    name = name or clean_name(gguf.path.rsplit("/", 1)[-1].removesuffix(".gguf"))
    imported = import_config(hf_config(gguf), name=name, source=gguf.path)
    text = spec_yaml(imported).replace("`llmarch import-hf`", "`llmarch import-gguf`")
    write_answer(text, output)
    agree, message = held_against_gguf(text, name, gguf)
    typer.echo(message, err=True)  # the spec is written all the same; exit 1 when the file differs from it
    if not agree:
        raise typer.Exit(1)
