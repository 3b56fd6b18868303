"""`llmarch import-hf`: every shipped spec's upstream config imports to the same IR and the same analysis;
the hard-coded defaults are transformers'; bad input fails with a located message and exit code 2."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import llmarch
from conftest import CONFIGS, SPEC_NAMES, has_config, multimodal_params_of, unique_params, upstream_config
from llmarch.analyze.flops import decode, prefill
from llmarch.analyze.kvcache import kv_cache
from llmarch.analyze.weights import weight_bytes
from llmarch.cli import app
from llmarch.errors import LlmarchError, SpecError
from llmarch.importers import hf as import_hf
from llmarch.importers.hf import import_config, import_file, spec_yaml
from llmarch.spec.resolve import to_ir
from llmarch.spec.validate import validate
from llmarch.spec.yamlsafe import load_text

runner = CliRunner()

# ---------------------------------------------------------------------------
# The cases: a verbatim config.json, or the values collected in <name>.values.yaml

VALUES = sorted(p.name[: -len(".values.yaml")] for p in CONFIGS.glob("*.values.yaml"))

# Keys of a .values.yaml that are the collector's annotations, not config.json keys
ANNOTATIONS = {
    "gemma-3-12b": [("text_config", "qk_norm"), ("text_config", "norms_per_layer")],
    "olmo-2-13b": [("qk_norm",), ("norm_placement",)],
    "olmo-2-32b": [("qk_norm",), ("norm_placement",)],
    "ministral-3-3b": [("quantization_config",)],  # prose about the releases' formats, not a config block
    "ministral-3-14b": [("quantization_config",)],
}
# Shipped specs whose collected values name no model type the issue asks import-hf to support
NOT_IMPORTABLE = {
    "grok-2.5": "model_type `git` (xAI's own code; no transformers implementation)",
    "mistral-large-3": "no model_type (vLLM's MistralLarge3ForCausalLM)",
    "sarvam-30b": "model_type `sarvam_moe` (Sarvam's remote code; transformers 5.23 has no implementation)",
    "sarvam-105b": "model_type `sarvam_mla` (Sarvam's remote code; transformers 5.23 has no implementation)",
}


def _values(name: str) -> dict:
    values = copy.deepcopy(yaml.safe_load((CONFIGS / f"{name}.values.yaml").read_text())["values"])
    for path in ANNOTATIONS.get(name, []):
        node = values
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
    return values


# Verbatim configs import-hf refuses, each with the reason and the key whose removal (from a copy) lets the rest
# import: the import of that copy is what the tests below compare with the shipped spec
REFUSED_CONFIGS = {
    "mimo-v2.5-pro": (
        ("quantization_config", "ignored_layers"),
        "its fp8 ignore list keeps every o_proj in bf16 but not the fused qkv_proj (llmarch's weight formats are "
        "per component) and names model.decoder.self_attn.o_proj, no module of the text model",
    ),
    "mimo-v2.5": (
        ("quantization_config", "ignored_layers"),
        "the same ignore list as MiMo-V2.5-Pro's: every o_proj (model.layers.0-47) and model.decoder.self_attn.o_proj",
    ),
}


def _refused_key_removed(name: str) -> dict:
    """A copy of a refused verbatim config without the key its refusal names."""
    raw = copy.deepcopy(upstream_config(name))
    *parents, key = REFUSED_CONFIGS[name][0]
    node = raw
    for part in parents:
        node = node[part]
    del node[key]
    return raw


def _cases():
    for name in SPEC_NAMES:
        if has_config(name):
            yield pytest.param(name, "config", id=name)
        elif name in VALUES:
            marks = [pytest.mark.skip(reason=NOT_IMPORTABLE[name])] if name in NOT_IMPORTABLE else []
            yield pytest.param(name, "values", id=f"{name}[values]", marks=marks)


CASES = list(_cases())


def _import(name: str, kind: str) -> import_hf.Imported:
    if kind == "config" and name in REFUSED_CONFIGS:
        return import_config(_refused_key_removed(name), name=name, source=str(CONFIGS / f"{name}.json"))
    if kind == "config":
        return import_file(str(CONFIGS / f"{name}.json"), name=name)
    return import_config(_values(name), name=name, source=str(CONFIGS / f"{name}.values.yaml"))


def _ir(imported: import_hf.Imported):
    located = load_text(spec_yaml(imported), f"{imported.spec['name']}.yaml")
    assert located.data == imported.spec  # the YAML says exactly what the importer built
    return to_ir(validate(located), located)


# ---------------------------------------------------------------------------
# Field-by-field comparison of two IRs

# What a config.json cannot know: names, dates, links, published figures and prose
METADATA = ("name", "display_name", "release_date", "aliases", "sources", "references", "notes", "path")

# Differences between a shipped spec and its config, each with its reason; each must actually occur
KNOWN_DIFFERENCES = {
    "minimax-m2": {
        "weight_overrides": "the vendored config is a BF16 port's copy without the upstream FP8 quantization_config",
    },
    "mimo-v2-flash": {"mtp": "the config has no key for MTP modules; the spec's three come from the technical report"},
    "mimo-v2.5": {"mtp": "the config has no key for MTP modules; the spec's three are in the checkpoint's index"},
    "mimo-v2.5-pro": {"mtp": "the config has no key for MTP modules; the spec's three are in the checkpoint's index"},
    "nanbeige-4.1-3b": {"family": "the checkpoint is model_type llama (family llama); the spec names family nanbeige"},
    "mistral-small-4-119b": {
        "context_length": "the config advertises 1,048,576 positions; Mistral announces and serves 256k (262,144)",
    },
    "deepseek-v4-flash": {
        "weight_overrides": "the config has no expert_dtype (the checkpoint's experts are fp4, its tensor list "
        "shows; the spec says mxfp4) and cannot say that the hyper-connections are stored in fp32",
    },
    "deepseek-v4-pro": {
        "weight_overrides": "the config has no expert_dtype (the checkpoint's experts are fp4, its tensor list "
        "shows; the spec says mxfp4) and cannot say that the hyper-connections are stored in fp32",
    },
}
# The analysis figures each known difference moves
ANALYSIS_MOVED = {
    "weight_overrides": {"weights_shipped"},
    "mtp": {"params.mtp"},
    "family": set(),
    "context_length": set(),
}


def _pattern(path: str) -> re.Pattern:
    return re.compile(re.escape(path).replace(r"\[\*\]", r"\[\d+\]") + r"(\.|\[|$)")


def first_difference(a, b, path: str = "", excluded: tuple = ()) -> str | None:
    """The first field path where two IR values differ (dataclasses and tuples walked), or None."""
    if any(p.match(path) for p in excluded):
        return None
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        for f in dataclasses.fields(a):
            found = first_difference(
                getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}" if path else f.name, excluded
            )
            if found:
                return found
        return None
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = first_difference(x, y, f"{path}[{i}]", excluded)
            if found:
                return found
        return None
    return None if a == b else f"{path}: imported {a!r}, shipped {b!r}"


@pytest.mark.parametrize("name,kind", CASES)
def test_import_resolves_to_the_shipped_ir(name, kind):
    imported = _import(name, kind)
    ir, shipped = _ir(imported), llmarch.load(name)
    known = KNOWN_DIFFERENCES.get(name, {})
    assert first_difference(ir, shipped, excluded=tuple(_pattern(p) for p in (*METADATA, *known))) is None
    for path, reason in known.items():  # each exclusion is still needed
        others = tuple(_pattern(p) for p in (*METADATA, *known) if p != path)
        difference = first_difference(ir, shipped, excluded=others)
        assert difference is not None and _pattern(path).match(difference.split(":")[0]), (path, reason)


@pytest.mark.parametrize("name,kind", CASES)
def test_import_gives_the_same_analysis(name, kind):
    ir, shipped = _ir(_import(name, kind)), llmarch.load(name)
    moved = set().union(*(ANALYSIS_MOVED[p] for p in KNOWN_DIFFERENCES.get(name, {})))

    def analysis(model) -> dict:
        count = llmarch.count_params(model)
        out = {f"params.{k}": v for k, v in count.as_dict().items()}
        out["weights_bf16"] = weight_bytes(model, count, "bf16")
        out["weights_shipped"] = weight_bytes(model, count)
        for ctx in (8192, 131072):
            kv = kv_cache(model, ctx).as_dict()
            out[f"kv@{ctx}"] = (
                kv["total_bytes"],
                kv["per_token_bytes_all_layers"],
                [(r["kind"], r["layers"], r["bytes"]) for r in kv["by_layer_kind"]],
            )
        out["prefill@4096"] = dict(prefill(model, 4096).by_component)
        out["decode@32k"] = dict(decode(model, 32768).by_component)
        return out

    mine, theirs = analysis(ir), analysis(shipped)
    for key in mine:
        if key not in moved:
            assert mine[key] == theirs[key], key
    for key in moved:
        assert mine[key] != theirs[key], f"{key} no longer differs: remove the known difference"


@pytest.mark.parametrize("name,kind", CASES)
def test_every_mapped_key_present_is_read(name, kind):
    """A mapped key the builder never reads would be silently ignored."""
    assert _import(name, kind).unread == []


# ---------------------------------------------------------------------------
# The vision tower, counted in closed form, against transformers


WRAPPED = [
    c
    for c in CASES
    if c.values[1] == "config"
    and "text_config" in upstream_config(c.values[0])
    and import_hf.WRAPPER_TYPES[upstream_config(c.values[0])["model_type"]].vision_types  # towers import-hf counts
] + [
    c
    for c in CASES
    if c.values[1] == "values"
    and c.values[0] not in NOT_IMPORTABLE
    and "text_config" in _values(c.values[0])
    and _values(c.values[0]).get("model_type") != "gemma3n"
    and import_hf.WRAPPER_TYPES[_values(c.values[0])["model_type"]].vision_types  # as for verbatim configs
]


@pytest.mark.parametrize("name,kind", WRAPPED)
def test_vision_tower_adjustment_equals_transformers(name, kind):
    raw = upstream_config(name) if kind == "config" else _values(name)
    imported = _import(name, kind)
    (adjustment,) = imported.spec["reference"][0]["adjustments"]
    assert adjustment["kind"] == "vision_tower"
    assert adjustment["params"] == multimodal_params_of(raw)


def test_siglip_attention_pooling_head_when_the_config_omits_vision_use_head():
    """SiglipVisionConfig's default is vision_use_head=True: the pooling head is then counted."""
    raw = copy.deepcopy(upstream_config("gemma-3-4b"))
    del raw["vision_config"]["vision_use_head"]
    imported = import_config(raw, name="g", source="gemma.json")
    assert ("vision_config.vision_use_head", "true") in imported.defaulted
    assert imported.spec["reference"][0]["adjustments"][0]["params"] == multimodal_params_of(raw)


def test_shipped_vision_adjustments_agree():
    """Where a shipped spec records the same adjustment, the numbers are equal."""
    for name in ("gemma-3-27b", "llama-4-scout", "mistral-small-3.1-24b"):
        shipped = [a for r in llmarch.load(name).references for a in r.adjustments if a[0] == "vision_tower"]
        imported = _import(name, "config").spec["reference"][0]["adjustments"][0]["params"]
        assert shipped and shipped[0][2] == imported, name


# ---------------------------------------------------------------------------
# The hard-coded defaults are transformers' (config classes at test time; none at run time)

# Kimi K2 ships DeepSeek-V3's code; transformers implements Xiaomi's mimo_v2 (MiMo-V2.5) as mimo_v2_flash
# LongCat-Flash-Lite's longcat_flash_ngram has no transformers class: its layers are transformers' longcat_flash
TRANSFORMERS_CLASS = {"kimi_k2": "deepseek_v3", "mimo_v2": "mimo_v2_flash", "longcat_flash_ngram": "longcat_flash"}


def _rope_parameters(cfg, layer_type: str = "full_attention") -> dict:
    rp = cfg.rope_parameters or {}
    return rp.get(layer_type, rp) if layer_type in rp else rp


def _period(layer_types: list, full: str = "full_attention") -> int:
    return layer_types.index(full) + 1


# How transformers exposes a default when it is not an attribute of the same name
PROBES = {
    "rope_theta": lambda c: _rope_parameters(c)["rope_theta"],
    "rope_local_base_freq": lambda c: _rope_parameters(c, "sliding_attention")["rope_theta"],
    "swa_rope_theta": lambda c: _rope_parameters(c, "sliding_attention")["rope_theta"],
    "partial_rotary_factor": lambda c: _rope_parameters(c).get("partial_rotary_factor", 1.0),
    "rotary_dim": lambda c: _rope_parameters(c).get("partial_rotary_factor", 1.0) * c.head_dim,
    "sliding_window_pattern": lambda c: _period(c.layer_types),
    "full_attention_interval": lambda c: _period(c.layer_types),
    "head_dim": lambda c: getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads,  # modeling's fallback
    "first_k_dense_replace": lambda c: (  # 0 is a default too (Mistral 4)
        c.first_k_dense_replace
        if getattr(c, "first_k_dense_replace", None) is not None
        else c.mlp_layer_types.index("sparse")
    ),
    "linear_attn_config": lambda c: {
        "head_dim": c.linear_head_dim,
        "num_heads": c.linear_num_heads,
        "short_conv_kernel_size": c.linear_conv_kernel_dim,
        "full_attn_layers": [i + 1 for i, t in enumerate(c.layer_types) if t == "full_attention"],
        "kda_layers": [i + 1 for i, t in enumerate(c.layer_types) if t == "linear_attention"],
    },
    "quantization_config": lambda c: getattr(c, "quantization_config", None),
}
PROBES_BY_TYPE = {
    # transformers expands the width to one per layer; import-hf takes one width for all layers
    ("gemma3n_text", "intermediate_size"): lambda c: (
        c.intermediate_size[0] if len(set(c.intermediate_size)) == 1 else None
    ),
    # DeepseekV32Config has no MTP key: transformers builds no MTP module
    ("deepseek_v32", "num_nextn_predict_layers"): lambda c: getattr(c, "num_nextn_predict_layers", 0),
    ("glm_moe_dsa", "num_nextn_predict_layers"): lambda c: getattr(c, "num_nextn_predict_layers", 0),
    ("hy_v3", "num_nextn_predict_layers"): lambda c: getattr(c, "num_nextn_predict_layers", 0),
    # keyword arguments GlmMoeDsaConfig reads in __post_init__ and does not keep (its defaults, written there)
    ("glm_moe_dsa", "index_topk_pattern"): lambda c: None,
    ("glm_moe_dsa", "index_topk_freq"): lambda c: 1,
    ("glm_moe_dsa", "index_skip_topk_offset"): lambda c: 2,
    # Step3p7TextConfig keeps per_layer_config as a view; as written out it is empty (no sliding layer by default)
    ("step3p5", "per_layer_config"): lambda c: c.to_dict()["per_layer_config"] or None,
    # DeepSeek V4 nests its RoPE by kind: `main` (sliding-only layers, rope_theta) and `compress` (CSA / HCA)
    ("deepseek_v4", "rope_theta"): lambda c: c.rope_parameters["main"]["rope_theta"],
    ("deepseek_v4", "partial_rotary_factor"): lambda c: c.rope_parameters["main"]["partial_rotary_factor"],
    # keyword arguments Gemma4TextConfig reads in __post_init__ into per_layer_config and does not keep
    ("gemma4_text", "global_head_dim"): lambda c: c.per_layer_config[c.layer_types.index("full_attention")].head_dim,
    ("gemma4_text", "num_global_key_value_heads"): lambda c: None,
    # Gemma 4's per-kind geometry: head_dim and num_key_value_heads are per-layer attributes (a sliding layer's)
    ("gemma4_text", "head_dim"): lambda c: c.per_layer_config[c.layer_types.index("sliding_attention")].head_dim,
    ("gemma4_text", "num_key_value_heads"): lambda c: (
        c.per_layer_config[c.layer_types.index("sliding_attention")].num_key_value_heads
    ),
}
# Keys whose default only applies with another key set (transformers nulls them otherwise)
PROBE_WITH = {("qwen3", "sliding_window"): {"use_sliding_window": True}}
# Defaults checked elsewhere or not transformers': each with its reason
NOT_A_TRANSFORMERS_ATTRIBUTE = {
    "text_config": "a sub-config: its own type's defaults are checked",
    "vision_config": "a sub-config: its own type's defaults are checked",
    "audio_config": "Gemma 3n's audio encoder config: described in the spec's notes, not read",
    "experts_per_token": "OpenAI's duplicate of num_experts_per_tok, which transformers reads",
    "layers_block_type": "transformers 5's list form of hybrid_override_pattern (whose default is checked)",
    "mtp_num_hidden_layers": "Qwen3.5's count of MTP modules: transformers has no such key and builds none",
    # Step 3.5's hub keys, which Step3p7TextConfig reads in __post_init__ and does not keep
    "attention_other_setting": "Step 3.5's sliding-layer heads: kept as num_sliding_attention_heads (checked)",
    "moe_layers_enum": "Step 3.5's MoE layers: kept as mlp_layer_types (layers 3 on by default, checked)",
    "partial_rotary_factors": "Step 3.5's per-layer rotary shares: kept in rope_parameters per layer kind",
    # LongCat-Flash-Lite's n-gram keys: absent (None) is no n-gram embedding; transformers has no such key
    "ngram_vocab_size_ratio": "LongCat's n-gram tables, read by the publisher's remote code only",
    "emb_neighbor_num": "LongCat's n-gram orders, read by the publisher's remote code only",
    "emb_split_num": "LongCat's n-gram tables per order, read by the publisher's remote code only",
    # DeepSeek V4's legacy spellings: DeepseekV4Config pops them in __post_init__ and folds them into layer_types,
    # compress_rates and mlp_layer_types (whose defaults are checked); expert_dtype moves into quantization_config
    "compress_ratios": "DeepSeek V4's legacy per-layer ratios, folded into layer_types",
    "compress_rate_csa": "DeepSeek V4's legacy CSA ratio, folded into compress_rates",
    "compress_rate_hca": "DeepSeek V4's legacy HCA ratio, folded into compress_rates",
    "num_hash_layers": "DeepSeek V4's legacy hash-layer count, folded into mlp_layer_types",
    "expert_dtype": "DeepSeek V4's expert format, moved into quantization_config when given",
    "per_layer_config": "Gemma 4's per-layer overrides: absent, transformers builds them from global_head_dim and "
    "num_global_key_value_heads (whose defaults are checked)",
}


def _types():
    for group in (import_hf.TEXT_TYPES, import_hf.WRAPPER_TYPES, import_hf.VISION_TYPES):
        for type_name, t in group.items():
            for key, default in t.keys.mapped.items():
                if default is not import_hf.REQUIRED and key not in NOT_A_TRANSFORMERS_ATTRIBUTE:
                    yield pytest.param(type_name, t.keys, key, id=f"{type_name}.{key}")


def _resolved_defaults(keys):
    """A key -> default reader: the table's defaults alone, read through import-hf's own typed reader."""
    source = import_hf._Source(located=import_hf.Located(data={}, file="defaults"))
    return import_hf.Config({}, "defaults", keys, source).get


@pytest.mark.parametrize("type_name,keys,key", list(_types()))
def test_default_equals_transformers(type_name, keys, key):
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    cls = CONFIG_MAPPING[TRANSFORMERS_CLASS.get(type_name, type_name)]
    cfg = cls(**PROBE_WITH.get((type_name, key), {}))
    get = _resolved_defaults(keys)
    mine = get(key)
    if key in ("rope_scaling", "rope_parameters"):
        # the older key and transformers 5's hold the same thing: the default in effect is whichever is set
        older = get("rope_scaling") if "rope_scaling" in keys.mapped else None  # ZAYA's table has no older key
        mine = older if older is not None else get("rope_parameters")
        nested_kinds = {"full_attention", "sliding_attention", "hybrid", "hybrid_sliding"}  # ZAYA's layer types
        if isinstance(mine, dict) and mine and set(mine) <= nested_kinds:
            # a default nested by layer kind (Laguna, ZAYA): each kind's block as transformers keeps it
            assert mine == {kind: cfg.rope_parameters[kind] for kind in mine}
            return
        rp = _rope_parameters(cfg)
        if mine is None:
            layers = [rp[k] for k in rp if k.endswith("_attention")] or [rp]
            assert all(r.get("rope_type", "default") == "default" for r in layers)
        else:
            assert rp["rope_type"] == mine.get("rope_type", mine.get("type"))
            for k, v in mine.items():
                if k not in ("type", "rope_type", "max_position_embeddings", "llama_4_scaling_beta"):
                    assert rp[k] == v, k
        return
    probe = PROBES_BY_TYPE.get((type_name, key)) or PROBES.get(key)
    theirs = probe(cfg) if probe else getattr(cfg, key)
    assert mine == theirs


@pytest.mark.parametrize("wrapper", sorted(import_hf.WRAPPER_TYPES))
def test_wrapper_without_text_config_gets_transformers_default_text_model(wrapper):
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    text = CONFIG_MAPPING[wrapper]().text_config
    spec = import_config({"model_type": wrapper}, name="x", source="c.json").spec
    assert (spec["vocab_size"], spec["d_model"], spec["n_layers"], spec["context_length"]) == (
        text.vocab_size,
        text.hidden_size,
        text.num_hidden_layers,
        text.max_position_embeddings,
    )
    attn = spec["attention"]
    if attn.get("kind") == "mla":  # kimi_k25's default text model is DeepSeek-V3's
        mla = (attn["n_heads"], attn["kv_lora_rank"], attn["qk_nope_head_dim"], attn["qk_rope_head_dim"])
        assert mla == (text.num_attention_heads, text.kv_lora_rank, text.qk_nope_head_dim, text.qk_rope_head_dim)
        return
    heads = (
        attn["n_heads"],
        attn.get("n_kv_heads", attn["n_heads"]),
        attn.get("head_dim", spec["d_model"] // attn["n_heads"]),
    )
    # Gemma 4 keeps head_dim and num_key_value_heads per layer: the first (sliding) layer's, the spec's block's
    first = text.per_layer_config[0] if getattr(text, "per_layer_config", None) is not None else text
    assert heads == (text.num_attention_heads, first.num_key_value_heads, first.head_dim)


def test_gemma3n_towers_are_named_not_counted():
    spec = import_config(_values("gemma-3n-e4b"), name="x", source="c.json").spec
    assert "reference" not in spec
    assert "MobileNet-V5 vision tower" in spec["notes"] and "not counted" in spec["notes"]


def test_kimi_k25_imports_its_text_model_and_names_the_vision_tower():
    """Kimi K2.5's wrapper: the text_config (Kimi K2's DeepSeek-V3 model, a full transformers dump with
    `cross_attention_hidden_size: null`) imports; the MoonViT tower is named, not counted."""
    raw = upstream_config("kimi-k2.5")
    assert raw["text_config"]["cross_attention_hidden_size"] is None
    imported = import_file(str(CONFIGS / "kimi-k2.5.json"), name="x")
    assert "text_config.cross_attention_hidden_size: null" in imported.off
    assert "reference" not in imported.spec
    assert "MoonViT vision tower" in imported.spec["notes"] and "not counted" in imported.spec["notes"]
    config = copy.deepcopy(raw)
    config["text_config"]["cross_attention_hidden_size"] = 1024
    with pytest.raises(SpecError, match="cross_attention_hidden_size"):
        import_config(config, name="x", source="c.json")


def test_defaults_left_unchecked_are_named_with_a_reason():
    """The comparison above skips only the keys named in NOT_A_TRANSFORMERS_ATTRIBUTE, and each is in use."""
    mapped = {
        key
        for group in (import_hf.TEXT_TYPES, import_hf.WRAPPER_TYPES, import_hf.VISION_TYPES)
        for t in group.values()
        for key in t.keys.mapped
    }
    assert set(NOT_A_TRANSFORMERS_ATTRIBUTE) <= mapped


def test_runtime_imports_neither_transformers_nor_torch():
    code = (
        "import sys, llmarch.importers.hf as m; m.import_file(sys.argv[1], name='x'); "
        "assert 'transformers' not in sys.modules and 'torch' not in sys.modules, sorted(sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(CONFIGS / "gemma-3-27b.json")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------------------
# The CLI


def invoke(*args: str):
    return runner.invoke(app, ["--no-color", *args])


def _write(tmp_path: Path, config: dict | str, name: str = "config.json") -> str:
    path = tmp_path / name
    path.write_text(config if isinstance(config, str) else json.dumps(config, indent=2))
    return str(path)


def _error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def test_cli_writes_a_spec_that_show_accepts(tmp_path):
    out = tmp_path / "my-gemma.yaml"
    result = invoke("import-hf", str(CONFIGS / "gemma-3-4b.json"), "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert text.startswith("# Imported by `llmarch import-hf` from")
    assert "name: my-gemma\n" in text  # the name follows -o
    shown = invoke("show", str(out), "--format", "json")
    assert shown.exit_code == 0, shown.output
    model = json.loads(shown.output)["models"][0]
    assert model["params"]["total"] == llmarch.count_params(llmarch.load("gemma-3-4b")).total
    # a folder holding it is a spec folder: the name matches the file
    listed = invoke("list", "--spec-path", str(tmp_path), "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert "my-gemma" in [m["name"] for m in json.loads(listed.output)["models"]]


def test_cli_prints_yaml_and_records_defaults(tmp_path):
    folder = tmp_path / "gemma-3-4b-it"
    folder.mkdir()
    path = _write(folder, upstream_config("gemma-3-4b"))
    result = invoke("import-hf", path)
    assert result.exit_code == 0, result.output
    assert "name: gemma-3-4b-it\n" in result.output  # config.json: named after its folder
    # gemma-3-4b's text_config gives no heads: Gemma3TextConfig's defaults, stated in the header and the notes
    assert "#   text_config.num_attention_heads = 8\n" in result.output
    spec = yaml.safe_load(result.output)
    assert "text_config.num_attention_heads = 8" in spec["notes"]
    assert spec["attention"]["n_heads"] == 8


def test_cli_name_option(tmp_path):
    result = invoke("import-hf", str(CONFIGS / "qwen3-8b.json"), "--name", "my-qwen")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.output)["name"] == "my-qwen"
    bad = _error(invoke("import-hf", str(CONFIGS / "qwen3-8b.json"), "--name", "My Qwen"))
    assert "is not a spec name" in bad


def test_unknown_key_is_an_error_naming_it(tmp_path):
    config = dict(upstream_config("qwen3-8b"), hiden_size=4096)
    path = _write(tmp_path, config)
    out = _error(invoke("import-hf", path))
    assert path in out and "hiden_size" in out and "qwen3" in out
    assert "did you mean `hidden_size`?" in out
    line = json.dumps(config, indent=2).splitlines().index('  "hiden_size": 4096') + 1
    assert f"{path}:{line}:3" in out  # located by line and column


def test_unknown_key_in_text_config_is_located(tmp_path):
    config = copy.deepcopy(upstream_config("gemma-3-27b"))
    config["text_config"]["altup_num_inputs"] = 4
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "text_config.altup_num_inputs" in out and "gemma3_text" in out


def test_rejected_feature_is_an_error_with_its_reason(tmp_path):
    config = dict(upstream_config("qwen3-30b-a3b"), use_sliding_window=True)
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "use_sliding_window: true" in out and "no sliding-window layers" in out


@pytest.mark.parametrize(
    "key,value,reason",
    [
        ("qkv_bias", True, "reads attention_bias"),
        ("use_qk_norm", False, "always normalises q and k"),
        ("shared_expert_intermediate_size", 768, "no shared expert"),
    ],
)
def test_qwen_training_keys_only_at_what_transformers_builds(tmp_path, key, value, reason):
    """Qwen3-Coder-30B-A3B's config carries keys transformers' qwen3_moe never reads: at any other value they
    would describe a model transformers does not build."""
    config = dict(upstream_config("qwen3-coder-30b-a3b"), **{key: value})
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert f"{key}: {json.dumps(value)}" in out and reason in out


def test_fp8_format_named_by_torch_dtype(tmp_path):
    """MiniMax's configs write fmt as torch's dtype name; the weights are fp8 blocks either way. The config is a
    real one of the M2 line with its quantisation block (MiniMax-M2.7's, vendored for its shipped spec), imported as
    a user would: no verbatim M2 or M2.5 config with that block was found."""
    import hashlib

    path = CONFIGS / "minimax-m2.7.json"
    source = yaml.safe_load((CONFIGS / "minimax-m2.7.source.yaml").read_text())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == source["sha256"]
    config = json.loads(path.read_text())
    assert config["quantization_config"]["fmt"] == "float8_e4m3fn"
    out = tmp_path / "minimax-m2.7.yaml"
    result = invoke("import-hf", str(path), "-o", str(out))
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load(out.read_text())
    assert spec["weights"]["overrides"] == {"attention": "fp8_block128", "routed_experts": "fp8_block128"}
    # MiniMax-M2.5's architecture (its shipped spec, from collected values), at M2.7's context
    assert spec["context_length"] == config["max_position_embeddings"] == 204_800
    located = load_text(out.read_text(), str(out))
    ir, shipped = to_ir(validate(located), located), llmarch.load("minimax-m2.5")
    assert shipped.context_length == 196_608
    excluded = tuple(_pattern(p) for p in (*METADATA, "context_length"))
    assert first_difference(ir, shipped, excluded=excluded) is None
    assert llmarch.count_params(ir).total == llmarch.count_params(shipped).total
    # and MiniMax-M2's spec, fp8 weights included: what its vendored BF16-port copy cannot give (KNOWN_DIFFERENCES)
    assert first_difference(ir, llmarch.load("minimax-m2"), excluded=excluded) is None
    assert "weight_overrides" in KNOWN_DIFFERENCES["minimax-m2"]
    config["quantization_config"] = dict(config["quantization_config"], fmt="float8_e8m0")
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "float8_e8m0" in out and "float8_e4m3fn" in out


def test_unsupported_model_type(tmp_path):
    out = _error(invoke("import-hf", _write(tmp_path, {"model_type": "bert", "hidden_size": 768})))
    assert "model type 'bert' is not supported" in out and "qwen3_moe" in out
    out = _error(invoke("import-hf", _write(tmp_path, {"hidden_size": 768})))
    assert "no `model_type`" in out


def test_malformed_json_is_located(tmp_path):
    path = _write(tmp_path, '{\n  "model_type": "llama",\n  "hidden_size": 4096,,\n}')
    out = _error(invoke("import-hf", path))
    assert f"{path}:3:23: malformed JSON" in out
    out = _error(invoke("import-hf", _write(tmp_path, "[1, 2]")))
    assert "not an object" in out
    out = _error(invoke("import-hf", str(tmp_path / "missing.json")))
    assert "no such file" in out


def test_required_key_without_a_transformers_default(tmp_path):
    config = {k: v for k, v in _values("mimo-v2-flash").items() if k != "swa_num_key_value_heads"}
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "swa_num_key_value_heads" in out and "no default" in out


def test_wrong_type_is_an_error(tmp_path):
    out = _error(invoke("import-hf", _write(tmp_path, dict(upstream_config("llama-3-8b"), hidden_size="4096"))))
    assert "hidden_size" in out and "expected an integer" in out


# ---------------------------------------------------------------------------
# quantization_config -> weights


def test_quantization_formats():
    def weights(name, q):
        config = dict(upstream_config(name), quantization_config=q)
        return import_config(config, name="x", source="c.json").spec.get("weights")

    fp8 = {"quant_method": "fp8", "weight_block_size": [128, 128], "fmt": "e4m3", "activation_scheme": "dynamic"}
    assert weights("qwen3-30b-a3b", fp8) == {
        "dtype": "bf16",
        "overrides": {"attention": "fp8_block128", "routed_experts": "fp8_block128"},
    }
    assert weights("qwen3-8b", dict(fp8, modules_to_not_convert=["model.layers.*.self_attn"])) == {
        "dtype": "bf16",
        "overrides": {"dense_ffn": "fp8_block128"},
    }
    assert weights("qwen3-8b", None) is None
    int4 = {
        "quant_method": "compressed-tensors",
        "format": "pack-quantized",
        "ignore": ["lm_head"],
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128, "symmetric": True},
            }
        },
    }
    assert weights("llama-3-8b", int4) == {
        "dtype": "bf16",
        "overrides": {"attention": "int4_g128", "dense_ffn": "int4_g128"},
    }


def test_quantization_that_splits_a_component_is_an_error():
    q = dict(upstream_config("deepseek-v3")["quantization_config"], modules_to_not_convert=["kv_a_proj_with_mqa"])
    with pytest.raises(SpecError, match="keeps part of `attention` unquantised"):
        import_config(dict(upstream_config("deepseek-v3"), quantization_config=q), name="x", source="c.json")


def test_unsupported_quantization_method():
    with pytest.raises(SpecError, match="quantization method 'awq' is not supported"):
        import_config(
            dict(upstream_config("llama-3-8b"), quantization_config={"quant_method": "awq", "bits": 4}),
            name="x",
            source="c.json",
        )


# ---------------------------------------------------------------------------
# Small pieces


@pytest.mark.parametrize(
    "letters,start,pattern",
    [
        ("GGGG", 0, "G"),
        ("LLLGLLLG", 0, "LLLG"),
        ("DDDEEEE", 3, "E"),
        ("DEDEDE", 0, "DE"),
        ("KKKGKKKGKKG", 0, "KKKGKKKGKKG"),  # does not repeat: one letter per layer
    ],
)
def test_shortest_layer_pattern(letters, start, pattern):
    assert import_hf._pattern(list(letters), start) == pattern


def test_bad_name_from_the_library():
    with pytest.raises(LlmarchError, match="is not a spec name"):
        import_config(upstream_config("gpt2"), name="GPT 2", source="c.json")


# ---------------------------------------------------------------------------
# Ignore lists read against each model type's own module names


def _ct_fp8(ignore) -> dict:
    return {
        "quant_method": "compressed-tensors",
        "format": "float-quantized",
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True, "dynamic": False},
            }
        },
        "ignore": ignore,
    }


# llm-compressor's Llama 4 FP8 recipe: everything but the routed experts stays in BF16
LLAMA4_FP8_IGNORE = [
    "re:.*self_attn",
    "re:.*shared_expert",
    r"re:.*feed_forward\.(gate|up|down)_proj",
    "re:.*router",
    "lm_head",
    "re:vision_model.*",
    "re:multi_modal_projector.*",
]


def test_llama4_ignore_list_uses_llama4_module_names():
    config = dict(upstream_config("llama-4-maverick"), quantization_config=_ct_fp8(LLAMA4_FP8_IGNORE))
    weights = import_config(config, name="x", source="c.json").spec["weights"]
    assert weights == {"dtype": "bf16", "overrides": {"routed_experts": "fp8"}}  # dense_ffn and shared: bf16


def test_ignore_list_with_the_older_wrapper_layout():
    ignore = [
        "language_model.model.layers.*.self_attn",
        "language_model.model.layers.*.feed_forward.shared_expert",
        "language_model.model.layers.*.feed_forward.gate_proj",
        "language_model.model.layers.*.feed_forward.up_proj",
        "language_model.model.layers.*.feed_forward.down_proj",
        "language_model.lm_head",
    ]
    config = dict(upstream_config("llama-4-maverick"), quantization_config=_ct_fp8(ignore))
    assert import_config(config, name="x", source="c.json").spec["weights"]["overrides"] == {"routed_experts": "fp8"}


@pytest.mark.parametrize(
    "entry,message",
    [
        ("model.layers.0.mlp.down_proj", "names no module of a `llama4` checkpoint"),  # another model's naming
        ("Llama4TextAttention", "names no module"),  # a class name: import-hf cannot tell what it covers
        ("model.language_model.layers.2.feed_forward.down_proj", "keeps part of `dense_ffn` unquantised"),  # one layer
    ],
)
def test_ignore_entry_that_names_nothing_or_part_is_an_error(tmp_path, entry, message):
    config = dict(upstream_config("llama-4-maverick"), quantization_config=_ct_fp8(["lm_head", entry]))
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert message in out and "quantization_config" in out
    if "names no module" in message:
        assert entry in out and "ignore[1]" in out


def test_alternation_that_re_match_reads_partly_is_an_error():
    """`re:.*feed_forward.gate_proj|up_proj|down_proj` under re.match covers gate_proj only: loud, not bf16."""
    ignore = ["re:.*self_attn", "re:.*shared_expert", "re:.*feed_forward.gate_proj|up_proj|down_proj", "lm_head"]
    config = dict(upstream_config("llama-4-maverick"), quantization_config=_ct_fp8(ignore))
    with pytest.raises(SpecError, match="keeps part of `dense_ffn` unquantised"):
        import_config(config, name="x", source="c.json")


# ---------------------------------------------------------------------------
# Every bad value is a located error (exit 2), never a crash (exit 1)


def _set(config: dict, path: tuple, value) -> dict:
    config = copy.deepcopy(config)
    node = config
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return config


CRASHES = [  # (config, key path, value, what the message names)
    ("llama-3-8b", ("model_type",), ["llama"], "model_type"),
    ("gemma-3-27b", ("text_config", "rope_scaling", "rope_type"), ["linear"], "text_config.rope_scaling.rope_type"),
    ("gpt-oss-20b", ("quantization_config", "quant_method"), ["mxfp4"], "quantization_config.quant_method"),
    ("gpt-oss-20b", ("quantization_config", "modules_to_not_convert"), "lm_head", "modules_to_not_convert"),
    ("gpt-oss-20b", ("quantization_config", "modules_to_not_convert"), ["re:["], "re:["),
    ("gemma-3-27b", ("text_config", "sliding_window_pattern"), 0, "text_config.sliding_window_pattern"),
    ("gemma-3-27b", ("text_config", "sliding_window_pattern"), "x", "text_config.sliding_window_pattern"),
    ("qwen3-next-80b-a3b", ("full_attention_interval",), 0, "full_attention_interval"),
    ("llama-4-maverick", ("text_config", "interleave_moe_layer_step"), 0, "text_config.interleave_moe_layer_step"),
    ("llama-4-maverick", ("text_config", "moe_layers"), 3, "text_config.moe_layers"),
    ("qwen3-30b-a3b", ("mlp_only_layers",), [{}], "mlp_only_layers[0]"),
    ("kimi-linear-48b-a3b", ("linear_attn_config", "full_attn_layers"), 5, "linear_attn_config.full_attn_layers"),
    ("minimax-m2", ("attn_type_list",), [{}] * 62, "attn_type_list"),
    ("nemotron-3-nano-30b-a3b", ("hybrid_override_pattern",), [], "hybrid_override_pattern"),
]


@pytest.mark.parametrize("name,path,value,named", CRASHES, ids=[f"{c[0]}:{'.'.join(map(str, c[1]))}" for c in CRASHES])
def test_bad_value_is_a_located_error(tmp_path, name, path, value, named):
    config = upstream_config(name)
    # keys read only by a derived default: drop what the config states in their place
    if path[-1] == "full_attention_interval":
        config = {k: v for k, v in config.items() if k != "layer_types"}
    if path[-1] in ("sliding_window_pattern", "interleave_moe_layer_step"):
        config = _set(
            config,
            ("text_config",),
            {k: v for k, v in config["text_config"].items() if k not in ("layer_types", "moe_layers")},
        )
    path_str = _write(tmp_path, _set(config, path, value))
    out = _error(invoke("import-hf", path_str))
    assert path_str in out and named in out and "internal error" not in out.lower()


def test_gemma3n_widths_must_be_integers(tmp_path):
    config = _set(_values("gemma-3n-e4b"), ("text_config", "intermediate_size"), {"a": 1})
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "text_config.intermediate_size" in out


def test_compressed_tensors_group_not_a_mapping():
    for group in ([1], {"group_0": [1]}, {"group_0": {"targets": ["Linear"], "weights": [8]}}):
        q = dict(_ct_fp8(["lm_head"]), config_groups=group)
        with pytest.raises(SpecError, match="config_groups"):
            import_config(dict(upstream_config("llama-3-8b"), quantization_config=q), name="x", source="c.json")


def test_unforeseen_exception_is_reported_not_raised(tmp_path, monkeypatch):
    """The last-resort guard: a reader that did not foresee a value still gives exit 2 naming file and type."""

    def broken(cfg):
        raise ZeroDivisionError("integer division or modulo by zero")

    monkeypatch.setitem(import_hf.TEXT_TYPES, "llama", dataclasses.replace(import_hf.TEXT_TYPES["llama"], build=broken))
    path = _write(tmp_path, upstream_config("llama-3-8b"))
    out = _error(invoke("import-hf", path))
    assert path in out and "'llama'" in out and "a value import-hf cannot read" in out


SWEEP_CONFIGS = [
    "llama-3-8b",
    "qwen3-next-80b-a3b",
    "deepseek-v3",
    "gemma-3-27b",
    "llama-4-maverick",
    "gpt-oss-20b",
    "nemotron-3-nano-30b-a3b",
    "kimi-linear-48b-a3b",
    "minimax-m2",
    "qwen3.5-397b-a17b",
    "qwen3.6-27b",
    "glm-5",
    "laguna-xs.2",
    "deepseek-v4-flash",  # legacy and current spellings of the same fields
    "gemma-4-e2b",
]
SWEEP_VALUES = [None, [], "x", {}, 0, -1, 1.5, True]


def test_readme_counts_and_types():
    """The README's shipped-spec count, its count of specs without a verbatim config, its sweep count and its list
    of import-hf types follow the files and the importer."""
    text = (CONFIGS.parent.parent.parent / "README.md").read_text()
    assert f"({len(SPEC_NAMES)} shipped: `llmarch list`)" in text
    without_config = [n for n in SPEC_NAMES if not has_config(n)]
    assert all(n in VALUES for n in without_config)
    assert f"For {len(without_config)} checkpoints no verbatim copy could be found here" in text
    assert f"sweeps every key of {len(SWEEP_CONFIGS)} configs" in text
    listed = text[text.index("Supported `model_type`s:") : text.index("The name defaults")]
    words = set(re.findall(r"\b[a-z][a-z0-9_]*\b", listed))
    assert set(import_hf.TEXT_TYPES) | set(import_hf.WRAPPER_TYPES) <= words


def test_each_family_module_registers_its_types_once_with_module_names(monkeypatch):
    """A model type is one family module's `TYPES` entry and `MODULE_NAMES` entry; registering a type twice, or
    without module names, fails when the package loads rather than shadowing a type silently."""
    from llmarch.importers.hf import families

    registered = [t.name for f in families.FAMILIES for t in f.TYPES]
    assert len(registered) == len(set(registered)) == len(import_hf.TEXT_TYPES) == 43
    assert set(import_hf.MODULE_NAMES) == set(import_hf.TEXT_TYPES)
    monkeypatch.setattr(families, "FAMILIES", families.FAMILIES + (families.llama,))
    with pytest.raises(RuntimeError, match="model type llama is registered twice"):
        families._registry()
    monkeypatch.setattr(families, "FAMILIES", (families.llama, families.mistral))
    monkeypatch.setattr(families.mistral, "MODULE_NAMES", {})
    with pytest.raises(RuntimeError, match="module names and model types differ"):
        families._registry()
    # verify loads one type's family module through HOMES: a type filed under another family fails on load
    monkeypatch.undo()
    monkeypatch.setitem(families.HOMES, "granite", "mistral")
    with pytest.raises(RuntimeError, match="HOMES gives model type granite no home or not llama"):
        families._registry()
    monkeypatch.setitem(families.HOMES, "granite", "llama")
    monkeypatch.setitem(families.HOMES, "llama5", "llama")
    with pytest.raises(RuntimeError, match=r"HOMES and model types differ: \['llama5'\]"):
        families._registry()
    assert families.checkpoint_table("llama5") is None  # a home whose module has no table for it


def _key_paths(node: dict, prefix: tuple = ()):
    for key, value in node.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _key_paths(value, prefix + (key,))


@pytest.mark.parametrize("name", SWEEP_CONFIGS)
def test_every_key_at_every_bad_value_imports_or_fails_cleanly(name):
    """Each key (nested ones too) set to each of null, [], "x", {}, 0, -1, 1.5, true: the import succeeds and its
    spec loads, or it raises LlmarchError (SpecError is one) — never any other exception."""
    _sweep(upstream_config(name))


def _sweep(base: dict) -> None:
    """Every key path of `base` at every SWEEP_VALUES value: the import's spec loads, or it raises LlmarchError."""
    for path in _key_paths(base):
        for value in SWEEP_VALUES:
            config = _set(base, path, value)
            try:
                spec = import_config(config, name="x", source="c.json").spec
            except LlmarchError:
                continue
            located = load_text(yaml.safe_dump(spec, sort_keys=False), "x.yaml")
            to_ir(validate(located), located)


# ---------------------------------------------------------------------------
# Configs transformers writes itself


# Types whose configs carry keys only the vendor's remote code reads, which transformers' class does not write
TRANSFORMERS_CANNOT_WRITE = {
    "mimo_v2_flash": "Xiaomi's keys (hybrid_layer_pattern, swa_* ...) are read by its remote code only",
    "mimo_v2": "Xiaomi's keys (hybrid_layer_pattern, swa_* ...) are read by its remote code only",
    "minimax_m2": "use_mtp and num_mtp_modules are read by MiniMax's remote code only",
}


@pytest.mark.parametrize("type_name", import_hf.SUPPORTED_TYPES)
def test_transformers_default_config_imports(type_name):
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    config = CONFIG_MAPPING[TRANSFORMERS_CLASS.get(type_name, type_name)]().to_dict()
    config["model_type"] = type_name  # kimi_k2 is written by DeepSeek-V3's class
    if type_name in TRANSFORMERS_CANNOT_WRITE:
        with pytest.raises(SpecError):
            import_config(config, name="x", source="c.json")
        return
    imported = import_config(config, name="x", source="c.json")
    located = load_text(spec_yaml(imported), "x.yaml")
    to_ir(validate(located), located)


@pytest.mark.parametrize("key,value", [("head_dim", None), ("num_key_value_heads", None)])
def test_null_means_transformers_default(key, value):
    spec = import_config(dict(upstream_config("llama-3-8b"), **{key: value}), name="x", source="c.json").spec
    assert spec == import_config(
        {k: v for k, v in upstream_config("llama-3-8b").items() if k != key}, name="x", source="c.json"
    ).spec | {"notes": spec["notes"]}
    spec = import_config(dict(upstream_config("qwen3-30b-a3b"), mlp_only_layers=None), name="x", source="c.json").spec
    plain = import_config(upstream_config("qwen3-30b-a3b"), name="x", source="c.json").spec
    assert (spec.get("layers"), spec.get("ffn")) == (plain.get("layers"), plain.get("ffn"))


def test_derived_key_that_disagrees_is_an_error():
    config = dict(upstream_config("deepseek-v3"), head_dim=128)
    with pytest.raises(SpecError, match="head_dim.*disagrees with qk_rope_head_dim"):
        import_config(config, name="x", source="c.json")
    config = dict(upstream_config("qwen3-30b-a3b"), num_local_experts=64)
    with pytest.raises(SpecError, match="num_local_experts.*another name of `num_experts`"):
        import_config(config, name="x", source="c.json")


def test_gemma3n_altup_lr_multiplier_is_irrelevant():
    config = _values("gemma-3n-e4b")
    config["text_config"]["altup_lr_multiplier"] = 1.0
    assert "text_config.altup_lr_multiplier" in import_config(config, name="x", source="c.json").ignored


# ---------------------------------------------------------------------------
# Values the spec cannot hold: located at the config key


@pytest.mark.parametrize(
    "name,path,value,named",
    [
        ("gemma-3-27b", ("text_config", "rope_scaling", "factor"), -1, "text_config.rope_scaling.factor"),
        ("llama-3-8b", ("vocab_size",), 10**9, "vocab_size"),
        (
            "llama-3-8b",
            ("rope_scaling",),
            {"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 0},
            "rope_scaling.original_max_position_embeddings",
        ),
    ],
)
def test_value_out_of_range_names_the_config_key(tmp_path, name, path, value, named):
    path_str = _write(tmp_path, _set(upstream_config(name), path, value))
    out = _error(invoke("import-hf", path_str))
    assert f"field `{named}`" in out and "bug" not in out


def test_gemma3n_default_shared_kv_layers_need_enough_layers(tmp_path):
    config = _set(_values("gemma-3n-e4b"), ("text_config", "num_hidden_layers"), 4)
    del config["text_config"]["layer_types"]
    config["text_config"]["intermediate_size"] = 16384
    config["text_config"].pop("num_kv_shared_layers", None)
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "text_config.num_kv_shared_layers" in out and "default is 15" in out


def test_spec_level_error_names_the_spec_field_and_the_config(tmp_path):
    path = _write(tmp_path, dict(upstream_config("gpt2"), n_inner=10**7))  # wider than any FFN llmarch holds
    out = _error(invoke("import-hf", path))
    assert path in out and "ffn.d_ff" in out and "bug" not in out


# ---------------------------------------------------------------------------
# Small CLI and RoPE points


def test_output_name_that_is_not_a_spec_name_is_refused_with_the_cleaned_name(tmp_path):
    """A spec folder needs `name:` to equal the file name (issue 26): `Qwen3_8B.yaml` holding `name: qwen3-8b`
    broke every command that read the folder, so the file name is refused and the clean one suggested."""
    out = tmp_path / "Qwen3_8B.yaml"
    result = _error(invoke("import-hf", str(CONFIGS / "qwen3-8b.json"), "-o", str(out)))
    assert "use -o qwen3-8b.yaml" in result
    assert not out.exists()


def test_gemma3_flat_rope_parameters_is_an_error(tmp_path):
    """transformers reads Gemma 3's rope_parameters by layer type and ignores flat keys (local layers too)."""
    config = copy.deepcopy(upstream_config("gemma-3-27b"))
    text = config["text_config"]
    text.pop("rope_scaling", None)
    text["rope_parameters"] = {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0}
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "text_config.rope_parameters" in out and "ignored by transformers" in out
    text["rope_parameters"] = {
        "full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
    }
    attn = import_config(config, name="x", source="c.json").spec["attention"]
    assert attn["rope"]["scaling"]["factor"] == 8.0 and "scaling" not in attn["overrides"]["local"]["rope"]


# ---------------------------------------------------------------------------
# Qwen3.5 / Qwen3.6: the dense hybrid must never come out as an MoE

QWEN3_5_ONLY_KEYS = (
    "attn_output_gate",
    "output_gate_type",
    "mamba_ssm_dtype",
    "mtp_num_hidden_layers",
    "mtp_use_dedicated_embeddings",
)


def _qwen3_6_27b_as(model_type: str) -> dict:
    """Qwen3.6-27B's text config relabelled, without the keys the other type does not know."""
    text = copy.deepcopy(upstream_config("qwen3.6-27b")["text_config"])
    text["model_type"] = model_type
    for key in QWEN3_5_ONLY_KEYS:
        del text[key]
    return text


def test_qwen3_6_27b_read_as_qwen3_next_is_refused(tmp_path):
    """transformers builds Qwen3.6-27B's text config as qwen3_next into a 512-expert MoE (its defaults fill the
    experts in); import-hf refuses and names the right type, whether or not Qwen3.5's own keys are left in."""
    as_found = copy.deepcopy(upstream_config("qwen3.6-27b")["text_config"]) | {"model_type": "qwen3_next"}
    assert "attn_output_gate" in _error(invoke("import-hf", _write(tmp_path, as_found, "as-found.json")))
    out = _error(invoke("import-hf", _write(tmp_path, _qwen3_6_27b_as("qwen3_next"))))
    assert "model type `qwen3_next` is a mixture of experts" in out and "512 experts" in out
    assert "qwen3_5_text" in out  # the type it is
    with pytest.raises(SpecError, match="256 experts"):  # the same trap with Qwen3.5's own MoE type
        import_config(_qwen3_6_27b_as("qwen3_5_moe_text"), name="x", source="c.json")


def test_qwen3_next_with_experts_stated_still_imports():
    """The refusal above is for a config stating no expert key; one that states them is an MoE and imports, to
    transformers' count (the 268B the refused import would have been)."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen3NextConfig

    text = _qwen3_6_27b_as("qwen3_next") | {"num_experts": 512}
    spec = import_config(text, name="x", source="c.json").spec
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(
            Qwen3NextConfig(**{k: v for k, v in text.items() if k != "model_type"})
        )
    assert spec["moe"]["n_experts"] == 512
    assert llmarch.count_params(_ir(import_config(text, name="x", source="c.json"))).total == unique_params(model)
    assert round(unique_params(model) / 1e9) == 268


def test_qwen3_5_moe_rejects_dense_layers():
    """transformers' qwen3_5_moe puts experts in every layer whatever mlp_only_layers says: a non-empty list would
    make the spec disagree with transformers, so it is refused (the empty list Qwen's configs write is accepted)."""
    config = copy.deepcopy(upstream_config("qwen3.5-397b-a17b"))
    assert config["text_config"]["mlp_only_layers"] == []
    config["text_config"]["mlp_only_layers"] = [0]
    with pytest.raises(SpecError, match="experts in every layer"):
        import_config(config, name="x", source="c.json")


@pytest.mark.parametrize(
    "key,value", [("attn_output_gate", False), ("output_gate_type", "sigmoid"), ("mtp_use_dedicated_embeddings", True)]
)
def test_qwen3_5_gates_transformers_does_not_implement_are_refused(key, value):
    config = copy.deepcopy(upstream_config("qwen3.6-27b"))
    config["text_config"][key] = value
    with pytest.raises(SpecError, match=f"`{key}: "):
        import_config(config, name="x", source="c.json")


def test_qwen3_5_rope_sections_change_nothing():
    """Multimodal RoPE sections (and their interleaving) say how positions split among time, height and width: the
    spec, counts and cache are the same without them."""
    config = copy.deepcopy(upstream_config("qwen3.6-27b"))
    plain = copy.deepcopy(config)
    for key in ("mrope_section", "mrope_interleaved"):
        del plain["text_config"]["rope_parameters"][key]
    assert import_config(config, name="x", source="c.json").spec == import_config(plain, name="x", source="c.json").spec


def test_qwen3_5_disagreeing_rotary_fractions_are_an_error():
    config = copy.deepcopy(upstream_config("qwen3.6-27b"))
    config["text_config"]["partial_rotary_factor"] = 0.5
    with pytest.raises(SpecError, match="partial_rotary_factor"):
        import_config(config, name="x", source="c.json")


def test_qwen3_5_dense_ignores_the_moe_siblings_layer_list():
    """Qwen3.5-27B's config (ai-dynamo/aiconfigurator's Qwen--Qwen3.5-27B_config.json) writes the MoE type's
    `mlp_only_layers: []`; in a model without experts every layer is dense whatever it lists."""
    config = copy.deepcopy(upstream_config("qwen3.6-27b"))
    listed = copy.deepcopy(config)
    listed["text_config"]["mlp_only_layers"] = []
    imported = import_config(listed, name="x", source="c.json")
    assert "text_config.mlp_only_layers" in imported.ignored
    assert imported.spec == import_config(config, name="x", source="c.json").spec


def _fp8(config: dict, keep: list[str]) -> dict:
    config = copy.deepcopy(config)
    config["quantization_config"] = {
        "quant_method": "fp8",
        "fmt": "e4m3",
        "weight_block_size": [128, 128],
        "activation_scheme": "dynamic",
        "modules_to_not_convert": keep,
    }
    return config


def test_qwen3_5_fp8_ignore_list_reads_the_split_projections():
    """Qwen3.5's checkpoint names (model.language_model.layers.N.linear_attn.in_proj_qkv, ...): an ignore list of
    the embedding, head and vision tower leaves the text model's linears fp8; one that keeps only the small b/a
    projections of the Gated DeltaNet is refused (formats are per component), never half-applied."""
    dense = upstream_config("qwen3.6-27b")
    keep = ["lm_head", "model.language_model.embed_tokens", "model.visual.merger.linear_fc1"]
    weights = import_config(_fp8(dense, keep), name="x", source="c.json").spec["weights"]
    assert weights["overrides"] == dict.fromkeys(("attention", "linear_mixer", "dense_ffn"), "fp8_block128")
    moe = upstream_config("qwen3.5-397b-a17b")
    weights = import_config(_fp8(moe, keep), name="x", source="c.json").spec["weights"]
    assert set(weights["overrides"]) == {"attention", "linear_mixer", "routed_experts", "shared_experts"}
    linear = [i for i, t in enumerate(dense["text_config"]["layer_types"]) if t == "linear_attention"]
    split = keep + [f"model.language_model.layers.{i}.linear_attn.in_proj_{p}" for i in linear for p in "ab"]
    with pytest.raises(SpecError, match="keeps part of `linear_mixer`"):
        import_config(_fp8(dense, split), name="x", source="c.json")


# GLM-5's indexer schedule (glm_moe_dsa)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"index_topk_freq": 4, "index_skip_topk_offset": 3},
        {"index_topk_freq": 2},
        {"index_topk_pattern": "FFS" * 26},
    ],
)
def test_glm_indexer_schedule_equals_transformers(kwargs):
    """The indexer_types import-hf derives from index_topk_freq / index_skip_topk_offset / index_topk_pattern is
    transformers' own."""
    from transformers import GlmMoeDsaConfig

    source = import_hf._Source(located=import_hf.Located(data=kwargs, file="c.json"))
    cfg = import_hf.Config(kwargs, "glm_moe_dsa", import_hf.TEXT_TYPES["glm_moe_dsa"].keys, source)
    assert cfg.get("indexer_types") == GlmMoeDsaConfig(**kwargs).indexer_types


def _glm_shared(**changes) -> tuple[dict, object]:
    """GLM-5's config with GLM-5.2's indexer schedule (a full indexer every 4th layer from layer 2 on), imported."""
    config = dict(upstream_config("glm-5"), index_topk_freq=4, index_skip_topk_offset=3, **changes)
    return config, _ir(import_config(config, name="x", source="c.json"))


def test_glm_shared_indexer_layers_equal_transformers():
    """Shared layers reuse an earlier layer's top-k: transformers builds no indexer there, and engines cache no
    indexer key there."""
    import torch
    from transformers import AutoModelForCausalLM, GlmMoeDsaConfig

    config, ir = _glm_shared()
    cfg = GlmMoeDsaConfig(**{k: v for k, v in config.items() if k != "model_type"})
    assert cfg.indexer_types.count("shared") == 57
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    assert llmarch.count_params(ir).total == sum(p.numel() for p in model.parameters())
    for layer, hf in zip(ir.layers, model.model.layers):
        assert (layer.attention.indexer_heads is not None) == (hf.self_attn.indexer is not None)
        assert layer.attention.indexer_topk == config["index_topk"]  # shared layers still attend sparsely
    n_full = cfg.indexer_types.count("full")
    latent = config["kv_lora_rank"] + config["qk_rope_head_dim"]
    per_token = (78 * latent + n_full * config["index_head_dim"]) * 2
    assert kv_cache(ir, 131072).total_bytes == per_token * 131072


def test_glm_indexer_letters_are_checked(tmp_path):
    spec = import_config(dict(upstream_config("glm-5"), index_topk_freq=4), name="x", source="c.json").spec
    assert spec["attention"]["indexer"]["layers"].startswith("FFSSSFSSSF")
    for letters, message in (("F" * 77, "expected 78 letters"), ("S" + "F" * 77, "no earlier layer runs one")):
        spec["attention"]["indexer"]["layers"] = letters
        located = load_text(yaml.safe_dump(spec, sort_keys=False), "x.yaml")
        with pytest.raises(SpecError, match=message):
            to_ir(validate(located), located)
    out = _error(
        invoke("import-hf", _write(tmp_path, dict(upstream_config("glm-5"), indexer_types=["shared"] + ["full"] * 77)))
    )
    assert "indexer_types[0]" in out and "no earlier indexer" in out


# ---------------------------------------------------------------------------
# Hy3 (hy_v3): keys transformers does not read must agree with what it does


@pytest.mark.parametrize(
    "key,value,named",
    [
        ("first_k_dense_replace", 2, "disagrees with the dense layers leading mlp_layer_types (1)"),
        ("expert_hidden_dim", 1024, "disagrees with moe_intermediate_size (1536)"),
        ("qk_norm", False, "always normalises q and k"),
    ],
)
def test_hy3_keys_transformers_ignores_must_agree(tmp_path, key, value, named):
    """HYV3Config ignores first_k_dense_replace and expert_hidden_dim, and always builds the QK-norms: a config
    saying otherwise would import to a model transformers does not build."""
    out = _error(invoke("import-hf", _write(tmp_path, dict(_values("hy3-preview"), **{key: value}))))
    assert key in out and named in out, out
    with_layers = dict(_values("hy3-preview"), first_k_dense_replace=2, mlp_layer_types=["dense"] * 2 + ["sparse"] * 78)
    assert import_config(with_layers, name="x", source="c.json").spec["layers"]["dense_prefix"] == 2


# ---------------------------------------------------------------------------
# Laguna (laguna): query heads per layer kind


def test_laguna_heads_that_vary_within_a_layer_kind_are_an_error(tmp_path):
    config = copy.deepcopy(upstream_config("laguna-xs.2"))
    config["num_attention_heads_per_layer"][5] = 32  # a sliding layer unlike the other sliding layers
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "num_attention_heads_per_layer[5]" in out and "per layer kind" in out


@pytest.mark.parametrize("gating,gate", [(True, "headwise"), ("per-head", "headwise"), ("per-element", "elementwise")])
def test_laguna_gating(gating, gate):
    spec = import_config(dict(upstream_config("laguna-xs.2"), gating=gating), name="x", source="c.json").spec
    assert spec["attention"]["output_gate"] == gate
    spec = import_config(dict(upstream_config("laguna-xs.2"), gating=False), name="x", source="c.json").spec
    assert "output_gate" not in spec["attention"]


def test_laguna_gate_widths_equal_transformers():
    """The spec's gates have transformers' g_proj widths: one per head, or one per head channel."""
    import torch
    from transformers import LagunaConfig
    from transformers.models.laguna.modeling_laguna import LagunaAttention

    raw = {k: v for k, v in upstream_config("laguna-xs.2").items() if k not in ("model_type", "quantization_config")}
    for gating in (True, "per-element"):
        cfg = LagunaConfig(**dict(raw, gating=gating))
        with torch.device("meta"):
            hf = LagunaAttention(cfg, 1, cfg.num_attention_heads_per_layer[1])
        spec = import_config(dict(raw, model_type="laguna", gating=gating), name="x", source="c.json").spec
        located = load_text(yaml.safe_dump(spec, sort_keys=False), "x.yaml")
        a = to_ir(validate(located), located).layers[1].attention
        extra = {"headwise": a.n_heads, "elementwise": a.n_heads * a.head_dim}[a.output_gate]
        assert extra == hf.g_proj.out_features


def _phi_4_config() -> dict:
    return dict(_values("phi-4"))


def test_phi3_attention_bias_is_refused(tmp_path):
    """transformers' Phi3Attention builds qkv_proj and o_proj with bias=False whatever the config says."""
    out = _error(invoke("import-hf", _write(tmp_path, dict(_phi_4_config(), attention_bias=True))))
    assert "attention_bias: true" in out and "without biases" in out


def test_phi3_longrope_is_refused_not_half_read(tmp_path):
    """Phi-3.5's LongRoPE reads original_max_position_embeddings and per-dimension factors, which no spec
    field holds: refused with the key named, exit code 2."""
    factors = [1.0] * 64  # head_dim 128 / 2
    config = dict(_phi_4_config(), rope_scaling={"type": "longrope", "short_factor": factors, "long_factor": factors})
    result = invoke("import-hf", _write(tmp_path, config))
    out = _error(result)
    assert "field `rope_scaling`" in out and "not supported for model type `phi3`" in out


def test_phi3_sliding_window_covers_every_layer():
    """Phi-3-medium's sliding_window 2047 applies to every layer (transformers' phi3 masks all of them)."""
    spec = import_config(dict(_phi_4_config(), sliding_window=2047), name="x", source="c.json").spec
    assert spec["attention"]["window"] == 2047
    assert spec["layers"]["mixer"] == "L"


@pytest.mark.parametrize("name", ["phi-4", "granite-4.1-30b", "mimo-v2.5", "mistral-small-4-119b", "step-3.5-flash"])
def test_every_key_of_the_new_types_at_every_bad_value_fails_cleanly(name):
    """The same sweep for the model types added for the gallery (phi3, granite, mimo_v2, mistral4 in its mistral3
    wrapper, step3p5), from their collected values (MiMo-V2.5: its verbatim config, without the ignore list that
    has it refused): each key at each of null, [], "x", {}, 0, -1, 1.5, true imports to a spec that loads, or raises
    LlmarchError — never any other exception."""
    _sweep(_refused_key_removed(name) if name in REFUSED_CONFIGS else _values(name))


def test_mistral4_rotary_factor_must_be_mlas_rope_share(tmp_path):
    """Mistral 4 rotates head_dim x partial_rotary_factor channels of each query/key head; MLA rotates its
    qk_rope_head_dim channels (64 of 64 + 64). Any other factor is refused, naming the key (exit code 2)."""
    values = _values("mistral-small-4-119b")
    text = dict(values["text_config"], rope_parameters=dict(values["text_config"]["rope_parameters"]))
    text["rope_parameters"]["partial_rotary_factor"] = 0.5  # what Mistral4Config sets itself: accepted
    import_config(dict(values, text_config=text), name="x", source="c.json")
    text["rope_parameters"]["partial_rotary_factor"] = 1.0
    out = _error(invoke("import-hf", _write(tmp_path, dict(values, text_config=text))))
    assert "rope_parameters.partial_rotary_factor" in out and "qk_rope_head_dim (64)" in out and "use 0.5" in out


def test_step3p5_config_transformers_writes_imports_to_its_count():
    """A Step 3.5 config as transformers 5.23 writes it (rope_parameters nested by layer type, per_layer_config
    giving each sliding layer its query heads, JSON's string keys) imports to transformers' own count."""
    from transformers.models.step3p7.configuration_step3p7 import Step3p7TextConfig

    from conftest import causal_lm_on_meta

    kinds = ["full_attention", "sliding_attention", "sliding_attention", "sliding_attention"]
    written = Step3p7TextConfig(
        num_hidden_layers=4,
        layer_types=kinds,
        mlp_layer_types=["dense", "sparse", "sparse", "sparse"],
        num_sliding_attention_heads=32,
        sliding_window=512,
        n_routed_experts=16,
    ).to_dict()
    raw = json.loads(json.dumps(written))
    assert raw["per_layer_config"] == {str(i): {"num_attention_heads": 32} for i in (1, 2, 3)}
    spec = import_config(raw, name="x", source="c.json").spec
    assert spec["attention"]["n_heads"] == 64 and spec["attention"]["overrides"]["local"]["n_heads"] == 32
    located = load_text(spec_yaml(import_config(raw, name="x", source="c.json")), "x.yaml")
    count = llmarch.count_params(to_ir(validate(located), located))
    model = causal_lm_on_meta(Step3p7TextConfig(**{k: v for k, v in written.items() if k != "model_type"}))
    assert count.total == sum(p.numel() for p in model.parameters())
    # one sliding layer with another head count is refused at its per_layer_config entry
    raw["per_layer_config"]["2"] = {"num_attention_heads": 16}
    with pytest.raises(SpecError, match=r"per_layer_config.*query heads per layer kind"):
        import_config(raw, name="x", source="c.json")


@pytest.mark.parametrize("name", sorted(REFUSED_CONFIGS))
def test_refused_verbatim_config_is_a_located_error(name):
    """The real config is refused with one located paragraph (exit 2 in the CLI), never imported approximately;
    without the named key the same config imports (the cases above)."""
    path = REFUSED_CONFIGS[name][0]
    result = runner.invoke(app, ["--no-color", "import-hf", str(CONFIGS / f"{name}.json"), "-o", "-"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"{name}.json:" in result.output and ".".join(path) in result.output


def test_fp8_store_dtype_other_than_fp8_is_refused(tmp_path):
    """MiMo-V2.5's quantization_config says `store_dtype: fp8` (its weights are stored in the format): accepted as
    written; any other stored dtype would change the weight bytes, so it is refused naming the key (exit code 2)."""
    config = _refused_key_removed("mimo-v2.5")
    assert config["quantization_config"]["store_dtype"] == "fp8"
    assert import_config(config, name="x", source="c.json").spec["weights"]["overrides"]["routed_experts"] == (
        "fp8_block128"
    )
    config["quantization_config"]["store_dtype"] = "bf16"
    out = _error(invoke("import-hf", _write(tmp_path, config)))
    assert "quantization_config.store_dtype" in out and "'bf16'" in out and "fp8 (or no key)" in out


@pytest.mark.parametrize("name", sorted(NOT_IMPORTABLE))
def test_not_importable_specs_are_refused_and_documented(tmp_path, name):
    """The shipped specs whose model type import-hf does not read: their collected values are refused with exit code
    2 naming the model type (never a wrong spec), and the README says which they are and why."""
    values = _values(name)
    result = invoke("import-hf", _write(tmp_path, json.dumps(values)))
    out = _error(result)
    assert "model_type" in out or "model type" in out
    readme = (CONFIGS.parent.parent.parent / "README.md").read_text()
    refused = readme[readme.index("Four shipped specs come from checkpoints") :][:700]
    assert name in refused and len(NOT_IMPORTABLE) == 4
