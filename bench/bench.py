"""`make bench`: wall times of llmarch against `python -c "import torch"`, measured in the same run.

Each figure is the median of 5 fresh processes (3 for the slow traced count); targets are ratios to the
torch import (absolute times drift on shared machines).  Beside each command: the floor (the interpreter
starting and importing llmarch's CLI) and, for the commands the build cache serves, the same answer from
a warm cache (a cache folder of the benchmark's own, emptied first).  Results go to bench/results.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

RUNS = 5
PY = sys.executable
LLMARCH = [PY, "-m", "llmarch"]


CACHE = tempfile.mkdtemp(prefix="llmarch-bench-cache-")
# timed as users run it: with bytecode caching on (a shell with PYTHONDONTWRITEBYTECODE set would recompile
# llmarch in every process and time the compiler), and llmarch compiled once before the first timing
BASE = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
COLD = {**BASE, "LLMARCH_NO_CACHE": "1"}
WARM = {**BASE, "LLMARCH_NO_CACHE": "0", "LLMARCH_CACHE_DIR": CACHE}
subprocess.run([PY, "-m", "compileall", "-q", str(Path(__file__).resolve().parent.parent / "llmarch")], env=BASE)


def median_seconds(cmd: list[str], env: dict | None = None, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env or COLD)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def warm_seconds(cmd: list[str]) -> float:
    """The answer from a warm build cache: one run fills it, the median of the next runs is timed."""
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=WARM)
    return median_seconds(cmd, env=WARM)


def generated_specs(folder: Path, n: int = 200) -> Path:
    """n specs made from the shipped ones under new names (no aliases), for `report` over a large folder."""
    shipped = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))
    for i in range(n):
        data = yaml.safe_load(shipped[i % len(shipped)].read_text())
        data["name"] = f"gen-{i:03d}-{data['name']}"[:60]
        data.pop("aliases", None)
        (folder / f"{data['name']}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def sparse_checkpoint(folder: Path, shards: int = 64) -> Path:
    """A 1T-parameter checkpoint laid out as Kimi K2's (61 layers of 384 fp8 experts, one matrix and one
    block-scale tensor per expert and projection, 64 shards and an index), its data regions sparse holes."""
    import math
    import struct

    d, f, experts, layers = 7168, 2048, 384, 61
    tensors = {}
    for i in range(layers):
        for e in range(experts):
            for proj, shape in (("gate_proj", (f, d)), ("up_proj", (f, d)), ("down_proj", (d, f))):
                name = f"model.layers.{i}.mlp.experts.{e}.{proj}.weight"
                tensors[name] = ("F8_E4M3", shape, shape[0] * shape[1])
                scales = (math.ceil(shape[0] / 128), math.ceil(shape[1] / 128))
                tensors[name + "_scale_inv"] = ("F32", scales, 4 * scales[0] * scales[1])
    names = list(tensors)
    per = math.ceil(len(names) / shards)
    weight_map = {}
    for k in range(shards):
        shard = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        header, offset = {}, 0
        for name in names[k * per : (k + 1) * per]:
            dtype, shape, size = tensors[name]
            header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
            offset += size
            weight_map[name] = shard
        raw = json.dumps(header).encode()
        with open(folder / shard, "wb") as out:
            out.write(struct.pack("<Q", len(raw)) + raw)
            out.truncate(8 + len(raw) + offset)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def build_snippet(name: str) -> str:
    return (
        "import time, resource, torch; m0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "import llmarch; t = time.perf_counter(); ir = llmarch.load('%s'); model = llmarch.build(ir); "
        "n = llmarch.module_params(model).total; dt = time.perf_counter() - t; "
        "m1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; print(dt, (m1 - m0) * 1024, n)" % name
    )


def sparse_gguf(folder: Path) -> Path:
    """A 1T-parameter GGUF laid out as a Q4_K Kimi K2 (61 layers of 384 stacked experts, GGUF's reversed
    dimensions), with a 163,840-token vocabulary in its metadata; the data region a sparse hole."""
    import struct

    def string(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<Q", len(raw)) + raw

    d, f, experts, layers = 7168, 2048, 384, 61
    kv = [
        string("general.architecture") + struct.pack("<I", 8) + string("deepseek2"),
        string("deepseek2.block_count") + struct.pack("<II", 4, layers),
        string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 163840)
        + b"".join(string(f"tok{i}") for i in range(163840)),
    ]
    infos, offset = [], 0
    for i in range(layers):
        for proj, dims in (("gate", (d, f, experts)), ("up", (d, f, experts)), ("down", (f, d, experts))):
            nbytes = dims[0] * dims[1] * dims[2] // 256 * 144  # Q4_K: 144 bytes per 256 weights
            infos.append(string(f"blk.{i}.ffn_{proj}_exps.weight") + struct.pack("<I3QIQ", 3, *dims, 12, offset))
            offset += -(-nbytes // 32) * 32
    head = b"GGUF" + struct.pack("<IQQ", 3, len(infos), len(kv)) + b"".join(kv) + b"".join(infos)
    path = folder / "model.gguf"
    with open(path, "wb") as out:
        out.write(head)
        out.truncate(-(-len(head) // 32) * 32 + offset)
    return path


def main() -> None:
    torch_import = median_seconds([PY, "-c", "import torch"])
    results = {
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}",
        "import_torch_s": torch_import,
        "targets": [],
    }

    def record(name: str, seconds: float, target_ratio: float | None, extra: dict | None = None) -> None:
        ratio = seconds / torch_import
        row = {
            "name": name,
            "seconds": round(seconds, 4),
            "ratio_to_import_torch": round(ratio, 3),
            "target_ratio": target_ratio,
            "met": None if target_ratio is None else ratio <= target_ratio,
        }
        row.update(extra or {})
        results["targets"].append(row)
        status = "" if target_ratio is None else ("ok" if ratio <= target_ratio else "MISSED")
        print(f"{name:52s} {seconds:7.3f} s  {ratio:5.2f} x import torch  (target {target_ratio}) {status}")

    print(f"{'import torch':52s} {torch_import:7.3f} s")
    record("floor: python -c 'import llmarch.cli'", median_seconds([PY, "-c", "import llmarch.cli"]), None)
    record("llmarch --help", median_seconds(LLMARCH + ["--help"]), 0.2)
    record("llmarch list", median_seconds(LLMARCH + ["list"]), None)
    record("llmarch kvcache gemma3 --ctx 128k", median_seconds(LLMARCH + ["kvcache", "gemma3", "--ctx", "128k"]), None)
    record(
        "llmarch report (every shipped spec)",
        median_seconds(LLMARCH + ["report", "-o", "/dev/null", "--format", "markdown"]),
        0.5,
    )
    with tempfile.TemporaryDirectory() as folder:
        specs = generated_specs(Path(folder))
        record(
            "llmarch report (a folder of 200 specs)",
            median_seconds(LLMARCH + ["report", str(specs), "-o", "/dev/null", "--format", "markdown"]),
            0.5,
        )
    with tempfile.TemporaryDirectory() as folder:
        ckpt = sparse_checkpoint(Path(folder))
        read = f"from llmarch.importers.checkpoints import read_checkpoint; read_checkpoint({str(ckpt)!r})"
        record("verify: read a 1T-parameter checkpoint's headers (64 shards)", median_seconds([PY, "-c", read]), 0.5)
    with tempfile.TemporaryDirectory() as folder:
        path = sparse_gguf(Path(folder))
        read = f"from llmarch.importers.checkpoints.gguf import read_gguf; read_gguf({str(path)!r})"
        record("verify: read a 1T-parameter GGUF's header", median_seconds([PY, "-c", read]), 0.5)
    show = LLMARCH + ["show", "deepseek-v3"]
    record("llmarch show deepseek-v3 (no cache)", median_seconds(show), None)
    record("llmarch show deepseek-v3 (warm cache)", warm_seconds(show), 0.3)
    compare = LLMARCH + ["compare", "qwen3-235b", "deepseek-v3"]
    record("llmarch compare qwen3-235b deepseek-v3 (no cache)", median_seconds(compare), 1.3)
    record("llmarch compare qwen3-235b deepseek-v3 (warm cache)", warm_seconds(compare), 0.3)
    traced = LLMARCH + ["flops", "qwen3-next-80b-a3b", "--counter", "all"]
    record("llmarch flops qwen3-next --counter all (no cache)", median_seconds(traced, runs=3), 10.0)
    # first build of kimi-k2 in a fresh process (torch already imported), and its memory
    builds, rss = [], []
    for _ in range(RUNS):
        out = subprocess.run([PY, "-c", build_snippet("kimi-k2")], check=True, capture_output=True, text=True, env=BASE)
        dt, mem, _ = out.stdout.split()
        builds.append(float(dt))
        rss.append(int(mem))
    peak = int(statistics.median(rss))
    record(
        "build kimi-k2 on meta (first, in-process)",
        statistics.median(builds),
        0.25,
        {"peak_rss_increase_bytes": peak, "peak_rss_target_bytes": 300 * 2**20, "peak_rss_met": peak <= 300 * 2**20},
    )
    print(
        f"{'  peak RSS above import torch':52s} {peak / 2**20:7.1f} MiB (target 300 MiB) {'ok' if peak <= 300 * 2**20 else 'MISSED'}"
    )
    if importlib.util.find_spec("transformers") is not None:  # the reference, when installed
        hf = (
            "import json, time, torch; from transformers import AutoModelForCausalLM; "
            "from transformers.models.auto.configuration_auto import CONFIG_MAPPING; "
            "raw = json.load(open('tests/data/configs/kimi-k2.json')); "
            "cfg = CONFIG_MAPPING['deepseek_v3'](**{k: v for k, v in raw.items() if k != 'model_type'}); "
            "t = time.perf_counter();\nwith torch.device('meta'): AutoModelForCausalLM.from_config(cfg)\n"
            "print(time.perf_counter() - t)"
        )
        times = [
            float(
                subprocess.run([PY, "-c", hf], check=True, capture_output=True, text=True, env=BASE).stdout.split()[-1]
            )
            for _ in range(RUNS)
        ]
        record("reference: transformers meta build of kimi-k2", statistics.median(times), None)
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
