"""`--plot`: cache size against context (log-scaled x), one labelled line per model, via matplotlib."""

from __future__ import annotations

from ..kvcache import KVResult


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
    fig.savefig(path)
    plt.close(fig)
