"""DeepSeek V4 (issue 20): the cache by hand over the vendored configs and against transformers 5.23's own cache
classes, the gallery-style figures, the buffers, and FLOPs traced == analytic for the compressed attention, the
hyper-connections and hash routing at a small size (prefill and decode)."""

from __future__ import annotations

import pytest

import llmarch
from conftest import upstream_config
from llmarch.analyze import flops
from llmarch.analyze.flop_trace import count_fvcore, count_torch
from llmarch.analyze.kvcache import kv_cache

V4 = ["deepseek-v4-flash", "deepseek-v4-pro"]
BF16, FP32 = 2, 4


def cache_by_hand(name: str, ctx: int) -> int:
    """One sequence's cache after `ctx` tokens, from the config's keys: every layer keeps the window's last
    sliding_window - 1 tokens of one head_dim tensor (key = value); a layer of ratio r > 0 adds ctx // r entries
    of head_dim, and its compressor's state in fp32: the ctx % r pending tokens (key/value and gate, at the
    projection width: 2 x head_dim with csa's overlap, head_dim without) and, once an entry exists, csa's
    overlap slice (key/value and gate, r x head_dim each); csa's indexer keeps the same at index_head_dim."""
    c = upstream_config(name)
    ratios = c["compress_ratios"][: c["num_hidden_layers"]]  # the last entry is the MTP layer's
    hd, ihd, window = c["head_dim"], c["index_head_dim"], c["sliding_window"]
    total = 0
    for r in ratios:
        total += min(ctx, window - 1) * hd * BF16
        if r == 0:
            continue
        entries, pending = divmod(ctx, r)
        csa = r == 4
        total += entries * hd * BF16
        total += pending * 2 * (2 * hd if csa else hd) * FP32
        if csa:
            total += (2 * r * hd * FP32 if entries else 0) + entries * ihd * BF16
            total += pending * 2 * (2 * ihd) * FP32 + (2 * r * ihd * FP32 if entries else 0)
    return total


@pytest.mark.parametrize("name", V4)
@pytest.mark.parametrize("ctx", [4096, 131072, 1048576, 4099, 130])
def test_cache_by_hand(name, ctx):
    assert kv_cache(llmarch.load(name), ctx).total_bytes == cache_by_hand(name, ctx)


def test_flash_cache_at_1m_written_out():
    """Flash at 1,048,576 tokens: 2 sliding-only, 21 csa, 20 hca layers (compress_ratios), all windows 127 x 512."""
    window = 43 * 127 * 512 * BF16
    csa = 21 * (1048576 // 4 * (512 + 128) * BF16 + (2 * 4 * 512 + 2 * 4 * 128) * FP32)  # 1m % 4 == 0: none pending
    hca = 20 * (1048576 // 128 * 512 * BF16)
    assert kv_cache(llmarch.load("deepseek-v4-flash"), 1048576).total_bytes == window + csa + hca == 7_220_225_024
    v3 = kv_cache(llmarch.load("deepseek-v3"), 1048576).total_bytes
    assert v3 == 61 * (512 + 64) * BF16 * 1048576  # MLA's latent at every token: V4-Flash keeps under a tenth


def test_engine_total_counts_the_fixed_buffers_where_they_dominate():
    """At 7 tokens no window of 4 has closed twice and none of 128 has: the compressor's pending tokens and
    csa's overlap slices are most of a csa layer's cache, and the total keeps them."""
    ir = llmarch.load("deepseek-v4-flash")
    r = kv_cache(ir, 7)
    (csa,) = [row for row in r.rows if row.kind.split(" x ")[1].startswith("csa(")]
    (hca,) = [row for row in r.rows if row.kind.split(" x ")[1].startswith("hca(")]
    # csa: 1 entry (512 + 128 indexer), 3 pending (kv + gate at 1,024 and at 256), the overlap slices
    csa_state = (3 * 2 * 1024 + 2 * 4 * 512 + 3 * 2 * 256 + 2 * 4 * 128) * FP32
    assert csa.fixed_bytes == csa_state == 51_200
    assert csa.bytes == 21 * (7 * 512 * BF16 + (512 + 128) * BF16 + csa_state)
    assert csa_state > 7 * 512 * BF16 + (512 + 128) * BF16  # the state outweighs the window and the entry
    assert hca.fixed_bytes == 7 * 2 * 512 * FP32  # 7 pending tokens, nothing closed yet
    assert r.total_bytes == cache_by_hand("deepseek-v4-flash", 7)


@pytest.mark.parametrize("name,kib", [("deepseek-v4-flash", "5.4 KiB"), ("deepseek-v4-pro", "7.7 KiB")])
def test_gallery_figure(name, kib):
    """The gallery counts the compressed entries at their ratio: 512 / 4 per token on csa layers, 512 / 128 on
    hca layers, at bf16; windows, sliding-only layers and indexer keys left out."""
    c = upstream_config(name)
    ratios = c["compress_ratios"][: c["num_hidden_layers"]]
    by_hand = (ratios.count(4) * 512 // 4 + ratios.count(128) * 512 // 128) * BF16
    assert kv_cache(llmarch.load(name), 4096).per_token_bytes_all_layers == by_hand
    assert f"{by_hand / 1024:.1f} KiB" == kib


def tiny_transformers_config(**kw):
    from transformers import DeepseekV4Config

    layer_types = ["sliding_attention", "compressed_sparse_attention", "heavily_compressed_attention"]
    rates = {"compressed_sparse_attention": 4, "heavily_compressed_attention": 8}
    values = dict(vocab_size=64, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, head_dim=16)
    values.update(qk_rope_head_dim=4, q_lora_rank=8, o_groups=2, o_lora_rank=8, index_n_heads=2, index_head_dim=8)
    values.update(index_topk=2, sliding_window=6, n_routed_experts=4, num_experts_per_tok=2, moe_intermediate_size=16)
    values.update(num_hash_layers=1, hc_mult=2, layer_types=layer_types, compress_rates=rates)
    values.update(max_position_embeddings=256, **kw)
    return DeepseekV4Config(**values)


TINY_SPEC = """name: tiny-v4
vocab_size: 64
d_model: 32
n_layers: 3
context_length: 256
attention:
  kind: compressed
  n_heads: 2
  head_dim: 16
  q_lora_rank: 8
  sinks: true
  k_eq_v: {cache: one}
  window: 6
  grouped_output: {groups: 2, rank: 8}
  rope: {theta: 10000, partial: 0.25}
  overrides:
    csa: {compress: {ratio: 4}, indexer: {n_heads: 2, head_dim: 8, topk: 2}}
    hca: {compress: {ratio: 8}}
moe: {n_experts: 4, top_k: 2, d_expert: 16, expert_kind: swiglu_clamped, n_shared_experts: 1, d_shared: 16,
      score_correction_bias: true, hash_layers: 1}
hyper_connections: {n_streams: 2}
layers: {mixer: LSH}
"""


def tiny_ir(tmp_path):
    path = tmp_path / "tiny-v4.yaml"
    path.write_text(TINY_SPEC)
    return llmarch.load(str(path))


@pytest.mark.parametrize("prefill,steps", [(13, 6), (3, 0), (16, 1)])
def test_cache_parts_are_transformers_cache(tmp_path, prefill, steps):
    """transformers' own DeepseekV4 cache after a prefill and decode steps holds, part for part, what llmarch
    counts: the window's last sliding_window - 1 tokens, the entries, the pending tokens, the overlap slices."""
    import torch
    from transformers import DeepseekV4ForCausalLM

    from llmarch.mechanisms.layers import layer_mixer

    torch.manual_seed(0)
    model = DeepseekV4ForCausalLM(tiny_transformers_config()).eval()
    with torch.no_grad():
        cache = model(torch.randint(0, 64, (1, prefill)), use_cache=True).past_key_values
        for _ in range(steps):
            model(torch.randint(0, 64, (1, 1)), past_key_values=cache, use_cache=True)
    ctx = prefill + steps
    ir = tiny_ir(tmp_path)
    for layer, held in zip(ir.layers, cache.layers):
        parts = layer_mixer(ir, layer).cache_parts(ctx)

        def numel(store: str, name: str) -> int:
            tensor = getattr(held, store, {}).get(name)
            return tensor.numel() if tensor is not None else 0

        # one tensor: the values are the keys (the compressed layers' cache holds it once; transformers'
        # generic sliding layer keeps a second, equal copy that an engine would not)
        assert parts["window"] == held.keys.numel()
        assert torch.equal(held.values, held.keys)
        if layer.mixer == "local":
            assert set(parts) == {"window"}
            continue
        assert parts["compressed"] == numel("compressed_kv", "compressor")
        assert parts["pending"] == numel("buffer_kv", "compressor") + numel("buffer_gate", "compressor")
        overlap = numel("overlap_kv", "compressor") + numel("overlap_gate", "compressor")
        assert parts["overlap"] == overlap
        if layer.mixer == "csa":
            assert parts["indexer_keys"] == numel("compressed_kv", "indexer")
            assert parts["indexer_pending"] == numel("buffer_kv", "indexer") + numel("buffer_gate", "indexer")
            assert parts["indexer_overlap"] == numel("overlap_kv", "indexer") + numel("overlap_gate", "indexer")


def test_tiny_spec_counts_as_transformers_builds_it(tmp_path):
    """The tiny spec above is the tiny config: same parameters, same buffers (hash table, correction bias)."""
    import torch
    from transformers import DeepseekV4ForCausalLM

    from conftest import unique_params

    with torch.device("meta"):
        model = DeepseekV4ForCausalLM(tiny_transformers_config())
    count = llmarch.count_params(tiny_ir(tmp_path))
    assert count.total == unique_params(model)
    loaded = sum(b.numel() for n, b in model.named_buffers() if n.endswith(("tid2eid", "e_score_correction_bias")))
    assert count.buffers == loaded == 64 * 2 + 2 * 4  # the hash layer's table, the two learned layers' bias


def test_hash_table_is_a_buffer_not_a_parameter():
    ir = llmarch.load("deepseek-v4-flash")
    count = llmarch.count_params(ir)
    # three hash layers: 129,280 x 6 table each; forty learned layers: 256 correction biases each
    assert count.buffers == 3 * 129280 * 6 + 40 * 256
    assert [layer.moe.hash_table_rows for layer in ir.layers[:4]] == [129280, 129280, 129280, None]


# DeepSeek V4 Flash shrunk: every layer kind (sliding-only, csa, hca), a hash layer, 2 streams, indexer top-8
SMALL = [
    "n_layers=5",
    "layers.mixer=LSHSH",
    "d_model=256",
    "vocab_size=1000",
    "moe.n_experts=8",
    "moe.d_expert=64",
    "moe.d_shared=64",
    "attention.n_heads=4",
    "attention.head_dim=64",
    "attention.q_lora_rank=64",
    "attention.window=16",
    "attention.grouped_output.groups=2",
    "attention.grouped_output.rank=32",
    "attention.overrides.csa.indexer.n_heads=2",
    "attention.overrides.csa.indexer.head_dim=16",
    "attention.overrides.csa.indexer.topk=8",
    "attention.overrides.hca.compress.ratio=16",
    "hyper_connections.n_streams=2",
]


def test_small_v4_keeps_its_mechanisms():
    ir = llmarch.load("deepseek-v4-flash", sets=SMALL)
    assert [layer.mixer for layer in ir.layers] == ["local", "csa", "hca", "csa", "hca"]
    assert ir.layers[0].moe.hash_table_rows == 1000 and ir.layers[3].moe.hash_table_rows is None
    assert ir.layers[2].attention.compress_ratio == 16 and ir.hc_streams == 2


@pytest.mark.parametrize("S", [300, 30, 3])
def test_traced_counters_agree(S):
    """Exactly, prefill (300 tokens: 75 csa entries of which top-8 are seen, 18 hca entries; 30 and 3: before
    any top-k cut, and before any entry) and decode."""
    ir = llmarch.load("deepseek-v4-flash", sets=SMALL)
    model = llmarch.build(ir, with_mtp=False)
    analytic = flops.prefill(ir, S).flops
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == analytic, fn.__name__
    for ctx in (5000, 7, 1):
        decode = flops.decode(ir, ctx).flops
        for fn in (count_torch, count_fvcore):
            assert fn(model, ir, S, decode_ctx=ctx).normalised == decode, (fn.__name__, ctx)


def test_scores_by_hand():
    """The score FLOPs of one csa and one hca layer of the small model, written out: 4 heads x (64 + 64) per
    (query, key) pair; window 16 keys; csa sees min(8, t // 4) entries and its indexer (2 x 16) scores all
    t // 4; hca sees t // 16."""
    from llmarch.mechanisms.layers import layer_mixer

    ir = llmarch.load("deepseek-v4-flash", sets=SMALL)
    csa, hca = (layer_mixer(ir, ir.layers[i]) for i in (1, 2))
    pair, ipair, S = 4 * 128, 2 * 16, 300
    window = sum(min(t, 16) for t in range(1, S + 1))
    csa_prefill = (window + sum(min(8, t // 4) for t in range(1, S + 1))) * pair + sum(
        t // 4 for t in range(1, S + 1)
    ) * ipair
    hca_prefill = (window + sum(t // 16 for t in range(1, S + 1))) * pair
    assert csa.sequence_macs(S, S)["attention_scores"] == csa_prefill
    assert hca.sequence_macs(S, S)["attention_scores"] == hca_prefill
    assert csa.sequence_macs(1, 5000)["attention_scores"] == (16 + 8) * pair + 1250 * ipair
    assert hca.sequence_macs(1, 5000)["attention_scores"] == (16 + 312) * pair


def test_flash_components_and_shipped_bytes_by_hand():
    """Flash's components from its config by hand, and its weights as shipped: fp4 experts (mxfp4: 4 bits and a
    ue8m0 scale per 32) beside fp8 128 x 128 blocks (attention, shared expert), hyper-connections in fp32, the
    rest (embedding, head, routers, norms) bf16."""
    from fractions import Fraction

    from llmarch.analyze.weights import weight_bytes

    d, L, V, H, hd, q, g, r = 4096, 43, 129280, 64, 512, 1024, 8, 1024
    sliding = d * q + q + q * H * hd + d * hd + hd + (H * hd // g) * g * r + g * r * d + H
    csa_extra = 2 * d * 2 * hd + 4 * 2 * hd + hd  # kv and gate projections, position bias, norm
    csa_extra += 2 * d * 2 * 128 + 4 * 2 * 128 + 128 + q * 64 * 128 + d * 64  # the indexer
    hca_extra = 2 * d * hd + 128 * hd + hd
    attention = L * sliding + 21 * csa_extra + 20 * hca_extra
    routed = L * 256 * 3 * d * 2048
    shared = L * 3 * d * 2048
    router = L * 256 * d
    hc = L * 2 * (24 * 4 * d + 24 + 3) + (4 * 4 * d + 4 + 1)
    norms = L * 2 * d + d
    count = llmarch.count_params(llmarch.load("deepseek-v4-flash"))
    c = count.by_component
    assert (c["attention"], c["routed_experts"], c["shared_experts"]) == (attention, routed, shared)
    assert (c["router"], c["hyper_connections"], c["norms"]) == (router, hc, norms)
    assert c["token_embedding"] == c["lm_head"] == V * d
    fp8_block = Fraction(1) + Fraction(4, 128 * 128)
    by_hand = routed * Fraction(17, 32) + (attention + shared) * fp8_block + hc * 4 + (2 * V * d + router + norms) * 2
    assert weight_bytes(llmarch.load("deepseek-v4-flash"), count) == int(by_hand)


# The "compressed" convention lines (kvcache, flops) are about DeepSeek V4 alone: a human table prints them only
# when a model of its answer has compressed attention; JSON keeps every line. The hyper-connections component
# is in every JSON count (0 elsewhere) but a table shows no all-zero row.
KV_LINE = "compressed: DeepSeek V4: every layer keeps its window's last window - 1 tokens"
FLOPS_LINE = "compressed: DeepSeek V4: query t sees min(t, window) keys"


def _cli(*args: str):
    from typer.testing import CliRunner

    from llmarch.cli import app

    result = CliRunner().invoke(app, ["--no-color", *args])
    assert result.exit_code == 0, result.output
    return result.stdout  # the answer only (a context past a model's goes to stderr as a warning)


@pytest.mark.parametrize("command,line", [("kvcache", KV_LINE), ("flops", FLOPS_LINE)])
def test_compressed_convention_printed_only_with_a_compressed_model(command, line):
    import json

    assert line not in _cli(command, "qwen3-8b")
    assert line in _cli(command, "deepseek-v4-flash")
    assert line in _cli(command, "qwen3-8b", "deepseek-v4-pro")  # one model of the answer is enough
    assert json.loads(_cli(command, "qwen3-8b", "-f", "json"))["conventions"]["compressed"].startswith("DeepSeek V4")


def test_report_table_prints_the_kv_compressed_line_only_with_v4():
    line = "kv_" + KV_LINE
    assert line not in _cli("report", "qwen3-8b", "deepseek-v3")
    assert line in _cli("report", "qwen3-8b", "deepseek-v4-flash")


def test_hyper_connections_row_only_where_the_model_has_them():
    import json

    assert "hyper_connections" not in _cli("show", "qwen3-8b")
    assert "hyper_connections" in _cli("show", "deepseek-v4-flash")
    params = json.loads(_cli("show", "qwen3-8b", "-f", "json"))["models"][0]["params"]
    assert params["by_component"]["hyper_connections"] == 0
