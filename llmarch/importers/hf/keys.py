"""The key tables: for each model type, the keys it maps (with transformers' defaults), the keys irrelevant to
the architecture and the keys it rejects; and the keys every transformers config shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()  # a mapped key transformers has no default for


@dataclass(frozen=True)
class Derived:
    """A default transformers computes from other keys; `compute` gets the typed reader (`Config`), so a bad
    value of a key it reads is an error naming that key."""

    text: str
    compute: Callable[[Callable[[str], Any]], Any]


@dataclass(frozen=True)
class Reject:
    """A feature llmarch cannot represent; `accepts` says which values leave it off (or are what transformers implements)."""

    reason: str
    accepts: Callable[[Any], bool] = lambda v: v is None or v is False


def _only(*values: Any) -> Callable[[Any], bool]:
    return lambda v: v is None or any(v == x and type(v) is type(x) for x in values)


@dataclass(frozen=True)
class KeyTable:
    mapped: Mapping[str, Any]
    irrelevant: frozenset[str]
    rejected: Mapping[str, Reject]
    # mapped keys whose null means "the default" in transformers (it tests `is None`), with the default then
    on_null: Mapping[str, Any] = field(default_factory=dict)
    # another name of a mapped key (alias -> mapped key), read when the mapped key is absent; both must agree
    aliases: Mapping[str, str] = field(default_factory=dict)
    # keys transformers derives from mapped keys and writes out: accepted when they equal the derived value
    consistent: Mapping[str, Derived] = field(default_factory=dict)

    def known(self) -> list[str]:
        return sorted(
            set(self.mapped) | self.irrelevant | set(self.rejected) | set(self.aliases) | set(self.consistent)
        )


# Keys of any transformers config that describe no architecture: bookkeeping, generation, tokens.
COMMON_IRRELEVANT = frozenset(
    """
    architectures transformers_version torch_dtype dtype _name_or_path auto_map model_type initializer_range use_cache
    bos_token_id eos_token_id pad_token_id sep_token_id decoder_start_token_id attention_dropout hidden_dropout
    output_hidden_states output_attentions return_dict chunk_size_feed_forward is_decoder
    id2label label2id problem_type finetuning_task tokenizer_class prefix task_specific_params torchscript
    use_bfloat16 tf_legacy_loss pruned_heads tie_encoder_decoder
    max_length min_length do_sample early_stopping num_beams num_beam_groups diversity_penalty temperature top_k
    top_p typical_p repetition_penalty length_penalty no_repeat_ngram_size encoder_no_repeat_ngram_size
    bad_words_ids num_return_sequences output_scores return_dict_in_generate forced_bos_token_id
    forced_eos_token_id remove_invalid_values exponential_decay_length_penalty suppress_tokens
    begin_suppress_tokens _attn_implementation_autoset unsloth_fixed
""".split()
) | {"output_router_logits", "router_aux_loss_coef", "router_jitter_noise"}  # MoE training losses


COMMON_REJECTED = {
    "add_cross_attention": Reject("llmarch models decoder-only language models"),
    "is_encoder_decoder": Reject("llmarch models decoder-only language models"),
    # a PretrainedConfig default that full config dumps write out (Kimi K2.5's text_config): null = no cross-attention
    "cross_attention_hidden_size": Reject("llmarch models decoder-only language models"),
}


# Defaults not worth listing: an absent optional block means the feature is off (no quantization, no RoPE scaling)
QUIET_WHEN_NONE = frozenset({"quantization_config", "rope_scaling", "rope_parameters"})


# Keys every text model type maps (the weight format; see `_weights`).
_QUANT = {"quantization_config": None}


def _keys(
    mapped: Mapping[str, Any],
    irrelevant: str = "",
    rejected: Optional[Mapping[str, Reject]] = None,
    on_null: Optional[Mapping[str, Any]] = None,
    aliases: Optional[Mapping[str, str]] = None,
    consistent: Optional[Mapping[str, Derived]] = None,
) -> KeyTable:
    """A key table; a null mapped key takes its default when that default is computed (transformers computes it
    when the key `is None`), or as `ON_NULL` / `on_null` say."""
    rejected = COMMON_REJECTED | dict(rejected or {})
    nulls = {k: v for k, v in mapped.items() if isinstance(v, Derived)}
    nulls |= {
        k: v
        for k, v in ON_NULL.items()
        if k in mapped
        and mapped[k] is not REQUIRED
        and (not isinstance(v, Derived) or {"hidden_size", "num_attention_heads"} <= set(mapped))
    }
    nulls |= dict(on_null or {})
    return KeyTable(
        mapped=dict(mapped),
        irrelevant=(COMMON_IRRELEVANT | frozenset(irrelevant.split())) - set(mapped) - set(rejected),
        rejected=rejected,
        on_null=nulls,
        aliases=dict(aliases or {}),
        consistent=dict(consistent or {}),
    )


KV_FROM_HEADS = Derived("num_attention_heads", lambda r: r.int("num_attention_heads"))


HEAD_DIM_FROM_WIDTH = Derived(
    "hidden_size // num_attention_heads", lambda r: r.int("hidden_size") // r.int("num_attention_heads")
)


# transformers' configs and modeling code read a null of these as their default: `num_key_value_heads is None`
# -> num_attention_heads, `getattr(config, "head_dim", None) or hidden_size // num_attention_heads`, Qwen's
# `mlp_only_layers = [] if mlp_only_layers is None`
ON_NULL = {"num_key_value_heads": KV_FROM_HEADS, "head_dim": HEAD_DIM_FROM_WIDTH, "mlp_only_layers": []}
