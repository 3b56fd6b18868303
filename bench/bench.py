"""`make bench`: wall times of llmarch against `python -c "import torch"`, measured in the same run.

Each figure is the median of 5 fresh processes; targets are ratios to the torch import
(absolute times drift on shared machines).  Results go to bench/results.json.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 5
PY = sys.executable
LLMARCH = [PY, "-m", "llmarch"]


def median_seconds(cmd: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_snippet(name: str) -> str:
    return (
        "import time, resource, torch; m0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "import llmarch; t = time.perf_counter(); ir = llmarch.load('%s'); model = llmarch.build(ir); "
        "n = llmarch.module_params(model).total; dt = time.perf_counter() - t; "
        "m1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; print(dt, (m1 - m0) * 1024, n)" % name
    )


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
        print(f"{name:45s} {seconds:7.3f} s  {ratio:5.2f} x import torch  (target {target_ratio}) {status}")

    print(f"{'import torch':45s} {torch_import:7.3f} s")
    record("llmarch --help", median_seconds(LLMARCH + ["--help"]), 0.2)
    record("llmarch list", median_seconds(LLMARCH + ["list"]), None)
    record("llmarch kvcache gemma3 --ctx 128k", median_seconds(LLMARCH + ["kvcache", "gemma3", "--ctx", "128k"]), None)
    record(
        "llmarch report (every shipped spec)",
        median_seconds(LLMARCH + ["report", "-o", "/dev/null", "--format", "markdown"]),
        2.5,
    )
    record(
        "llmarch compare qwen3-235b deepseek-v3",
        median_seconds(LLMARCH + ["compare", "qwen3-235b", "deepseek-v3"]),
        1.3,
    )
    # first build of kimi-k2 in a fresh process (torch already imported), and its memory
    builds, rss = [], []
    for _ in range(RUNS):
        out = subprocess.run([PY, "-c", build_snippet("kimi-k2")], check=True, capture_output=True, text=True)
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
        f"{'  peak RSS above import torch':45s} {peak / 2**20:7.1f} MiB (target 300 MiB) {'ok' if peak <= 300 * 2**20 else 'MISSED'}"
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
            float(subprocess.run([PY, "-c", hf], check=True, capture_output=True, text=True).stdout.split()[-1])
            for _ in range(RUNS)
        ]
        record("reference: transformers meta build of kimi-k2", statistics.median(times), None)
    out = Path(__file__).with_name("results.json")
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
