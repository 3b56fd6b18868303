"""`llmarch import-hf`: a Hugging Face `config.json` -> a llmarch spec.

Every supported model type reads its config through a key table with three lists:

- **mapped** keys become spec fields; each carries the default transformers applies when the key is
  absent (`REQUIRED` where transformers has none), and the spec records every default it took;
- **irrelevant** keys change nothing llmarch models (token ids, dropout, initialisation, routing
  details, kernels);
- **rejected** keys name features llmarch cannot represent, with the reason; such a key is accepted
  only at a value that leaves the feature off (or at the one value transformers implements).

A key on none of the lists is an error naming it, so a config from an unknown variant fails loudly
instead of yielding a silently wrong spec.  Multimodal wrappers (gemma3, llama4, mistral3) import their
`text_config`; the vision tower and projector are counted in closed form and recorded as a
`vision_tower` reference adjustment.  `quantization_config` becomes the spec's `weights:` block.

No transformers or torch here: the defaults are transformers 5's, written out per type, and
tests/test_import_hf.py checks them against transformers' config classes.
"""

from __future__ import annotations

import copy
import json
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from .errors import LlmarchError, SpecError, did_you_mean
from .kinds import ATTENTION_KINDS, LINEAR_MIXER_KINDS, MIXER_LETTERS
from .schema import MAX_CONTEXT, MAX_D_FF, MAX_D_MODEL, MAX_HEAD_DIM, MAX_HEADS, MAX_LAYERS, MAX_VOCAB
from .yamlsafe import MAX_INT_DIGITS, Located, format_path, read_bounded

# ---------------------------------------------------------------------------
# Key tables


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


def _rope_keys(theta: float, scaling: Any = None) -> dict:
    return {"rope_theta": theta, "rope_scaling": scaling, "rope_parameters": None}


# ---------------------------------------------------------------------------
# Reading one config mapping


@dataclass
class _Source:
    """The config file: its data, the position of every key, and what the import noticed."""

    located: Located
    defaulted: list[tuple[str, str]] = field(default_factory=list)  # (key path, value shown)
    ignored: list[str] = field(default_factory=list)  # irrelevant keys present
    off: list[str] = field(default_factory=list)  # rejected keys present at a value that leaves the feature off


class Config:
    """One mapping of the config (the top level, `text_config`, `vision_config`), read through its key table."""

    def __init__(self, data: dict, type_name: str, keys: KeyTable, source: _Source, path: tuple = ()) -> None:
        self.data = data
        self.type_name = type_name
        self.keys = keys
        self.source = source
        self.path = path
        self.read: set[str] = set()
        self._cache: dict[str, Any] = {}
        self._computing: set[str] = set()

    # errors -----------------------------------------------------------
    def error(self, key: str | tuple, message: str, suggestion: str | None = None) -> SpecError:
        sub = key if isinstance(key, tuple) else (key,)
        alias = self._alias(sub[0])
        if alias:  # the value came from the key's other name
            sub = (alias,) + sub[1:]
        return self.source.located.error(self.path + sub, message, suggestion)

    def _alias(self, key: Any) -> Optional[str]:
        """The other name the config states `key` under, when it does not state `key` itself."""
        if isinstance(key, str) and key not in self.data:
            return next((a for a, k in self.keys.aliases.items() if k == key and a in self.data), None)
        return None

    def check_consistency(self) -> None:
        """Keys transformers writes out as copies or derivations of mapped keys must agree with them."""
        for alias, key in self.keys.aliases.items():
            if alias in self.data and key in self.data and self.data[alias] != self.data[key]:
                raise self.error(
                    alias,
                    f"`{alias}` ({_show(self.data[alias])}) is another name of `{key}` "
                    f"({_show(self.data[key])}) and disagrees with it",
                )
        for key, derived in self.keys.consistent.items():
            if key in self.data and self.data[key] is not None:
                expected = derived.compute(self)
                if self.data[key] != expected:
                    raise self.error(
                        key,
                        f"{_show(self.data[key])} disagrees with {derived.text} ({_show(expected)}), "
                        "which transformers derives it from",
                    )

    def where(self, key: str) -> str:
        return ".".join(str(p) for p in self.path + (key,))

    # the three lists --------------------------------------------------
    def check_keys(self) -> None:
        for key, value in self.data.items():
            if key in self.keys.mapped or key in self.keys.aliases or key in self.keys.consistent:
                continue
            if key in self.keys.irrelevant:
                if key != "model_type":
                    self.source.ignored.append(self.where(key))
                continue
            if key in self.keys.rejected:
                rule = self.keys.rejected[key]
                if rule.accepts(value):
                    self.source.off.append(f"{self.where(key)}: {_short(value)}")
                    continue
                raise self.error(
                    key, f"`{key}: {_show(value)}` is not supported for model type `{self.type_name}`: {rule.reason}"
                )
            raise self.error(
                key,
                f"unknown key `{key}` for model type `{self.type_name}`: it is on none of import-hf's lists "
                "(mapped, irrelevant, rejected), so the import stops rather than guess",
                did_you_mean(str(key), self.keys.known())
                or "if the key changes nothing in the architecture, delete it from a copy of the config",
            )

    # values -----------------------------------------------------------
    def _null_default(self, key: str) -> bool:
        return key in self.data and self.data[key] is None and key in self.keys.on_null

    def has(self, key: str) -> bool:
        """The config states the key (a null that means "the default" does not count)."""
        return key in self.data and not self._null_default(key)

    def get(self, key: str) -> Any:
        """The key's value, or the default transformers applies (recorded)."""
        if key not in self.keys.mapped:
            raise KeyError(f"{self.type_name}: `{key}` is not a mapped key")  # a bug in a table, not bad input
        self.read.add(key)
        if self.has(key):
            return self.data[key]
        alias = self._alias(key)
        if alias:
            self.read.add(alias)
            return self.data[alias]
        if key in self._cache:
            return self._cache[key]
        if key in self._computing:
            raise self.error(key, f"`{key}`'s default depends on itself")
        null = self._null_default(key)
        default = self.keys.on_null[key] if null else self.keys.mapped[key]
        if default is REQUIRED:
            raise self.error(
                key,
                f"required key `{key}` is missing: transformers has no default for it for model "
                f"type `{self.type_name}`",
            )
        self._computing.add(key)
        try:
            if isinstance(default, Derived):
                value = default.compute(self)
                shown = f"{_short(value)} ({default.text})"
            else:
                value = copy.deepcopy(default)
                shown = _short(value)
        finally:
            self._computing.discard(key)
        if null:
            shown += " (null: transformers' default)"
        self._cache[key] = value
        if not (value is None and key in QUIET_WHEN_NONE):
            self.source.defaulted.append((self.where(key), shown))
        return value

    def touch(self, *keys: str) -> None:
        """Mark keys as read whose value cannot change the spec here (e.g. a window when windows are off)."""
        self.read.update(k for k in keys if k in self.keys.mapped)

    def int(self, key: str, minimum: int = 1, maximum: Optional[int] = None) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_show(value)}")
        if value < minimum:
            raise self.error(key, f"expected an integer of at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"{value:,} is more than llmarch supports (at most {maximum:,})")
        return value

    def opt_int(self, key: str, minimum: int = 1, maximum: Optional[int] = None) -> Optional[int]:
        return None if self.get(key) is None else self.int(key, minimum, maximum)

    def number(self, key: str) -> float:
        value = self.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value != value
            or value in (float("inf"), float("-inf"))
        ):
            raise self.error(key, f"expected a number, got {_show(value)}")
        return value

    def opt_number(self, key: str) -> Optional[float]:
        return None if self.get(key) is None else self.number(key)

    def bool(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_show(value)}")
        return value

    def str(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_show(value)}")
        return value

    def list(self, key: str, length: Optional[int] = None) -> list:
        value = self.get(key)
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_show(value)}")
        if length is not None and len(value) != length:
            raise self.error(key, f"expected one entry per layer ({length}), got {len(value)}")
        return value

    def int_list(
        self, key: str, minimum: int = 0, maximum: Optional[int] = None, length: Optional[int] = None
    ) -> list[int]:
        """A list of integers in [minimum, maximum] (layer indices, 0/1 flags)."""
        return _int_items(self, (key,), self.list(key, length), minimum, maximum)

    def str_list(self, key: str, length: Optional[int] = None) -> list[str]:
        values = self.list(key, length)
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise self.error((key, i), f"expected a string, got {_show(v)}")
        return values

    def mapping(self, key: str) -> Optional[dict]:
        value = self.get(key)
        if value is not None and not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {_show(value)}")
        return value


def _int_items(cfg: Config, path: tuple, values: Any, minimum: int, maximum: Optional[int]) -> list[int]:
    if not isinstance(values, list):
        raise cfg.error(path, f"expected a list of integers, got {_show(values)}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum or (maximum is not None and v > maximum):
            span = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
            raise cfg.error(path + (i,), f"expected an integer {span}, got {_show(v)}")
    return values


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return repr(value) if isinstance(value, str) else str(value)


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > 6:
        return f"[{len(value)} entries]"
    return _show(value)


# ---------------------------------------------------------------------------
# Shared pieces of the spec

GATED_FFN = {
    "silu": "swiglu",
    "swish": "swiglu",
    "gelu": "geglu",
    "gelu_pytorch_tanh": "geglu",
    "gelu_new": "geglu",
    "gelu_fast": "geglu",
}
PLAIN_FFN = {
    "gelu": "gelu_mlp",
    "gelu_new": "gelu_mlp",
    "gelu_pytorch_tanh": "gelu_mlp",
    "gelu_fast": "gelu_mlp",
    "relu2": "relu2_mlp",
}


def _ffn_kind(cfg: Config, key: str, kinds: Mapping[str, str]) -> str:
    act = cfg.str(key)
    if act not in kinds:
        raise cfg.error(key, f"activation `{act}` has no llmarch FFN kind here", f"supported: {', '.join(kinds)}")
    return kinds[act]


def _base(cfg: Config, context: str = "max_position_embeddings") -> dict:
    return {
        "vocab_size": cfg.int("vocab_size", 1, MAX_VOCAB),
        "d_model": cfg.int("hidden_size", 1, MAX_D_MODEL),
        "n_layers": cfg.int("num_hidden_layers", 1, MAX_LAYERS),
        "context_length": cfg.int(context, 1, MAX_CONTEXT),
        "tie_embeddings": cfg.bool("tie_word_embeddings"),
    }


def _rmsnorm(cfg: Config, placement: str = "pre", eps: str = "rms_norm_eps") -> dict:
    return {"kind": "rmsnorm", "placement": placement, "eps": cfg.number(eps)}


def _heads(cfg: Config, d_model: int) -> dict:
    """kind (mha when every head has its own K/V, else gqa), heads, KV heads, head_dim when not d_model / heads."""
    n_heads, n_kv = cfg.int("num_attention_heads", 1, MAX_HEADS), cfg.int("num_key_value_heads", 1, MAX_HEADS)
    attn: dict[str, Any] = {"kind": "mha" if n_kv == n_heads else "gqa", "n_heads": n_heads}
    if n_kv != n_heads:
        if n_heads % n_kv:
            raise cfg.error("num_key_value_heads", f"{n_kv} does not divide num_attention_heads ({n_heads})")
        attn["n_kv_heads"] = n_kv
    head_dim = cfg.int("head_dim", 1, MAX_HEAD_DIM)
    if head_dim * n_heads != d_model:
        attn["head_dim"] = head_dim
    return attn


def _biases(cfg: Config, key: str = "attention_bias", o_bias: bool = True) -> dict:
    """q/k/v (and, where the model has it, output) projection biases from one config flag."""
    bias = cfg.bool(key)
    return {"qkv_bias": True, "o_bias": o_bias} if bias else {}


def _pattern(letters: list[str], start: int = 0) -> str:
    """The shortest pattern that, tiled from layer 0, reproduces `letters` from index `start` on.

    A layout that does not repeat at least twice is written out in full (one letter per layer).
    """
    n = len(letters)
    for period in range(1, n // 2 + 1):
        slots: list[Optional[str]] = [None] * period
        fits = True
        for i in range(start, n):
            slot = slots[i % period]
            if slot is None:
                slots[i % period] = letters[i]
            elif slot != letters[i]:
                fits = False
                break
        if fits:
            fill = letters[start] if start < n else letters[0]  # slots only the prefix covers
            return "".join(s or fill for s in slots)
    return "".join(letters[start] if i < start else c for i, c in enumerate(letters))


@dataclass(frozen=True)
class _Letters:
    """A builder's per-layer mixer and FFN letters; `_settle` writes the `layers:` block from them once every
    other block is known (the spec's FFN default depends on whether a `moe:` block remains)."""

    mixers: tuple[str, ...]
    ffns: tuple[str, ...]
    explicit: bool = False  # write both patterns even where they equal the defaults (Nemotron-H)


def _layers(mixers: list[str], ffns: list[str], explicit: bool = False) -> _Letters:
    return _Letters(tuple(mixers), tuple(ffns), explicit)


# the attention kind of each mixer letter (the override keys of `attention.overrides`), and the spec
# block of each linear mixer's letter, from the kinds registry
ATTENTION_LETTERS = {letter: kind for letter, kind in MIXER_LETTERS.items() if kind in ATTENTION_KINDS}
LINEAR_BLOCKS = {letter: kind for letter, kind in MIXER_LETTERS.items() if kind in LINEAR_MIXER_KINDS}


def _settle(spec: dict) -> None:
    """Drop the blocks no layer uses and write the `layers:` block (shortest patterns, leading dense layers
    as dense_prefix).

    A builder reads a config's every block, but an edited config may leave one unused: a DeepSeek stack
    cut below its dense prefix has no expert layer, a Qwen3-Next stack of full-attention layers no
    DeltaNet.  Left in, an unused `moe:` block would make experts the spec's default FFN (issue 26) and
    the spec loader refuses unused blocks.
    """
    n = spec["n_layers"]
    letters = spec.get("layers")
    if not isinstance(letters, _Letters):
        letters = _Letters(("G",) * n, (("E" if "moe" in spec else "D"),) * n)
    mixers, ffns = letters.mixers, letters.ffns
    mtp = spec.get("mtp") or {}
    if "E" not in ffns and mtp.get("ffn") != "moe":
        spec.pop("moe", None)
    if "D" not in ffns and (not mtp or mtp.get("ffn") != "dense"):
        spec.pop("ffn", None)
    for letter, block in LINEAR_BLOCKS.items():
        if letter not in mixers:
            spec.pop(block, None)
    kinds_used = {ATTENTION_LETTERS[m] for m in mixers if m in ATTENTION_LETTERS}
    if mtp:
        kinds_used.add(mtp.get("attention", "global"))
    if not kinds_used:
        spec.pop("attention", None)
    elif "attention" in spec:
        attn = spec["attention"]
        if "local" not in kinds_used:
            attn.pop("window", None)
            attn.pop("window_excludes_query", None)  # says how to read a window there is no longer
        if "chunked" not in kinds_used:
            attn.pop("chunk", None)
        if kinds_used == {"nope"}:  # every attention layer without positions (SmolLM3 with no RoPE layer)
            attn.pop("rope", None)
        overrides = attn.get("overrides") or {}
        for kind in [k for k in overrides if k not in kinds_used]:
            del overrides[kind]
        if "overrides" in attn and not overrides:
            del attn["overrides"]

    out: dict[str, Any] = {}
    mixer = _pattern(list(mixers))
    if mixer != "G" or letters.explicit:
        out["mixer"] = mixer
    prefix = 0
    if "E" in ffns:
        while ffns[prefix] == "D":
            prefix += 1
    ffn = _pattern(list(ffns), prefix)
    if ffn != ("E" if "moe" in spec else "D") or letters.explicit:  # the spec's default: experts with `moe:`
        out["ffn"] = ffn
    if prefix:
        out["dense_prefix"] = prefix
    spec.pop("layers", None)
    if out:
        spec["layers"] = out


def _layer_kinds(cfg: Config, key: str, letters: Mapping[str, str], n_layers: int) -> list[str]:
    kinds = cfg.list(key, n_layers)
    out = []
    for i, kind in enumerate(kinds):
        if not isinstance(kind, str) or kind not in letters:
            raise cfg.error(
                (key, i),
                f"layer kind {_show(kind)} is not supported for model type `{cfg.type_name}`",
                f"supported: {', '.join(letters)}",
            )
        out.append(letters[kind])
    return out


def _mlp_layer_ffns(cfg: Config, spec: dict, kind: str) -> list[str]:
    """Per-layer FFN letters from `mlp_layer_types` ("dense" / "sparse"); the dense FFN block when a layer
    needs it."""
    ffns = _layer_kinds(cfg, "mlp_layer_types", {"dense": "D", "sparse": "E"}, spec["n_layers"])
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    return ffns


# transformers' default mlp_layer_types of Hy3 and Laguna
ONE_DENSE_THEN_EXPERTS = Derived(
    "one dense layer, then experts", lambda r: ["dense"] + ["sparse"] * (r.int("num_hidden_layers") - 1)
)


# RoPE --------------------------------------------------------------------

ROPE_KINDS = {
    "default": None,
    "linear": "linear",
    "dynamic": "dynamic",
    "yarn": "yarn",
    "llama3": "llama3",
    "longrope": "longrope",
}
SCALING_FIELDS = {
    "factor": "factor",
    "original_max_position_embeddings": "original_context_length",
    "low_freq_factor": "low_freq_factor",
    "high_freq_factor": "high_freq_factor",
    "beta_fast": "beta_fast",
    "beta_slow": "beta_slow",
    "mscale": "mscale",
    "mscale_all_dim": "mscale_all_dim",
    "truncate": "truncate",
}
# Inside rope_scaling / rope_parameters: keys that change no parameter, cache or context figure.
SCALING_IRRELEVANT = frozenset(
    {
        "attention_factor",  # a logit temperature (Olmo 3)
        "llama_4_scaling_beta",  # Mistral's attention temperature
        "apply_scale",
        "short_factor",
        "long_factor",
        "max_position_embeddings",
        # multimodal RoPE (Qwen3.5): how the rotary dims are shared among time, height and width positions
        "mrope_section",
        "mrope_interleaved",
    }
)
# transformers' layer types as the IR's attention kinds (chunked layers take the full-attention RoPE)
ATTENTION_TYPES = {"full_attention": "global", "sliding_attention": "local", "chunked_attention": "global"}


def _rope(
    cfg: Config,
    *,
    local_theta: Optional[str] = None,
    scaled: tuple[str, ...] = ("global", "local"),
    partial: Optional[float] = None,
    kinds: tuple[str, ...] = ("global", "local"),
    nested_only: bool = False,
    ignored_keys: tuple[str, ...] = (),
) -> dict[str, dict]:
    """The spec `rope:` block of full-attention ("global") and sliding-window ("local") layers, by IR kind.

    Reads transformers 5's `rope_parameters` (flat, or nested by layer type) and the older `rope_theta`,
    `rope_scaling` and `partial_rotary_factor`; `rope_scaling` (older key) applies to the kinds in `scaled`.
    `nested_only`: transformers reads only the nested form (Gemma 3 and 3n look up `full_attention` and
    `sliding_attention` and ignore every flat key), so a flat one is an error rather than a guess.
    `ignored_keys`: keys beside the nested entries that transformers never reads (Laguna's
    `original_max_position_embeddings`).
    """
    params = cfg.mapping("rope_parameters")
    if params and ignored_keys:
        params = {k: v for k, v in params.items() if k not in ignored_keys}
    legacy = cfg.mapping("rope_scaling")
    nested = bool(params) and set(params) <= set(ATTENTION_TYPES)
    if nested_only and params and not nested:
        flat = sorted(str(k) for k in params if k not in ATTENTION_TYPES)
        raise cfg.error(
            "rope_parameters",
            f"flat keys ({', '.join(flat)}) are ignored by transformers for model type "
            f"`{cfg.type_name}`, which reads only `full_attention` and "
            "`sliding_attention` entries",
            "nest them under `full_attention` (and `sliding_attention`), or use rope_scaling",
        )
    if partial is None and "partial_rotary_factor" in cfg.keys.mapped:
        partial = cfg.number("partial_rotary_factor")
    out = {}
    for kind in kinds:
        if nested:
            key = next((k for k, v in ATTENTION_TYPES.items() if v == kind and k in params), None)
            given, path = (params[key] or {}, ("rope_parameters", key)) if key else ({}, ("rope_parameters",))
        else:
            given, path = params or {}, ("rope_parameters",)
        if not isinstance(given, dict):
            raise cfg.error(path, f"expected a mapping, got {_show(given)}")
        scaling_source, scaling_path = given, path
        if legacy is not None and kind in scaled:
            scaling_source, scaling_path = legacy, ("rope_scaling",)
        theta = given.get("rope_theta")
        if theta is None:
            theta = cfg.number(local_theta) if kind == "local" and local_theta else cfg.number("rope_theta")
        block: dict[str, Any] = {"theta": _number(cfg, path + ("rope_theta",), theta)}
        p = given.get("partial_rotary_factor", partial)
        if p is not None and p != 1:
            block["partial"] = _number(cfg, path + ("partial_rotary_factor",), p)
        scaling = _scaling(cfg, scaling_path, scaling_source)
        if scaling:
            block["scaling"] = scaling
        out[kind] = block
    cfg.touch("rope_theta", "rope_scaling", "rope_parameters", *(k for k in (local_theta,) if k))
    return out


def _number(cfg: Config, path: tuple, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise cfg.error(path, f"expected a positive number, got {_show(value)}")
    return value


# Each scaling value's type, as the spec's RopeScaling checks it (positive numbers unless said otherwise)
SCALING_INTS = frozenset({"original_max_position_embeddings"})
SCALING_BOOLS = frozenset({"truncate"})
SCALING_ANY_NUMBER = frozenset({"mscale_all_dim"})


def _scaling_value(cfg: Config, path: tuple, key: str, value: Any) -> Any:
    if key in SCALING_BOOLS:
        if not isinstance(value, bool):
            raise cfg.error(path, f"expected true or false, got {_show(value)}")
        return value
    if key in SCALING_INTS:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONTEXT:
            raise cfg.error(path, f"expected a positive integer (at most {MAX_CONTEXT:,}), got {_show(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) == float("inf"):
        raise cfg.error(path, f"expected a number, got {_show(value)}")
    if key not in SCALING_ANY_NUMBER and value <= 0:
        raise cfg.error(path, f"expected a positive number, got {_show(value)}")
    return value


def _scaling(cfg: Config, path: tuple, given: Mapping[str, Any]) -> Optional[dict]:
    for k in ("rope_type", "type"):
        if given.get(k) is not None and not isinstance(given[k], str):
            raise cfg.error(
                path + (k,), f"expected a RoPE type name, got {_show(given[k])}", f"supported: {', '.join(ROPE_KINDS)}"
            )
    names = {given[k] for k in ("rope_type", "type") if given.get(k) is not None}
    if len(names) > 1:
        raise cfg.error(path, f"rope_type and type disagree ({' vs '.join(sorted(map(str, names)))})")
    name = names.pop() if names else "default"
    if name not in ROPE_KINDS:
        raise cfg.error(
            path + ("rope_type",),
            f"RoPE type `{name}` is not supported",
            did_you_mean(str(name), ROPE_KINDS) or f"supported: {', '.join(ROPE_KINDS)}",
        )
    kind = ROPE_KINDS[name]
    out: dict[str, Any] = {"kind": kind}
    for key, value in given.items():
        if key in ("rope_type", "type", "rope_theta", "partial_rotary_factor") or key in SCALING_IRRELEVANT:
            continue
        if key not in SCALING_FIELDS:
            raise cfg.error(
                path + (key,),
                f"unknown RoPE key `{key}`",
                did_you_mean(str(key), list(SCALING_FIELDS) + sorted(SCALING_IRRELEVANT)),
            )
        if kind is not None and value is not None:
            out[SCALING_FIELDS[key]] = _scaling_value(cfg, path + (key,), key, value)
    if kind is None:
        return None
    order = ["kind", *SCALING_FIELDS.values()]
    if kind in ("llama3", "yarn", "longrope") and "original_context_length" not in out:
        # transformers' standardize_rope_params: the pretraining length defaults to max_position_embeddings
        out["original_context_length"] = cfg.int("max_position_embeddings", 1, MAX_CONTEXT)
        record = (
            ".".join(map(str, cfg.path + path + ("original_max_position_embeddings",))),
            f"{out['original_context_length']} (max_position_embeddings)",
        )
        if record not in cfg.source.defaulted:
            cfg.source.defaulted.append(record)
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0])))


def _attention_with_rope(attn: dict, rope: dict[str, dict], kinds_used: set[str]) -> dict:
    """Put the full-attention RoPE on the block and the sliding one in `overrides.local` when it differs."""
    attn = dict(attn)
    attn["rope"] = rope["global"] if "global" in kinds_used or "local" not in kinds_used else rope["local"]
    if "local" in kinds_used and rope["local"] != attn["rope"]:
        attn.setdefault("overrides", {}).setdefault("local", {})["rope"] = rope["local"]
    return attn


def _global_local(attn: dict, rope: dict[str, dict], mixers: list[str]) -> dict:
    """`_attention_with_rope` for per-layer mixer letters."""
    used = {"G": "global", "L": "local", "C": "chunked", "N": "nope"}
    return _attention_with_rope(attn, rope, {used[m] for m in mixers if m in used})


# MoE ---------------------------------------------------------------------


def _moe(
    n_experts: int, top_k: int, d_expert: int, expert_kind: str, *, n_shared: int = 0, d_shared: int = 0, **flags: bool
) -> dict:
    moe: dict[str, Any] = {"n_experts": n_experts, "top_k": top_k, "d_expert": d_expert, "expert_kind": expert_kind}
    if n_shared and d_shared:
        moe.update(n_shared_experts=n_shared, d_shared=d_shared)
    moe.update({k: v for k, v in flags.items() if v})
    return moe


# ---------------------------------------------------------------------------
# Builders: one per architecture family; each returns the spec's shape blocks.


def _llama_like(
    cfg: Config,
    *,
    qk_norm: str = "none",
    norm: str = "pre",
    o_bias: bool = True,
    bias_key: Optional[str] = "attention_bias",
    mlp_bias_key: Optional[str] = None,
    window_key: Optional[str] = None,
    layer_types: bool = False,
    rope_scaled: tuple[str, ...] = ("global", "local"),
) -> dict:
    """Dense decoder: GQA/MHA + gated FFN (Llama, Mistral, Ministral 3, OLMo 2 and 3).

    Layer kinds come from `layer_types` (full / sliding attention), or, with `window_key`, every layer is
    sliding-window when that key holds a window.
    """
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg, norm)
    attn = _heads(cfg, spec["d_model"])
    if bias_key:
        attn.update(_biases(cfg, bias_key, o_bias))
    if qk_norm != "none":
        attn["qk_norm"] = qk_norm
    if layer_types:
        mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
        window = cfg.int("sliding_window") if "L" in mixers else None
        cfg.touch("sliding_window")
    else:
        window = cfg.opt_int(window_key) if window_key else None
        mixers = ["L" if window else "G"] * n
    if window:
        attn["window"] = window
    spec["attention"] = _global_local(attn, _rope(cfg, scaled=rope_scaled), mixers)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    if mlp_bias_key and cfg.bool(mlp_bias_key):
        spec["ffn"]["bias"] = True
    spec["layers"] = _layers(mixers, ["D"] * n)
    return spec


def build_llama(cfg: Config) -> dict:
    return _llama_like(cfg, mlp_bias_key="mlp_bias")


def build_granite(cfg: Config) -> dict:
    """Granite 3 and 4.1 dense: Llama's layers; its μP multipliers scale activations and weigh nothing."""
    return _llama_like(cfg, mlp_bias_key="mlp_bias")


def build_mistral(cfg: Config) -> dict:
    return _llama_like(cfg, window_key="sliding_window", bias_key=None)


def build_phi3(cfg: Config) -> dict:
    """Phi-3 / Phi-4: Llama's layers with q/k/v and gate/up each fused into one matrix (the same weights), no
    biases; `sliding_window`, when set, applies to every layer."""
    spec = _llama_like(cfg, window_key="sliding_window", bias_key=None)
    if "scaling" in spec["attention"]["rope"]:
        # transformers' LongRoPE for phi3 reads original_max_position_embeddings and per-dimension factors;
        # the spec format states neither, so a scaled config is refused rather than imported half-read
        raise cfg.error(
            "rope_scaling" if cfg.mapping("rope_scaling") is not None else "rope_parameters",
            "RoPE scaling is not supported for model type `phi3` (LongRoPE's factors have no spec field)",
            "import a config without rope_scaling, or write the spec by hand",
        )
    return spec


def build_mixtral(cfg: Config) -> dict:
    spec = _llama_like(cfg, window_key="sliding_window", bias_key=None)
    spec.pop("ffn")
    spec["moe"] = _moe(
        cfg.int("num_local_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("intermediate_size"),
        _ffn_kind(cfg, "hidden_act", GATED_FFN),
    )
    spec["layers"] = _layers(
        ["L" if "window" in spec["attention"] else "G"] * spec["n_layers"], ["E"] * spec["n_layers"]
    )
    return spec


def build_olmo2(cfg: Config) -> dict:
    return _llama_like(cfg, qk_norm="whole", norm="post")


def build_olmo3(cfg: Config) -> dict:
    # Olmo 3 scales RoPE (YaRN) on full-attention layers only; sliding layers keep the plain base
    return _llama_like(cfg, qk_norm="whole", norm="post", layer_types=True, rope_scaled=("global",))


def _qwen3_mixers(cfg: Config, n: int) -> list[str]:
    cfg.touch("use_sliding_window", "sliding_window", "max_window_layers")
    return _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)


def _qwen3_layer_types(r: Config) -> list[str]:
    window = r.opt_int("sliding_window") if r.bool("use_sliding_window") else None
    first = r.int("max_window_layers", 0) if window is not None else 0
    return [
        "sliding_attention" if window is not None and i >= first else "full_attention"
        for i in range(r.int("num_hidden_layers"))
    ]


def build_qwen3(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head"}
    mixers = _qwen3_mixers(cfg, spec["n_layers"])
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window")
    spec["attention"] = _global_local(attn, _rope(cfg), mixers)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    spec["layers"] = _layers(mixers, ["D"] * spec["n_layers"])
    return spec


def _sparse_layers(cfg: Config, n: int) -> list[str]:
    """Qwen's MoE placement: a layer has experts unless listed in mlp_only_layers or off the sparse step."""
    dense = set(cfg.int_list("mlp_only_layers", 0, n - 1))
    step = cfg.int("decoder_sparse_step")
    return ["D" if i in dense or (i + 1) % step else "E" for i in range(n)]


def build_qwen3_moe(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    spec["attention"] = (
        _heads(cfg, spec["d_model"])
        | _biases(cfg)
        | {"qk_norm": "per_head", "rope": _rope(cfg, kinds=("global",))["global"]}
    )
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _sparse_layers(cfg, spec["n_layers"])
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    spec["moe"] = _moe(cfg.int("num_experts"), cfg.int("num_experts_per_tok"), cfg.int("moe_intermediate_size"), kind)
    spec["layers"] = _layers(["G"] * spec["n_layers"], ffns)
    return spec


# The keys that size a qwen3_next / qwen3_5_moe config's experts: a config stating none of them is not an MoE config
EXPERT_SHAPE_KEYS = ("num_experts", "num_experts_per_tok", "moe_intermediate_size", "shared_expert_intermediate_size")


def _require_experts(cfg: Config) -> None:
    """Refuse an MoE type whose config states its width but no expert key: transformers would fill every one from its
    defaults and build a model that exists nowhere (Qwen3.6-27B, a dense Gated DeltaNet hybrid, read as qwen3_next
    comes out a 512-expert MoE of 268B)."""
    # a config stating no shape at all is transformers' own default model, which has its experts
    if cfg.has("hidden_size") and not any(cfg.has(k) for k in EXPERT_SHAPE_KEYS):
        dense = " (its intermediate_size suggests a dense FFN)" if cfg.has("intermediate_size") else ""
        raise cfg.error(
            "model_type" if "model_type" in cfg.data else "hidden_size",
            f"model type `{cfg.type_name}` is a mixture of experts, but the config states none of "
            f"{', '.join(EXPERT_SHAPE_KEYS)}{dense}: transformers' defaults would invent "
            f"{_show(cfg.keys.mapped['num_experts'])} experts per layer",
            "a Qwen3.5 / Qwen3.6 dense Gated DeltaNet hybrid (e.g. Qwen3.6-27B) is model type qwen3_5_text "
            "(inside a qwen3_5 wrapper); otherwise state the experts",
        )


def build_qwen3_next(cfg: Config) -> dict:
    _require_experts(cfg)
    spec, mixers = _gated_deltanet_hybrid(cfg)
    n = spec["n_layers"]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _sparse_layers(cfg, n)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_shared = cfg.int("shared_expert_intermediate_size", 0)
    if d_shared == 0:
        # transformers' Qwen3NextSparseMoeBlock always builds the shared expert and its gate
        raise cfg.error(
            "shared_expert_intermediate_size",
            "0 leaves transformers' Qwen3-Next a shared-expert gate without a shared expert, "
            "which llmarch cannot describe",
            "give the shared expert's width",
        )
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("moe_intermediate_size"),
        kind,
        n_shared=1,
        d_shared=d_shared,
        shared_gate=True,
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


def _gated_deltanet_hybrid(cfg: Config) -> tuple[dict, list[str]]:
    """Qwen3-Next's and Qwen3.5's text model without its FFN: Gated DeltaNet and gated-attention layers as
    `layer_types` lists them, and the mixer letter of each layer.

    transformers' qwen3_5 splits the Gated DeltaNet input projection into in_proj_qkv, in_proj_z, in_proj_b and
    in_proj_a (qwen3_next fuses them as in_proj_qkvz and in_proj_ba): the same matrices, so the same spec.
    """
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head", "output_gate": "elementwise"}
    params = cfg.mapping("rope_parameters") or {}
    if (
        cfg.has("partial_rotary_factor")
        and "partial_rotary_factor" in params
        and params["partial_rotary_factor"] != cfg.get("partial_rotary_factor")
    ):
        raise cfg.error(
            ("rope_parameters", "partial_rotary_factor"),
            f"{_show(params['partial_rotary_factor'])} disagrees with the top-level partial_rotary_factor "
            f"({_show(cfg.get('partial_rotary_factor'))})",
            "state the rotary fraction once",
        )
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    spec["gated_deltanet"] = {
        "n_k_heads": cfg.int("linear_num_key_heads"),
        "n_v_heads": cfg.int("linear_num_value_heads"),
        "head_k_dim": cfg.int("linear_key_head_dim"),
        "head_v_dim": cfg.int("linear_value_head_dim"),
        "conv_kernel": cfg.int("linear_conv_kernel_dim"),
    }
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "linear_attention": "D"}, spec["n_layers"])
    cfg.touch("full_attention_interval")
    return spec, mixers


def _qwen3_5_mtp(cfg: Config, spec: dict, ffn: str) -> None:
    """Qwen's MTP module (two input norms, fc 2d -> d, one gated-attention layer, a norm) has llmarch's MTP shape;
    transformers builds none (it drops the checkpoint's mtp.* weights), so it is reported apart from the total."""
    n_mtp = cfg.int("mtp_num_hidden_layers", 0)
    if n_mtp:
        spec["mtp"] = {"n_modules": n_mtp, "ffn": ffn}


def build_qwen3_5(cfg: Config) -> dict:
    """Qwen3.5 / 3.6 dense (27B, 9B, ...): the hybrid with a dense SwiGLU FFN in every layer, no experts."""
    spec, mixers = _gated_deltanet_hybrid(cfg)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    _qwen3_5_mtp(cfg, spec, "dense")
    spec["layers"] = _layers(mixers, ["D"] * spec["n_layers"])
    return spec


def build_qwen3_5_moe(cfg: Config) -> dict:
    """Qwen3.5 / 3.6 MoE: the hybrid with experts and a gated shared expert in every layer (transformers reads
    neither mlp_only_layers nor decoder_sparse_step for this type)."""
    _require_experts(cfg)
    spec, mixers = _gated_deltanet_hybrid(cfg)
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    d_shared = cfg.int("shared_expert_intermediate_size")
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("moe_intermediate_size"),
        kind,
        n_shared=1,
        d_shared=d_shared,
        shared_gate=True,
    )
    _qwen3_5_mtp(cfg, spec, "moe")
    spec["layers"] = _layers(mixers, ["E"] * spec["n_layers"])
    return spec


def _mla(cfg: Config) -> dict:
    return {
        "kind": "mla",
        "n_heads": cfg.int("num_attention_heads"),
        "q_lora_rank": cfg.opt_int("q_lora_rank"),
        "kv_lora_rank": cfg.int("kv_lora_rank"),
        "qk_nope_head_dim": cfg.int("qk_nope_head_dim"),
        "qk_rope_head_dim": cfg.int("qk_rope_head_dim"),
        "v_head_dim": cfg.int("v_head_dim"),
    }


def _first_k_dense(r: Config) -> list[str]:
    k, n = r.int("first_k_dense_replace", 0), r.int("num_hidden_layers")
    return ["dense" if i < k else "sparse" for i in range(n)]


def _deepseek_ffns(cfg: Config) -> list[str]:
    return ["D" if t == "dense" else "E" for t in _first_k_dense(cfg)]


def _deepseek_moe(cfg: Config, spec: dict, n_shared: int) -> None:
    """DeepSeekMoE's blocks (DeepSeek-V3, Kimi K2, GLM-4.5): dense prefix, routed + shared experts,
    all layers global attention."""
    n = spec["n_layers"]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _deepseek_ffns(cfg)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_expert = cfg.int("moe_intermediate_size")
    # transformers keeps DeepSeek's e_score_correction_bias as a buffer in every MoE layer
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(["G"] * n, ffns)


def build_deepseek_v3(cfg: Config) -> dict:
    """DeepSeek-V3 (and Kimi K2, which ships DeepSeek-V3's code): MLA + DeepSeekMoE, dense prefix, MTP."""
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = {k: v for k, v in _mla(cfg).items() if v is not None}
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    _deepseek_moe(cfg, spec, n_shared=cfg.opt_int("n_shared_experts", 0) or 0)
    n_mtp = cfg.int("num_nextn_predict_layers", 0) if cfg.has("num_nextn_predict_layers") else 0
    if n_mtp:
        # DeepSeek's MTP module stores its own embedding and output head (model.layers.61 in the checkpoint)
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe", "stores_embedding": True, "stores_head": True}
    return spec


def build_deepseek_v32(cfg: Config) -> dict:
    spec = build_deepseek_v3(cfg)
    spec["attention"]["indexer"] = {
        "n_heads": cfg.int("index_n_heads"),
        "head_dim": cfg.int("index_head_dim"),
        "topk": cfg.int("index_topk"),
    }
    n = spec["n_layers"]
    ffns = _layer_kinds(cfg, "mlp_layer_types", {"dense": "D", "sparse": "E"}, n)
    if "ffn" not in spec and "D" in ffns:
        spec["ffn"] = {"kind": spec["moe"]["expert_kind"], "d_ff": cfg.int("intermediate_size")}
    spec["layers"] = _layers(["G"] * n, ffns)
    return spec


def _glm_indexer_types(r: Config) -> list[str]:
    """GlmMoeDsaConfig's default: `index_topk_pattern` ("F"/"S" letters) when given, else a full indexer every
    `index_topk_freq`-th layer from `index_skip_topk_offset` on (every layer with the defaults)."""
    n = r.int("num_hidden_layers")
    pattern = r.get("index_topk_pattern")
    if pattern is not None:
        if isinstance(pattern, str):
            letters = {"F": "full", "S": "shared"}
            if len(pattern) != n or any(c not in letters for c in pattern):
                raise r.error(
                    "index_topk_pattern", f"expected {n} letters F (full) or S (shared), got {_show(pattern)}"
                )
            return [letters[c] for c in pattern]
        return r.str_list("index_topk_pattern", n)
    freq = max(r.int("index_topk_freq", 0), 1)
    offset = r.int("index_skip_topk_offset", 0)
    return ["full" if max(i - offset + 1, 0) % freq == 0 else "shared" for i in range(n)]


def build_glm_moe_dsa(cfg: Config) -> dict:
    """GLM-5: DeepSeek V3.2's MLA + sparse-attention indexer and DeepSeekMoE blocks, Zhipu's MTP layer."""
    spec = build_deepseek_v32(cfg)
    n = spec["n_layers"]
    kinds = _layer_kinds(cfg, "indexer_types", {"full": "F", "shared": "S"}, n)
    if "S" in kinds:
        if kinds[0] == "S":
            raise cfg.error(("indexer_types", 0), "the first layer has no earlier indexer to share")
        # a shared layer reuses the previous full layer's top-k: no indexer weights, no indexer key cached
        spec["attention"]["indexer"]["layers"] = "".join(kinds)
    cfg.touch("index_topk_pattern", "index_topk_freq", "index_skip_topk_offset")
    n_mtp = cfg.int("num_nextn_predict_layers", 0)
    spec.pop("mtp", None)
    if n_mtp:
        # as GLM-4.5's: the MTP layer (model.layers.78) reuses the main embedding and output head
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe"}
    return spec


def _kimi_linear_config(r: Config) -> dict:
    n = r.int("num_hidden_layers")
    full = [i + 1 for i in range(n) if i and i % 4 == 0]  # transformers' default: every 4th layer from layer 4
    return {
        "full_attn_layers": full,
        "kda_layers": [i + 1 for i in range(n) if i + 1 not in full],
        **{key: r.int(flat) for key, flat in LINEAR_ATTN_FLAT.items()},
    }


LINEAR_ATTN_KEYS = ("full_attn_layers", "kda_layers", "head_dim", "num_heads", "short_conv_kernel_size")
LINEAR_ATTN_FLAT = {
    "head_dim": "linear_head_dim",
    "num_heads": "linear_num_heads",
    "short_conv_kernel_size": "linear_conv_kernel_dim",
}


def _kimi_layer_lists(r: Config) -> tuple[list[int], list[int]]:
    """linear_attn_config's full_attn_layers and kda_layers (1-based), checked."""
    n = r.int("num_hidden_layers")
    linear = r.mapping("linear_attn_config") or {}
    return tuple(
        _int_items(r, ("linear_attn_config", key), linear.get(key, []), 1, n)  # type: ignore[return-value]
        for key in ("full_attn_layers", "kda_layers")
    )


def _kimi_layer_types(r: Config) -> list[str]:
    types = ["linear_attention"] * r.int("num_hidden_layers")
    for layer in _kimi_layer_lists(r)[0]:
        types[layer - 1] = "full_attention"  # 1-based in the checkpoint
    return types


def build_kimi_linear(cfg: Config) -> dict:
    spec = _base(cfg, context="model_max_length")
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    linear = cfg.mapping("linear_attn_config") or {}
    for key in linear:
        if key not in LINEAR_ATTN_KEYS:
            raise cfg.error(
                ("linear_attn_config", key),
                f"unknown key `{key}` in linear_attn_config",
                did_you_mean(key, LINEAR_ATTN_KEYS),
            )
    if cfg.has("layer_types"):
        mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "linear_attention": "K"}, n)
    else:
        full, kda = map(set, _kimi_layer_lists(cfg))
        if full & kda or full | kda != set(range(1, n + 1)):
            raise cfg.error("linear_attn_config", "full_attn_layers and kda_layers must split layers 1..n_layers")
        mixers = ["G" if i + 1 in full else "K" for i in range(n)]
        cfg.touch("layer_types")
    # Kimi Linear's MLA layers carry no positional encoding (mla_use_nope); the KDA layers supply position
    spec["attention"] = {k: v for k, v in _mla(cfg).items() if v is not None} | {"position": "nope"}
    spec["kda"] = {
        "n_heads": _sub_int(cfg, linear, "num_heads"),
        "head_dim": _sub_int(cfg, linear, "head_dim"),
        "conv_kernel": _sub_int(cfg, linear, "short_conv_kernel_size"),
    }
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    if cfg.has("mlp_layer_types"):
        ffns = _layer_kinds(cfg, "mlp_layer_types", {"dense": "D", "sparse": "E"}, n)
    else:
        ffns = _deepseek_ffns(cfg)
    cfg.touch("mlp_layer_types", "first_k_dense_replace")
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    d_expert = cfg.int("moe_intermediate_size")
    n_shared = cfg.int("num_shared_experts", 0)
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_token"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


def _sub_int(cfg: Config, mapping: dict, key: str) -> int:
    """An entry of linear_attn_config; transformers takes it from there, else from its flat key (or that default)."""
    flat = LINEAR_ATTN_FLAT[key]
    if key not in mapping:
        return cfg.int(flat)
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise cfg.error(("linear_attn_config", key), f"expected a positive integer, got {_show(value)}")
    if cfg.has(flat) and cfg.int(flat) != value:
        raise cfg.error(flat, f"{cfg.data[flat]} disagrees with linear_attn_config.{key} ({value})")
    cfg.touch(flat)
    return value


def _gemma3_layer_types(r: Config) -> list[str]:
    period = r.int("sliding_window_pattern")
    return ["sliding_attention" if (i + 1) % period else "full_attention" for i in range(r.int("num_hidden_layers"))]


def _gemma_decoder(cfg: Config, d_ff: Callable[[Config, int], int]) -> dict:
    """Gemma 3's decoder (Gemma 3n's too): sandwich norms, per-head q/k norms, global and sliding layers,
    a gated FFN of width `d_ff(cfg, n_layers)`."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg, "sandwich")
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head"}  # Gemma 3n's v_norm has no weight
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
    cfg.touch("sliding_window_pattern")
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window", 1, MAX_CONTEXT)
    cfg.touch("sliding_window")
    # Gemma 3 scales RoPE on global layers only; local layers use rope_local_base_freq
    rope = _rope(cfg, local_theta="rope_local_base_freq", scaled=("global",), nested_only=True)
    spec["attention"] = _global_local(attn, rope, mixers)
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_activation", GATED_FFN), "d_ff": d_ff(cfg, n)}
    spec["layers"] = _layers(mixers, ["D"] * n)
    return spec


def build_gemma3_text(cfg: Config) -> dict:
    return _gemma_decoder(cfg, lambda c, n: c.int("intermediate_size", 1, MAX_D_FF))


def _gemma3n_width(cfg: Config, n: int) -> int:
    """One width for every layer (a per-layer list is MatFormer's nesting, which llmarch does not model)."""
    widths = cfg.get("intermediate_size")
    if isinstance(widths, list):
        _int_items(cfg, ("intermediate_size",), widths, 1, MAX_D_FF)
    else:
        widths = [cfg.int("intermediate_size", 1, MAX_D_FF)] * n
    if len(widths) != n or len(set(widths)) != 1:
        raise cfg.error("intermediate_size", f"expected one FFN width for all {n} layers, got {_short(widths)}")
    return widths[0]


def build_gemma3n_text(cfg: Config) -> dict:
    """Gemma 3's decoder plus per-layer embeddings, AltUp, LAuReL and cross-layer KV sharing."""
    spec = _gemma_decoder(cfg, _gemma3n_width)
    n = spec["n_layers"]
    spec["per_layer_embeddings"] = {
        "dim": cfg.int("hidden_size_per_layer_input"),
        "vocab_size": cfg.int("vocab_size_per_layer_input"),
    }
    altup = cfg.int("altup_num_inputs")
    if altup < 2:
        raise cfg.error("altup_num_inputs", f"AltUp needs at least 2 residual streams, got {altup}")
    spec["altup"] = {"n_inputs": altup}
    spec["laurel"] = {"rank": cfg.int("laurel_rank")}
    shared = cfg.int("num_kv_shared_layers", 0)
    if shared >= n:
        raise cfg.error(
            "num_kv_shared_layers",
            f"{shared} shared-KV layers leave no layer of the {n} to compute KV",
            "give num_kv_shared_layers below num_hidden_layers"
            + (" (its default is 15)" if not cfg.has("num_kv_shared_layers") else ""),
        )
    if shared:
        spec["kv_shared_layers"] = shared
    return spec


def _alternating(r: Config) -> list[str]:
    return ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(r.int("num_hidden_layers"))]


def build_gpt_oss(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    # gpt-oss's attention has per-head sinks; its router and experts have biases (transformers' GptOss*)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"sinks": True}
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window")
    cfg.touch("sliding_window")
    spec["attention"] = _global_local(attn, _rope(cfg), mixers)
    top_k = cfg.int("num_experts_per_tok")
    if cfg.int("experts_per_token") != top_k:
        raise cfg.error("experts_per_token", f"disagrees with num_experts_per_tok ({top_k})")
    _ffn_kind(cfg, "hidden_act", {"silu": "swiglu"})
    kind = "swiglu_clamped" if cfg.opt_number("swiglu_limit") else "swiglu"
    spec["moe"] = _moe(
        cfg.int("num_local_experts"), top_k, cfg.int("intermediate_size"), kind, router_bias=True, expert_bias=True
    )
    spec["layers"] = _layers(mixers, ["E"] * n)
    return spec


def build_olmoe(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    spec["attention"] = (
        _heads(cfg, spec["d_model"])
        | _biases(cfg)
        | {"qk_norm": "whole", "rope": _rope(cfg, kinds=("global",))["global"]}
    )
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("intermediate_size"),
        _ffn_kind(cfg, "hidden_act", GATED_FFN),
    )
    return spec


def _no_rope_layers(r: Config) -> list[int]:
    interval = r.int("no_rope_layer_interval")
    return [int((i + 1) % interval != 0) for i in range(r.int("num_hidden_layers"))]


def build_smollm3(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg)
    _layer_kinds(cfg, "layer_types", {"full_attention": "G"}, n)  # sliding layers are rejected with use_sliding_window
    uses_rope = cfg.int_list("no_rope_layers", 0, 1, n)
    cfg.touch("no_rope_layer_interval")
    mixers = ["G" if r else "N" for r in uses_rope]
    spec["attention"] = attn | {"rope": _rope(cfg, kinds=("global",))["global"]}
    spec["ffn"] = {"kind": _ffn_kind(cfg, "hidden_act", GATED_FFN), "d_ff": cfg.int("intermediate_size")}
    if cfg.bool("mlp_bias"):
        spec["ffn"]["bias"] = True
    spec["layers"] = _layers(mixers, ["D"] * n)
    return spec


def _llama4_moe_layers(r: Config) -> list[int]:
    step = r.int("interleave_moe_layer_step")
    return list(range(step - 1, r.int("num_hidden_layers"), step))


def build_llama4_text(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg)
    # an empty no_rope_layers means "the default" in transformers (it tests the list's truth)
    uses_rope = cfg.get("no_rope_layers")
    if uses_rope == []:
        uses_rope = _no_rope_layers(cfg)
        cfg.source.defaulted.append(
            (cfg.where("no_rope_layers"), f"{_short(uses_rope)} (empty: transformers' default)")
        )
    else:
        uses_rope = cfg.int_list("no_rope_layers", 0, 1, n)
    cfg.touch("no_rope_layer_interval", "layer_types")
    chunk = cfg.opt_int("attention_chunk_size")
    rope_letter = "C" if chunk else "G"
    mixers = [rope_letter if r else "N" for r in uses_rope]
    if cfg.has("layer_types"):
        expected = {"C": "chunked_attention", "G": "chunked_attention", "N": "full_attention"}
        if cfg.list("layer_types", n) != [expected[m] for m in mixers]:
            raise cfg.error("layer_types", "disagrees with no_rope_layers (chunked layers use RoPE, full ones none)")
    if chunk:
        attn["chunk"] = chunk
    if cfg.bool("use_qk_norm"):
        attn["qk_norm"] = "l2"  # a weightless L2 norm, on RoPE layers only
        if "N" in mixers:
            attn.setdefault("overrides", {})["nope"] = {"qk_norm": "none"}
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    moe_layers = set(cfg.int_list("moe_layers", 0, n - 1))
    cfg.touch("interleave_moe_layer_step")
    ffns = ["E" if i in moe_layers else "D" for i in range(n)]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size_mlp")}
    cfg.touch("intermediate_size_mlp")
    d_expert = cfg.int("intermediate_size")
    spec["moe"] = _moe(
        cfg.int("num_local_experts"), cfg.int("num_experts_per_tok"), d_expert, kind, n_shared=1, d_shared=d_expert
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


def build_glm4_moe(cfg: Config) -> dict:
    spec = _base(cfg)
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg, o_bias=False)  # GLM's o_proj never has a bias
    if cfg.bool("use_qk_norm"):
        attn["qk_norm"] = "per_head"
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    _deepseek_moe(cfg, spec, n_shared=cfg.int("n_shared_experts", 0))
    n_mtp = cfg.int("num_nextn_predict_layers", 0) if cfg.has("num_nextn_predict_layers") else 0
    if n_mtp:
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe"}
    return spec


def _leading_dense(r: Config) -> int:
    ffns = _layer_kinds(r, "mlp_layer_types", {"dense": "D", "sparse": "E"}, r.int("num_hidden_layers"))
    return ffns.index("E") if "E" in ffns else len(ffns)


def build_hy_v3(cfg: Config) -> dict:
    """Tencent Hy3: GQA with per-head QK-norm; a dense first layer, then 192 routed experts (sigmoid router, an
    expert-bias buffer) and a shared expert; one MTP layer."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | _biases(cfg) | {"qk_norm": "per_head"}
    attn["rope"] = _rope(cfg, kinds=("global",))["global"]
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _mlp_layer_ffns(cfg, spec, kind)
    d_expert = cfg.int("moe_intermediate_size")
    n_shared = cfg.int("num_shared_experts", 0)
    # HYV3MoE keeps e_score_correction_bias (the checkpoint's mlp.expert_bias) as a buffer
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(["G"] * n, ffns)
    n_mtp = cfg.int("num_nextn_predict_layers", 0) if cfg.has("num_nextn_predict_layers") else 0
    if n_mtp:
        # the MTP layer (model.layers.80: enorm, hnorm, eh_proj, a MoE decoder layer) reuses the embedding and head
        spec["mtp"] = {"n_modules": n_mtp, "ffn": "moe"}
    return spec


LAGUNA_GATES = {True: "headwise", "per-head": "headwise", "per-element": "elementwise", False: None}


def _laguna_heads(r: Config) -> list[int]:
    return [r.int("num_attention_heads", 1, MAX_HEADS)] * r.int("num_hidden_layers")


def build_laguna(cfg: Config) -> dict:
    """Poolside Laguna: GQA with per-head QK-norm and a softplus output gate, query heads per layer kind,
    sliding-window and full layers with their own RoPE; a dense first layer, then experts (a router whose
    correction bias is a parameter) and a shared expert."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    mixers = _layer_kinds(cfg, "layer_types", {"full_attention": "G", "sliding_attention": "L"}, n)
    heads = cfg.int_list("num_attention_heads_per_layer", 1, MAX_HEADS, n)
    per_kind: dict[str, int] = {}
    for i, (letter, h) in enumerate(zip(mixers, heads)):
        if per_kind.setdefault(letter, h) != h:
            raise cfg.error(
                ("num_attention_heads_per_layer", i),
                f"layer {i} has {h} query heads where an earlier {'full' if letter == 'G' else 'sliding'}-attention "
                f"layer has {per_kind[letter]}: llmarch sets query heads per layer kind",
            )
    n_kv, head_dim = cfg.int("num_key_value_heads", 1, MAX_HEADS), cfg.int("head_dim", 1, MAX_HEAD_DIM)
    for h in per_kind.values():
        if h % n_kv:
            raise cfg.error("num_key_value_heads", f"{n_kv} does not divide the {h} query heads of some layers")
    cfg.touch("num_attention_heads")  # sizes no layer once num_attention_heads_per_layer is given
    base_heads = per_kind[mixers[0]]  # the block's count; the other kind's, when it differs, is an override
    mha = all(h == n_kv for h in per_kind.values())
    attn: dict[str, Any] = {"kind": "mha" if mha else "gqa", "n_heads": base_heads}
    if not mha:
        attn["n_kv_heads"] = n_kv
    if head_dim * base_heads != spec["d_model"]:
        attn["head_dim"] = head_dim
    attn |= _biases(cfg) | {"qk_norm": "per_head"}
    gating = cfg.get("gating")
    if not any(gating == k and type(gating) is type(k) for k in LAGUNA_GATES):
        raise cfg.error("gating", f"expected true, false, per-head or per-element, got {_show(gating)}")
    if LAGUNA_GATES[gating]:
        attn["output_gate"] = LAGUNA_GATES[gating]
    if "L" in mixers:
        attn["window"] = cfg.int("sliding_window")
    cfg.touch("sliding_window")
    params = cfg.mapping("rope_parameters") or {}
    for key, letter in (("full_attention", "G"), ("sliding_attention", "L")):
        if letter in mixers and not (isinstance(params.get(key), dict) and "rope_theta" in params[key]):
            raise cfg.error(
                ("rope_parameters", key) if key in params else ("rope_parameters",),
                f"Laguna reads each layer kind's RoPE from rope_parameters.{key}, which needs a rope_theta",
            )
    rope = _rope(cfg, nested_only=True, ignored_keys=("original_max_position_embeddings",))
    attn = _global_local(attn, rope, mixers)
    if per_kind.get("L", base_heads) != base_heads:
        attn.setdefault("overrides", {}).setdefault("local", {})["n_heads"] = per_kind["L"]
    spec["attention"] = attn
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    ffns = _mlp_layer_ffns(cfg, spec, kind)
    d_shared = cfg.int("shared_expert_intermediate_size", 0)
    spec["moe"] = _moe(
        cfg.int("num_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("moe_intermediate_size"),
        kind,
        n_shared=1 if d_shared else 0,
        d_shared=d_shared,
        score_correction_parameter=True,  # LagunaTopKRouter's e_score_correction_bias is an nn.Parameter
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


def build_minimax_m2(cfg: Config) -> dict:
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg)
    attn = _heads(cfg, spec["d_model"]) | {"qk_norm": "whole"}  # RMSNorm over the whole q and k projections
    head_dim = cfg.int("head_dim")
    rotary = cfg.int("rotary_dim")
    if rotary > head_dim:
        raise cfg.error("rotary_dim", f"is larger than head_dim ({head_dim})")
    attn["rope"] = _rope(cfg, partial=rotary / head_dim, kinds=("global",))["global"]
    spec["attention"] = attn
    spec["moe"] = _moe(
        cfg.int("num_local_experts"),
        cfg.int("num_experts_per_tok"),
        cfg.int("intermediate_size"),
        _ffn_kind(cfg, "hidden_act", GATED_FFN),
        score_correction_bias=True,
    )
    spec["layers"] = _layers(["G"] * n, ["E"] * n)
    if cfg.bool("use_mtp"):
        spec["mtp"] = {"n_modules": cfg.int("num_mtp_modules"), "ffn": "moe"}
    cfg.touch("num_mtp_modules")
    return spec


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


def build_gpt2(cfg: Config) -> dict:
    n_embd, n_positions = cfg.int("n_embd"), cfg.int("n_positions")
    n_inner = cfg.opt_int("n_inner")
    spec = {
        "vocab_size": cfg.int("vocab_size"),
        "d_model": n_embd,
        "n_layers": cfg.int("n_layer"),
        "context_length": n_positions,
        "learned_positions": n_positions,
        "tie_embeddings": cfg.bool("tie_word_embeddings"),
        "norm": {"kind": "layernorm", "bias": True, "placement": "pre", "eps": cfg.number("layer_norm_epsilon")},
        "attention": {"kind": "mha", "n_heads": cfg.int("n_head"), "qkv_bias": True, "o_bias": True},
        # n_inner null means 4 x n_embd
        "ffn": {"kind": _ffn_kind(cfg, "activation_function", PLAIN_FFN), "d_ff": n_inner or 4 * n_embd, "bias": True},
    }
    if n_embd % spec["attention"]["n_heads"]:
        raise cfg.error("n_head", f"does not divide n_embd ({n_embd})")
    return spec


def build_mimo_v2_flash(cfg: Config) -> dict:
    """MiMo-V2-Flash as its hub config.json states it (the names of Xiaomi's code, not transformers 5's)."""
    spec = _base(cfg)
    n = spec["n_layers"]
    spec["norm"] = _rmsnorm(cfg, eps="layernorm_epsilon")
    pattern = cfg.list("hybrid_layer_pattern", n)
    if any(p not in (0, 1) for p in pattern):
        raise cfg.error("hybrid_layer_pattern", "expected 0 (global) or 1 (sliding window) per layer")
    mixers = ["L" if p else "G" for p in pattern]
    full = {
        "kind": "gqa",
        "n_heads": cfg.int("num_attention_heads"),
        "n_kv_heads": cfg.int("num_key_value_heads"),
        "head_dim": cfg.int("head_dim"),
        "v_head_dim": cfg.int("v_head_dim"),
    }
    swa = {
        "n_heads": cfg.int("swa_num_attention_heads"),
        "n_kv_heads": cfg.int("swa_num_key_value_heads"),
        "head_dim": cfg.int("swa_head_dim"),
        "v_head_dim": cfg.int("swa_v_head_dim"),
    }
    attn = full | _biases(cfg, o_bias=False)
    if cfg.bool("add_full_attention_sink_bias"):
        attn["sinks"] = True
    local = {k: v for k, v in swa.items() if v != full[k]}
    if cfg.bool("add_swa_attention_sink_bias"):
        local["sinks"] = True
    # sliding_window_size counts earlier tokens only: the reference SGLang code attends that many plus the
    # query, and transformers' MiMoV2FlashConfig turns it into sliding_window = size + 1
    attn["window"] = cfg.int("sliding_window_size")
    attn["window_excludes_query"] = True
    rope = _rope(cfg, local_theta="swa_rope_theta")
    attn["rope"] = rope["global"]
    local["rope"] = rope["local"]
    if "L" in mixers:
        attn["overrides"] = {"local": local}
    spec["attention"] = attn
    freq = cfg.list("moe_layer_freq", n)
    if any(f not in (0, 1) for f in freq):
        raise cfg.error("moe_layer_freq", "expected 0 (dense) or 1 (experts) per layer")
    ffns = ["E" if f else "D" for f in freq]
    kind = _ffn_kind(cfg, "hidden_act", GATED_FFN)
    if "D" in ffns:
        spec["ffn"] = {"kind": kind, "d_ff": cfg.int("intermediate_size")}
    cfg.touch("intermediate_size")
    n_shared = cfg.opt_int("n_shared_experts", 0) or 0
    d_expert = cfg.int("moe_intermediate_size")
    spec["moe"] = _moe(
        cfg.int("n_routed_experts"),
        cfg.int("num_experts_per_tok"),
        d_expert,
        kind,
        n_shared=n_shared,
        d_shared=n_shared * d_expert,
        score_correction_bias=True,
    )
    spec["layers"] = _layers(mixers, ffns)
    return spec


# ---------------------------------------------------------------------------
# The model types

LLAMA_KEYS = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    **_rope_keys(10000.0),
    **_QUANT,
}
# transformers' GraniteConfig (Granite 3.x dense, Granite 4.1): its defaults for these keys are LlamaConfig's
# (the defaults test holds each table to its own config class); its multipliers are irrelevant keys
GRANITE_KEYS = dict(LLAMA_KEYS)
# transformers' Phi3Config (Phi-3, Phi-3.5, Phi-4)
PHI3_KEYS = {
    "vocab_size": 32064,
    "hidden_size": 3072,
    "intermediate_size": 8192,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "sliding_window": None,
    "partial_rotary_factor": 1.0,
    **_rope_keys(10000.0),
    **_QUANT,
}
MISTRAL_KEYS = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "sliding_window": 4096,
    **_rope_keys(10000.0),
    **_QUANT,
}


def _ministral3_rope(r: Config) -> dict:
    return {
        "type": "yarn",
        "rope_theta": 1000000.0,
        "factor": 16.0,
        "original_max_position_embeddings": 16384,
        "max_position_embeddings": r.int("max_position_embeddings", 1, MAX_CONTEXT),
        "beta_fast": 32.0,
        "beta_slow": 1.0,
        "mscale_all_dim": 1.0,
        "mscale": 1.0,
        "llama_4_scaling_beta": 0.1,
    }


MINISTRAL3_KEYS = MISTRAL_KEYS | {
    "vocab_size": 131072,
    "num_hidden_layers": 34,
    "head_dim": 128,
    "max_position_embeddings": 262144,
    "rms_norm_eps": 1e-5,
    "sliding_window": None,
    # transformers fills rope_parameters (theta included) before it reads rope_theta, so 1e6 is the theta in effect
    "rope_parameters": Derived("YaRN x16 from 16,384, theta 1e6", _ministral3_rope),
    "rope_theta": 1000000.0,
}
MIXTRAL_KEYS = MISTRAL_KEYS | {
    "rms_norm_eps": 1e-5,
    "sliding_window": None,
    "num_experts_per_tok": 2,
    "num_local_experts": 8,
    **_rope_keys(1000000.0),
}
QWEN3_KEYS = {
    "vocab_size": 151936,
    "hidden_size": 4096,
    "intermediate_size": 22016,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "use_sliding_window": False,
    "sliding_window": 4096,
    "max_window_layers": 28,
    "layer_types": Derived("from use_sliding_window, sliding_window, max_window_layers", _qwen3_layer_types),
    **_rope_keys(10000.0),
    **_QUANT,
}
QWEN_MOE_KEYS = {"decoder_sparse_step": 1, "mlp_only_layers": []}
QWEN3_MOE_KEYS = {
    k: v
    for k, v in QWEN3_KEYS.items()
    if k not in ("use_sliding_window", "sliding_window", "max_window_layers", "layer_types")
} | {
    "hidden_size": 2048,
    "intermediate_size": 6144,
    "num_hidden_layers": 24,
    "num_key_value_heads": 4,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "moe_intermediate_size": 768,
    "num_experts_per_tok": 8,
    "num_experts": 128,
    **QWEN_MOE_KEYS,
}
# Keys of Qwen's own training config that some released configs carry (Qwen3-Coder-30B-A3B-Instruct);
# transformers' qwen3_moe reads none of them, so each is accepted only at what transformers builds anyway
QWEN_INTERNAL_KEYS = {
    "qkv_bias": Reject("transformers' qwen3_moe reads attention_bias; a q/k/v bias here would be dropped"),
    "use_qk_norm": Reject("transformers' qwen3_moe always normalises q and k", _only(True)),
    "shared_expert_intermediate_size": Reject("transformers' qwen3_moe has no shared expert", _only(0)),
}
NO_SLIDING = Reject("transformers' implementation of this type has no sliding-window layers", _only(False))
QWEN3_NEXT_KEYS = {k: v for k, v in QWEN3_MOE_KEYS.items()} | {
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "head_dim": 256,
    "partial_rotary_factor": 0.25,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_value_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "num_experts_per_tok": 10,
    "num_experts": 512,
    "full_attention_interval": 4,
    "layer_types": Derived(
        "every full_attention_interval-th layer full attention, the rest Gated DeltaNet",
        lambda r: [
            "linear_attention" if (i + 1) % r.int("full_attention_interval") else "full_attention"
            for i in range(r.int("num_hidden_layers"))
        ],
    ),
}
# Qwen3.5 / 3.6 (transformers' Qwen3_5TextConfig, Qwen3_5MoeTextConfig): Qwen3-Next's hybrid
QWEN3_5_TEXT_KEYS = {
    "vocab_size": 248320,
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "partial_rotary_factor": 0.25,
    "linear_conv_kernel_dim": 4,
    "linear_key_head_dim": 128,
    "linear_value_head_dim": 128,
    "linear_num_key_heads": 16,
    "linear_num_value_heads": 32,
    "full_attention_interval": 4,
    "layer_types": QWEN3_NEXT_KEYS["layer_types"],
    # Qwen's MTP modules: transformers has no such key and builds none (0: no `mtp:` block)
    "mtp_num_hidden_layers": 0,
    **_rope_keys(10000.0),
    **_QUANT,
}
QWEN3_5_MOE_TEXT_KEYS = {k: v for k, v in QWEN3_5_TEXT_KEYS.items() if k != "intermediate_size"} | {
    "hidden_size": 2048,
    "num_hidden_layers": 40,
    "num_key_value_heads": 2,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "num_experts_per_tok": 8,
    "num_experts": 256,
}
# Keys Qwen's configs write that transformers' qwen3_5 code never reads
QWEN3_5_IRRELEVANT = "mamba_ssm_dtype"  # the recurrent state's dtype: `kvcache --state-dtype` (default fp32)
QWEN3_5_REJECTED = {
    "attn_output_gate": Reject(
        "transformers' qwen3_5 attention always has its sigmoid output gate (q_proj twice as wide)", _only(True)
    ),
    "output_gate_type": Reject(
        "transformers' qwen3_5 gates the Gated DeltaNet output with SiLU", _only("swish", "silu")
    ),
    "use_sliding_window": NO_SLIDING,
    # no checkpoint with it was seen: where such a module's own embedding sits is not known
    "mtp_use_dedicated_embeddings": Reject("llmarch's Qwen3.5 MTP module shares the model's embedding"),
}
QWEN3_5_MOE_REJECTED = QWEN3_5_REJECTED | {
    "mlp_only_layers": Reject(
        "transformers' qwen3_5_moe puts experts in every layer and ignores this list", lambda v: v is None or v == []
    ),
    "decoder_sparse_step": Reject(
        "transformers' qwen3_5_moe puts experts in every layer and ignores this step", lambda v: v is None or v == 1
    ),
}
DEEPSEEK_V3_KEYS = {
    "vocab_size": 129280,
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_attention_heads": 128,
    "n_shared_experts": 1,
    "n_routed_experts": 256,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 128,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "hidden_act": "silu",
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "num_nextn_predict_layers": 1,
    **_rope_keys(10000.0),
    **_QUANT,
}
# Routing details: how experts are picked changes no parameter (e_score_correction_bias is always a buffer)
DEEPSEEK_IRRELEVANT = """
    num_key_value_heads n_group topk_group routed_scaling_factor norm_topk_prob topk_method scoring_func aux_loss_alpha
    seq_aux ep_size rope_interleave pretraining_tp
"""
# MLA head widths transformers writes out (it sets them itself, whatever the config says)
MLA_DERIVED = {
    "head_dim": Derived("qk_rope_head_dim", lambda r: r.int("qk_rope_head_dim")),
    "qk_head_dim": Derived(
        "qk_nope_head_dim + qk_rope_head_dim", lambda r: r.int("qk_nope_head_dim") + r.int("qk_rope_head_dim")
    ),
}
DEEPSEEK_REJECTED = {
    "attention_bias": Reject("llmarch's MLA has no projection biases"),
    "moe_layer_freq": Reject("transformers places experts in every layer after first_k_dense_replace", _only(1)),
}
DEEPSEEK_V32_KEYS = DEEPSEEK_V3_KEYS | {
    "max_position_embeddings": 163840,
    "index_topk": 2048,
    "index_head_dim": 128,
    "index_n_heads": 64,
    # transformers' DeepseekV32Config has no MTP key and builds no MTP module (DeepSeek's configs state it)
    "num_nextn_predict_layers": 0,
    "mlp_layer_types": Derived("first_k_dense_replace dense layers, then experts", _first_k_dense),
}
GLM_MOE_DSA_KEYS = DEEPSEEK_V32_KEYS | {
    "vocab_size": 154880,
    "hidden_size": 6144,
    "intermediate_size": 12288,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 78,
    "num_attention_heads": 64,
    "kv_lora_rank": 512,
    "q_lora_rank": 2048,
    "qk_rope_head_dim": 64,
    "v_head_dim": 256,
    "qk_nope_head_dim": 192,
    "max_position_embeddings": 202752,
    "rms_norm_eps": 1e-5,
    "index_n_heads": 32,
    # GlmMoeDsaConfig has no MTP key and builds no MTP module (Zhipu's configs state it)
    "num_nextn_predict_layers": 0,
    # keyword arguments GlmMoeDsaConfig derives indexer_types from, when the config does not state it
    "index_topk_pattern": None,
    "index_topk_freq": 1,
    "index_skip_topk_offset": 2,
    "indexer_types": Derived("index_topk_pattern, or index_topk_freq and index_skip_topk_offset", _glm_indexer_types),
}
KIMI_LINEAR_KEYS = {
    "vocab_size": 163840,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "moe_intermediate_size": 1024,
    "num_hidden_layers": 27,
    "num_attention_heads": 32,
    "num_shared_experts": 1,
    "num_experts": 256,
    "num_experts_per_token": 8,
    "kv_lora_rank": 512,
    "q_lora_rank": None,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 128,
    "hidden_act": "silu",
    "model_max_length": 1048576,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "first_k_dense_replace": 1,
    # transformers 5's flat names of linear_attn_config's head_dim, num_heads and short_conv_kernel_size
    "linear_head_dim": 128,
    "linear_num_heads": 32,
    "linear_conv_kernel_dim": 4,
    "linear_attn_config": Derived(
        "transformers' defaults: 32 heads x 128, kernel 4, every 4th layer MLA", _kimi_linear_config
    ),
    "layer_types": Derived("from linear_attn_config", _kimi_layer_types),
    "mlp_layer_types": Derived("first_k_dense_replace dense layers, then experts", _first_k_dense),
    **_QUANT,
}
GEMMA3_TEXT_KEYS = {
    "vocab_size": 262208,
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "sliding_window": 4096,
    "sliding_window_pattern": 6,
    "rope_local_base_freq": 10000.0,
    "layer_types": Derived("every sliding_window_pattern-th layer global, the rest sliding", _gemma3_layer_types),
    **_rope_keys(1000000.0),
    **_QUANT,
}
GEMMA3N_TEXT_KEYS = {k: v for k, v in GEMMA3_TEXT_KEYS.items() if k != "sliding_window_pattern"} | {
    "vocab_size": 262400,
    "vocab_size_per_layer_input": 262144,
    "hidden_size": 2048,
    "hidden_size_per_layer_input": 256,
    "intermediate_size": 16384,
    "num_hidden_layers": 35,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "max_position_embeddings": 32768,
    "sliding_window": 512,
    "altup_num_inputs": 4,
    "laurel_rank": 64,
    "num_kv_shared_layers": 15,
    "layer_types": Derived(
        "every 5th layer global, the rest sliding",
        lambda r: [
            "full_attention" if (i + 1) % 5 == 0 else "sliding_attention" for i in range(r.int("num_hidden_layers"))
        ],
    ),
}
GPT_OSS_KEYS = {
    "num_hidden_layers": 36,
    "num_local_experts": 128,
    "vocab_size": 201088,
    "hidden_size": 2880,
    "intermediate_size": 2880,
    "head_dim": 64,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "sliding_window": 128,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "num_experts_per_tok": 4,
    "swiglu_limit": 7.0,
    "attention_bias": True,
    "experts_per_token": Derived("num_experts_per_tok", lambda r: r.int("num_experts_per_tok")),  # OpenAI's name
    "layer_types": Derived("alternating sliding and full attention", _alternating),
    **_rope_keys(
        150000.0,
        {
            "rope_type": "yarn",
            "factor": 32.0,
            "beta_fast": 32.0,
            "beta_slow": 1.0,
            "truncate": False,
            "original_max_position_embeddings": 4096,
        },
    ),
    **_QUANT,
}
OLMO2_KEYS = {
    "vocab_size": 50304,
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": KV_FROM_HEADS,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "rms_norm_eps": 1e-5,
    **_rope_keys(10000.0),
    **_QUANT,
}
OLMO3_KEYS = OLMO2_KEYS | {
    "sliding_window": 4096,
    "rope_theta": 500000.0,
    "layer_types": Derived(
        "3 sliding-window layers, then 1 full",
        lambda r: ["sliding_attention" if (i + 1) % 4 else "full_attention" for i in range(r.int("num_hidden_layers"))],
    ),
}
OLMOE_KEYS = OLMO2_KEYS | {
    "hidden_size": 2048,
    "intermediate_size": 2048,
    "num_hidden_layers": 16,
    "num_attention_heads": 16,
    "max_position_embeddings": 4096,
    "num_experts_per_tok": 8,
    "num_experts": 64,
}
SMOLLM3_KEYS = {
    "vocab_size": 128256,
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 4,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "mlp_bias": False,
    "no_rope_layer_interval": 4,
    "no_rope_layers": Derived("RoPE except on every no_rope_layer_interval-th layer", _no_rope_layers),
    "layer_types": Derived(
        "all full attention (no sliding window)", lambda r: ["full_attention"] * r.int("num_hidden_layers")
    ),
    **_rope_keys(2000000.0),
    **_QUANT,
}
LLAMA4_TEXT_KEYS = {
    "vocab_size": 202048,
    "hidden_size": 5120,
    "intermediate_size": 8192,
    "intermediate_size_mlp": 16384,
    "num_hidden_layers": 48,
    "num_attention_heads": 40,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "num_experts_per_tok": 1,
    "num_local_experts": 16,
    "interleave_moe_layer_step": 1,
    "use_qk_norm": True,
    "no_rope_layer_interval": 4,
    "attention_chunk_size": 8192,
    "attention_bias": False,
    "moe_layers": Derived("every interleave_moe_layer_step-th layer", _llama4_moe_layers),
    "no_rope_layers": Derived("RoPE except on every no_rope_layer_interval-th layer", _no_rope_layers),
    "layer_types": Derived(
        "chunked attention on RoPE layers, full attention on the others",
        lambda r: ["chunked_attention" if rope else "full_attention" for rope in _no_rope_layers(r)],
    ),
    **_rope_keys(500000.0),
    **_QUANT,
}
GLM4_MOE_KEYS = {
    "vocab_size": 151552,
    "hidden_size": 4096,
    "intermediate_size": 10944,
    "num_hidden_layers": 46,
    "num_attention_heads": 96,
    "num_key_value_heads": 8,
    "head_dim": HEAD_DIM_FROM_WIDTH,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "partial_rotary_factor": 0.5,
    "moe_intermediate_size": 1408,
    "num_experts_per_tok": 8,
    "n_shared_experts": 1,
    "n_routed_experts": 128,
    "first_k_dense_replace": 1,
    "use_qk_norm": False,
    "num_nextn_predict_layers": 1,
    **_rope_keys(10000.0),
    **_QUANT,
}
HY_V3_KEYS = {
    "vocab_size": 120832,
    "hidden_size": 4096,
    "intermediate_size": 13312,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "num_experts": 192,
    "num_experts_per_tok": 8,
    "num_shared_experts": 1,
    "moe_intermediate_size": 1536,
    "mlp_layer_types": ONE_DENSE_THEN_EXPERTS,
    # HYV3Config has no MTP key and builds no MTP module (Tencent's configs state it)
    "num_nextn_predict_layers": 0,
    **_rope_keys(11158840.0),
    **_QUANT,
}
LAGUNA_KEYS = {
    "vocab_size": 100352,
    "hidden_size": 2048,
    "intermediate_size": 8192,
    "num_hidden_layers": 40,
    "num_attention_heads": 48,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "gating": True,
    "sliding_window": 512,
    "moe_intermediate_size": 512,
    "shared_expert_intermediate_size": 512,
    "num_experts_per_tok": 8,
    "num_experts": 256,
    "layer_types": Derived("every layer full attention", lambda r: ["full_attention"] * r.int("num_hidden_layers")),
    "mlp_layer_types": ONE_DENSE_THEN_EXPERTS,
    "num_attention_heads_per_layer": Derived("num_attention_heads in every layer", _laguna_heads),
    "rope_scaling": None,
    "rope_parameters": {
        "full_attention": {"rope_type": "default", "rope_theta": 500000.0, "partial_rotary_factor": 0.5},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 1.0},
    },
    **_QUANT,
}
MINIMAX_M2_KEYS = {
    "vocab_size": 200064,
    "hidden_size": 3072,
    "intermediate_size": 1536,
    "num_hidden_layers": 62,
    "num_attention_heads": 48,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 196608,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "num_experts_per_tok": 8,
    "num_local_experts": 256,
    "rotary_dim": Derived("head_dim (RoPE on every channel)", lambda r: r.int("head_dim")),
    # MiniMax's own code reads these; transformers builds no MTP modules and has no key for them
    "use_mtp": REQUIRED,
    "num_mtp_modules": REQUIRED,
    **_rope_keys(5000000.0),
    **_QUANT,
}
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
GPT2_KEYS = {
    "vocab_size": 50257,
    "n_positions": 1024,
    "n_embd": 768,
    "n_layer": 12,
    "n_head": 12,
    "n_inner": None,
    "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-5,
    "tie_word_embeddings": True,
    **_QUANT,
}
MIMO_V2_FLASH_KEYS = {
    "vocab_size": 152576,
    "hidden_size": 4096,
    "intermediate_size": 16384,
    "num_hidden_layers": 48,
    "num_attention_heads": 64,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 131072,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "moe_intermediate_size": 2048,
    "num_experts_per_tok": 8,
    "n_routed_experts": 256,
    "head_dim": 192,
    "v_head_dim": 128,
    # transformers 5 stores RoPE nested by layer type with these values
    "rope_theta": 5000000.0,
    "swa_rope_theta": 10000.0,
    "partial_rotary_factor": 0.334,
    "rope_scaling": None,
    "rope_parameters": None,
    # the names of Xiaomi's code, which transformers 5 does not read: no default
    "swa_num_attention_heads": REQUIRED,
    "swa_num_key_value_heads": REQUIRED,
    "swa_head_dim": REQUIRED,
    "swa_v_head_dim": REQUIRED,
    "hybrid_layer_pattern": REQUIRED,
    "moe_layer_freq": REQUIRED,
    "sliding_window_size": REQUIRED,
    "add_swa_attention_sink_bias": REQUIRED,
    "add_full_attention_sink_bias": REQUIRED,
    "layernorm_epsilon": REQUIRED,
    "n_shared_experts": REQUIRED,
    **_QUANT,
}


@dataclass(frozen=True)
class TextType:
    """A model type whose config describes a text model."""

    name: str
    family: str
    keys: KeyTable
    build: Callable[[Config], dict]
    note: Optional[str] = None  # what the config cannot say, added to the spec's notes


TEXT_TYPES: dict[str, TextType] = {
    t.name: t
    for t in [
        TextType("llama", "llama", _keys(LLAMA_KEYS, "pretraining_tp"), build_llama),
        TextType("mistral", "mistral", _keys(MISTRAL_KEYS), build_mistral),
        TextType(
            "granite",
            "granite",
            # μP scalars: the embedding, each residual branch and the logits are multiplied, attention's softmax
            # scale is set; no parameters, no cache
            _keys(GRANITE_KEYS, "embedding_multiplier residual_multiplier attention_multiplier logits_scaling"),
            build_granite,
        ),
        TextType(
            "phi3",
            "phi",
            _keys(
                PHI3_KEYS,
                # resid_pdrop, embd_pdrop: dropout; original_max_position_embeddings: read by LongRoPE only, which
                # build_phi3 refuses
                "resid_pdrop embd_pdrop original_max_position_embeddings",
                {
                    "attention_bias": Reject(
                        "transformers' phi3 builds its fused qkv_proj and o_proj without biases", _only(False)
                    )
                },
            ),
            build_phi3,
        ),
        TextType("ministral3", "mistral", _keys(MINISTRAL3_KEYS), build_mistral),
        TextType("mixtral", "mistral", _keys(MIXTRAL_KEYS), build_mixtral),
        TextType("qwen3", "qwen3", _keys(QWEN3_KEYS), build_qwen3),
        TextType(
            "qwen3_moe",
            "qwen3",
            _keys(
                QWEN3_MOE_KEYS,
                "norm_topk_prob sliding_window max_window_layers",
                {"use_sliding_window": NO_SLIDING} | QWEN_INTERNAL_KEYS,
                aliases={"num_local_experts": "num_experts"},
            ),  # transformers' attribute_map: num_experts -> num_local_experts
            build_qwen3_moe,
        ),
        TextType(
            "qwen3_next",
            "qwen3",
            _keys(QWEN3_NEXT_KEYS, "norm_topk_prob", {"use_sliding_window": NO_SLIDING}),
            build_qwen3_next,
        ),
        TextType(
            "qwen3_5_text",
            "qwen3.5",
            # mlp_only_layers: Qwen3.5-27B's config writes [] (the MoE sibling's key); every layer is dense anyway
            _keys(QWEN3_5_TEXT_KEYS, QWEN3_5_IRRELEVANT + " mlp_only_layers", QWEN3_5_REJECTED),
            build_qwen3_5,
        ),
        TextType(
            "qwen3_5_moe_text",
            "qwen3.5",
            # intermediate_size: Qwen3_5MoeTextConfig has none; no layer is dense
            _keys(
                QWEN3_5_MOE_TEXT_KEYS, QWEN3_5_IRRELEVANT + " norm_topk_prob intermediate_size", QWEN3_5_MOE_REJECTED
            ),
            build_qwen3_5_moe,
        ),
        TextType(
            "deepseek_v3",
            "deepseek",
            _keys(DEEPSEEK_V3_KEYS, DEEPSEEK_IRRELEVANT, DEEPSEEK_REJECTED, consistent=MLA_DERIVED),
            build_deepseek_v3,
        ),
        # Kimi K2's configs say kimi_k2 but ship DeepSeek-V3's code (auto_map), so DeepSeek-V3's table applies
        TextType(
            "kimi_k2",
            "kimi",
            _keys(DEEPSEEK_V3_KEYS, DEEPSEEK_IRRELEVANT, DEEPSEEK_REJECTED, consistent=MLA_DERIVED),
            build_deepseek_v3,
        ),
        TextType(
            "deepseek_v32",
            "deepseek",
            _keys(
                DEEPSEEK_V32_KEYS,
                DEEPSEEK_IRRELEVANT,
                DEEPSEEK_REJECTED
                | {
                    "mlp_bias": Reject("llmarch's DeepSeek experts have no biases"),
                    "layer_types": Reject(
                        "every DeepSeek V3.2 layer is sparse (indexed) attention",
                        lambda v: v is None or (isinstance(v, list) and all(x == "indexed_attention" for x in v)),
                    ),
                },
                consistent=MLA_DERIVED,
            ),
            build_deepseek_v32,
        ),
        TextType(
            "glm_moe_dsa",
            "glm",
            _keys(
                GLM_MOE_DSA_KEYS,
                # routing details and the router's precision; the interleaved RoPE layouts of the attention and the
                # indexer change no count; head_dim: GlmMoeDsaConfig overwrites it with qk_rope_head_dim (GLM-5.2's
                # config says 192, which nothing reads)
                DEEPSEEK_IRRELEVANT
                + " rope_interleave indexer_rope_interleave index_share_for_mtp_iteration moe_router_dtype head_dim",
                {
                    **DEEPSEEK_REJECTED,
                    "mlp_bias": Reject("llmarch's DeepSeek experts have no biases"),
                    "layer_types": Reject(
                        "every GLM-5 layer is sparse (indexed) attention",
                        lambda v: v is None or (isinstance(v, list) and all(x == "indexed_attention" for x in v)),
                    ),
                },
                consistent={"qk_head_dim": MLA_DERIVED["qk_head_dim"]},
                # num_experts: an older name GlmMoeDsaConfig routes to n_routed_experts
                aliases={"num_local_experts": "n_routed_experts", "num_experts": "n_routed_experts"},
            ),
            build_glm_moe_dsa,
        ),
        TextType(
            "kimi_linear",
            "kimi",
            _keys(
                KIMI_LINEAR_KEYS,
                # head_dim: transformers overwrites it with qk_rope_head_dim (Moonshot's config says 72, which nothing
                # reads); rope_*: the MLA layers use no RoPE
                "head_dim num_key_value_heads moe_renormalize moe_router_activation_func num_expert_group topk_group "
                "routed_scaling_factor use_grouped_topk pretraining_tp rope_theta rope_scaling",
                {
                    "mla_use_nope": Reject("transformers' Kimi Linear applies no RoPE in its MLA layers", _only(True)),
                    "moe_layer_freq": Reject(
                        "transformers places experts in every layer after first_k_dense_replace", _only(1)
                    ),
                    "num_nextn_predict_layers": Reject("Kimi Linear has no MTP modules in transformers", _only(0)),
                    "attention_bias": Reject("llmarch's MLA has no projection biases"),
                },
                consistent={"qk_head_dim": MLA_DERIVED["qk_head_dim"]},
            ),
            build_kimi_linear,
        ),
        TextType(
            "gemma3_text",
            "gemma",
            _keys(
                GEMMA3_TEXT_KEYS,
                # a score scale, logit soft-caps and the cache class: no parameters, no cache size
                "query_pre_attn_scalar final_logit_softcapping attn_logit_softcapping cache_implementation",
                {"use_bidirectional_attention": Reject("llmarch models causal decoders only")},
                # transformers writes out its private copy of sliding_window_pattern
                consistent={
                    "_sliding_window_pattern": Derived(
                        "sliding_window_pattern", lambda r: r.int("sliding_window_pattern")
                    )
                },
            ),
            build_gemma3_text,
        ),
        TextType(
            "gemma3n_text",
            "gemma",
            _keys(
                GEMMA3N_TEXT_KEYS,
                # AltUp's active stream and clipping, and the activation sparsity of the first layers (a top-k on the
                # activation): no parameters, no cache size
                "final_logit_softcapping query_pre_attn_scalar altup_active_idx altup_coef_clip altup_correct_scale "
                # altup_lr_multiplier: a training learning-rate multiplier
                "activation_sparsity_pattern altup_lr_multiplier",
            ),
            build_gemma3n_text,
        ),
        # initial_context_length: OpenAI's name for YaRN's original length, which rope_scaling also states
        TextType("gpt_oss", "gpt-oss", _keys(GPT_OSS_KEYS, "swiglu_alpha initial_context_length"), build_gpt_oss),
        TextType(
            "olmo2",
            "olmo",
            _keys(
                OLMO2_KEYS,
                rejected={
                    "sliding_window": Reject(
                        "transformers' OLMo 2 has no sliding-window layers (Olmo 3 does: model_type olmo3)"
                    )
                },
            ),
            build_olmo2,
        ),
        TextType("olmo3", "olmo", _keys(OLMO3_KEYS), build_olmo3),
        TextType("olmoe", "olmo", _keys(OLMOE_KEYS, "clip_qkv norm_topk_prob"), build_olmoe),  # clip_qkv: a clamp
        TextType(
            "smollm3",
            "smollm",
            _keys(
                SMOLLM3_KEYS,
                "pretraining_tp sliding_window max_window_layers",
                {
                    "use_sliding_window": Reject(
                        "llmarch does not model SmolLM3's sliding window on NoPE layers", _only(False)
                    )
                },
            ),
            build_smollm3,
        ),
        TextType(
            "llama4_text",
            "llama",
            _keys(
                LLAMA4_TEXT_KEYS,
                # attention temperature tuning: scalars, no parameters
                "attn_temperature_tuning floor_scale attn_scale for_llm_compressor cache_implementation",
            ),
            build_llama4_text,
        ),
        TextType(
            "glm4_moe",
            "glm",
            _keys(GLM4_MOE_KEYS, "routed_scaling_factor n_group topk_group norm_topk_prob"),
            build_glm4_moe,
        ),
        TextType(
            "hy_v3",
            "hunyuan",
            _keys(
                HY_V3_KEYS,
                # routing details (the router is always sigmoid), fp32 kernel switches, a kernel choice, a token id
                "moe_router_use_sigmoid route_norm router_scaling_factor enable_attention_fp32_softmax "
                "enable_moe_fp32_combine enable_lm_head_fp32 use_grouped_mm eod_token_id",
                {
                    "qk_norm": Reject("transformers' hy_v3 always normalises q and k per head", _only(True)),
                    "moe_router_enable_expert_bias": Reject(
                        "transformers' hy_v3 always keeps the expert bias", _only(True)
                    ),
                    "mlp_bias": Reject("llmarch's MoE layers have no FFN biases"),
                },
                aliases={"num_local_experts": "num_experts"},
                consistent={
                    # Tencent's names of values transformers takes from moe_intermediate_size and mlp_layer_types
                    "expert_hidden_dim": Derived("moe_intermediate_size", lambda r: r.int("moe_intermediate_size")),
                    "first_k_dense_replace": Derived("the dense layers leading mlp_layer_types", _leading_dense),
                },
            ),
            build_hy_v3,
        ),
        TextType(
            "laguna",
            "laguna",
            _keys(
                LAGUNA_KEYS,
                # routing scalars; partial_rotary_factor: transformers reads the per-kind one in rope_parameters
                "moe_routed_scaling_factor moe_router_logit_softcapping partial_rotary_factor",
                {
                    "use_bidirectional_attention": Reject("llmarch models causal decoders only", _only(False)),
                    "moe_apply_router_weight_on_input": Reject(
                        "transformers' Laguna does not implement it (it raises NotImplementedError)", _only(False)
                    ),
                },
                aliases={"num_local_experts": "num_experts"},
            ),
            build_laguna,
        ),
        TextType(
            "minimax_m2",
            "minimax",
            _keys(
                MINIMAX_M2_KEYS,
                # routing and norm scalars; mlp_intermediate_size sizes no layer (every MiniMax-M2 block is MoE)
                "scoring_func shared_moe_mode layernorm_full_attention_beta layernorm_linear_attention_beta "
                "layernorm_mlp_beta mlp_intermediate_size",
                {
                    "use_qk_norm": Reject("transformers' MiniMax-M2 always normalises q and k", _only(True)),
                    "qk_norm_type": Reject(
                        "transformers normalises over the whole projections (per_layer)", _only("per_layer")
                    ),
                    "attn_type_list": Reject(
                        "only full attention (1) is supported; 0 is MiniMax's lightning attention",
                        lambda v: v is None or (isinstance(v, list) and all(x == 1 and type(x) is int for x in v)),
                    ),
                    "use_routing_bias": Reject("transformers' MiniMax-M2 always has the routing bias", _only(True)),
                    "shared_intermediate_size": Reject("MiniMax-M2 has no shared expert in transformers", _only(0)),
                    "mtp_transformer_layers": Reject("llmarch's MTP modules hold one transformer layer", _only(1)),
                    "sliding_window": Reject("MiniMax-M2 has no sliding-window layers in transformers"),
                },
            ),
            build_minimax_m2,
        ),
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
        TextType(
            "gpt2",
            "gpt2",
            _keys(
                GPT2_KEYS,
                # dropouts, attention scaling flags, the sequence-classification summary head (not in an LM checkpoint)
                "n_ctx resid_pdrop embd_pdrop attn_pdrop summary_type summary_use_proj summary_activation "
                "summary_proj_to_labels summary_first_dropout scale_attn_weights scale_attn_by_inverse_layer_idx "
                "reorder_and_upcast_attn output_past",
            ),
            build_gpt2,
        ),
        TextType(
            "mimo_v2_flash",
            "mimo",
            _keys(
                MIMO_V2_FLASH_KEYS,
                # routing details; sliding_window: transformers' window + 1 (the window is sliding_window_size);
                # attention_chunk_size: a kernel tile of Xiaomi's code; attention_value_scale: a scalar
                "scoring_func topk_method n_group topk_group routed_scaling_factor norm_topk_prob sliding_window "
                "attention_chunk_size attention_value_scale",
            ),
            build_mimo_v2_flash,
            note="MiMo-V2-Flash configs have no key for MTP modules; add an `mtp:` block if the checkpoint holds them",
        ),
        TextType(
            "mimo_v2",
            "mimo",
            _keys(
                MIMO_V2_FLASH_KEYS,
                # MiMo-V2.5's config is MiMo-V2-Flash's with these: q/k/v stored as one fused tensor (the same
                # parameters), the router's compute dtype; the encoders' configs and the tokens that mark their
                # input (the encoders are not counted: the note says so)
                "scoring_func topk_method n_group topk_group routed_scaling_factor norm_topk_prob sliding_window "
                "attention_chunk_size attention_value_scale attention_projection_layout moe_router_dtype "
                "vision_config audio_config image_token_id video_token_id audio_token_id",
            ),
            build_mimo_v2_flash,
            note=(
                "model_type mimo_v2 (MiMo-V2.5) is MiMo-V2-Flash's text model; its vision and audio encoders "
                "(vision_config, audio_config) are not counted. The config has no key for MTP modules; add an "
                "`mtp:` block if the checkpoint holds them"
            ),
        ),
    ]
}


# ---------------------------------------------------------------------------
# Multimodal wrappers: the text model, plus the vision tower and projector counted in closed form


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
            ("mistral", "ministral3"),
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

SUPPORTED_TYPES = sorted(set(TEXT_TYPES) | set(WRAPPER_TYPES))


# ---------------------------------------------------------------------------
# quantization_config -> weights


# Module names, as each model type's checkpoints and transformers name them, to read ignore lists against.
# Per component, the modules of one layer (`{e}`: an expert's index); `other` lists the layer's modules that
# no weight format covers (routers, convolutions, norms), which an ignore list may name harmlessly.
_ATTN = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")
_MLA = (
    "self_attn.q_a_proj",
    "self_attn.q_b_proj",
    "self_attn.kv_a_proj_with_mqa",
    "self_attn.kv_b_proj",
    "self_attn.o_proj",
)
_MLP = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
_EXPERTS = ("mlp.experts.{e}.gate_proj", "mlp.experts.{e}.up_proj", "mlp.experts.{e}.down_proj")
_W123 = ("block_sparse_moe.experts.{e}.w1", "block_sparse_moe.experts.{e}.w2", "block_sparse_moe.experts.{e}.w3")
_DEEPSEEK_NAMES = {
    "attention": _MLA,
    "dense_ffn": _MLP,
    "routed_experts": _EXPERTS,
    "shared_experts": ("mlp.shared_experts.gate_proj", "mlp.shared_experts.up_proj", "mlp.shared_experts.down_proj"),
    "other": (
        "mlp.gate",
        "input_layernorm",
        "post_attention_layernorm",
        "self_attn.q_a_layernorm",
        "self_attn.kv_a_layernorm",
    ),
}
_DENSE_NAMES = {
    "attention": _ATTN,
    "dense_ffn": _MLP,
    "other": ("input_layernorm", "post_attention_layernorm", "self_attn.q_norm", "self_attn.k_norm"),
}


_QWEN3_NEXT_NAMES = {
    "attention": _ATTN,
    "dense_ffn": _MLP,
    "routed_experts": _EXPERTS,
    "linear_mixer": ("linear_attn.in_proj_qkvz", "linear_attn.in_proj_ba", "linear_attn.out_proj"),
    "shared_experts": ("mlp.shared_expert.gate_proj", "mlp.shared_expert.up_proj", "mlp.shared_expert.down_proj"),
    "other": (
        "mlp.gate",
        "mlp.shared_expert_gate",
        "linear_attn.conv1d",
        "linear_attn.norm",
        "self_attn.q_norm",
        "self_attn.k_norm",
    ),
}
_QWEN3_5_GDN = (
    "linear_attn.in_proj_qkv",
    "linear_attn.in_proj_z",
    "linear_attn.in_proj_b",
    "linear_attn.in_proj_a",
    "linear_attn.out_proj",
)


@dataclass(frozen=True)
class ModuleNames:
    """How a model type's checkpoints name the modules of its text model."""

    layers: Mapping[str, tuple[str, ...]]  # component (or "other") -> module names inside `layers.{i}.`
    model: str = "model."  # the text model's prefix in a text-only checkpoint
    top: tuple[str, ...] = ("embed_tokens", "norm")  # modules of the text model outside its layers
    layer_list: str = "layers"


MODULE_NAMES: dict[str, ModuleNames] = {
    **{
        t: ModuleNames(_DENSE_NAMES)
        for t in ("llama", "mistral", "ministral3", "qwen3", "olmo2", "olmo3", "smollm3", "gemma3_text", "granite")
    },
    # Phi-3's checkpoints fuse q/k/v into qkv_proj and gate/up into gate_up_proj
    "phi3": ModuleNames(
        {
            "attention": ("self_attn.qkv_proj", "self_attn.o_proj"),
            "dense_ffn": ("mlp.gate_up_proj", "mlp.down_proj"),
            "other": ("input_layernorm", "post_attention_layernorm"),
        }
    ),
    "gemma3n_text": ModuleNames(
        _DENSE_NAMES
        | {
            "other": _DENSE_NAMES["other"]
            + ("altup", "laurel", "per_layer_input_gate", "per_layer_projection", "self_attn.v_norm")
        },
        top=(
            "embed_tokens",
            "norm",
            "embed_tokens_per_layer",
            "per_layer_model_projection",
            "altup_projections",
            "altup_unembed_projections",
        ),
    ),
    "hy_v3": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": _MLP,
            "routed_experts": _EXPERTS,
            "shared_experts": ("mlp.shared_mlp.gate_proj", "mlp.shared_mlp.up_proj", "mlp.shared_mlp.down_proj"),
            "other": (
                "mlp.router.gate",
                "mlp.expert_bias",
                "input_layernorm",
                "post_attention_layernorm",
                "self_attn.q_norm",
                "self_attn.k_norm",
            ),
        }
    ),
    "laguna": ModuleNames(
        {
            "attention": _ATTN + ("self_attn.g_proj",),
            "dense_ffn": _MLP,
            "routed_experts": _EXPERTS,
            "shared_experts": (
                "mlp.shared_experts.gate_proj",
                "mlp.shared_experts.up_proj",
                "mlp.shared_experts.down_proj",
            ),
            "other": (
                "mlp.gate",
                "input_layernorm",
                "post_attention_layernorm",
                "self_attn.q_norm",
                "self_attn.k_norm",
            ),
        }
    ),
    "mixtral": ModuleNames({"attention": _ATTN, "routed_experts": _W123, "other": ("block_sparse_moe.gate",)}),
    "minimax_m2": ModuleNames(
        {
            "attention": _ATTN,
            "routed_experts": _W123,
            "other": (
                "block_sparse_moe.gate",
                "block_sparse_moe.e_score_correction_bias",
                "self_attn.q_norm",
                "self_attn.k_norm",
            ),
        }
    ),
    **{
        t: ModuleNames(
            {
                "attention": _ATTN,
                "dense_ffn": _MLP,
                "routed_experts": _EXPERTS,
                "other": ("mlp.gate", "self_attn.q_norm", "self_attn.k_norm"),
            }
        )
        for t in ("qwen3_moe", "olmoe")
    },
    "qwen3_next": ModuleNames(_QWEN3_NEXT_NAMES),
    # Qwen3.5 splits the Gated DeltaNet input projection; its MoE type has no dense layers, its dense type no experts
    "qwen3_5_moe_text": ModuleNames(
        {k: v for k, v in _QWEN3_NEXT_NAMES.items() if k != "dense_ffn"} | {"linear_mixer": _QWEN3_5_GDN}
    ),
    "qwen3_5_text": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": _MLP,
            "linear_mixer": _QWEN3_5_GDN,
            "other": ("linear_attn.conv1d", "linear_attn.norm", "self_attn.q_norm", "self_attn.k_norm"),
        }
    ),
    **{t: ModuleNames(_DEEPSEEK_NAMES) for t in ("deepseek_v3", "kimi_k2")},
    "deepseek_v32": ModuleNames(
        _DEEPSEEK_NAMES
        | {"attention": _MLA + ("self_attn.indexer.wq_b", "self_attn.indexer.wk", "self_attn.indexer.weights_proj")}
    ),
    "glm4_moe": ModuleNames(_DEEPSEEK_NAMES | {"attention": _ATTN}),
    "glm_moe_dsa": ModuleNames(
        _DEEPSEEK_NAMES
        | {
            "attention": _MLA + ("self_attn.indexer.wq_b", "self_attn.indexer.wk", "self_attn.indexer.weights_proj"),
            "other": _DEEPSEEK_NAMES["other"] + ("self_attn.indexer.k_norm",),
        }
    ),
    **{t: ModuleNames(_DEEPSEEK_NAMES | {"attention": _ATTN}) for t in ("mimo_v2_flash", "mimo_v2")},
    "kimi_linear": ModuleNames(
        _DEEPSEEK_NAMES
        | {
            "attention": (
                "self_attn.q_proj",
                "self_attn.kv_a_proj_with_mqa",
                "self_attn.kv_b_proj",
                "self_attn.o_proj",
            ),
            "linear_mixer": (
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.o_proj",
                "self_attn.f_a_proj",
                "self_attn.f_b_proj",
                "self_attn.b_proj",
                "self_attn.g_a_proj",
                "self_attn.g_b_proj",
            ),
            "routed_experts": ("mlp.experts.gate_up_proj", "mlp.experts.down_proj"),  # fused, as transformers has them
            "other": _DEEPSEEK_NAMES["other"]
            + (
                "self_attn.f_proj",
                "self_attn.g_proj",
                "self_attn.q_conv1d",
                "self_attn.k_conv1d",
                "self_attn.v_conv1d",
                "self_attn.A_log",
                "self_attn.dt_bias",
                "self_attn.o_norm",
            ),
        }
    ),
    # gpt-oss and Llama 4 store their experts fused: one module holding every expert's weights
    "gpt_oss": ModuleNames(
        {
            "attention": _ATTN,
            "routed_experts": ("mlp.experts.gate_up_proj", "mlp.experts.down_proj"),
            "other": ("mlp.router", "self_attn.sinks"),
        }
    ),
    "llama4_text": ModuleNames(
        {
            "attention": _ATTN,
            "dense_ffn": ("feed_forward.gate_proj", "feed_forward.up_proj", "feed_forward.down_proj"),
            "routed_experts": ("feed_forward.experts.gate_up_proj", "feed_forward.experts.down_proj"),
            "shared_experts": (
                "feed_forward.shared_expert.gate_proj",
                "feed_forward.shared_expert.up_proj",
                "feed_forward.shared_expert.down_proj",
            ),
            "other": ("feed_forward.router", "input_layernorm", "post_attention_layernorm"),
        }
    ),
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
    "gpt2": ModuleNames(
        {
            "attention": ("attn.c_attn", "attn.c_proj"),
            "dense_ffn": ("mlp.c_fc", "mlp.c_proj"),
            "other": ("ln_1", "ln_2"),
        },
        model="transformer.",
        top=("wte", "wpe", "ln_f"),
        layer_list="h",
    ),
}
# Where a multimodal wrapper's checkpoints put the text model and its LM head (transformers 5, the older layout)
WRAPPER_LAYOUTS = (("model.language_model.", "lm_head"), ("language_model.model.", "language_model.lm_head"))
# Entries naming the parts of a multimodal checkpoint outside its text model (vision tower, projector, audio)
NON_TEXT_ENTRY = re.compile(
    r"vision|multi_modal|multimodal|mm_|patch_merger|audio|embed_vision|embed_audio|"
    r"image|projector|visual"
)
LINEAR_COMPONENTS = ("attention", "linear_mixer", "dense_ffn", "routed_experts", "shared_experts")


@dataclass(frozen=True)
class QuantMethod:
    keys: frozenset[str]  # keys read
    irrelevant: frozenset[str]
    candidates: tuple[str, ...]  # components the method quantises unless told otherwise


QUANT_METHODS = {
    # transformers' FineGrainedFP8: every nn.Linear but the LM head; scale_fmt (ue8m0: 1-byte scales) is
    # within the fp8_block128 format's allowance of one fp32 scale per 128 x 128 block
    "fp8": QuantMethod(
        frozenset({"quant_method", "weight_block_size", "fmt", "modules_to_not_convert", "ignored_layers"}),
        frozenset({"activation_scheme", "scale_fmt"}),
        LINEAR_COMPONENTS,
    ),
    # transformers' Mxfp4: the MoE experts only
    "mxfp4": QuantMethod(frozenset({"quant_method", "modules_to_not_convert"}), frozenset(), ("routed_experts",)),
    # compressed-tensors: the `targets` (Linear) of its config group, minus `ignore`
    "compressed-tensors": QuantMethod(
        frozenset({"quant_method", "config_groups", "ignore"}),
        frozenset(
            {
                "format",
                "quantization_status",
                "global_compression_ratio",
                "kv_cache_scheme",
                "version",
                "sparsity_config",
                "transform_config",
            }
        ),
        LINEAR_COMPONENTS + ("lm_head",),
    ),
}
CT_GROUP_KEYS = frozenset({"targets", "weights", "input_activations", "output_activations", "format"})
CT_WEIGHT_KEYS = frozenset(
    {
        "num_bits",
        "type",
        "strategy",
        "group_size",
        "block_structure",
        "symmetric",
        "dynamic",
        "actorder",
        "observer",
        "observer_kwargs",
        "zp_dtype",
        "scale_dtype",
    }
)


def _weights(cfg: Config, model, text_type: str, model_type: str) -> Optional[dict]:
    """The spec's `weights:` block from quantization_config: the format of each quantised component."""
    q = cfg.mapping("quantization_config")
    if not q:
        return None
    path = ("quantization_config",)
    method_name = q.get("quant_method")
    if not isinstance(method_name, str) or method_name not in QUANT_METHODS:
        raise cfg.error(
            path + ("quant_method",),
            f"quantization method {_show(method_name)} is not supported",
            f"supported: {', '.join(QUANT_METHODS)}",
        )
    method = QUANT_METHODS[method_name]
    for key in q:
        if key not in method.keys | method.irrelevant:
            raise cfg.error(
                path + (key,),
                f"unknown key `{key}` for quant_method {method_name}",
                did_you_mean(str(key), method.keys | method.irrelevant),
            )
    if method_name == "fp8":
        fmt = q.get("fmt", "e4m3")
        # both element formats are one byte; MiniMax's configs name them by torch dtype ("float8_e4m3fn")
        if fmt not in FP8_ELEMENT_FORMATS:
            raise cfg.error(
                path + ("fmt",), f"fp8 format {_show(fmt)} is not supported", " or ".join(FP8_ELEMENT_FORMATS)
            )
        block = q.get("weight_block_size")
        if block not in (None, [128, 128]):
            raise cfg.error(
                path + ("weight_block_size",),
                f"block {_show(block)} has no llmarch format",
                "fp8 with [128, 128] blocks (fp8_block128) or per-tensor scales (fp8)",
            )
        fmt_name = "fp8_block128" if block else "fp8"
        lists = ("modules_to_not_convert", "ignored_layers")
    elif method_name == "mxfp4":
        fmt_name, lists = "mxfp4", ("modules_to_not_convert",)
    else:
        fmt_name, lists = _compressed_tensors(cfg, q), ("ignore",)
    ignore: list[tuple[tuple, str]] = []  # (config path, entry)
    for key in lists:
        entries = q.get(key)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise cfg.error(path + (key,), f"expected a list of module names or patterns, got {_show(entries)}")
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                raise cfg.error(path + (key, i), f"expected a module name or pattern, got {_show(entry)}")
            if entry.startswith("re:"):
                try:
                    re.compile(entry[3:])
                except re.error as exc:
                    raise cfg.error(
                        path + (key, i), f"pattern {_show(entry)} is not a valid regular expression ({exc})"
                    ) from None
            ignore.append((path + (key, i), entry))
    scheme = MODULE_NAMES[text_type]
    layouts = WRAPPER_LAYOUTS if model_type != text_type else ((scheme.model, "lm_head"),)
    # one naming per checkpoint layout: an entry names modules of one layout or the other
    namings = [_module_names(model, scheme, prefix, head) for prefix, head in layouts]
    for where, entry in ignore:
        if NON_TEXT_ENTRY.search(entry):
            continue  # the vision tower, projector or audio encoder: outside the text model
        if not any(_matches(entry, n) for names in namings for group in names.values() for n in group):
            example = namings[0]
            raise cfg.error(
                where,
                f"ignore entry {_show(entry)} names no module of a `{model_type}` checkpoint "
                "that import-hf knows, so it cannot tell which weights the entry keeps unquantised",
                f"module names look like {example['attention'][0] if example.get('attention') else ''} "
                f"and {example['lm_head'][0] if example.get('lm_head') else 'lm_head'}; if the entry "
                "names nothing in this model, remove it from a copy of the config",
            )
    overrides = {}
    for comp in method.candidates:
        if not namings[0].get(comp):
            continue
        covered = False
        for names in namings:
            skipped = [n for n in names[comp] if any(_matches(p, n) for _, p in ignore)]
            if skipped and len(skipped) < len(names[comp]):
                kept = [n for n in names[comp] if n not in skipped]
                raise cfg.error(
                    path,
                    f"the ignore list keeps part of `{comp}` unquantised ({', '.join(skipped[:3])}"
                    f"{', ...' if len(skipped) > 3 else ''}) but not the rest ({kept[0]}"
                    f"{', ...' if len(kept) > 1 else ''}); llmarch's weight formats are per component",
                )
            covered = covered or bool(skipped)
        if not covered:
            overrides[comp] = fmt_name
    return {"dtype": "bf16", "overrides": overrides} if overrides else None


def _module_names(model, scheme: ModuleNames, prefix: str, head: str) -> dict[str, list[str]]:
    """Every module name of each component the model has (in each layer holding it; first and last expert) under
    one checkpoint layout; "other" holds the modules no weight format covers, "lm_head" the untied head."""
    out: dict[str, list[str]] = {"other": [prefix + m for m in scheme.top] + ([head] if model.tie_embeddings else [])}
    if not model.tie_embeddings:
        out["lm_head"] = [head]
    for layer in model.layers:
        moe = layer.moe
        present = {
            "attention": layer.attention is not None,
            "linear_mixer": any(x is not None for x in (layer.gated_deltanet, layer.kda, layer.mamba2)),
            "dense_ffn": layer.dense is not None,
            "routed_experts": moe is not None,
            "shared_experts": moe is not None and moe.shared is not None,
            "other": True,
        }
        experts = sorted({0, moe.n_experts - 1}) if moe is not None else [0]
        for comp, here in present.items():
            if not here:
                continue
            for module in scheme.layers.get(comp, ()):
                for e in experts if "{e}" in module else [0]:
                    out.setdefault(comp, []).append(f"{prefix}{scheme.layer_list}.{layer.index}.{module.format(e=e)}")
    return out


def _matches(pattern: str, name: str) -> bool:
    """compressed-tensors' `re:` patterns, or module names with `*` wildcards matched as a suffix (transformers)."""
    if pattern.startswith("re:"):
        return re.match(pattern[3:], name) is not None
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.search(rf"(^|\.){regex}($|\.)", name) is not None


FP8_ELEMENT_FORMATS = ("e4m3", "e5m2", "float8_e4m3fn", "float8_e5m2")


def _compressed_tensors(cfg: Config, q: dict) -> str:
    path = ("quantization_config", "config_groups")
    groups = q.get("config_groups")
    if not isinstance(groups, dict) or len(groups) != 1:
        raise cfg.error(path, "exactly one config group is supported (one weight format for the quantised layers)")
    ((group_name, group),) = groups.items()
    path += (group_name,)
    if not isinstance(group, dict):
        raise cfg.error(path, f"expected a mapping (targets, weights), got {_show(group)}")
    for key in group:
        if key not in CT_GROUP_KEYS:
            raise cfg.error(
                path + (key,),
                f"unknown key `{key}` in a compressed-tensors config group",
                did_you_mean(str(key), CT_GROUP_KEYS),
            )
    if group.get("targets") != ["Linear"]:
        raise cfg.error(
            path + ("targets",), f"targets {_show(group.get('targets'))} are not supported", 'targets: ["Linear"]'
        )
    w = group.get("weights") or {}
    if not isinstance(w, dict):
        raise cfg.error(path + ("weights",), f"expected a mapping (num_bits, type, strategy...), got {_show(w)}")
    for key in w:
        if key not in CT_WEIGHT_KEYS:
            raise cfg.error(
                path + ("weights", key),
                f"unknown key `{key}` in compressed-tensors weights",
                did_you_mean(str(key), CT_WEIGHT_KEYS),
            )
    bits, kind, strategy = w.get("num_bits"), w.get("type"), w.get("strategy")
    if (bits, kind, strategy) == (4, "int", "group") and w.get("group_size") in (32, 128):
        return f"int4_g{w['group_size']}"
    if (bits, kind, strategy) == (8, "float", "block") and w.get("block_structure") == [128, 128]:
        return "fp8_block128"
    if (bits, kind) == (8, "float") and strategy in ("tensor", "channel"):
        return "fp8"
    if (bits, kind) == (8, "int"):
        return "int8"
    raise cfg.error(
        path + ("weights",),
        f"{bits}-bit {kind} weights with strategy {_show(strategy)} have no llmarch format",
        "supported: int4 groups of 32 or 128, fp8 blocks of 128 x 128, fp8 per tensor/channel, int8",
    )


# ---------------------------------------------------------------------------
# The import


@dataclass
class Imported:
    spec: dict  # the spec document, in the order of the spec format
    model_type: str
    source: str  # the config file
    defaulted: list[tuple[str, str]]  # (config key, the default applied)
    ignored: list[str]  # irrelevant keys the config holds
    off: list[str]  # keys of rejected features, present at a value that leaves them off
    unread: list[str]  # mapped keys present but not read (a table bug; empty in every test)


NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")


def import_config(config: dict, *, name: str, source: str, marks: Optional[dict] = None) -> Imported:
    """A parsed config.json -> the spec it describes; `source` names the file in errors and in the spec.

    Any bad value is a `SpecError` naming the key; an exception the readers did not foresee is turned into an
    `LlmarchError` naming the file and model type (a value import-hf cannot read), never a traceback.
    """
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > 64:
        raise LlmarchError(
            f"`{name}` is not a spec name: lowercase letters, digits, `.` and `-`, "
            "starting with a letter or digit (give --name)"
        )
    if not isinstance(config, dict):
        raise SpecError("a config.json is a JSON object", file=source)
    try:
        return _import(config, name, source, marks)
    except LlmarchError:
        raise
    except (
        TypeError,
        ValueError,
        ZeroDivisionError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
        OverflowError,
    ) as exc:
        model_type = config.get("model_type")
        raise LlmarchError(
            f"{source}: a value import-hf cannot read (model type {_show(model_type)}): "
            f"{type(exc).__name__}: {exc}; check the config's values against transformers' config class"
        ) from None


def _model_type(located: Located, data: dict, path: tuple, default: Optional[str] = None) -> Optional[str]:
    value = data.get("model_type", default)
    if value is not None and not isinstance(value, str):
        raise located.error(path + ("model_type",), f"expected a model type name, got {_show(value)}")
    return value


def _import(config: dict, name: str, source: str, marks: Optional[dict]) -> Imported:
    located = Located(data=config, file=source, marks=marks or {})
    src = _Source(located=located)
    model_type = _model_type(located, config, ())
    if model_type is None:
        raise located.error((), "the config has no `model_type`", f"supported: {', '.join(SUPPORTED_TYPES)}")
    if model_type not in TEXT_TYPES and model_type not in WRAPPER_TYPES:
        hint = did_you_mean(str(model_type), SUPPORTED_TYPES)
        raise located.error(
            ("model_type",),
            f"model type {_show(model_type)} is not supported by import-hf",
            (hint + " " if hint else "") + f"supported: {', '.join(SUPPORTED_TYPES)}",
        )
    readers: list[Config] = []
    reference = None
    if model_type in WRAPPER_TYPES:
        wrapper_type = WRAPPER_TYPES[model_type]
        wrapper = Config(config, model_type, wrapper_type.keys, src)
        wrapper.check_keys()
        text_data = wrapper.mapping("text_config") or {}
        text_name = _model_type(located, text_data, ("text_config",), wrapper_type.text_types[0])
        if text_name not in wrapper_type.text_types:
            raise wrapper.error(
                ("text_config", "model_type"),
                f"text model type {_show(text_name)} is not supported in a {model_type} wrapper",
                f"supported: {', '.join(wrapper_type.text_types)}",
            )
        text_type = TEXT_TYPES[text_name]
        cfg = Config(text_data, text_name, text_type.keys, src, ("text_config",))
        cfg.check_keys()
        body = text_type.build(cfg)
        _settle(body)
        cfg.check_consistency()
        # The wrapper's tie_word_embeddings when it states one.  When it is silent, the text config's: checkpoints
        # written by transformers 4 (Mistral Small 3.1) tie only when the text config says so, although
        # transformers 5 would apply the wrapper class's default.
        if wrapper.has("tie_word_embeddings"):
            body["tie_embeddings"] = wrapper.bool("tie_word_embeddings")
        readers += [wrapper, cfg]
        if wrapper_type.vision_types:
            vision = _vision(wrapper, wrapper_type, src)
            params = VISION_TYPES[vision.type_name].count(vision) + wrapper_type.projector(
                wrapper, vision, body["d_model"]
            )
            reference = [
                {
                    "source": source,
                    "note": "no published figure; the adjustment holds the checkpoint's parts outside the text model",
                    "adjustments": [
                        {
                            "what": f"{VISION_TYPES[vision.type_name].what} and multimodal projector "
                            f"({model_type} vision_config, counted in closed form)",
                            "kind": "vision_tower",
                            "params": params,
                        }
                    ],
                }
            ]
            readers.append(vision)
        else:
            wrapper.touch("vision_config", "audio_config")  # described in the notes, not read
        family, note, quant_reader = wrapper_type.family, wrapper_type.towers_note, wrapper
        if cfg.has("quantization_config"):
            if wrapper.get("quantization_config"):
                raise cfg.error(
                    "quantization_config", "both the wrapper and its text_config hold a quantization_config"
                )
            quant_reader = cfg
    else:
        text_type = TEXT_TYPES[model_type]
        cfg = Config(config, model_type, text_type.keys, src)
        cfg.check_keys()
        body = text_type.build(cfg)
        _settle(body)
        cfg.check_consistency()
        readers.append(cfg)
        family, note, quant_reader = text_type.family, text_type.note, cfg

    notes = [f"Imported by `llmarch import-hf` from {source} (model_type {model_type})."]
    if model_type in WRAPPER_TYPES:
        notes.append(
            "Text model of a multimodal checkpoint"
            + ("; the vision tower is a reference adjustment." if reference else ".")
        )
    if note:
        notes.append(note + ".")
    spec = {"name": name, "family": family, "sources": {"config": source}, **body}
    if reference:
        spec["reference"] = reference
    # the spec must load; resolved once, before the weights block (its formats and components are fixed names)
    model = _resolve(spec, source)
    weights = _weights(quant_reader, model, text_type.name, model_type)
    if weights:
        spec["weights"] = weights
    if src.defaulted:
        notes.append(
            "Keys absent from the config took transformers' defaults: "
            + "; ".join(f"{k} = {v}" for k, v in src.defaulted)
            + "."
        )
    spec["notes"] = " ".join(notes)
    if not spec.get("layers"):
        spec.pop("layers", None)  # every layer global attention + the default FFN
    spec = _ordered(spec)
    unread = [r.where(k) for r in readers for k in r.data if k in r.keys.mapped and k not in r.read]
    return Imported(spec, model_type, source, list(src.defaulted), list(src.ignored), list(src.off), unread)


def _vision(wrapper: Config, wrapper_type: WrapperType, src: _Source) -> Config:
    data = wrapper.mapping("vision_config") or {}
    name = _model_type(src.located, data, ("vision_config",), wrapper_type.vision_types[0])
    name = wrapper_type.vision_renames.get(name, name)
    if name not in wrapper_type.vision_types:
        raise wrapper.error(
            ("vision_config", "model_type"),
            f"vision model type {_show(name)} is not supported in a {wrapper_type.name} wrapper",
            f"supported: {', '.join(wrapper_type.vision_types)}",
        )
    vision = Config(data, name, VISION_TYPES[name].keys, src, ("vision_config",))
    vision.check_keys()
    return vision


def _resolve(spec: dict, source: str):
    """The spec's IR; a spec llmarch rejects is reported by the spec field and the config it came from."""
    from .resolve import to_ir, validate

    located = Located(data=spec, file=f"<spec imported from {source}>")
    try:
        return to_ir(validate(located), located)
    except SpecError as exc:
        where = f"field `{exc.field}` of " if exc.field else ""
        raise LlmarchError(
            f"{source}: the config's values make a spec llmarch cannot represent: {where}the "
            f"imported spec: {exc.message}" + (f"; {exc.suggestion}" if exc.suggestion else "")
        ) from None


def _ordered(spec: dict) -> dict:
    from .schema import Spec

    order = list(Spec.model_fields)
    return {k: spec[k] for k in sorted(spec, key=order.index)}


# ---------------------------------------------------------------------------
# Reading a file, writing YAML

# Limits, documented in README ("Bad input"): a real config.json is a few KiB with a few hundred values;
# at these limits import-hf of any accepted file stays within seconds and a few hundred MB.
MAX_CONFIG_BYTES = 1_000_000
MAX_CONFIG_VALUES = 50_000
MAX_CONFIG_DEPTH = 50

# strings, brackets and numbers of a JSON text: enough to measure nesting and count values without parsing
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]|-?[0-9][0-9.eE+-]*|true|false|null')


class _DuplicateKey(Exception):
    pass


def import_file(path: str, name: Optional[str] = None) -> Imported:
    """Read a config.json (errors located by line and column) and import it."""
    raw = read_bounded(Path(path), MAX_CONFIG_BYTES, "a config.json is a few KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"file is not UTF-8 text (byte {exc.start})", file=path, line=line) from None
    _check_json_size(text, path)

    def no_duplicates(pairs: list) -> dict:
        out = dict(pairs)
        if len(out) < len(pairs):
            raise _DuplicateKey
        return out

    try:
        config = json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise SpecError(f"malformed JSON: {exc.msg}", file=path, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey:
        duplicate = _json_marks(text, path)[1]
        raise duplicate or SpecError(
            "an object has the same key twice (JSON keeps the last value)", file=path
        ) from None
    if not isinstance(config, dict):
        raise SpecError(
            f"the document is a JSON {type(config).__name__}, not an object of keys to values", file=path, line=1
        )
    return import_config(config, name=name or default_name(path), source=path, marks=_json_marks(text, path)[0])


def _check_json_size(text: str, file: str) -> None:
    """Refuse, located, JSON nested deeper than MAX_CONFIG_DEPTH, with more than MAX_CONFIG_VALUES values,
    or with an integer longer than MAX_INT_DIGITS digits, before parsing it (deep nesting ends in
    RecursionError, a 4,301-digit integer in ValueError, and a huge document in minutes of work)."""

    def where(index: int) -> dict:
        line = text.count("\n", 0, index) + 1
        return {"file": file, "line": line, "column": index - (text.rfind("\n", 0, index) + 1) + 1}

    depth = values = 0
    for token in _JSON_TOKEN.finditer(text):
        first = token.group()[0]
        if first in "]}":
            depth -= 1
            continue
        values += 1
        if values > MAX_CONFIG_VALUES:
            raise SpecError(
                f"more than {MAX_CONFIG_VALUES:,} keys and values; a config.json holds a few hundred",
                **where(token.start()),
            )
        if first in "[{":
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                raise SpecError(f"nested more than {MAX_CONFIG_DEPTH} levels deep", **where(token.start()))
        elif first in "-0123456789":
            digits = len(re.match(r"-?([0-9]*)", token.group()).group(1))
            if digits > MAX_INT_DIGITS:
                raise SpecError(
                    f"a {digits:,}-digit number is too long (at most {MAX_INT_DIGITS} digits)", **where(token.start())
                )


def default_name(path: str) -> str:
    """A spec name from the config's path: its folder for `config.json` (…/Qwen3-8B/config.json -> qwen3-8b)."""
    p = Path(path)
    return clean_name(p.parent.resolve().name if p.stem == "config" else p.stem)


def clean_name(text: str) -> str:
    """A spec name from a file or folder name: lowercase, runs of other characters as `-` (Qwen3_8B -> qwen3-8b)."""
    name = re.sub(r"[^a-z0-9.\-]+", "-", text.lower()).strip("-.")[:64]
    return name or "imported"


def _json_marks(text: str, file: str) -> tuple[dict, Optional[SpecError]]:
    """Line and column of every key path (JSON is YAML, so PyYAML's composer gives positions); {} if it cannot.

    Also the error for the first key that appears twice in one object, at its second appearance (or None).
    """
    import yaml

    marks: dict[tuple, tuple[str, int, int]] = {}
    duplicates: list[SpecError] = []

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                sub = path + (key.value,)
                if key.value in seen and not duplicates:
                    duplicates.append(
                        SpecError(
                            f"duplicate key `{key.value}` (JSON readers silently keep the last value; remove one)",
                            file=file,
                            line=key.start_mark.line + 1,
                            column=key.start_mark.column + 1,
                            field=format_path(sub),
                        )
                    )
                seen.add(key.value)
                marks[sub] = (file, key.start_mark.line + 1, key.start_mark.column + 1)
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                marks[path + (i,)] = (file, item.start_mark.line + 1, item.start_mark.column + 1)
                walk(item, path + (i,))

    try:
        walk(yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)), ())
    except yaml.YAMLError:
        return {}, None
    return marks, (duplicates[0] if duplicates else None)


def spec_yaml(imported: Imported) -> str:
    """The spec as YAML, with a header saying where it came from and which defaults it took."""
    lines = [
        f"# Imported by `llmarch import-hf` from {imported.source} (model_type {imported.model_type}).",
        "# No published parameter figures: add a `reference:` block with its source to check the counts.",
    ]
    if imported.defaulted:
        lines.append("# Keys absent from the config, given transformers' defaults:")
        lines += [f"#   {key} = {value}" for key, value in imported.defaulted]
    else:
        lines.append("# Every mapped key is stated in the config (no defaults applied).")
    for label, keys in (
        ("Keys at the only value import-hf supports", imported.off),
        ("Ignored as irrelevant to the architecture", imported.ignored),
    ):
        if keys:
            text = f"{label}: " + ", ".join(keys) + "."
            lines += ["# " + line for line in textwrap.wrap(text, 110, break_on_hyphens=False)]
    for key, value in imported.spec.items():
        lines += _yaml_lines(key, value, 0)
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    import yaml

    return yaml.safe_dump([value], default_flow_style=True, width=10**9, sort_keys=False, allow_unicode=True).strip()[
        1:-1
    ]


def _yaml_lines(key: str, value: Any, depth: int) -> list[str]:
    pad = "  " * depth
    if isinstance(value, dict):
        flow = _flow(value)
        if len(pad) + len(key) + 2 + len(flow) <= 110:
            return [f"{pad}{key}: {flow}"]
        lines = [f"{pad}{key}:"]
        for k, v in value.items():
            lines += _yaml_lines(k, v, depth + 1)
        return lines
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        lines = [f"{pad}{key}:"]
        for item in value:
            sub = [line for k, v in item.items() for line in _yaml_lines(k, v, depth + 2)]
            sub[0] = f"{pad}  - {sub[0].lstrip()}"
            lines += sub
        return lines
    long_text = isinstance(value, str) and len(pad) + len(key) + 2 + len(value) > 110
    if long_text and value == value.strip() and "\n" not in value:  # a folded block scalar
        wrapped = textwrap.wrap(value, 108 - len(pad), break_long_words=False, break_on_hyphens=False)
        return [f"{pad}{key}: >-"] + [f"{pad}  {line}" for line in wrapped]
    return [f"{pad}{key}: {_flow(value)}"]
