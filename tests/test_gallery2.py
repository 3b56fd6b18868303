"""The LLM Architecture Gallery, part 2 (issue 23): the models that needed a new mechanism.

Totals are held to transformers' build of each config by tests/test_counts.py (collected values where no verbatim
config was found); here: the hand counts, the KV cache by hand over the config values, the new mechanisms' FLOPs
traced == analytic at a small size, and their bad input.
"""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

import llmarch
from conftest import collected_values
from llmarch.analyze import flops
from llmarch.analyze.flop_trace import count_fvcore, count_torch
from llmarch.analyze.kvcache import kv_cache
from llmarch.cli import app
from llmarch.errors import SpecError
from llmarch.spec.resolve import to_ir
from llmarch.spec.validate import validate
from llmarch.spec.yamlsafe import load_text

BF16 = 2


def _load_text(text: str):
    located = load_text(text, "x.yaml")
    return to_ir(validate(located), located)


# ---------------------------------------------------------------------------
# The parallel block (Cohere): attention and FFN read one norm and add to the residual together


def test_tiny_aya_total_by_hand():
    """The from-scratch notebook prints 3,349,227,520 (tests/data/configs/tiny-aya.values.yaml, [A]); by hand:"""
    c = collected_values("tiny-aya")
    d, heads, kv_heads, ff, n = 2048, 16, 4, 11008, 36
    assert (c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]) == (d, heads, kv_heads)
    assert (c["intermediate_size"], c["num_hidden_layers"], c["tie_word_embeddings"]) == (ff, n, True)
    head_dim = d // heads  # Cohere2Config: always hidden_size / heads
    attention = 2 * d * heads * head_dim + 2 * d * kv_heads * head_dim
    mlp = 3 * d * ff
    one_norm = d  # a LayerNorm without a shift: one per parallel block (two in a sequential one)
    embedding = c["vocab_size"] * d  # tied with the LM head: once
    total = embedding + n * (attention + mlp + one_norm) + d  # the final norm
    assert total == 3_349_227_520
    assert llmarch.count_params(llmarch.load("tiny-aya")).total == total


def test_parallel_block_has_one_norm_per_layer():
    """The same model as a sequential block has a second norm per layer: 36 x 2,048 more parameters, and the
    meta build names the parallel block's one norm `input_norm`."""
    parallel = llmarch.load("tiny-aya")
    sequential = llmarch.load("tiny-aya", sets=["block.residual=sequential"])
    assert llmarch.count_params(sequential).total - llmarch.count_params(parallel).total == 36 * 2048
    names = {n for n, _ in llmarch.build(parallel).named_parameters() if n.startswith("layers.0.")}
    assert {n for n in names if "norm" in n} == {"layers.0.input_norm.weight"}


def test_tiny_aya_kv_by_hand():
    """36 layers x 4 KV heads x (128 + 128) x 2 B = 72 KiB per token, the gallery's figure; at 8,192 tokens the 27
    sliding layers hold their 4,096-token window and the 9 global ones every token."""
    c = collected_values("tiny-aya")
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    per_layer = c["num_key_value_heads"] * 2 * head_dim * BF16
    r = kv_cache(llmarch.load("tiny-aya"), 8192)
    assert r.per_token_bytes_all_layers == c["num_hidden_layers"] * per_layer == 72 * 1024
    n_sliding = c["layer_types"].count("sliding_attention")
    n_full = c["layer_types"].count("full_attention")
    assert (n_sliding, n_full) == (27, 9)
    assert r.total_bytes == per_layer * (n_sliding * c["sliding_window"] + n_full * 8192)


def test_parallel_block_ffn_reads_the_layer_input_beside_the_mixer():
    """The FLOP counts cannot tell the branches' order (the shapes are the same): the meta forward's FFN receives
    the very tensor the mixer receives in a parallel block, and the stream after the mixer in a sequential one."""
    seen = {}

    def record(name):
        return lambda module, args: seen.__setitem__(name, args[0])

    for residual, same in (("parallel", True), ("sequential", False)):
        ir = llmarch.load("tiny-aya", sets=TINY_AYA_SMALL + [f"block.residual={residual}"])
        model = llmarch.build(ir, with_mtp=False)
        layer = model.layers[0]
        layer.attn.register_forward_pre_hook(record("mixer"))
        layer.ffn.register_forward_pre_hook(record("ffn"))
        count_torch(model, ir, 8)
        assert (seen["ffn"] is seen["mixer"]) == same, residual


# Tiny Aya shrunk: the parallel block with both attention kinds and the window inside the sequence
TINY_AYA_SMALL = ["n_layers=4", "d_model=256", "ffn.d_ff=512", "vocab_size=1000", "attention.window=64"]


def test_parallel_block_flops_traced_equal_analytic():
    """The parallel block changes no matrix: both counters trace exactly the analytic FLOPs, prefill and decode."""
    ir = llmarch.load("tiny-aya", sets=TINY_AYA_SMALL)
    assert [layer.mixer for layer in ir.layers] == ["local", "local", "local", "nope"]
    model = llmarch.build(ir, with_mtp=False)
    S = 300
    analytic = flops.prefill(ir, S).flops
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == analytic, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


PARALLEL_SPEC = """\
name: x
vocab_size: 100
d_model: 64
n_layers: 2
context_length: 128
norm: {kind: layernorm, placement: pre}
block: {residual: parallel}
attention: {kind: gqa, n_heads: 4, n_kv_heads: 2, rope: {theta: 10000}}
ffn: {kind: swiglu, d_ff: 128}
"""


@pytest.mark.parametrize(
    "edit,message",
    [
        ({"norm": {"kind": "layernorm", "placement": "post"}}, "norm.placement is post"),
        ({"layers": {"mixer": "G", "ffn": "D-"}}, "layer 1 has no FFN"),
        ({"layers": {"mixer": "-G"}}, "layer 0 has no mixer"),
        ({"laurel": {"rank": 8}}, "`laurel` hooks into a sequential block"),
    ],
)
def test_parallel_block_bad_input_is_located(edit, message):
    spec = dict(yaml.safe_load(PARALLEL_SPEC), **edit)
    with pytest.raises(SpecError) as e:
        _load_text(yaml.safe_dump(spec, sort_keys=False))
    text = str(e.value)
    assert "x.yaml:" in text and "block.residual" in text and message in text


def test_parallel_block_cli_error_exit_2():
    result = CliRunner().invoke(app, ["show", "tiny-aya", "--set", "block.residual=diagonal"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "block.residual" in result.output and "parallel" in result.output


def test_parallel_block_panel_and_diagram():
    ir = llmarch.load("tiny-aya")
    assert llmarch.describe(ir)["architecture"]["block"] == "parallel"
    assert "block" not in llmarch.describe(llmarch.load("qwen3-4b"))["architecture"]
    from llmarch.render.diagram_blocks import block_slots, blocks_of

    slots = block_slots(blocks_of(ir)[0])
    assert [s.role for s in slots] == ["norm-1", "mixer", "ffn", "add-1"]
    mixer, ffn = slots[1], slots[2]
    assert ffn.fed_from == "norm-1" and mixer.joins == "add-1"


def test_command_a_plus_total_and_active_by_hand():
    """Cohere's 218B total and 25B active, by hand over the collected values (command-a-plus.values.yaml)."""
    c = collected_values("command-a-plus")["text_config"]
    d, heads, kv_heads, head_dim = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    assert (d, heads, kv_heads, head_dim) == (4096, 128, 8, 128)
    e, k, width, shared = c["num_experts"], c["num_experts_per_tok"], c["intermediate_size"], c["num_shared_experts"]
    assert (e, k, width, shared) == (128, 8, 4096, 4)
    attention = 2 * d * heads * head_dim + 2 * d * kv_heads * head_dim
    expert = 3 * d * width
    shared_ffn = 3 * d * width * shared  # Cohere2MoeMLP(intermediate_size x num_shared_experts)
    router, one_norm = e * d, d
    embedding = c["vocab_size"] * d
    n = c["num_hidden_layers"]
    total = embedding + n * (attention + e * expert + shared_ffn + router + one_norm) + d
    active = embedding + n * (attention + k * expert + shared_ffn + router + one_norm) + d  # the tied head counts
    assert total == 218_254_938_112 and active == 24_981_409_792
    count = llmarch.count_params(llmarch.load("command-a-plus"))
    assert (count.total, count.active) == (total, active)


def test_command_a_plus_active_equals_transformers_under_the_stated_convention():
    from test_counts import active_by_convention, collected_values_model

    cfg, model = collected_values_model("command-a-plus")
    assert type(model).__name__ == "Cohere2MoeForCausalLM"
    assert llmarch.count_params(llmarch.load("command-a-plus")).active == active_by_convention(cfg, model)


def test_command_a_plus_kv_by_hand():
    """32 layers x 8 KV heads x (128 + 128) x 2 B = 128 KiB per token, the gallery's figure."""
    c = collected_values("command-a-plus")["text_config"]
    per_layer = c["num_key_value_heads"] * 2 * c["head_dim"] * BF16
    r = kv_cache(llmarch.load("command-a-plus"), 131072)
    assert r.per_token_bytes_all_layers == c["num_hidden_layers"] * per_layer == 128 * 1024
    n_full = c["layer_types"].count("full_attention")
    n_sliding = c["num_hidden_layers"] - n_full
    assert r.total_bytes == per_layer * (n_sliding * c["sliding_window"] + n_full * 131072)


def test_parallel_block_with_experts_flops_traced_equal_analytic():
    """Command A+ shrunk: the parallel block around a MoE with shared experts."""
    sets = ["n_layers=4", "d_model=256", "vocab_size=1000", "attention.n_heads=8", "attention.n_kv_heads=2"]
    sets += ["attention.head_dim=32", "attention.window=64", "moe.n_experts=8", "moe.top_k=2", "moe.d_expert=64"]
    sets += ["moe.d_shared=256", "ffn.d_ff=64"]
    ir = llmarch.load("command-a-plus", sets=sets)
    model = llmarch.build(ir, with_mtp=False)
    S = 300
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == flops.prefill(ir, S).flops, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


# ---------------------------------------------------------------------------
# import-hf: cohere2, cohere2_moe and the cohere2_vision wrapper (round trips: tests/test_import_hf.py; edited
# configs against transformers' counts: tests/test_import_edges.py)


def _imported_ir(raw: dict):
    from llmarch.importers.hf import import_config, spec_yaml

    return _load_text(spec_yaml(import_config(raw, name="x", source="c.json")))


def _tiny(raw: dict, **edits) -> dict:
    shape = dict(num_hidden_layers=4, hidden_size=256, intermediate_size=128, num_attention_heads=4, head_dim=64)
    return dict(raw, **shape, num_key_value_heads=2, **edits)


COHERE_CASES = {
    "tiny-aya": dict(layer_types=None, sliding_window_pattern=4),
    "command-a-plus": dict(layer_types=None, num_experts=4, num_experts_per_tok=2, first_k_dense_replace=0),
    "command-a-plus dense prefix": dict(
        layer_types=None, num_experts=4, num_experts_per_tok=2, first_k_dense_replace=2
    ),
    "command-a-plus dense prefix, sliding": dict(
        layer_types=None,
        num_experts=4,
        num_experts_per_tok=2,
        first_k_dense_replace=2,
        prefix_dense_sliding_window_pattern=2,
    ),
}


@pytest.mark.parametrize("case", COHERE_CASES)
def test_cohere_rotary_layers_equal_transformers(case):
    """Which layers rotate (RoPE) and which are NoPE or windowed, as transformers' attention modules decide:
    sliding layers rotate; cohere2_moe's dense layers too when prefix_dense_sliding_window_pattern is 1."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    name = case.split()[0]
    raw = collected_values(name)
    raw = dict(raw["text_config"], tie_word_embeddings=True) if "text_config" in raw else dict(raw)
    raw = {k: v for k, v in _tiny(raw, **COHERE_CASES[case]).items() if v is not None}
    cfg = CONFIG_MAPPING[raw["model_type"]](**{k: v for k, v in raw.items() if k != "model_type"})
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(cfg)
    ir = _imported_ir(raw)
    for layer, hf in zip(ir.layers, model.model.layers):
        attn = hf.self_attn
        rotates = attn.sliding_window is not None or getattr(attn, "force_rope", False)
        assert (layer.attention.position == "rope") == rotates, layer.index
        assert (layer.mixer == "local") == (attn.sliding_window is not None), layer.index
    assert llmarch.count_params(ir).total == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "key,value", [("use_parallel_block", False), ("use_qk_norm", True), ("rotary_pct", 0.5), ("layer_norm_bias", True)]
)
def test_cohere_training_switches_only_at_what_transformers_builds(key, value):
    raw = dict(collected_values("tiny-aya"), **{key: value})
    with pytest.raises(SpecError, match=key):
        _imported_ir(raw)
    assert _imported_ir(dict(collected_values("tiny-aya"), use_parallel_block=True)).norm.residual == "parallel"


@pytest.mark.parametrize("name", ["tiny-aya", "command-a-plus", "xlstm-7b"])
def test_every_key_of_the_new_types_at_every_bad_value_fails_cleanly(name):
    """Each key at each of null, [], "x", {}, 0, -1, 1.5, true: a spec that loads, or LlmarchError."""
    from test_import_hf import _sweep, _values

    _sweep(_values(name))


# ---------------------------------------------------------------------------
# xLSTM 7B: the mLSTM, a matrix memory per head (a fixed recurrent state)


def test_xlstm_7b_total_by_hand():
    c = collected_values("xlstm-7b")
    d, heads, n, vocab = c["embedding_dim"], c["num_heads"], c["num_blocks"], c["vocab_size"]
    qk, v = int(d * c["qk_dim_factor"]), int(d * c["v_dim_factor"])
    multiple = c["ffn_round_up_to_multiple_of"]
    ffn = -(-int(d * c["ffn_proj_factor"]) // multiple) * multiple
    assert (qk, v, ffn) == (2048, 4096, 10944)
    mlstm = 2 * d * qk + 3 * d * v + 2 * (heads * d + heads) + v  # q, k; v, output gate, out_proj; gates; head norm
    block = mlstm + 3 * d * ffn + 2 * d  # SwiGLU and the two RMSNorms
    total = 2 * vocab * d + n * block + d  # untied embedding and head, the final norm
    assert total == 6_865_424_896
    assert llmarch.count_params(llmarch.load("xlstm-7b")).total == total


def test_xlstm_7b_state_by_hand():
    """No KV cache: per layer and sequence 8 heads x (256 x 512 memory + 256 normaliser + 1 max) fp32 elements,
    whatever the context; the gallery-style per-token figure is 0 B, the gallery's."""
    heads, dk, dv = 8, 2048 // 8, 4096 // 8
    per_layer = heads * (dk * dv + dk + 1) * 4
    for ctx in (8192, 131072):
        r = kv_cache(llmarch.load("xlstm-7b"), ctx)
        assert r.per_token_bytes_all_layers == 0
        assert r.total_bytes == 32 * per_layer == 134_480_896


XLSTM_SMALL = ["n_layers=2", "d_model=256", "mlstm.n_heads=4", "mlstm.qk_dim=128", "mlstm.v_dim=256"]
XLSTM_SMALL += ["ffn.d_ff=512", "vocab_size=1000"]


def test_mlstm_flops_traced_equal_analytic():
    """The chunked mLSTM (SSD with the normaliser as one more value column) and its decode step, both counters."""
    ir = llmarch.load("xlstm-7b", sets=XLSTM_SMALL)
    model = llmarch.build(ir, with_mtp=False)
    S = 300  # not a multiple of the 64-token chunk
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == flops.prefill(ir, S).flops, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


def test_mlstm_recurrence_by_hand():
    """Per head and chunk of c tokens: Q K^T (c^2 dk), its product with [V 1] (c^2 (dv + 1)), the memory read and
    the chunk's increment (c dk (dv + 1) each); decode 2 dk (dv + 1)."""
    ir = llmarch.load("xlstm-7b", sets=XLSTM_SMALL)
    heads, dk, dv = 4, 32, 64
    chunk = lambda c: c * c * dk + c * c * (dv + 1) + 2 * c * dk * (dv + 1)  # noqa: E731
    per_layer = heads * (4 * chunk(64) + chunk(300 - 256))
    assert flops.prefill(ir, 300).by_component["linear_recurrence"] == 2 * 2 * per_layer
    assert flops.decode(ir, 5000).by_component["linear_recurrence"] == 2 * 2 * heads * 2 * dk * (dv + 1)


def test_mlstm_bad_input_is_located():
    spec = dict(yaml.safe_load(PARALLEL_SPEC), mlstm={"n_heads": 3, "qk_dim": 64, "v_dim": 63}, layers={"mixer": "X"})
    spec.pop("block"), spec.pop("attention")
    with pytest.raises(SpecError) as e:
        _load_text(yaml.safe_dump(spec, sort_keys=False))
    assert "x.yaml:" in str(e.value) and "mlstm" in str(e.value) and "not a multiple of n_heads" in str(e.value)
    spec["mlstm"] = {"n_heads": 4, "qk_dim": 64, "v_dim": 64}
    spec["layers"] = {"mixer": "G"}
    spec["attention"] = {"kind": "gqa", "n_heads": 4, "n_kv_heads": 2, "rope": {"theta": 10000}}
    with pytest.raises(SpecError, match="no layer uses the `mlstm:` block"):
        _load_text(yaml.safe_dump(spec, sort_keys=False))
