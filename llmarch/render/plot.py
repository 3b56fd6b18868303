"""`--plot`: cache size against context, one labelled line per model, via matplotlib.

What the figure promises a reader: a title naming what is drawn; contexts on a log2 x axis with ticks
written as users write them (1k, 128k, 1M; k = 1024, M = 1024 x 1024, as `--ctx` reads them); a y axis
that starts at zero, so that a line twice as high is a cache twice as large.  Given one context and no
`--sweep`, the plot sweeps the contexts a user would try, doubling from 1k up to that context: one point
per model would be no plot.
"""

from __future__ import annotations

import io

from ..analyze.kvcache import KVResult
from .output import write_file

SMALLEST_DEFAULT = 1024


def default_contexts(ctx: int) -> list[int]:
    """Doubling from 1k (or `ctx` when smaller) up to `ctx`, which is always the last point."""
    points, t = [], SMALLEST_DEFAULT
    while t < ctx:
        points.append(t)
        t *= 2
    return points + [ctx]


def context_label(tokens: int) -> str:
    """A token count as `--ctx` takes it: 1M, 128k, 1,536 (no suffix when it is not a whole k)."""
    if tokens >= 1 << 20 and tokens % (1 << 20) == 0:
        return f"{tokens >> 20:,}M"
    if tokens % 1024 == 0:
        return f"{tokens >> 10:,}k"
    return f"{tokens:,}"


def plot_kv(results: list[KVResult], contexts: list[int], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in results:
        ys = [p["total_bytes"] / 2**30 for p in r.sweep] if r.sweep else [r.total_bytes / 2**30]
        xs = [p["ctx_tokens"] for p in r.sweep] if r.sweep else [r.ctx_tokens]
        ax.plot(xs, ys, marker="o", label=r.name)
    ax.set_xscale("log", base=2)
    ticks = sorted(set(contexts))
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticklabels([context_label(t) for t in ticks], rotation=45 if len(ticks) > 8 else 0)
    ax.set_ylim(bottom=0)  # from zero: heights compare as sizes
    ax.set_xlabel("context (tokens; k = 1024)")
    first = results[0]
    ax.set_ylabel(f"KV cache (GiB, {first.kv_dtype}, batch {first.batch})")
    ax.set_title(
        f"KV cache against context, {first.kv_dtype}, batch {first.batch}: " + ", ".join(r.name for r in results),
        fontsize=10,
        wrap=True,
    )
    ax.grid(True, which="major", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    # rendered in memory and written atomically: a failed write leaves the previous plot intact
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg" if path.endswith(".svg") else "png")
    plt.close(fig)
    write_file(path, buffer.getvalue())
