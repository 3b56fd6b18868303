"""`--plot`: cache size against context (log-scaled x), one labelled line per model, via matplotlib."""

from __future__ import annotations

import io

from ..kvcache import KVResult
from ..output import write_file


def plot_kv(results: list[KVResult], contexts: list[int], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ys = [p["total_bytes"] / 2**30 for p in r.sweep] if r.sweep else [r.total_bytes / 2**30]
        xs = [p["ctx_tokens"] for p in r.sweep] if r.sweep else [r.ctx_tokens]
        ax.plot(xs, ys, marker="o", label=r.name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context (tokens)")
    ax.set_ylabel(f"KV cache (GiB, {results[0].kv_dtype}, batch {results[0].batch})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    # rendered in memory and written atomically: a failed write leaves the previous plot intact
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg" if path.endswith(".svg") else "png")
    plt.close(fig)
    write_file(path, buffer.getvalue())
