"""FLOPs: analytic counts against hand formulas, and analytic vs FlopCounterMode vs fvcore at full size."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.analyze import flops
from llmarch.analyze.flop_trace import count_fvcore, count_torch
from llmarch.cli import app
from llmarch.mechanisms.attention import prefill_pairs


def test_qwen3_8b_prefill_hand_formula():
    # config values as literals (tests/data/configs/qwen3-8b.json)
    d, L, H, KV, hd, f, V, S = 4096, 36, 32, 8, 128, 12288, 151936, 4096
    proj = d * H * hd + 2 * d * KV * hd + H * hd * d
    scores = S * (S + 1) // 2 * H * (hd + hd)
    ffn = 3 * d * f
    expect = 2 * (L * (S * proj + scores + S * ffn) + S * d * V)
    assert flops.prefill(llmarch.load("qwen3-8b"), S).flops == expect


def test_llama_3_8b_prefill_and_decode_hand_formula():
    d, L, H, KV, hd, f, V = 4096, 32, 32, 8, 128, 14336, 128256
    per_token_weights = L * (d * H * hd + 2 * d * KV * hd + H * hd * d + 3 * d * f) + d * V
    S = 2048
    expect = 2 * (S * per_token_weights + L * S * (S + 1) // 2 * H * 2 * hd)
    ir = llmarch.load("llama-3-8b")
    assert flops.prefill(ir, S).flops == expect
    assert flops.prefill(ir, S, last_token_logits=True).flops == expect - 2 * (S - 1) * d * V
    ctx = 8192
    assert flops.decode(ir, ctx).flops == 2 * (per_token_weights + L * ctx * H * 2 * hd)
    # 2 x active parameters (norm weights are element-wise) plus the attention term
    count = llmarch.count_params(ir)
    matrices = count.active - count.active_by_component["norms"]
    assert flops.decode(ir, 1).flops == 2 * matrices + 2 * L * H * 2 * hd


def test_traced_excess_hand_formula():
    """The normalisation: full S x S square minus the keys each query may see, per layer kind."""
    ir = llmarch.load("gemma-3-27b")  # 52 local (window 1024) + 10 global, 32 heads x (128 + 128)
    S, W, pair = 4096, 1024, 32 * 256
    local_pairs = W * (W + 1) // 2 + (S - W) * W
    global_pairs = S * (S + 1) // 2
    expect = 2 * pair * (52 * (S * S - local_pairs) + 10 * (S * S - global_pairs))
    assert flops.traced_excess(ir, S) == expect
    assert prefill_pairs(ir.layers[0].attention, S) == sum(min(t, W) for t in range(1, S + 1))
    scout = llmarch.load("llama-4-scout").layers[0].attention  # chunked, 8192
    assert prefill_pairs(scout, 20000) == sum((t - 1) % 8192 + 1 for t in range(1, 20001))
    v32 = llmarch.load("deepseek-v3.2-exp").layers[0].attention
    assert prefill_pairs(v32, 5000) == sum(min(t, 2048) for t in range(1, 5001))


def test_moe_router_and_experts():
    ir = llmarch.load("deepseek-v3")
    pre = flops.prefill(ir, 16)
    assert pre.by_component["router"] == 2 * 16 * 58 * 7168 * 256
    assert pre.by_component["routed_experts"] == 2 * 16 * 58 * 8 * 3 * 7168 * 2048
    assert pre.by_component["shared_experts"] == 2 * 16 * 58 * 3 * 7168 * 2048


@pytest.mark.parametrize("name", ["qwen3-8b", "gemma-3-27b", "deepseek-v3", "qwen3-next-80b-a3b"])
def test_traced_counters_agree_at_full_size(name):
    ir = llmarch.load(name)
    model = llmarch.build(ir, with_mtp=False)
    S = 4096
    analytic = flops.prefill(ir, S).flops
    for fn in (count_torch, count_fvcore):
        traced = fn(model, ir, S)
        assert traced.error is None, traced.error
        assert abs(traced.normalised - analytic) <= 0.005 * analytic, (fn.__name__, traced.normalised, analytic)
    decode = flops.decode(ir, 32768).flops
    assert count_torch(model, ir, S, decode_ctx=32768).normalised == pytest.approx(decode, rel=0.005)


# Nemotron 3 Super's latent MoE, narrowed: 88 layers of which 40 latent MoE (d 512 -> latent 128, 32 experts)
NEMOTRON_3_SUPER_SMALL = ["d_model=512", "moe.latent_dim=128", "moe.n_experts=32", "moe.top_k=4", "vocab_size=1000"]
NEMOTRON_3_SUPER_SMALL += ["moe.d_expert=256", "moe.d_shared=512", "mamba2.n_heads=16", "attention.n_heads=8"]


def test_latent_moe_hand_formula():
    """Nemotron 3 Super (config values as literals): the router and the shared expert at d = 4,096, the 22 of 512
    experts (squared ReLU, up and down) in the latent l = 1,024, the two projections d -> l -> d for every token."""
    d, latent, n, k, f, shared, n_moe, S = 4096, 1024, 512, 22, 2688, 5376, 40, 16
    pre = flops.prefill(llmarch.load("nemotron-3-super-120b-a12b"), S)
    assert pre.by_component["router"] == 2 * S * n_moe * d * n
    assert pre.by_component["routed_experts"] == 2 * S * n_moe * k * 2 * latent * f
    assert pre.by_component["dense_ffn"] == 2 * S * n_moe * 2 * d * latent
    assert pre.by_component["shared_experts"] == 2 * S * n_moe * 2 * d * shared


# Trinity Large narrowed (its 60 layers kept: 3 sliding + 1 NoPE global, 6 dense then MoE)
TRINITY_LARGE_SMALL = ["d_model=256", "attention.n_heads=4", "attention.n_kv_heads=2", "attention.head_dim=32"]
TRINITY_LARGE_SMALL += ["attention.window=128", "ffn.d_ff=512", "moe.n_experts=16", "moe.d_expert=64"]
TRINITY_LARGE_SMALL += ["moe.d_shared=64", "vocab_size=1000"]


# Qwen3.6-27B's combination, a Gated DeltaNet hybrid with a dense FFN in every layer, shrunk to 8 layers
QWEN3_6_27B_SMALL = ["n_layers=8", "d_model=512", "ffn.d_ff=1024", "vocab_size=1000"]
# Step 3.5 Flash and Mistral Small 4 shrunk (their 288 and 128 experts per layer trace too slowly here): the first
# global layer, sliding ones with a 64-token window, the dense prefix, experts after it
STEP_3_5_SMALL = ["n_layers=5", "d_model=512", "vocab_size=1000", "ffn.d_ff=1024", "attention.window=64"]
STEP_3_5_SMALL += ["moe.n_experts=16", "moe.d_expert=128", "moe.d_shared=128"]
MISTRAL_SMALL_4_SMALL = ["n_layers=3", "d_model=512", "vocab_size=1000"]
MISTRAL_SMALL_4_SMALL += ["moe.n_experts=16", "moe.d_expert=128", "moe.d_shared=128"]
# 12 n-gram tables of 32 columns at d_model 384; 16 real and 8 zero experts, 4 chosen
LONGCAT_SMALL = ["n_layers=4", "d_model=384", "vocab_size=1000", "ffn.d_ff=512", "ngram_embedding.vocab_ratio=2"]
LONGCAT_SMALL += ["moe.n_experts=16", "moe.zero_experts=8", "moe.top_k=4", "moe.d_expert=128"]


@pytest.mark.parametrize(
    "name,sets",
    [
        ("kimi-linear-48b-a3b", None),
        ("nemotron-3-nano-30b-a3b", None),
        ("deepseek-v3.2-exp", None),
        ("gpt-oss-20b", None),
        ("llama-4-maverick", None),
        ("olmo-3-7b", None),
        ("gpt2", None),
        ("gemma-3n-e4b", None),
        ("qwen3.6-27b", QWEN3_6_27B_SMALL),
        ("laguna-xs.2", None),  # query heads per layer kind, a head-wise output gate
        ("step-3.5-flash", STEP_3_5_SMALL),  # as Laguna, with a sigmoid gate; 3 dense blocks, then experts
        ("mistral-small-4-119b", MISTRAL_SMALL_4_SMALL),  # MLA, experts without a routing bias on every layer
        ("nemotron-3-super-120b-a12b", NEMOTRON_3_SUPER_SMALL),  # latent MoE
        ("trinity-large", TRINITY_LARGE_SMALL),  # sandwich norm, element-wise gate, NoPE global layers, windows
        # zero experts (the trace counts every slot a real expert, the configured maximum), the dense FFN beside
        # the shortcut MoE, the n-gram tables (lookups) and their projections
        ("longcat-flash-lite", LONGCAT_SMALL),
    ],
)
def test_traced_counters_agree_other_mechanisms(name, sets):
    """Exactly: small terms (Gemma 3n's AltUp coefficients, n^3 per layer) would hide in any tolerance."""
    ir = llmarch.load(name, sets=sets)
    model = llmarch.build(ir, with_mtp=False)
    S = 300  # not a multiple of the 64-token chunk
    analytic = flops.prefill(ir, S).flops
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == analytic, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


def test_small_qwen3_6_27b_keeps_its_layer_kinds():
    """The shrunk Qwen3.6-27B above still has both mixers and the dense FFN on every layer."""
    ir = llmarch.load("qwen3.6-27b", sets=QWEN3_6_27B_SMALL)
    assert [layer.mixer for layer in ir.layers] == (["gated_deltanet"] * 3 + ["global"]) * 2
    assert {layer.ffn for layer in ir.layers} == {"dense"}


def test_cli_json_all_counters():
    import jsonschema

    from llmarch.render.output_schema import OUTPUT_SCHEMA

    result = CliRunner().invoke(
        app,
        [
            "flops",
            "qwen3-0.6b",
            "gpt2",
            "--seq",
            "512",
            "--ctx",
            "4k",
            "--counter",
            "all",
            "--sweep",
            "1k,8k",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    m = data["models"][0]
    assert m["prefill"]["tokens"] == 512 and m["decode"]["ctx_tokens"] == 4096
    assert m["prefill"]["flops"] == sum(m["prefill"]["by_component"].values())
    for counter in ("analytic", "torch", "fvcore"):
        assert m["counters"][counter]["normalised"] == m["prefill"]["flops"]
    assert m["counters"]["fvcore"]["raw"] * 2 > m["prefill"]["flops"]  # raw: multiply-adds over the full square
    assert [r["ctx_tokens"] for r in m["sweep"]] == [1024, 8192]
    assert m["rules_of_thumb"]["2n"] == 2 * m["rules_of_thumb"]["active_params"]


def test_cli_table():
    result = CliRunner().invoke(app, ["--no-color", "flops", "deepseek-v3", "--seq", "1k", "--counter", "torch"])
    assert result.exit_code == 0, result.output
    assert "routed_experts" in result.output and "a multiply-add is 2 FLOPs" in result.output


def test_cli_bad_seq():
    result = CliRunner().invoke(app, ["flops", "gpt2", "--seq", "12q"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_traced_counters_agree_with_shared_indexer_layers():
    """GLM-5.2's schedule on a small GLM-5: shared-indexer layers attend to top-k keys without scoring them."""
    import yaml

    from conftest import upstream_config
    from llmarch.importers.hf import import_config
    from llmarch.spec.resolve import to_ir
    from llmarch.spec.validate import validate
    from llmarch.spec.yamlsafe import load_text

    config = dict(upstream_config("glm-5"), num_hidden_layers=6, index_topk_freq=2, index_topk=64)
    config.update(hidden_size=256, intermediate_size=512, moe_intermediate_size=64, n_routed_experts=8, vocab_size=512)
    config.update(num_attention_heads=4, q_lora_rank=64, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8)
    config.update(v_head_dim=16, index_n_heads=2, index_head_dim=16, num_experts_per_tok=2, qk_head_dim=24)
    spec = import_config(config, name="x", source="c.json").spec
    assert spec["attention"]["indexer"]["layers"] == "FFSFSF"
    located = load_text(yaml.safe_dump(spec, sort_keys=False), "x.yaml")
    ir = to_ir(validate(located), located)
    model = llmarch.build(ir, with_mtp=False)
    S = 300  # beyond top-k (64)
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == flops.prefill(ir, S).flops, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


def test_flops_command_is_the_answer_the_cli_prints_and_the_table_reads_only_it():
    """One path: `flops_report.flops_command` gives the typed answer; the CLI's JSON is its `as_dict()`, and the
    table is drawn from the answer alone (the lengths as written included)."""
    from llmarch.flops_report import flops_command
    from llmarch.render.doc import to_markdown
    from llmarch.render.flops import flops_doc

    # qwen3-8b's config literals (tests/data/configs/qwen3-8b.json): 2 FLOPs per multiply-add
    d, L, H, KV, hd, f, V, S = 4096, 36, 32, 8, 128, 12288, 151936, 1024
    proj = d * H * hd + 2 * d * KV * hd + H * hd * d
    expect = 2 * (L * (S * proj + S * (S + 1) // 2 * H * (hd + hd) + S * 3 * d * f) + S * d * V)
    answer = flops_command([llmarch.load("qwen3-8b")], S, 4096, written=("1k", "4k"))
    assert answer.models[0]["prefill"]["flops"] == expect and answer.warnings == []
    cli = CliRunner().invoke(app, ["flops", "qwen3-8b", "--seq", "1k", "--ctx", "4k", "-f", "json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output) == answer.as_dict()
    table = to_markdown(flops_doc(answer))
    assert "prefill 1k" in table and "decode/token at 4k" in table
