"""Gemma 4 (issue 19): values that are keys, per-kind geometry and p-RoPE, against the vendored configs.

Expected numbers are arithmetic over the upstream config in each test (or transformers 5.23 built on meta from it,
in tests/test_counts.py), never read back from the spec or the IR.
"""

from __future__ import annotations

import pytest

import llmarch
from conftest import upstream_config
from llmarch.analyze.kvcache import kv_cache
from llmarch.errors import SpecError

BF16 = 2


def text(name: str) -> dict:
    return upstream_config(name)["text_config"]


def panel(ir) -> dict[str, str]:
    from llmarch.analyze.facts import facts

    return {f.key: f.text for f in facts(ir)}


def kinds(c: dict) -> tuple[int, int]:
    """(sliding, full) layer counts of a config's layer_types."""
    types = c["layer_types"]
    return types.count("sliding_attention"), types.count("full_attention")


def test_31b_kv_by_hand():
    """Local layers cache K and V of num_key_value_heads x head_dim; global layers (attention_k_eq_v) have
    num_global_key_value_heads x global_head_dim and cache K and V apart (V is normed, K normed and rotated),
    while the gallery-style figure counts one tensor there: 840 KiB, the gallery's figure."""
    c = text("gemma-4-31b")
    n_local, n_global = kinds(c)
    assert (n_local, n_global) == (50, 10) and c["attention_k_eq_v"] is True
    local = c["num_key_value_heads"] * c["head_dim"] * 2 * BF16  # K + V
    glob_cached = c["num_global_key_value_heads"] * c["global_head_dim"] * 2 * BF16  # K and V both stored
    glob_gallery = c["num_global_key_value_heads"] * c["global_head_dim"] * BF16  # values = keys: counted once
    ir = llmarch.load("gemma-4-31b")
    ctx = 131072
    r = kv_cache(ir, ctx)
    assert r.per_token_bytes_all_layers == n_local * local + n_global * glob_gallery == 840 * 1024
    window = c["sliding_window"]
    assert r.total_bytes == n_local * local * min(ctx, window) + n_global * glob_cached * ctx
    assert kv_cache(ir, 512).total_bytes == (n_local * local + n_global * glob_cached) * 512


def test_31b_global_geometry_and_p_rope():
    """global_head_dim, num_global_key_value_heads (applied since attention_k_eq_v is true) and proportional RoPE
    on full-attention layers only; sliding layers keep head_dim, num_key_value_heads and plain RoPE."""
    c = text("gemma-4-31b")
    full = c["rope_parameters"]["full_attention"]
    assert full["rope_type"] == "proportional"
    ir = llmarch.load("gemma-4-31b")
    for layer, kind in zip(ir.layers, c["layer_types"]):
        a = layer.attention
        if kind == "full_attention":
            assert (a.head_dim, a.n_kv_heads, a.k_eq_v) == (
                c["global_head_dim"],
                c["num_global_key_value_heads"],
                "k_and_v",
            )
            assert (a.rope.theta, a.rope.frequency_fraction, a.rope.partial) == (
                full["rope_theta"],
                full["partial_rotary_factor"],
                1.0,
            )
        else:
            assert (a.head_dim, a.n_kv_heads, a.k_eq_v, a.window) == (
                c["head_dim"],
                c["num_key_value_heads"],
                None,
                c["sliding_window"],
            )
            assert (a.rope.theta, a.rope.frequency_fraction) == (
                c["rope_parameters"]["sliding_attention"]["rope_theta"],
                1.0,
            )
    facts = panel(ir)
    assert facts["position"] == "local: RoPE; global: p-RoPE (25%)"
    assert facts["heads"] == "local: 32 / 16; global: 32 / 4"
    assert "values = keys" in facts["attention_extras"]


def test_31b_attention_by_hand():
    """Per layer: q (d -> heads x dim), k (d -> KV heads x dim), v only on sliding layers, o back, and the q/k
    norms of one head's width (v_norm has no weight)."""
    c = text("gemma-4-31b")
    d, h = c["hidden_size"], c["num_attention_heads"]
    n_local, n_global = kinds(c)
    local = d * h * c["head_dim"] * 2 + d * c["num_key_value_heads"] * c["head_dim"] * 2 + 2 * c["head_dim"]
    hd = c["global_head_dim"]
    glob = d * h * hd * 2 + d * c["num_global_key_value_heads"] * hd + 2 * hd
    count = llmarch.count_params(llmarch.load("gemma-4-31b"))
    assert count.by_component["attention"] == n_local * local + n_global * glob


SPEC = """name: p-rope
vocab_size: 1000
d_model: 256
n_layers: 2
context_length: 4096
attention:
  n_heads: 4
  n_kv_heads: 2
  head_dim: 64
  rope: {rope}
ffn: {{d_ff: 512}}
"""


def test_p_rope_and_partial_rope_are_refused_together(tmp_path):
    path = tmp_path / "p-rope.yaml"
    path.write_text(SPEC.format(rope="{theta: 10000, partial: 0.5, frequency_fraction: 0.25}"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    message = str(err.value)
    assert "p-rope.yaml" in message and "frequency_fraction" in message and "p-rope.yaml:10:" in message


@pytest.mark.parametrize("value", ["0", "1.5", "true", "'0.25'"])
def test_p_rope_fraction_is_a_fraction(tmp_path, value):
    path = tmp_path / "p-rope.yaml"
    path.write_text(SPEC.format(rope=f"{{theta: 10000, frequency_fraction: {value}}}"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "frequency_fraction" in str(err.value)


def test_e2b_kv_by_hand():
    """Layers from num_hidden_layers - num_kv_shared_layers on reuse an earlier layer's KV and cache nothing; the
    others cache K and V of one KV head (head_dim locally, global_head_dim on full layers: attention_k_eq_v is
    false here, so no num_global_key_value_heads and no values = keys). The gallery's 35 KiB counts all 35 layers
    with values = keys on global ones; the spec documents that disagreement (kv_per_token_config 18 KiB)."""
    c = text("gemma-4-e2b")
    assert c["attention_k_eq_v"] is False and c["num_global_key_value_heads"] is None
    own = c["layer_types"][: c["num_hidden_layers"] - c["num_kv_shared_layers"]]
    n_local, n_global = own.count("sliding_attention"), own.count("full_attention")
    assert (n_local, n_global) == (12, 3)
    kv_heads = c["num_key_value_heads"]
    local = kv_heads * c["head_dim"] * 2 * BF16
    glob = kv_heads * c["global_head_dim"] * 2 * BF16
    ir = llmarch.load("gemma-4-e2b")
    r = kv_cache(ir, 131072)
    assert r.per_token_bytes_all_layers == n_local * local + n_global * glob == 18 * 1024
    assert r.total_bytes == n_local * local * c["sliding_window"] + n_global * glob * 131072
    # the gallery's reading: every layer, global ones counted once
    all_local, all_global = kinds(c)
    assert all_local * local + all_global * kv_heads * c["global_head_dim"] * BF16 == 35 * 1024
    from llmarch.analyze.reference import check_references

    checks = {x.key: x for x in check_references(ir, llmarch.count_params(ir))}
    assert checks["kv_per_token"].ok and not checks["kv_per_token"].matches_published


def test_e2b_double_wide_ffn_by_hand():
    """use_double_wide_mlp: the KV-sharing layers' GeGLU has 2 x intermediate_size (gate, up and down)."""
    c = text("gemma-4-e2b")
    assert c["use_double_wide_mlp"] is True
    d, width, n, shared = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["num_kv_shared_layers"]
    ir = llmarch.load("gemma-4-e2b")
    assert (
        llmarch.count_params(ir).by_component["dense_ffn"] == (n - shared) * 3 * d * width + shared * 3 * d * 2 * width
    )
    assert panel(ir)["layer_extras"] == "per-layer embeddings 256, KV-sharing layers 20, their dense FFN size 12,288"


def test_e2b_components_equal_transformers():
    """Per-layer embeddings, KV sharing and the double-wide FFN against the transformers modules implementing them."""
    from conftest import transformers_model

    cfg, model = transformers_model("gemma-4-e2b")
    ir = llmarch.load("gemma-4-e2b")
    count = llmarch.count_params(ir)
    by_name: dict[str, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = parts[3] if parts[1] == "layers" else parts[1]
        by_name[key] = by_name.get(key, 0) + p.numel()
    assert count.by_component["per_layer_embedding"] == by_name["embed_tokens_per_layer"]
    assert count.by_component["attention"] == by_name["self_attn"]
    assert count.by_component["dense_ffn"] == by_name["mlp"]
    assert count.by_component["per_layer_input"] == (
        by_name["per_layer_input_gate"] + by_name["per_layer_projection"] + by_name["per_layer_model_projection"]
    )
    assert count.by_component["norms"] == sum(
        v for k, v in by_name.items() if k.endswith("norm") or k.endswith("layernorm")
    )
    modes = cfg.kv_sharing_modes
    assert [l.kv_shared_from is not None for l in ir.layers] == [m == "reuse" for m in modes]
    assert {l.kv_shared_from for l in ir.layers if l.kv_shared_from is not None} == {
        i for i, m in enumerate(modes) if m == "store"
    }
    for layer in ir.layers:
        mlp = model.model.layers[layer.index].mlp
        assert layer.dense.d_ff == mlp.intermediate_size


@pytest.mark.parametrize(
    "edit, words",
    [
        ("kv_shared_layers: 20\n", "kv_shared_layers is 0"),
        ("", "no dense FFN to widen"),
    ],
)
def test_kv_shared_d_ff_is_refused_where_it_widens_nothing(tmp_path, edit, words):
    from llmarch.spec.registry import shipped_dir

    text_ = (shipped_dir() / "gemma-4-e2b.yaml").read_text().replace("name: gemma-4-e2b", "name: bad")
    if edit:
        text_ = text_.replace(edit, "")
    else:
        text_ = text_.replace("layers: {mixer: LLLLG}", "layers: {mixer: LLLLG, ffn: DDDDDDDDDDDDDDD-}")
    path = tmp_path / "bad.yaml"
    path.write_text(text_)
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "kv_shared_d_ff" in str(err.value) and words in str(err.value) and "bad.yaml" in str(err.value)


# Gemma 4's mechanisms shrunk to a size the traced counters run exactly (FLOPs traced == analytic)
SMALL = {
    "gemma-4-31b": ["n_layers=12", "d_model=512", "ffn.d_ff=1024", "vocab_size=1000"],
    "gemma-4-e2b": [
        "n_layers=10",
        "kv_shared_layers=4",
        "d_model=256",
        "ffn.d_ff=512",
        "kv_shared_d_ff=1024",
        "vocab_size=1000",
        "per_layer_embeddings.vocab_size=1000",
        "reference=null",  # its "effective" figure removes the full-size per-layer table
    ],
    "gemma-4-26b-a4b": [
        "n_layers=6",
        "d_model=256",
        "ffn.d_ff=512",
        "moe.d_expert=128",
        "moe.n_experts=8",
        "moe.top_k=2",
        "vocab_size=1000",
    ],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_traced_counters_agree_small(name):
    """Values = keys (no V projection, 4 global KV heads of 512), KV sharing with a double-wide FFN, per-layer
    inputs, a dense FFN beside the experts: the meta build's traced forward equals the analytic count exactly, prefill and decode."""
    from llmarch.analyze import flops
    from llmarch.analyze.flop_trace import count_fvcore, count_torch

    ir = llmarch.load(name, sets=SMALL[name])
    assert {l.mixer for l in ir.layers} == {"local", "global"}
    model = llmarch.build(ir, with_mtp=False)
    S = 300
    analytic = flops.prefill(ir, S).flops
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == analytic, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


# ---------------------------------------------------------------------------
# 26B-A4B: a dense MLP and the experts in parallel (collected values: no verbatim config could be vendored)


def moe_values() -> dict:
    from conftest import collected_values

    return collected_values("gemma-4-26b-a4b")["text_config"]


@pytest.fixture(scope="module")
def gemma_4_moe():
    import torch
    from transformers import Gemma4ForCausalLM, Gemma4TextConfig

    cfg = Gemma4TextConfig(**{k: v for k, v in moe_values().items() if k != "model_type"})
    with torch.device("meta"):
        model = Gemma4ForCausalLM(cfg)
    return cfg, model


def test_26b_components_equal_transformers(gemma_4_moe):
    """Each part of the parallel FFN against the transformers modules that implement it: the dense MLP, the
    experts, the router (projection, scale, per-expert scale; its norm has no weight) and the three extra norms."""
    cfg, model = gemma_4_moe
    count = llmarch.count_params(llmarch.load("gemma-4-26b-a4b"))
    by_name: dict[str, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = parts[3] if parts[1] == "layers" else parts[1]
        by_name[key] = by_name.get(key, 0) + p.numel()
    assert count.by_component["dense_ffn"] == by_name["mlp"]
    assert count.by_component["routed_experts"] == by_name["experts"]
    assert count.by_component["router"] == by_name["router"]
    assert count.by_component["attention"] == by_name["self_attn"]
    assert count.by_component["norms"] == sum(v for k, v in by_name.items() if "norm" in k)
    # by hand: the parts a shared-expert reading misses, 3 norms, the router's scale and per-expert scale per layer
    c = moe_values()
    d, n = c["hidden_size"], c["num_hidden_layers"]
    assert n * (3 * d + d + c["num_experts"]) == 341_760
    assert count.by_component["router"] == n * (c["num_experts"] * d + d + c["num_experts"])


def test_26b_active_equals_transformers_under_the_stated_convention(gemma_4_moe):
    """Routed experts at top_k / n_experts, the dense MLP, router and everything else fully, the tied
    embedding once as the LM head: 3.8B, the gallery's figure."""
    from fractions import Fraction

    cfg, model = gemma_4_moe
    seen, active = set(), Fraction(0)
    for pname, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        routed = ".experts." in pname
        active += Fraction(p.numel() * cfg.top_k_experts, cfg.num_experts) if routed else p.numel()
    count = llmarch.count_params(llmarch.load("gemma-4-26b-a4b"))
    assert count.active == active
    assert round(count.active / 1e8) == 38


def test_26b_kv_by_hand():
    c = moe_values()
    n_local, n_global = kinds(c)
    local = c["num_key_value_heads"] * c["head_dim"] * 2 * BF16
    glob = c["num_global_key_value_heads"] * c["global_head_dim"] * BF16  # values = keys: counted once
    r = kv_cache(llmarch.load("gemma-4-26b-a4b"), 4096)
    assert r.per_token_bytes_all_layers == n_local * local + n_global * glob == 210 * 1024
    assert r.total_bytes == (n_local * local * c["sliding_window"] + n_global * 2 * glob * 4096)


def test_26b_panel_reads_as_the_article():
    """Fig. 60: "128 experts, 8 + 1 shared", the dense MLP drawn as the shared expert, with a note that it is not one."""
    facts = panel(llmarch.load("gemma-4-26b-a4b"))
    assert (facts["n_experts"], facts["experts_active"], facts["d_expert"]) == ("128", "1 shared + 8", "704")
    assert facts["d_shared"] == "2,112"
    assert "not an expert" in facts["experts_note"] and "parallel" in facts["experts_note"]


def test_parallel_ffn_by_hand(tmp_path):
    """A small parallel FFN: dense (gate, up, down) + router (d x E, scale d, per-expert E) + experts + three norms."""
    path = tmp_path / "par.yaml"
    path.write_text(
        "name: par\nvocab_size: 100\nd_model: 64\nn_layers: 2\ncontext_length: 1024\n"
        "norm: {placement: sandwich}\n"
        "attention: {n_heads: 4, n_kv_heads: 2, rope: {theta: 10000}}\n"
        "ffn: {kind: geglu, d_ff: 96}\n"
        "moe: {n_experts: 8, top_k: 2, d_expert: 32, router_scale: true, per_expert_scale: true}\n"
        "layers: {ffn: P}\n"
    )
    ir = llmarch.load(str(path))
    count = llmarch.count_params(ir)
    assert count.by_component["dense_ffn"] == 2 * 3 * 64 * 96
    assert count.by_component["routed_experts"] == 2 * 8 * 3 * 64 * 32
    assert count.by_component["router"] == 2 * (64 * 8 + 64 + 8)
    # per layer: attn pre/post, ffn pre/post, the experts' pre-norm and both branches' post-norms; the final norm
    assert count.by_component["norms"] == 2 * 7 * 64 + 64
    # active: all but the (untied) lookup table and 6 of every 8 experts' weights
    assert count.active == count.total - 100 * 64 - 2 * 6 * 3 * 64 * 32
    walked = llmarch.module_params(llmarch.build(ir))
    assert walked.by_component == count.by_component and walked.active_by_component == count.active_by_component


@pytest.mark.parametrize(
    "edit, words",
    [
        ("moe: {n_experts: 8, top_k: 2, d_expert: 32, n_shared_experts: 1, d_shared: 32}", "shared expert too"),
        ("moe: null", "no `moe:` block"),
    ],
)
def test_parallel_ffn_refuses_what_it_cannot_count(tmp_path, edit, words):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: bad\nvocab_size: 100\nd_model: 64\nn_layers: 2\ncontext_length: 1024\n"
        "attention: {n_heads: 4, n_kv_heads: 2, rope: {theta: 10000}}\n"
        f"ffn: {{d_ff: 96}}\n{edit}\nlayers: {{ffn: P}}\n"
    )
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert words in str(err.value) and "bad.yaml" in str(err.value)


# ---------------------------------------------------------------------------
# E4B (collected values: no verbatim config could be vendored)


def e4b_values() -> dict:
    from conftest import collected_values

    return collected_values("gemma-4-e4b")["text_config"]


def test_e4b_kv_by_hand():
    """As E2B's: 42 - 18 layers keep a cache; K and V of 2 KV heads, 256 locally and 512 on global layers."""
    c = e4b_values()
    own = c["layer_types"][: c["num_hidden_layers"] - c["num_kv_shared_layers"]]
    n_local, n_global = own.count("sliding_attention"), own.count("full_attention")
    assert (n_local, n_global) == (20, 4) and c["attention_k_eq_v"] is False
    local = c["num_key_value_heads"] * c["head_dim"] * 2 * BF16
    glob = c["num_key_value_heads"] * c["global_head_dim"] * 2 * BF16
    r = kv_cache(llmarch.load("gemma-4-e4b"), 131072)
    assert r.per_token_bytes_all_layers == n_local * local + n_global * glob == 56 * 1024
    assert r.total_bytes == n_local * local * c["sliding_window"] + n_global * glob * 131072
    all_local, all_global = kinds(c)  # the gallery's reading: every layer, global ones counted once
    assert all_local * local + all_global * c["num_key_value_heads"] * c["global_head_dim"] * BF16 == 84 * 1024


def test_e4b_published_figure_towers():
    """The 8B figure's towers: transformers' vision and audio towers of E2B's verbatim config, built beside
    E4B's text config (the embedders project to its width), as the spec's adjustment says."""
    import copy

    from conftest import multimodal_params_of

    wrapper = copy.deepcopy(upstream_config("gemma-4-e2b"))
    wrapper["text_config"] = {**wrapper["text_config"], **e4b_values()}
    towers = multimodal_params_of(wrapper)
    ref = llmarch.load("gemma-4-e4b").references[0]
    assert [p for _, _, p in ref.adjustments] == [towers]


def test_e4b_components_equal_transformers():
    from test_counts import collected_values_model

    cfg, model = collected_values_model("gemma-4-e4b")
    ir = llmarch.load("gemma-4-e4b")
    count = llmarch.count_params(ir)
    by_name: dict[str, int] = {}
    for name, p in model.named_parameters():
        parts = name.split(".")
        key = parts[3] if parts[1] == "layers" else parts[1]
        by_name[key] = by_name.get(key, 0) + p.numel()
    assert count.by_component["per_layer_embedding"] == by_name["embed_tokens_per_layer"]
    assert count.by_component["attention"] == by_name["self_attn"]
    assert count.by_component["dense_ffn"] == by_name["mlp"]
    modes = cfg.kv_sharing_modes
    assert [l.kv_shared_from is not None for l in ir.layers] == [m == "reuse" for m in modes]


def test_fig_60_published_active_figures():
    """Fig. 60's "Active params" row: 3.8B for the 26B-A4B, a figure its spec publishes and checks."""
    from llmarch.analyze.reference import check_references

    ir = llmarch.load("gemma-4-26b-a4b")
    checks = [c for c in check_references(ir, llmarch.count_params(ir)) if c.key == "active"]
    assert [c.published for c in checks] == ["3.8B"] and all(c.ok for c in checks)


@pytest.mark.parametrize("name", ["gemma-4-31b", "gemma-4-e2b"])
def test_layer_scalar_is_a_buffer_as_in_transformers(name):
    """Gemma4TextDecoderLayer.layer_scalar: one persistent buffer element per layer, in the checkpoint and not a
    parameter; llmarch reports the same elements under buffers (the rotary and embedding scales are not persistent)."""
    from conftest import transformers_model

    _, model = transformers_model(name)
    persistent = set(model.state_dict()) - {n for n, _ in model.named_parameters(remove_duplicate=False)}
    held = sum(b.numel() for n, b in model.named_buffers() if n in persistent)
    assert held == text(name)["num_hidden_layers"] and all(n.endswith("layer_scalar") for n in persistent)
    assert llmarch.count_params(llmarch.load(name)).buffers == held


@pytest.mark.parametrize("name", ["gemma-4-31b", "gemma-4-e2b", "gemma-4-e4b"])
def test_dense_active_equals_transformers_under_the_stated_convention(name):
    """Active: every parameter of transformers' model once but the lookup tables, the tied embedding counted once
    as the LM head; the per-layer embedding table (embed_tokens_per_layer) is a lookup, so it is left out."""
    from test_counts import collected_values_model

    from conftest import has_config, transformers_model

    _, model = transformers_model(name) if has_config(name) else collected_values_model(name)
    tied = model.get_input_embeddings().weight is model.get_output_embeddings().weight
    assert tied
    seen, active = set(), 0
    for pname, p in model.named_parameters():
        if id(p) in seen or pname.endswith("embed_tokens_per_layer.weight"):
            continue
        seen.add(id(p))
        active += p.numel()
    assert llmarch.count_params(llmarch.load(name)).active == active
