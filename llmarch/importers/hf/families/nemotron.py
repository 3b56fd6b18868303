"""NVIDIA's Nemotron-H (`nemotron_h`): Mamba-2, attention and MoE layers from `hybrid_override_pattern`; Nemotron 3
Super's latent MoE (`moe_latent_size`) and MTP block (`num_nextn_predict_layers`, `mtp_layers_block_type` or the
legacy `mtp_hybrid_override_pattern`)."""

from __future__ import annotations

from ...checkpoints.naming import Family, experts, to
from ..common import PLAIN_FFN, TextType, _base, _ffn_kind, _heads, _layers, _moe, _rmsnorm
from ..config import Config
from ..keys import _QUANT, Derived, Reject, _keys
from ..quant import ModuleNames

# Nemotron-H's hybrid_override_pattern: each layer holds one mixer or one FFN
NEMOTRON_LETTERS = {"M": ("M", "-"), "E": ("-", "E"), "*": ("G", "-"), "-": ("-", "D")}


NEMOTRON_BLOCK_TYPES = {"linear_attention": "M", "moe": "E", "full_attention": "*", "mlp": "-"}


def _nemotron_pattern(cfg: Config) -> str:
    """The layer pattern, from transformers 5's layers_block_type when stated, else hybrid_override_pattern."""
    if cfg.get("layers_block_type") is not None:
        blocks = cfg.str_list("layers_block_type")
        for i, b in enumerate(blocks):
            if b not in NEMOTRON_BLOCK_TYPES:
                raise cfg.error(
                    ("layers_block_type", i), f"unknown block type `{b}`", f"one of: {', '.join(NEMOTRON_BLOCK_TYPES)}"
                )
        pattern = "".join(NEMOTRON_BLOCK_TYPES[b] for b in blocks)
        cfg.touch("hybrid_override_pattern")
    else:
        pattern = cfg.str("hybrid_override_pattern")
    for ch in pattern:
        if ch not in NEMOTRON_LETTERS:
            raise cfg.error(
                "hybrid_override_pattern",
                f"unknown letter `{ch}`",
                "letters: M (Mamba-2), E (MoE), * (attention), - (MLP)",
            )
    if not pattern:
        raise cfg.error("hybrid_override_pattern", "the layer pattern is empty")
    return pattern


def build_nemotron_h(cfg: Config) -> dict:
    pattern = _nemotron_pattern(cfg)
    n = cfg.int("num_hidden_layers")
    if n != len(pattern):
        raise cfg.error("num_hidden_layers", f"{n} disagrees with the {len(pattern)}-layer hybrid_override_pattern")
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg, eps="layer_norm_epsilon")
    mixers = [NEMOTRON_LETTERS[ch][0] for ch in pattern]
    ffns = [NEMOTRON_LETTERS[ch][1] for ch in pattern]
    # MTP blocks (Nemotron 3 Super): read only where stated, so a config without them (Nano) imports as before
    n_mtp = cfg.int("num_nextn_predict_layers", 0) if cfg.has("num_nextn_predict_layers") else 0
    mtp_ffn = _nemotron_mtp_ffn(cfg) if n_mtp else None
    cfg.touch("num_nextn_predict_layers", "mtp_layers_block_type", "mtp_hybrid_override_pattern")
    if "G" in mixers or n_mtp:
        # Nemotron-H's attention layers use no positional encoding
        spec["attention"] = _heads(cfg, spec["d_model"]) | {"position": "nope"}
    cfg.touch("num_attention_heads", "num_key_value_heads", "head_dim")
    if "M" in mixers:
        spec["mamba2"] = {
            "n_heads": cfg.int("mamba_num_heads"),
            "head_dim": cfg.int("mamba_head_dim"),
            "state_dim": cfg.int("ssm_state_size"),
            "n_groups": cfg.int("n_groups"),
            "conv_kernel": cfg.int("conv_kernel"),
            "bias": cfg.bool("use_bias"),
            "conv_bias": cfg.bool("use_conv_bias"),
        }
    cfg.touch(
        "mamba_num_heads", "mamba_head_dim", "ssm_state_size", "n_groups", "conv_kernel", "use_bias", "use_conv_bias"
    )
    kind = _ffn_kind(cfg, "mlp_hidden_act", PLAIN_FFN)
    if "D" in ffns or mtp_ffn == "D":
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    if "E" in ffns or mtp_ffn == "E":
        n_shared = cfg.int("n_shared_experts", 0)
        d_shared = cfg.int("moe_shared_expert_intermediate_size") if n_shared else 0  # all shared experts as one MLP
        spec["moe"] = _moe(
            cfg.int("n_routed_experts"),
            cfg.int("num_experts_per_tok"),
            cfg.int("moe_intermediate_size"),
            kind,
            n_shared=n_shared,
            d_shared=d_shared,
            score_correction_bias=True,
        )
        # read only where stated: a config without it (Nano) imports as before, with no default to note
        latent = cfg.opt_int("moe_latent_size") if cfg.has("moe_latent_size") else None
        if latent is not None:
            # Nemotron 3 Super's latent MoE: the experts run in moe_latent_size, between two projections
            spec["moe"]["latent_dim"] = latent
    cfg.touch(
        "n_routed_experts",
        "num_experts_per_tok",
        "moe_intermediate_size",
        "n_shared_experts",
        "moe_shared_expert_intermediate_size",
        "moe_latent_size",
    )
    spec["layers"] = _layers(mixers, ffns, explicit=True)
    if n_mtp:
        # one attention block then one FFN block per module, as vLLM's NemotronHMTP runs them
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe" if mtp_ffn == "E" else "dense", "attention": "global"}
    return spec


def _nemotron_mtp_ffn(cfg: Config) -> str:
    """The FFN letter of Nemotron-H's MTP block (E or D), from mtp_layers_block_type, else the legacy
    mtp_hybrid_override_pattern (transformers reads the pattern only while the list is its default).  llmarch's
    MTP module holds one attention layer and one FFN, the order vLLM's NemotronHMTP runs them in."""
    blocks = cfg.get("mtp_layers_block_type") if cfg.has("mtp_layers_block_type") else None
    if blocks is not None and blocks != ["full_attention", "moe"]:
        names = cfg.str_list("mtp_layers_block_type")
        legacy = {"attention": "full_attention", "mamba": "linear_attention"}  # transformers' remap
        pattern, key = "".join(NEMOTRON_BLOCK_TYPES.get(legacy.get(b, b), "?") for b in names), "mtp_layers_block_type"
    elif cfg.has("mtp_hybrid_override_pattern"):
        pattern, key = cfg.str("mtp_hybrid_override_pattern"), "mtp_hybrid_override_pattern"
    else:
        pattern, key = "*E", "mtp_layers_block_type"
    if pattern not in ("*E", "*-"):
        raise cfg.error(
            key,
            f"an MTP block `{pattern}` (as a pattern) is not one llmarch can represent",
            "llmarch's MTP module holds one attention layer then one FFN: `*E` (MoE) or `*-` (MLP)",
        )
    return NEMOTRON_LETTERS[pattern[1]][1]  # E (experts) or D (dense), the FFN pattern's letter


NEMOTRON_H_KEYS = {
    "vocab_size": 131072,
    "hidden_size": 4096,
    "tie_word_embeddings": False,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "max_position_embeddings": 4096,
    "intermediate_size": 21504,
    "mlp_hidden_act": "relu2",
    "ssm_state_size": 128,
    "mamba_num_heads": 128,
    "mamba_head_dim": 64,
    "n_groups": 8,
    "conv_kernel": 4,
    "use_conv_bias": True,
    "use_bias": False,
    "n_routed_experts": 8,
    "n_shared_experts": 1,
    "moe_intermediate_size": 7688,
    "moe_shared_expert_intermediate_size": 7688,
    "num_experts_per_tok": 2,
    "layer_norm_epsilon": 1e-5,
    "hybrid_override_pattern": "ME*-",  # transformers' default layers_block_type, as a pattern
    "layers_block_type": None,  # transformers 5's name for the same list
    "num_hidden_layers": Derived("the pattern's length", lambda r: len(_nemotron_pattern(r))),
    "moe_latent_size": None,
    "num_nextn_predict_layers": 0,
    "mtp_layers_block_type": ["full_attention", "moe"],
    "mtp_hybrid_override_pattern": "*E",  # the legacy spelling, read while the list is the default
    **_QUANT,
}


TYPES = [
    TextType(
        "nemotron_h",
        "nemotron",
        _keys(
            NEMOTRON_H_KEYS,
            # Mamba kernel and init settings; `expand`: transformers sizes the mixer from mamba_num_heads x
            # mamba_head_dim; rope keys: the attention layers use no positional encoding
            "num_logits_to_keep use_mamba_kernels mamba_hidden_act expand time_step_min time_step_max time_step_limit "
            "time_step_floor chunk_size mamba_ssm_cache_dtype routed_scaling_factor n_group topk_group norm_topk_prob "
            "residual_in_fp32 rescale_prenorm_residual moe_shared_expert_overlap "
            "norm_eps rope_theta partial_rotary_factor",
            {
                "attention_bias": Reject("transformers' Nemotron-H attention has no biases"),
                "mlp_bias": Reject("llmarch's Nemotron-H MLPs have no biases"),
                "mamba_proj_bias": Reject("transformers ignores it (use_bias sets the Mamba projections' bias)"),
                "sliding_window": Reject("Nemotron-H has no sliding-window layers in transformers"),
            },
        ),
        build_nemotron_h,
    ),
]


MODULE_NAMES = {
    "nemotron_h": ModuleNames(
        {
            "attention": ("mixer.q_proj", "mixer.k_proj", "mixer.v_proj", "mixer.o_proj"),
            "linear_mixer": ("mixer.in_proj", "mixer.out_proj"),
            # a latent MoE's two projections count with dense_ffn (every token passes through them)
            "dense_ffn": ("mixer.up_proj", "mixer.down_proj", "mixer.fc1_latent_proj", "mixer.fc2_latent_proj"),
            "routed_experts": ("mixer.experts.{e}.up_proj", "mixer.experts.{e}.down_proj"),
            "shared_experts": ("mixer.shared_experts.up_proj", "mixer.shared_experts.down_proj"),
            "other": ("mixer.gate", "mixer.conv1d", "mixer.norm", "norm"),
        },
        model="backbone.",
        top=("embeddings", "norm_f"),
    ),
}


# Checkpoint tensor names (verify). Nemotron-H: every block is the layer's `mixer` (Mamba-2, attention, MoE or
# MLP) behind one `norm`; the FFNs are ungated (relu^2: llmarch's `gate_up` is the up projection alone)
NEMOTRON_H_TENSORS = (
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
CHECKPOINT_NAMES = {
    "nemotron_h": Family(
        NEMOTRON_H_TENSORS,
        prefixes=(("backbone.", "lm_head"), ("model.", "lm_head")),
        norms={"mixer_norm": "norm", "attn_norm": "norm", "ffn_norm": "norm"},
        outer={"embed_tokens.weight": "embeddings.weight", "norm.weight": "norm_f.weight"},
        # Nemotron 3 Super's MTP block: transformers' NemotronH builds none, so where its checkpoints keep it is
        # not known here
        mtp="unchecked",
    ),
}
