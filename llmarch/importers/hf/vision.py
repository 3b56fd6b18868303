"""Multimodal wrappers: the text model is imported from `text_config`; the vision tower and projector are
counted in closed form (a reference adjustment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from .config import Config
from .keys import _QUANT, KeyTable, Reject, _keys


def siglip_params(v: Config) -> int:
    h, i = v.int("hidden_size"), v.int("intermediate_size")
    c, p, image = v.int("num_channels"), v.int("patch_size"), v.int("image_size")
    embeddings = h * c * p * p + h + (image // p) ** 2 * h
    linear = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
    layer = 2 * 2 * h + 4 * linear(h, h) + linear(h, i) + linear(i, h)
    total = embeddings + v.int("num_hidden_layers") * layer + 2 * h  # + post_layernorm
    if v.bool("vision_use_head"):  # attention-pooling head: probe, MultiheadAttention, LayerNorm, MLP
        total += h + linear(h, 3 * h) + linear(h, h) + 2 * h + linear(h, i) + linear(i, h)
    return total


def pixtral_params(v: Config) -> int:
    h, i = v.int("hidden_size"), v.int("intermediate_size")
    c, p = v.int("num_channels"), v.int("patch_size")
    layer = 2 * h + 4 * h * h + 3 * h * i  # two RMSNorms, q/k/v/o, gated MLP; no biases
    return h * c * p * p + h + v.int("num_hidden_layers") * layer  # patch conv, ln_pre, layers


def llama4_vision_params(v: Config) -> int:
    h, i = v.int("hidden_size"), v.int("intermediate_size")
    c, p, image = v.int("num_channels"), v.int("patch_size"), v.int("image_size")
    linear = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
    layer = 4 * linear(h, h) + linear(h, i) + linear(i, h) + 2 * 2 * h
    embeddings = h + ((image // p) ** 2 + 1) * h + c * p * p * h  # class, positions, patch (no bias)
    adapter = i * v.int("projector_input_dim") + v.int("projector_output_dim") ** 2  # pixel-shuffle MLP, no biases
    return embeddings + 2 * 2 * h + v.int("num_hidden_layers") * layer + adapter


def qwen3_5_vision_params(v: Config) -> int:
    """Qwen3.5's ViT: a patch Conv3d, learned positions, LayerNorm blocks with biased linears, and the patch
    merger (LayerNorm, then an MLP from the merged patches to the language model's width)."""
    h, i, depth = v.int("hidden_size"), v.int("intermediate_size"), v.int("depth")
    c, p, t = v.int("in_channels"), v.int("patch_size"), v.int("temporal_patch_size")
    merged = h * v.int("spatial_merge_size") ** 2
    linear = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
    patch = c * t * p * p * h + h
    block = 2 * 2 * h + linear(h, 3 * h) + linear(h, h) + linear(h, i) + linear(i, h)
    merger = 2 * h + linear(merged, merged) + linear(merged, v.int("out_hidden_size"))
    return patch + v.int("num_position_embeddings") * h + depth * block + merger


@dataclass(frozen=True)
class VisionType:
    name: str
    what: str
    keys: KeyTable
    count: Callable[[Config], int]


VISION_TYPES: dict[str, VisionType] = {
    t.name: t
    for t in [
        VisionType(
            "siglip_vision_model",
            "SigLIP vision tower",
            _keys(
                {
                    "hidden_size": 768,
                    "intermediate_size": 3072,
                    "num_hidden_layers": 12,
                    "num_channels": 3,
                    "image_size": 224,
                    "patch_size": 16,
                    "vision_use_head": True,
                },
                "num_attention_heads hidden_act layer_norm_eps",
            ),
            siglip_params,
        ),
        VisionType(
            "pixtral",
            "Pixtral vision encoder",
            _keys(
                {
                    "hidden_size": 1024,
                    "intermediate_size": 4096,
                    "num_hidden_layers": 24,
                    "num_channels": 3,
                    "patch_size": 16,
                },
                # heads and head_dim shape the 2-D RoPE only: the projections are hidden x hidden
                # vocab_size: PixtralVisionConfig writes one out, but the encoder has no token embedding
                "num_attention_heads head_dim image_size hidden_act rope_theta rope_parameters vocab_size",
            ),
            pixtral_params,
        ),
        VisionType(
            "llama4_vision_model",
            "Llama 4 vision encoder",
            _keys(
                {
                    "hidden_size": 768,
                    "intermediate_size": 5632,
                    "num_hidden_layers": 34,
                    "num_channels": 3,
                    "image_size": 448,
                    "patch_size": 14,
                    "projector_input_dim": 4096,
                    "projector_output_dim": 4096,
                    "vision_output_dim": 7680,
                },
                # pixel_shuffle_ratio reshapes tokens; the adapter's input width is intermediate_size
                "num_attention_heads hidden_act norm_eps rope_theta rope_parameters pixel_shuffle_ratio projector_dropout "
                "vision_feature_layer vision_feature_select_strategy",
                {"multi_modal_projector_bias": Reject("transformers' Llama 4 projector has no bias")},
            ),
            llama4_vision_params,
        ),
        *(
            VisionType(
                name,
                "Qwen3.5 vision encoder",
                _keys(
                    {
                        "depth": 27,
                        "hidden_size": 1152,
                        "intermediate_size": 4304,
                        "in_channels": 3,
                        "patch_size": 16,
                        "temporal_patch_size": 2,
                        "spatial_merge_size": 2,
                        "out_hidden_size": 3584,
                        "num_position_embeddings": 2304,
                    },
                    "num_heads hidden_act rope_parameters",
                    {
                        "deepstack_visual_indexes": Reject(
                            "transformers' Qwen3.5 vision encoder has no DeepStack mergers (Qwen3-VL's)",
                            lambda v: v is None or v == [],
                        )
                    },
                ),
                qwen3_5_vision_params,
            )
            for name in ("qwen3_5_vision", "qwen3_5_moe_vision")
        ),
    ]
}


def gemma3_projector(wrapper: Config, vision: Config, text_width: int) -> int:
    h = vision.int("hidden_size")
    return h * text_width + h  # mm_input_projection_weight + mm_soft_emb_norm


def mistral3_projector(wrapper: Config, vision: Config, text_width: int) -> int:
    h, merge = vision.int("hidden_size"), wrapper.int("spatial_merge_size")
    layers = wrapper.get("vision_feature_layer")
    n_feature = len(layers) if isinstance(layers, list) else 1
    bias = text_width if wrapper.bool("multimodal_projector_bias") else 0
    # RMSNorm, patch merger, linear_1, linear_2
    return h + h * merge * merge * h + (h * n_feature * text_width + bias) + (text_width * text_width + bias)


def llama4_projector(wrapper: Config, vision: Config, text_width: int) -> int:
    return vision.int("vision_output_dim") * text_width


@dataclass(frozen=True)
class WrapperType:
    """A multimodal model type: llmarch imports its text_config; the rest is a reference adjustment."""

    name: str
    family: str
    keys: KeyTable
    text_types: tuple[str, ...]  # the first is transformers' default when text_config names none
    vision_types: tuple[str, ...]  # empty: import-hf cannot count the towers (see `towers_note`)
    projector: Optional[Callable[[Config, Config, int], int]] = None
    towers_note: Optional[str] = None
    # vision model types of older checkpoints that transformers' config class renames
    vision_renames: Mapping[str, str] = field(default_factory=dict)


def _wrapper_keys(mapped: Mapping[str, Any], irrelevant: str, text_config: Optional[dict] = None) -> KeyTable:
    """A wrapper's own keys; `text_config` is what transformers builds when the config has none."""
    return _keys({"text_config": text_config or {}, "vision_config": {}, **mapped, **_QUANT}, irrelevant)


# transformers' Mistral3Config builds this text model (Mistral Small 3.1's) when text_config is absent
MISTRAL3_DEFAULT_TEXT = {
    "model_type": "mistral",
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 5120,
    "intermediate_size": 32768,
    "max_position_embeddings": 131072,
    "num_attention_heads": 32,
    "num_hidden_layers": 40,
    "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05,
    "rope_theta": 1000000000.0,
    "sliding_window": None,
    "vocab_size": 131072,
}


WRAPPER_TYPES: dict[str, WrapperType] = {
    t.name: t
    for t in [
        WrapperType(
            "gemma3",
            "gemma",
            _wrapper_keys(
                {"tie_word_embeddings": True}, "mm_tokens_per_image boi_token_index eoi_token_index image_token_index"
            ),
            ("gemma3_text",),
            ("siglip_vision_model",),
            gemma3_projector,
        ),
        WrapperType(
            "llama4",
            "llama",
            _wrapper_keys({"tie_word_embeddings": False}, "boi_token_index eoi_token_index image_token_index"),
            ("llama4_text",),
            ("llama4_vision_model",),
            llama4_projector,
        ),
        WrapperType(
            "mistral3",
            "mistral",
            _wrapper_keys(
                {
                    "tie_word_embeddings": True,
                    "multimodal_projector_bias": False,
                    "spatial_merge_size": 2,
                    "vision_feature_layer": -1,
                },
                "image_token_index projector_hidden_act",
                MISTRAL3_DEFAULT_TEXT,
            ),
            ("mistral", "ministral3", "mistral4"),
            ("pixtral",),
            mistral3_projector,
        ),
        WrapperType(
            "kimi_k25",
            "kimi",
            _wrapper_keys(
                {"tie_word_embeddings": True},
                # token ids, media handling and the projector that feeds the (uncounted) vision tower
                "ignore_index media_placeholder_token_id use_unified_vision_chunk video_placeholder image_token_id "
                "video_token_id vision_start_token_id vision_end_token_id projection_hidden_size "
                "projection_layer_norm_eps",
            ),
            ("deepseek_v3", "kimi_k2"),
            (),
            towers_note="Its MoonViT vision tower and patch-merger projector (vision_config) are not counted: "
            "import-hf has no closed form for them; add them by hand as a reference adjustment",
        ),
        WrapperType(
            "gemma4",
            "gemma",
            _wrapper_keys(
                {"tie_word_embeddings": True, "audio_config": {}},
                "vision_soft_tokens_per_image boi_token_id eoi_token_id boa_token_id eoa_token_id eoa_token_index "
                "image_token_id audio_token_id video_token_id",
            ),
            ("gemma4_text",),
            (),
            towers_note="Its vision tower, audio encoder (E2B, E4B) and their embedders are not counted: import-hf "
            "has no closed form for them; add them by hand as reference adjustments (transformers' "
            "Gemma4ForConditionalGeneration counts them)",
        ),
        WrapperType(
            "gemma3n",
            "gemma",
            _wrapper_keys(
                {"tie_word_embeddings": True, "audio_config": {}},
                "audio_soft_tokens_per_image vision_soft_tokens_per_image boi_token_id eoi_token_id boa_token_id "
                "eoa_token_id image_token_id audio_token_id",
            ),
            ("gemma3n_text",),
            (),
            towers_note="Its MobileNet-V5 vision tower (a timm model), USM audio encoder and their embedders are not "
            "counted: import-hf has no closed form for them; add them by hand as reference adjustments",
        ),
        WrapperType(
            "cohere2_vision",
            "cohere",
            # Cohere2VisionConfig builds a cohere2 text model when text_config names none
            _wrapper_keys(
                {"tie_word_embeddings": True}, "downsample_factor image_token_id alignment_intermediate_size"
            ),
            ("cohere2", "cohere2_moe"),
            (),
            towers_note="Its SigLIP vision tower and pixel-shuffle projector (vision_config, "
            "alignment_intermediate_size) are not counted: import-hf reads the text model only; add them by hand "
            "as a reference adjustment",
        ),
        *(
            WrapperType(
                wrapper,
                "qwen3.5",
                _wrapper_keys(
                    {"tie_word_embeddings": False},
                    # language_model_only: a serving switch (load the text model alone); the checkpoint is the same
                    "image_token_id video_token_id vision_start_token_id vision_end_token_id language_model_only",
                ),
                (f"{wrapper}_text",),
                (f"{wrapper}_vision",),
                lambda _wrapper, _vision, _width: 0,  # the patch merger is counted with the encoder
                # the first checkpoints name the vision config after the wrapper (Qwen3_5Config.__post_init__)
                vision_renames={wrapper: f"{wrapper}_vision"},
            )
            for wrapper in ("qwen3_5", "qwen3_5_moe")
        ),
    ]
}
