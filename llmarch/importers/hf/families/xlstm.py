"""NXAI's xLSTM (`xlstm`, xLSTM 7B): pre-norm blocks of an mLSTM (matrix memory) and a SwiGLU FFN."""

from __future__ import annotations

import math

from ....limits import MAX_CONTEXT, MAX_D_MODEL, MAX_HEADS, MAX_LAYERS, MAX_VOCAB
from ...checkpoints.naming import Family, split, to
from ..common import TextType, _layers
from ..config import Config
from ..keys import _QUANT, Reject, _keys, _only
from ..quant import ModuleNames

# The config states no context length (the model is recurrent); a spec needs one: the 8,192-token pre-training
# context of xLSTM 7B (arXiv 2503.13427), which the notes say was taken
PRETRAINING_CONTEXT = 8192


def _round_up(x: float, multiple: int) -> int:
    """transformers' round_up_to_next_multiple_of."""
    return math.ceil(x / multiple) * multiple


def build_xlstm(cfg: Config) -> dict:
    """transformers' xLSTMLayer sizes q and k int(hidden_size x qk_dim_factor) and v int(hidden_size x
    v_dim_factor); the FFN round_up(hidden_size x ffn_proj_factor, ffn_round_up_to_multiple_of)."""
    d = cfg.int("hidden_size", 1, MAX_D_MODEL)
    heads = cfg.int("num_heads", 1, MAX_HEADS)
    qk = int(d * cfg.number("qk_dim_factor"))
    v = int(d * cfg.number("v_dim_factor"))
    for key, width in (("qk_dim_factor", qk), ("v_dim_factor", v)):
        if width < heads or width % heads:
            raise cfg.error(key, f"gives a width of {width}, not a positive multiple of num_heads ({heads})")
    ffn = _round_up(d * cfg.number("ffn_proj_factor"), cfg.int("ffn_round_up_to_multiple_of"))
    n = cfg.int("num_hidden_layers", 1, MAX_LAYERS)
    return {
        "vocab_size": cfg.int("vocab_size", 1, MAX_VOCAB),
        "d_model": d,
        "n_layers": n,
        "context_length": min(PRETRAINING_CONTEXT, MAX_CONTEXT),
        "tie_embeddings": False,
        "norm": {"kind": "rmsnorm", "placement": "pre", "eps": cfg.number("norm_eps")},
        "mlstm": {"n_heads": heads, "qk_dim": qk, "v_dim": v},
        "ffn": {"kind": "swiglu", "d_ff": max(ffn, 1)},
        "layers": _layers(["X"] * n, ["D"] * n),
    }


# transformers' xLSTMConfig (its defaults are xLSTM 7B's); embedding_dim and num_blocks are the checkpoint's names
# of hidden_size and num_hidden_layers
XLSTM_KEYS = {
    "vocab_size": 50304,
    "hidden_size": 4096,
    "num_hidden_layers": 32,
    "num_heads": 8,
    "norm_eps": 1e-6,
    "qk_dim_factor": 0.5,
    "v_dim_factor": 1.0,
    "ffn_proj_factor": 2.667,
    "ffn_round_up_to_multiple_of": 64,
    **_QUANT,
}

# kernels, chunk sizes, dtypes and soft caps: how the recurrence is computed, not what it holds
XLSTM_IRRELEVANT = """
    chunkwise_kernel sequence_kernel step_kernel mode chunk_size return_last_states autocast_kernel_dtype eps
    inference_state_dtype gate_soft_cap output_logit_soft_cap max_inference_chunksize norm_reduction_force_float32
"""

TYPES = [
    TextType(
        "xlstm",
        "xlstm",
        _keys(
            XLSTM_KEYS,
            XLSTM_IRRELEVANT,
            {
                "use_bias": Reject(
                    "with use_bias, transformers gives the blocks' norms a shift but not the final out_norm; "
                    "llmarch's norms share one bias flag"
                ),
                "weight_mode": Reject(
                    "`fused` stores q, k, v and the gates in two matrices (the same weights); llmarch names the "
                    "separate ones",
                    _only("single"),
                ),
                # xLSTMForCausalLM declares no tied weights: transformers keeps a separate head whatever the flag
                "tie_word_embeddings": Reject(
                    "transformers' xlstm never ties its LM head to the embedding", _only(False)
                ),
                "add_out_norm": Reject("transformers' xLSTMModel always builds its out_norm", _only(True)),
            },
            aliases={"embedding_dim": "hidden_size", "num_blocks": "num_hidden_layers"},
        ),
        build_xlstm,
        note="The config states no context length (the model is recurrent): context_length is xLSTM 7B's "
        "8,192-token pre-training context",
    ),
]

MODULE_NAMES = {
    "xlstm": ModuleNames(
        {
            "linear_mixer": (
                "mlstm_layer.q",
                "mlstm_layer.k",
                "mlstm_layer.v",
                "mlstm_layer.ogate_preact",
                "mlstm_layer.igate_preact",
                "mlstm_layer.fgate_preact",
                "mlstm_layer.out_proj",
            ),
            "dense_ffn": ("ffn.proj_up_gate", "ffn.proj_up", "ffn.proj_down"),
            "other": ("norm_mlstm", "norm_ffn", "mlstm_layer.multihead_norm"),
        },
        model="backbone.",
        top=("embeddings", "out_norm"),
        layer_list="blocks",
    ),
}


# Checkpoint tensor names (verify). xLSTM 7B (transformers' xlstm): `backbone.blocks.{i}`, the mLSTM cell under
# `mlstm_layer` (its gates `*gate_preact`, its per-head norm `multihead_norm`), the gated FFN's halves
# `proj_up_gate` (the gate) and `proj_up`
CHECKPOINT_NAMES = {
    "xlstm": Family(
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
    ),
}
