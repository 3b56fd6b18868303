"""Lightning attention (Ling 2.5, Ling 2.6): the weight table, the state, the FLOPs and the words, by hand
from the publisher's code (inclusionAI/Ring-V2.5 models/modeling_bailing_moe_v2_5.py, whose
`BailingMoeV2_5LinearAttention` is excerpted in docs/sources/ling-2.5-lightning.md).

transformers has no class for this family (its `bailing_hybrid` is Ling 3.0's KDA + MLA model): the
first tests write the counts out from the publisher's `__init__`, the last ones build the publisher's
vendored `BailingMoeV2_5ForCausalLM` (tests/data/publisher/bailing_moe_v2_5) on the meta device.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import llmarch
from llmarch.analyze import flops
from llmarch.analyze.flop_trace import count_fvcore, count_torch
from llmarch.analyze.kvcache import kv_cache
from llmarch.errors import SpecError
from llmarch.mechanisms.layers import layer_mixer, layer_weights

# Ling 2.5's layout at a small size: MLA on every 4th layer (layer_group_size 4), Lightning elsewhere
SPEC = """name: ling-small
vocab_size: 1000
d_model: 256
n_layers: 8
context_length: 4096
attention:
  kind: mla
  n_heads: 4
  q_lora_rank: null
  kv_lora_rank: 64
  qk_nope_head_dim: 32
  qk_rope_head_dim: 16
  v_head_dim: 32
  rope: {theta: 600000}
lightning: {n_heads: 4, head_dim: 64, norm_groups: 4}
ffn: {d_ff: 512}
moe: {n_experts: 8, top_k: 2, d_expert: 64, n_shared_experts: 1, d_shared: 64, score_correction_bias: true}
layers:
  mixer: TTTGTTTG
  ffn: E
  dense_prefix: 1
"""


@pytest.fixture
def ir(tmp_path):
    path = tmp_path / "ling-small.yaml"
    path.write_text(SPEC)
    return llmarch.load(str(path))


def test_weights_by_hand_from_the_publishers_init(ir):
    """BailingMoeV2_5LinearAttention.__init__ with hidden 256, 4 heads of 64 (key/value heads forced to the
    query heads), use_qk_norm, no biases: query_key_value 256 -> (4 + 2 x 4) x 64, query_layernorm and
    key_layernorm of head_dim 64, g_proj 256 -> 4 x 64, g_norm (a GroupRMSNorm) of 4 x 64, dense 4 x 64 -> 256;
    `slope` is a non-persistent buffer and the rotary embedding holds only a buffer."""
    per_layer = 256 * 768 + 64 + 64 + 256 * 256 + 256 + 256 * 256
    assert per_layer == 328_064
    assert llmarch.count_params(ir).by_component["linear_mixer"] == 6 * per_layer
    names = {w.name: w.shape for w in layer_weights(ir, ir.layers[0]) if w.name.startswith("mixer.")}
    assert names == {
        "mixer.query_key_value.weight": (768, 256),
        "mixer.query_layernorm.weight": (64,),
        "mixer.key_layernorm.weight": (64,),
        "mixer.g_proj.weight": (256, 256),
        "mixer.g_norm.weight": (256,),
        "mixer.dense.weight": (256, 256),
    }


def test_weight_table_is_the_meta_build(ir):
    model = llmarch.build(ir, with_mtp=False)
    for layer in (ir.layers[0], ir.layers[3]):  # a Lightning layer, an MLA layer
        built = {n: tuple(p.shape) for n, p in model.layers[layer.index].named_parameters()}
        assert built == {w.name: w.shape for w in layer_weights(ir, layer)}
    assert llmarch.module_params(model).total == llmarch.count_params(ir).total


def test_biases_and_no_qk_norm(tmp_path):
    path = tmp_path / "ling-bias.yaml"
    text = "lightning: {n_heads: 4, head_dim: 64, norm_groups: 4, qk_norm: false, qkv_bias: true, out_bias: true}"
    path.write_text(SPEC.replace("lightning: {n_heads: 4, head_dim: 64, norm_groups: 4}", text))
    ir = llmarch.load(str(path))
    per_layer = (256 * 768 + 768) + 256 * 256 + 256 + (256 * 256 + 256)
    assert llmarch.count_params(ir).by_component["linear_mixer"] == 6 * per_layer
    model = llmarch.build(ir, with_mtp=False)
    assert llmarch.module_params(model).total == llmarch.count_params(ir).total


def test_state_by_hand(ir):
    """A Lightning layer keeps one key-by-value state per head and no convolution: 4 x 64 x 64 at fp32;
    the MLA layers cache kv_lora_rank + qk_rope_head_dim = 80 elements per token at bf16.  The
    gallery-style per-token figure counts the MLA layers only."""
    state = 4 * 64 * 64 * 4
    mla = 2 * (64 + 16) * 2
    kv = kv_cache(ir, ctx=1000)
    assert kv.total_bytes == 6 * state + mla * 1000
    assert kv.per_token_bytes_all_layers == mla


def test_recurrence_macs_by_hand(ir):
    """Chunks of 64: tril(Q K^T) V within a chunk (c^2 dk + c^2 dv) and Q S, S += K^T V (2 c dk dv); a decode
    step is S += k^T v and q S (2 dk dv).  300 tokens are 4 chunks of 64 and one of 44."""
    mixer = layer_mixer(ir, ir.layers[0])
    chunk = lambda c: c * c * 64 + c * c * 64 + 2 * c * 64 * 64  # noqa: E731
    assert mixer.sequence_macs(300, 300) == {"linear_recurrence": 4 * (4 * chunk(64) + chunk(44))}
    assert mixer.sequence_macs(1, 5000) == {"linear_recurrence": 4 * 2 * 64 * 64}


def test_traced_counters_agree(ir):
    """Exactly, at 300 tokens (not a multiple of the chunk) and in decode."""
    model = llmarch.build(ir, with_mtp=False)
    S = 300
    analytic = flops.prefill(ir, S).flops
    for fn in (count_torch, count_fvcore):
        assert fn(model, ir, S).normalised == analytic, fn.__name__
    assert count_fvcore(model, ir, S, decode_ctx=5000).normalised == flops.decode(ir, 5000).flops


def test_box_and_layer_mix(ir):
    box = layer_mixer(ir, ir.layers[0]).box()
    assert box.title == "Lightning Attention" and box.kind == "mixer"
    assert dict(box.notes)["kv"] == "fixed-size state, no KV cache"
    from llmarch.analyze.facts import layer_mix, layer_pattern

    assert layer_mix(ir) == "6 lightning + 2 global"
    # TTTGTTTG with a dense first layer
    assert layer_pattern(ir) == "8 blocks: (3 Lightning + 1 global) × 2; 1 dense, then 7 MoE"


def test_tensor_parallel_needs_whole_heads(ir):
    from llmarch.analyze.serve import Plan, check_plan
    from llmarch.errors import ParameterError

    check_plan(ir, Plan(gpus=4, tp=4, ep=1))
    with pytest.raises(ParameterError) as err:
        check_plan(ir, Plan(gpus=3, tp=3, ep=1))
    assert "4 Lightning attention heads" in str(err.value)


def test_norm_groups_must_divide_the_width(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("norm_groups: 4", "norm_groups: 3"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "norm_groups" in str(err.value) and "bad.yaml" in str(err.value)


def test_unused_block_is_refused(tmp_path):
    path = tmp_path / "unused.yaml"
    path.write_text(SPEC.replace("mixer: TTTGTTTG", "mixer: G"))
    with pytest.raises(SpecError) as err:
        llmarch.load(str(path))
    assert "no layer uses the `lightning:` block" in str(err.value) and "letter T" in str(err.value)


# The publisher's code, built on the meta device: BailingMoeV2_5ForCausalLM from the vendored files
PUBLISHER = Path(__file__).parent / "data" / "publisher" / "bailing_moe_v2_5"


@pytest.fixture
def publisher(monkeypatch):
    """The vendored modelling module, imported with shims that change no parameter (see its source.yaml):
    flash-linear-attention's kernels stubbed (forward only) and four names transformers 5 dropped."""
    import torch
    import transformers.modeling_rope_utils as rope_utils
    import transformers.pytorch_utils as pytorch_utils
    import transformers.utils.import_utils as import_utils

    for name in (
        "fla",
        "fla.ops",
        "fla.ops.simple_gla",
        "fla.ops.simple_gla.fused_recurrent",
        "fla.ops.simple_gla.chunk",
    ):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["fla.ops.simple_gla.fused_recurrent"].fused_recurrent_simple_gla = None
    sys.modules["fla.ops.simple_gla.chunk"].chunk_simple_gla = None
    monkeypatch.setattr(import_utils, "is_torch_fx_available", lambda: False, raising=False)
    monkeypatch.setattr(pytorch_utils, "ALL_LAYERNORM_LAYERS", [], raising=False)
    monkeypatch.setattr(pytorch_utils, "is_torch_greater_or_equal_than_1_13", True, raising=False)

    def default_rope(config, device=None, *args, **kwargs):  # the buffer only: no parameter
        dim = int(config.head_dim * config.partial_rotary_factor)
        return 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float) / dim)), 1.0

    monkeypatch.setitem(rope_utils.ROPE_INIT_FUNCTIONS, "default", default_rope)
    package = types.ModuleType("bailing_publisher")
    package.__path__ = []
    monkeypatch.setitem(sys.modules, "bailing_publisher", package)
    for stem in ("configuration_bailing_moe_v2_5", "modeling_bailing_moe_v2_5"):
        module = types.ModuleType(f"bailing_publisher.{stem}")
        module.__package__ = "bailing_publisher"
        monkeypatch.setitem(sys.modules, module.__name__, module)
        source = PUBLISHER / f"{stem}.py.txt"  # its real path: transformers' docstring decorators read the source
        exec(compile(source.read_text(), str(source), "exec"), module.__dict__)
    return sys.modules["bailing_publisher.modeling_bailing_moe_v2_5"]


# A small config of the publisher's class (its defaults, shrunk) and the spec that describes it: 7 layers in
# groups of 3, so layers 2 and 5 are MLA and so is layer 6, past the last whole group
SMALL_CONFIG = dict(
    vocab_size=1000,
    pad_token_id=0,  # the default, 156892, is past this vocabulary
    eos_token_id=0,
    hidden_size=512,
    intermediate_size=768,
    num_hidden_layers=7,
    layer_group_size=3,
    num_attention_heads=4,
    head_dim=96,
    group_norm_size=4,
    num_experts=16,
    num_experts_per_tok=4,
    n_group=4,
    topk_group=2,
    num_shared_experts=1,
    moe_intermediate_size=64,
    first_k_dense_replace=1,
    kv_lora_rank=64,
    q_lora_rank=None,
    qk_rope_head_dim=16,
    qk_nope_head_dim=32,
    v_head_dim=32,
)
SMALL_SPEC = """name: bailing-small
vocab_size: 1000
d_model: 512
n_layers: 7
context_length: 4096
norm: {kind: rmsnorm, placement: pre, eps: 1.0e-6}
attention:
  kind: mla
  n_heads: 4
  q_lora_rank: null
  kv_lora_rank: 64
  qk_nope_head_dim: 32
  qk_rope_head_dim: 16
  v_head_dim: 32
  rope: {theta: 600000}
lightning: {n_heads: 4, head_dim: 96, norm_groups: 4}
ffn: {d_ff: 768}
moe: {n_experts: 16, top_k: 4, d_expert: 64, n_shared_experts: 1, d_shared: 64, score_correction_bias: true}
layers:
  mixer: [lightning, lightning, global, lightning, lightning, global, global]
  ffn: E
  dense_prefix: 1
"""


def _publisher_model(publisher, **overrides):
    import torch

    config_class = sys.modules["bailing_publisher.configuration_bailing_moe_v2_5"].BailingMoeV2_5Config
    config = config_class(**{**SMALL_CONFIG, **overrides})
    config.rope_scaling = None  # transformers 5 made None a dict, which the MLA __init__ would read as YaRN
    with torch.device("meta"):
        return publisher.BailingMoeV2_5ForCausalLM(config)


def test_total_equals_the_publishers_build(publisher, tmp_path):
    model = _publisher_model(publisher)
    kinds = [layer.attention_layer_type for layer in model.model.layers]
    assert kinds == ["linear_attention"] * 2 + ["attention"] + ["linear_attention"] * 2 + ["attention"] * 2
    path = tmp_path / "bailing-small.yaml"
    path.write_text(SMALL_SPEC)
    ir = llmarch.load(str(path))
    assert llmarch.count_params(ir).total == sum(p.numel() for p in model.parameters())
    linear = sum(p.numel() for n, p in model.named_parameters() if ".attention." in n and "layers.0." in n)
    assert llmarch.count_params(ir).by_component["linear_mixer"] == 4 * linear


def test_mtp_equals_the_publishers_build(publisher, tmp_path):
    """num_nextn_predict_layers: 1 appends an MTP layer (MLA + MoE, enorm, hnorm, eh_proj, final norm)."""
    model = _publisher_model(publisher, num_nextn_predict_layers=1)
    mtp = sum(p.numel() for p in model.model.layers[7].parameters())
    path = tmp_path / "bailing-small-mtp.yaml"
    path.write_text(SMALL_SPEC + "mtp: {n_modules: 1, ffn: moe}\n")
    ir = llmarch.load(str(path))
    counts = llmarch.count_params(ir)
    assert counts.mtp == mtp
    assert counts.total + counts.mtp == sum(p.numel() for p in model.parameters())
