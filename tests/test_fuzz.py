"""Property-based fuzzing: mutated specs either analyse consistently or fail with a SpecError.

Seeds are shipped specs shrunk to small sizes (every integer capped at 64, so builds stay small).
Mutations drop, rename, retype or rescale one field, or graft one key from another seed at the same
place (an indexer onto GQA, a `moe:` block onto a dense model: the combinations no shipped spec has).
A spec that loads must go through every analyzer and agree with itself: it must build, its module
walk must equal the closed form component by component, active <= total, the KV cache must grow
with the context and cover every layer, the analytic FLOPs must scale with the batch and grow with
the context, `serve` must read the same weights, KV and decode FLOPs, and the traced FLOPs of a short
prefill and a decode step must equal the analytic ones.  Any exception other than SpecError fails.
LLMARCH_FUZZ_EXAMPLES sets the number of examples (default 80).
"""

from __future__ import annotations

import os
import uuid

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import llmarch
from llmarch.analyze.kvcache import kv_cache
from llmarch.errors import SpecError

SEEDS = [
    "qwen3-8b",
    "deepseek-v3",
    "gemma-3-27b",
    "qwen3-next-80b-a3b",
    "nemotron-3-nano-30b-a3b",
    "kimi-linear-48b-a3b",
    "gpt-oss-20b",
    "gpt2",
    "llama-4-maverick",
    "deepseek-v3.2-exp",
    "gemma-3n-e4b",
]
KEEP = ("name", "layers", "reference", "sources", "aliases")
EXAMPLES = int(os.environ.get("LLMARCH_FUZZ_EXAMPLES", "80"))


def shrink(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return min(value, 64)
    if isinstance(value, dict):
        return {k: shrink(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shrink(v) for v in value]
    return value


def seed(name: str) -> dict:
    data = dict(llmarch.registry().load(name).data)
    data.pop("reference", None)
    out = {k: (v if k in KEEP else shrink(v)) for k, v in data.items()}
    out["name"] = "fuzz"
    attn = out.get("attention")
    if attn and attn.get("kind") != "mla" and "head_dim" not in attn:
        attn["head_dim"] = 16  # d_model shrunk to 64 no longer divides by the real head count
    return out


SEED_DATA = {n: seed(n) for n in SEEDS}


def paths(data, prefix=()):
    if isinstance(data, dict):
        for k, v in data.items():
            yield prefix + (k,)
            yield from paths(v, prefix + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield prefix + (i,)
            yield from paths(v, prefix + (i,))


def mutate(data: dict, path: tuple, op: str, factor: int) -> dict:
    import copy

    data = copy.deepcopy(data)
    parent = data
    for p in path[:-1]:
        parent = parent[p]
    key = path[-1]
    value = parent[key]
    if op == "drop":
        if isinstance(parent, list):
            parent.pop(key)
        else:
            del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[str(key) + "x"] = parent.pop(key)
    elif op == "retype":
        # int -> "int", float -> str, bool -> int, str -> 1.5, mapping -> list, list -> str
        retyped = {
            int: str(value),
            float: str(value),
            bool: int(value) if isinstance(value, bool) else value,
            str: 1.5,
            dict: [1],
            list: "x",
        }
        parent[key] = retyped.get(type(value), "x")
    elif op == "scale" and isinstance(value, int) and not isinstance(value, bool):
        parent[key] = min(value * factor, 128) if factor > 0 else factor
    return data


def _node(data, path: tuple):
    for p in path:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and isinstance(p, int) and p < len(data):
            data = data[p]
        else:
            return None
    return data


def grafts(name: str) -> list[tuple[tuple, object]]:
    """(path, value) of every key of another seed whose parent mapping exists in this seed, where the
    value differs: the mechanism combinations that mutating one seed alone never reaches."""
    target = SEED_DATA[name]
    out = []
    for donor in SEEDS:
        for path in paths(SEED_DATA[donor]):
            if path[0] in ("name", "sources", "notes", "aliases") or isinstance(path[-1], int):
                continue
            parent = _node(target, path[:-1])
            value = _node(SEED_DATA[donor], path)
            if isinstance(parent, dict) and parent.get(path[-1], object()) != value:
                out.append((path, value))
    return out


GRAFTS = {n: grafts(n) for n in SEEDS}


def graft(data: dict, path: tuple, value) -> dict:
    import copy

    data = copy.deepcopy(data)
    _node(data, path[:-1])[path[-1]] = copy.deepcopy(value)
    return data


@st.composite
def mutated_specs(draw):
    name = draw(st.sampled_from(SEEDS))
    data = SEED_DATA[name]
    op = draw(st.sampled_from(["drop", "rename", "retype", "scale", "graft"]))
    if op == "graft":
        path, value = draw(st.sampled_from(GRAFTS[name]))
        return name, path, op, graft(data, path, value)
    all_paths = [p for p in paths(data) if p[0] not in ("name", "sources", "notes")]
    path = draw(st.sampled_from(all_paths))
    factor = draw(st.sampled_from([-1, 0, 2, 3]))
    return name, path, op, mutate(data, path, op, factor)


@pytest.mark.parametrize("name", SEEDS)
def test_shrunk_seeds_are_valid(name, tmp_path):
    path = tmp_path / f"fuzz-{uuid.uuid4().hex}.yaml"
    path.write_text(yaml.safe_dump(SEED_DATA[name]))
    check_consistent(llmarch.load(str(path)))


def check_consistent(ir):
    closed = llmarch.count_params(ir)
    walked = llmarch.module_params(llmarch.build(ir))
    assert walked.by_component == closed.by_component
    assert walked.total == sum(closed.by_component.values())
    assert closed.active <= closed.total
    sizes = [kv_cache(ir, t).total_bytes for t in (1, 64, 4096, 1 << 20)]
    assert sizes == sorted(sizes)
    check_analyzers(ir, closed)


def check_analyzers(ir, count):
    """kvcache, the analytic FLOPs and serve on the same IR: each runs, and they agree where they meet."""
    from llmarch.analyze import flops
    from llmarch.analyze.serve import Plan, load_gpu, serve

    kv = kv_cache(ir, 4096, batch=2)
    kv.as_dict()  # formulas and labels render
    cached = [l for l in ir.layers if l.mixer != "none"]
    assert sum(r.layers for r in kv.rows) == len(cached)  # every layer with a mixer in exactly one row
    assert all(r.bytes >= 0 for r in kv.rows)
    prefill, prefill2 = flops.prefill(ir, 64), flops.prefill(ir, 64, batch=2)
    assert prefill.flops > 0 and prefill2.flops == 2 * prefill.flops
    decodes = [flops.decode(ir, ctx).flops for ctx in (1, 64, 4096, 1 << 20)]
    assert decodes == sorted(decodes) and decodes[0] > 0
    served = serve(ir, load_gpu("h100-sxm"), Plan(gpus=1, tp=1, ep=1), 4096, 2, weights="bf16").as_dict()
    memory = served["memory_per_gpu"]
    assert memory["weights_bytes"] == 2 * count.total  # bf16: two bytes a parameter, nothing dropped
    assert memory["kv_bytes"] == kv.total_bytes
    assert served["decode_roofline"]["flops_per_step_per_gpu"] == flops.decode(ir, 4096, batch=2).flops
    roofline = [v for v in served["decode_roofline"].values() if isinstance(v, float)]
    assert all(v == v and v not in (float("inf"), float("-inf")) and v >= 0 for v in roofline)


def check_flops(ir):
    """The traced forward of the built module counts what the closed form says, exactly."""
    from llmarch.analyze import flops
    from llmarch.analyze.flop_trace import count_torch

    model = llmarch.build(ir, with_mtp=False)
    assert count_torch(model, ir, 70).normalised == flops.prefill(ir, 70).flops
    assert count_torch(model, ir, 1, decode_ctx=100).normalised == flops.decode(ir, 100).flops


def load_mutated(case, tmp_path):
    """The mutated spec's IR, or None when it fails with a located, printable SpecError."""
    name, path, op, data = case
    file = tmp_path / f"fuzz-{uuid.uuid4().hex}.yaml"
    file.write_text(yaml.safe_dump(data))
    try:
        return llmarch.load(str(file))
    except SpecError as err:
        assert str(err)
        return None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated_specs())
def test_mutated_specs(case, tmp_path):
    ir = load_mutated(case, tmp_path)
    if ir is not None:
        check_consistent(ir)


# tracing costs about a second a model, so FLOPs get a quarter of the examples
@settings(
    max_examples=max(10, EXAMPLES // 4), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=mutated_specs())
def test_mutated_specs_flops(case, tmp_path):
    ir = load_mutated(case, tmp_path)
    if ir is not None:
        check_flops(ir)


# Whole mechanisms moved between seeds: every pairing of a block with a model it was not written for
MECHANISMS = (
    ("attention", "indexer"),
    ("attention", "overrides"),
    ("gated_deltanet",),
    ("kda",),
    ("mamba2",),
    ("moe",),
    ("mtp",),
    ("layers",),
    ("per_layer_embeddings",),
    ("altup",),
    ("laurel",),
    ("learned_positions",),
    ("kv_shared_layers",),
)


def _mechanism_grafts():
    seen = set()
    for name in SEEDS:
        for path, value in GRAFTS[name]:
            if path in MECHANISMS and (name, path, repr(value)) not in seen:
                seen.add((name, path, repr(value)))
                yield pytest.param(name, path, value, id=f"{name}+{'.'.join(path)}#{len(seen)}")


@pytest.mark.parametrize("name,path,value", list(_mechanism_grafts()))
def test_grafted_mechanism_is_consistent_or_refused(name, path, value, tmp_path):
    """issue 26: an indexer on GQA attention once added 21% to FLOPs and nothing to parameters or KV."""
    ir = load_mutated((name, path, "graft", graft(SEED_DATA[name], path, value)), tmp_path)
    if ir is not None:
        check_consistent(ir)


def _spellings(n: int) -> list[str]:
    """Ways to write the integer n: plain decimal (YAML 1.2) and the YAML 1.1 spellings PyYAML also reads."""
    out = [str(n), f"0{n:o}", f"0x{n:x}", f"0b{n:b}"]
    if n >= 60:  # sexagesimal needs a non-zero first part
        out.append(f"{n // 60}:{n % 60:02d}")
    if n >= 1000:
        out.append(f"{n:_}")
    return out


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(min_value=1, max_value=100_000),
    choice=st.integers(min_value=0, max_value=5),
    field=st.sampled_from(["vocab_size", "ffn.d_ff", "context_length"]),
    via_set=st.booleans(),
)
def test_yaml11_spellings_never_misread(n, choice, field, via_set, tmp_path):
    """A number means its decimal digits or is refused, naming what YAML 1.1 (PyYAML) would read."""
    spellings = _spellings(n)
    text = spellings[choice % len(spellings)]
    data = dict(SEED_DATA["qwen3-8b"])
    data["ffn"] = dict(data["ffn"])
    file = tmp_path / f"fuzz-{uuid.uuid4().hex}.yaml"
    file.write_text(yaml.safe_dump(data))
    if via_set:
        call = lambda: llmarch.load(str(file), sets=[f"{field}={text}"])  # noqa: E731
    else:
        lines = file.read_text().splitlines()
        key = field.split(".")[-1]
        lines = [f"{line.split(':')[0]}: {text}" if line.strip().startswith(f"{key}:") else line for line in lines]
        file.write_text("\n".join(lines) + "\n")
        call = lambda: llmarch.load(str(file))  # noqa: E731
    try:
        ir = call()
    except SpecError as err:
        if text == str(n):
            assert "YAML 1.1" not in str(err)  # refused for its size, never for its spelling
            return
        assert f"`{text}` would be read as" in str(err) and "YAML 1.1" in str(err)
        assert str(yaml.safe_load(f"x: {text}")["x"]) in str(err)  # PyYAML's own 1.1 reading, named
        return
    assert text == str(n), f"{text} was accepted"
    value = {"vocab_size": ir.vocab_size, "context_length": ir.context_length}.get(field)
    if value is None:
        value = ir.layers[0].dense.d_ff
    assert value == n
