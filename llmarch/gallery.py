"""The article's side-by-side figures, as pairs of shipped specs, and the LLM Architecture Gallery's models;
`make gallery` writes docs/gallery.md.

Each pair names the figure of "The Big LLM Architecture Comparison" it reproduces
(numbering of the December 2025 version, figures 53 on of its 2026 revision; see docs/sources/article.md
section 24).
"""

from __future__ import annotations

from pathlib import Path

ARTICLE_PAIRS: list[tuple[str, str, str]] = [
    ("Fig. 10", "llama-3-8b", "olmo-2-7b"),
    ("Fig. 14", "olmo-2-7b", "gemma-3-27b"),
    ("Fig. 16", "gemma-3-27b", "mistral-small-3.1-24b"),
    ("Fig. 17", "deepseek-v3", "llama-4-maverick"),
    ("Fig. 18", "qwen3-0.6b", "llama-3.2-1b"),
    ("Fig. 19", "deepseek-v3", "qwen3-235b-a22b"),
    ("Fig. 21", "qwen3-4b", "smollm3-3b"),
    ("Fig. 25.1", "deepseek-v3", "kimi-k2"),
    ("Fig. 25.2", "deepseek-r1", "kimi-k2-thinking"),
    ("Fig. 26", "gpt-oss-20b", "gpt-oss-120b"),
    ("Fig. 27", "gpt-oss-20b", "qwen3-30b-a3b"),
    ("Fig. 32", "grok-2.5", "qwen3-235b-a22b"),
    ("Fig. 34", "glm-4.5", "qwen3-235b-a22b"),
    ("Fig. 35", "qwen3-235b-a22b", "qwen3-next-80b-a3b"),
    ("Fig. 39", "qwen3-235b-a22b", "minimax-m2"),
    ("Fig. 42", "qwen3-next-80b-a3b", "kimi-linear-48b-a3b"),
    ("Fig. 44", "olmo-3-7b", "qwen3-8b"),
    ("Fig. 45", "olmo-3-32b", "qwen3-32b"),
    ("Fig. 50", "deepseek-v3", "mistral-large-3"),
    ("Fig. 52", "mimo-v2-flash", "deepseek-v3.2-exp"),
    ("Fig. 54", "trinity-large", "glm-4.5"),  # the panel's values: tests/test_article.py
    ("Fig. 56", "glm-5", "glm-4.5"),  # the panel's values: tests/data/article/fig-56.yaml
    ("Fig. 58", "gemma-4-31b", "gemma-3-27b"),
    ("Fig. 60", "gemma-4-26b-a4b", "qwen3-coder-30b-a3b"),
]


# Pairs no figure of the article draws, asked for by an issue: drawn and compared after the article's figures.
# The label names where the comparison comes from.
OTHER_PAIRS: list[tuple[str, str, str]] = [
    ("Issue 20", "deepseek-v4-flash", "deepseek-v3"),  # what V4's compressed attention changes from V3's MLA
]


# Comparisons the article makes in its text, with no side-by-side figure: (section, specs, what it says), shown as
# `compare` tables in docs/gallery.md
ARTICLE_COMPARISONS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "§18.2",
        ("nemotron-3-super-120b-a12b", "qwen3.5-122b-a10b", "gpt-oss-120b"),
        "Nemotron 3 Super against Qwen3.5 122B-A10B and gpt-oss-120b: comparable benchmarks, with 2x and 2.2x "
        "their throughput (NVFP4)",
    ),
]


# The gallery's model titles (its fact sheet, tests/data/gallery/llm-list.tsv) and the shipped spec of each.
# A title left out has no spec yet and shows as "not shipped" in the table.
GALLERY_SPECS: dict[str, str] = {
    "GPT-2 XL (1.5B)": "gpt2-xl",
    "Llama 3 (8B)": "llama-3-8b",
    "Llama 3.2 (1B)": "llama-3.2-1b",
    "Llama 3.2 (3B)": "llama-3.2-3b",
    "OLMo 2 (7B)": "olmo-2-7b",
    "DeepSeek V3 (671B)": "deepseek-v3",
    "DeepSeek R1 (671B)": "deepseek-r1",
    "Gemma 3 (27B)": "gemma-3-27b",
    "Mistral Small 3.1 (24B)": "mistral-small-3.1-24b",
    "Llama 4 Maverick (400B)": "llama-4-maverick",
    "Qwen3 (0.6B)": "qwen3-0.6b",
    "Qwen3 (235B-A22B)": "qwen3-235b-a22b",
    "Qwen3 (30B-A3B)": "qwen3-30b-a3b",
    "Qwen3 (32B)": "qwen3-32b",
    "Qwen3 (4B)": "qwen3-4b",
    "Qwen3 (8B)": "qwen3-8b",
    "SmolLM3 (3B)": "smollm3-3b",
    "Kimi K2 (1T)": "kimi-k2",
    "GLM-4.5 (355B)": "glm-4.5",
    "GLM-4.5-Air (106B)": "glm-4.5-air",
    "INTELLECT-3 (106B)": "intellect-3",
    "Qwen3 Coder Flash (30B-A3B)": "qwen3-coder-30b-a3b",
    "GPT-OSS (120B)": "gpt-oss-120b",
    "GPT-OSS (20B)": "gpt-oss-20b",
    "Gemma 3 (270M)": "gemma-3-270m",
    "Grok 2.5 (270B)": "grok-2.5",
    "Qwen3 Next (80B-A3B)": "qwen3-next-80b-a3b",
    "MiniMax M2 (230B)": "minimax-m2",
    "Kimi Linear (48B-A3B)": "kimi-linear-48b-a3b",
    "OLMo 3 (32B)": "olmo-3-32b",
    "OLMo 3 (7B)": "olmo-3-7b",
    "DeepSeek V3.2 (671B)": "deepseek-v3.2-exp",  # the gallery lists V3.2; same attention and layers
    "DeepSeek V4-Flash (284B)": "deepseek-v4-flash",
    "DeepSeek V4-Pro (1.6T)": "deepseek-v4-pro",
    "Mistral Large 3 (673B)": "mistral-large-3",
    "Nemotron 3 Nano (30B-A3B)": "nemotron-3-nano-30b-a3b",
    "Nemotron 3 Super (120B-A12B)": "nemotron-3-super-120b-a12b",
    "Xiaomi MiMo-V2-Flash (309B)": "mimo-v2-flash",
    "Xiaomi MiMo-V2.5 (310B)": "mimo-v2.5",
    "GLM-4.7 (355B)": "glm-4.7",
    "Kimi K2.5 (1T)": "kimi-k2.5",
    "GLM-5 (744B)": "glm-5",
    "MiniMax-M2.5 (230B)": "minimax-m2.5",
    "Qwen3.5 (397B)": "qwen3.5-397b-a17b",
    "GLM-5.1 (744B)": "glm-5.1",
    "Nemotron 3 Nano (4B)": "nemotron-3-nano-4b",
    "Phi-4 (14B)": "phi-4",
    "Nanbeige 4.1 (3B)": "nanbeige-4.1-3b",
    "Granite 4.1 (30B)": "granite-4.1-30b",
    "Tiny Aya (3.35B)": "tiny-aya",
    "xLSTM (7B)": "xlstm-7b",
    "Command A+ (218B-A25B)": "command-a-plus",
    "Sarvam (105B)": "sarvam-105b",
    "Sarvam (30B)": "sarvam-30b",
    "MiniMax M2.7 (230B)": "minimax-m2.7",
    "Qwen3.6 (35B-A3B)": "qwen3.6-35b-a3b",
    "Kimi K2.6 (1T)": "kimi-k2.6",
    "Qwen3.6 (27B)": "qwen3.6-27b",
    "Tencent Hy3-preview (295B-A21B)": "hy3-preview",
    "Laguna XS.2 (33B)": "laguna-xs.2",
    "Mistral Small 4 (119B)": "mistral-small-4-119b",
    "Step 3.5 Flash (196B)": "step-3.5-flash",
    "Gemma 4 (26B-A4B)": "gemma-4-26b-a4b",
    "Gemma 4 (31B)": "gemma-4-31b",
    "Gemma 4 (E2B)": "gemma-4-e2b",
    "Gemma 4 (E4B)": "gemma-4-e4b",
    "Arcee AI Trinity Large (400B)": "trinity-large",
    "ZAYA1-8B (8.4B)": "zaya1-8b",
    "Xiaomi MiMo-V2.5-Pro (1.02T)": "mimo-v2.5-pro",
    "LongCat-Flash-Lite (68.5B-A3B)": "longcat-flash-lite",
}

# Gallery models whose layers llmarch can express but whose count-deciding values no source found pins; each says
# where it was searched, so that the next search starts from there (docs/gallery.md prints it under the table).
NOT_SHIPPED_UNSOURCED: dict[str, str] = {
    "Ling 2.5 (1T)": (
        "80 layers, 10 MLA + 70 Lightning (the gallery; '1:7 MLA + Lightning Linear Attention', SGLang's cookbook), "
        "which the publisher's rule makes layer_group_size 8 (layer i is MLA when (i + 1) % 8 == 0); 256 experts, "
        "8 active (SGL-JAX's Ling 2.5 recipe); 1T total, 63B active (inclusionAI/Ling-V2.5 README).  The "
        "Lightning layers' shape has one third-party witness only (an SGL-JAX test helper: hidden 8192, 64 heads "
        "of 128, group_norm_size 8, 80 layers), not "
        "the config.  "
        "Lightning attention itself is in llmarch (the `lightning:` block, issue 23: weights from the publisher's "
        "BailingMoeV2_5LinearAttention, vendored in docs/sources/ling-2.5-lightning.md); what is missing is the "
        "checkpoint's config.json, whose count-deciding values no source found pins: the MLA ranks and head dims "
        "(q_lora_rank, kv_lora_rank, qk_nope/qk_rope/v_head_dim), the expert, shared-expert and dense widths "
        "(moe_intermediate_size, num_shared_experts, intermediate_size, first_k_dense_replace), vocab_size, "
        "tie_word_embeddings and num_nextn_predict_layers.  "
        "Searched (issue 23): the Hugging Face card and config of inclusionAI/Ling-2.5-1T (no verbatim copy in the "
        "code or pages corpora, nor in HF mirror pages); inclusionAI/Ling-V2.5 (README only) and "
        "inclusionAI/Ring-V2.5 (modelling and configuration code, whose defaults are Ling-mini sized, no "
        "config.json); aiconfigurator's model_configs (no Ling); the gallery backup "
        "(qundao/backup-llm-architecture-gallery: images only); SGLang's cookbook and its Ring-2.5-1T accuracy test "
        "(model path only); the SGL-JAX Ling 2.5 recipe (256 experts, 8 active; model_type bailing_hybrid); vLLM's "
        "BailingMoeV2_5 port (code only); find_string on layer_group_size, group_norm_size and "
        "BailingMoeV2_5ForCausalLM (a 2048-wide bailing_moe_linear config and Ling 3.0 test configs only).  "
        'Searched again (issue 23, landing LongCat): find_string on \'"model_type": "bailing_hybrid"\' (Ling 3.0 '
        "and Ling-2.6-flash fixtures only), on '\"layer_group_size\": 8' (a 4096-wide bailing_moe_linear test dict), "
        "on '\"num_hidden_layers\": 80,' (Llama, Qwen, Hy3 and Apertus configs), on "
        "'inclusionAI/Ling-2.5-1T/config.json' (a site's deep-dive page citing the file: 80 layers, 10 MLA + 70 "
        "Lightning, about 157,000 tokens of vocabulary, no widths), on 'model/inclusionAI/Ling' (Ling-1T serving "
        "scripts only) and on '\"BailingMoeV2_5ForCausalLM\"' (registries, converters and vLLM's model list); "
        "the code corpus for bailing configs of hidden 8192 and 80 layers; the pages corpus for ModelScope and HF "
        "mirror copies (Ling 2.0 and Ling-1T pages only); the issues corpus (Ling-1T and Ling 3.0 threads only); "
        "inclusionAI/Ling-V2.5 at 3a3eed3b (README, LLaMA-Factory docs and one SFT example, no config); antgroup/sglang "
        "(its ling_2_5 branch is not stored); model-information reports in the search index such as the one that "
        "gave MiMo-V2.5-Pro's config (none for Ling).  "
        "Searched again (issue 22, vendoring MiMo-V2.5): that report family's batch script (search-index file id "
        "62470915791, the checkpoints it reports on) lists no Ling or Ring checkpoint; find_string on "
        "'model/inclusionAI/Ling-2', 'Ring-2.5-1T/config.json' (Ring-2.5-1T, the reasoning release of the same "
        "architecture, whose config would pin Ling 2.5's values) and 'Ling-2.6-1T/config.json' (nothing); the code "
        "corpus for a Ring-2.5-1T config (inclusionAI/Ring-V2.5's README and SGLang's cookbook only, no values)."
    ),
    "Ling 2.6 (1T)": (
        "Ling 2.5's layers (80 layers, 10 MLA + 70 Lightning) with one MTP layer; 1T total, 63B active "
        "(gallery), 256 routed experts + 1 shared, top-8 (the Ling 2.6 report, arXiv:2606.15079, as quoted in "
        "a discussion page).  "
        "Lightning attention itself is in llmarch (the `lightning:` block, issue 23: weights from the publisher's "
        "BailingMoeV2_5LinearAttention, vendored in docs/sources/ling-2.5-lightning.md); what is missing is the "
        "checkpoint's config.json, whose count-deciding values no source found pins: the MLA ranks and head dims "
        "(q_lora_rank, kv_lora_rank, qk_nope/qk_rope/v_head_dim), the expert, shared-expert and dense widths "
        "(moe_intermediate_size, num_shared_experts, intermediate_size, first_k_dense_replace), vocab_size, "
        "tie_word_embeddings and num_nextn_predict_layers.  "
        "Searched (issue 23): the Hugging Face cards of inclusionAI/Ling-2.6-1T and Ling-2.6-1T-base (their "
        "model-summary tables are cut off in every stored copy; no config.json in the code or pages corpora, nor "
        "in HF mirror pages); the Ling-2.6-flash cards and its quantised copies' READMEs (104B: 32 layers, a "
        "different checkpoint, not evidence for the 1T widths); the places listed for Ling 2.5 above.  "
        "Searched again (issue 23, landing LongCat): a complete copy of the Ling-2.6-1T-base card in the code corpus "
        "(search-index file id 59977078703) gives its model summary: 80 layers, 64 attention heads, hidden 8192, 256 "
        "routed experts + 1 shared, 8 active, the first 4 blocks dense, expert width 2048, dense width 18432, "
        "vocabulary 157,184, partial RoPE, Lightning + MLA at 7:1; still unpinned are the MLA ranks and head dims, "
        "the Lightning heads' width, tie_word_embeddings and the MTP layers (the gallery's 11.2 KiB fits 10 MLA "
        "layers caching 576 values, kv_lora_rank + qk_rope_head_dim, which alone decides no count); vllm-project/"
        "recipes models/inclusionAI/Ling-2.6-1T.yaml at 15dfca42 (FP8, '1T total / 50B active', 262,144 context, "
        "no config values); ssweens/llama.cpp-ling-2.6 (a port for Ling-2.6-flash, whose config it quotes: 32 "
        "layers, a different checkpoint); find_string on 'Ling-2.6-1T-' and 'inclusionAI/Ling-2.6-1T' (API routes).  "
        "Searched again (issue 22, vendoring MiMo-V2.5): the places added for Ling 2.5 above."
    ),
}

# Gallery models issue 23 (part 2) leaves unshipped: why, and where their config.json was looked for. Printed under
# the table, so that a reader of docs/gallery.md sees the gap and the evidence.
NOT_SHIPPED: dict[str, str] = {
    "Ling 2.5 (1T)": (
        "Lightning attention beside MLA is built (the `lightning:` block; transformers' `bailing_hybrid` is Ling "
        "3.0's MLA + delta-rule model, not this one); what is missing is the checkpoint's config.json, searched "
        "where the note above says."
    ),
    "Ling 2.6 (1T)": "Ling 2.5's architecture plus one MTP layer; waits for its config.json, as Ling 2.5 (above).",
}

# The vendored fact sheet (tests/data/gallery/source.yaml): `make gallery` runs in a checkout, never from a wheel.
GALLERY_FACT_SHEET = Path(__file__).resolve().parent.parent / "tests" / "data" / "gallery" / "llm-list.tsv"
KV_COLUMN = "KV cache / token (bf16) info"


def gallery_rows(path: Path = GALLERY_FACT_SHEET) -> list[dict[str, str]]:
    """The fact sheet's rows in the gallery's order."""
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def gallery_kv_figure(row: dict[str, str]) -> str:
    """'68.6 KiB · Low' -> '68.6 KiB' (the figure, without the gallery's size class)."""
    return row[KV_COLUMN].split(" · ")[0]


def kv_agreement(ir, computed: int, figure: str) -> str:
    """Whether llmarch's gallery-style KV per token is the gallery's figure to its printed precision; where the
    spec documents a disagreement (`kv_per_token_config`), that figure is named."""
    from .analyze.reference import _holds
    from .units import published_bytes

    published = published_bytes(figure)
    if _holds(computed, published.value, published.last_digit, "nearest"):
        return "yes"
    documented = next((r.kv_per_token_config for r in ir.references if r.kv_per_token_config), None)
    if documented is not None:
        return f"no: the config gives {documented} (documented in the spec)"
    return "**no**"


def gallery_table() -> str:
    """One row per gallery model: llmarch's figures for a shipped spec, "not shipped" otherwise."""
    from .analyze.facts import layer_mix_text
    from .analyze.kvcache import kv_cache
    from .api import count_params, load, registry
    from .mechanisms.layers import layer_mixer
    from .render import fmt

    names = set(registry().names())
    lines = [
        "| Gallery model | Spec | Released | Total | Active | Layer mix | Attention | KV / token (bf16) "
        "| Gallery's KV | Agrees |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in gallery_rows():
        title, figure = row["title"], gallery_kv_figure(row)
        name = GALLERY_SPECS.get(title)
        if name is None or name not in names:
            lines.append(f"| {title} | — | {row['Date']} | — | — | — | — | — | {figure} | not shipped |")
            continue
        ir = load(name)
        count = count_params(ir)
        attention_kinds = " + ".join(
            dict.fromkeys(
                m.label for m in (layer_mixer(ir, layer) for layer in ir.layers) if m is not None and m.attends
            )
        )
        kv = kv_cache(ir, 1, kv_dtype="bf16").per_token_bytes_all_layers
        lines.append(
            f"| {title} | `{name}` | {row['Date']} | {fmt.params(count.total, short=True)} "
            f"| {fmt.params(count.active, short=True)} "
            f"| {layer_mix_text(ir)} | {attention_kinds or '—'} | {kv:,} B ({kv / 1024:.1f} KiB) | {figure} "
            f"| {kv_agreement(ir, kv, figure)} |"
        )
    return "\n".join(lines) + "\n"


def available_pairs(names: set[str]) -> list[tuple[str, str, str]]:
    return [p for p in ARTICLE_PAIRS if p[1] in names and p[2] in names]


def figure_name(fig: str, a: str, b: str) -> str:
    return f"{fig.replace('Fig. ', 'fig-').replace('Issue ', 'issue-').replace('.', '-')}-{a}-vs-{b}.svg"


def drawn_pairs(names: set[str]) -> list[tuple[str, str, str]]:
    """The article's pairs that ship, then the other pairs that ship."""
    return available_pairs(names) + [p for p in OTHER_PAIRS if p[1] in names and p[2] in names]


def _drawn(render, a: str, b: str):
    """The figure of the pair `a`, `b` as `render` draws it, with the header numbers the api computes."""
    from .api import diagram_numbers, load

    irs = [load(a), load(b)]
    return render(irs, diagram_numbers(irs))


def gallery_figures() -> dict[str, str]:
    """docs/figures/*.svg: the diagram of every shipped pair (compared as SVG text by the staleness test;
    the PNGs beside them are rasterised from the same layout)."""
    from .api import registry
    from .render.diagram import render_svg

    names = set(registry().names())
    return {figure_name(fig, a, b): _drawn(render_svg, a, b) for fig, a, b in drawn_pairs(names)}


def gallery_pngs() -> dict[str, bytes]:
    """docs/figures/*.png beside the SVGs: the same layout, drawn by matplotlib."""
    from .api import registry
    from .render.diagram import render_png

    names = set(registry().names())
    return {
        figure_name(fig, a, b).removesuffix(".svg") + ".png": _drawn(render_png, a, b)
        for fig, a, b in drawn_pairs(names)
    }


def gallery_markdown() -> str:
    """docs/gallery.md: every article pair whose two specs ship, as compare tables."""
    from .api import comparison, load, registry
    from .conventions import params_lines
    from .render.doc import to_markdown
    from .render.table import compare_doc

    names = set(registry().names())
    parts = [
        "# Gallery: the article's side-by-side figures",
        "",
        "Generated by `make gallery` from the shipped specs (a test fails when this file is stale).",
        'Figure numbers follow "The Big LLM Architecture Comparison" (December 2025 version; figures 53 on come',
        "from its 2026 revision).",
        "Where the article's panel and the checkpoint's config disagree, the spec follows the config.",
        "",
    ]
    for fig, a, b in drawn_pairs(names):
        irs = [load(a), load(b)]
        doc = compare_doc(comparison(irs))
        doc.tables[0].title, doc.notes = "", []
        parts += [
            f"## {fig}: {irs[0].display_name} vs {irs[1].display_name}"
            + ("" if fig.startswith("Fig. ") else " (no figure of the article; asked for by the issue)"),
            "",
            f"![{fig}](figures/{figure_name(fig, a, b)})",
            "",
            to_markdown(doc),
        ]
    for section, specs, said in ARTICLE_COMPARISONS:
        if not all(name in names for name in specs):
            continue
        irs = [load(name) for name in specs]
        doc = compare_doc(comparison(irs))
        doc.tables[0].title, doc.notes = "", []
        parts += [
            f"## {section}: {' vs '.join(ir.display_name for ir in irs)}",
            "",
            f"The article's text, no figure: {said}.",
            "",
            to_markdown(doc),
        ]
    parts += [
        "## Every model of the LLM Architecture Gallery",
        "",
        "One row per model of Sebastian Raschka's LLM Architecture Gallery",
        "(https://sebastianraschka.com/llm-architecture-gallery/), in its order, from the vendored fact sheet",
        "(tests/data/gallery/llm-list.tsv; release dates and the KV figures are the gallery's). Total and active",
        "parameters, layer mix and attention are llmarch's, from the shipped spec (active without the embedding",
        "tables, as `show` counts it). KV / token is llmarch's gallery-style figure at bf16 (all layers, no",
        "sliding-window cap, no DSA indexer keys, no recurrent state; see `llmarch kvcache`); it agrees when it",
        "equals the gallery's figure to the figure's printed precision.",
        "",
        gallery_table(),
    ]
    for title, searched in NOT_SHIPPED_UNSOURCED.items():
        parts += [f"**{title}, not shipped.** {searched}", ""]
    left = [(title, why) for title, why in NOT_SHIPPED.items() if GALLERY_SPECS.get(title) not in names]
    if left:
        parts += ["Gallery models not shipped yet, with why and where their config was looked for:", ""]
        parts += [f"- **{title}**: {why}" for title, why in left] + [""]
    missing = [f"{fig} ({a} vs {b})" for fig, a, b in ARTICLE_PAIRS if (fig, a, b) not in available_pairs(names)]
    if missing:
        parts += ["## Not yet shipped", "", "; ".join(missing) + ".", ""]
    parts += (
        [
            "## Conventions",
            "",
            "Differences in **bold** and marked ‹ (off the row's majority, or off the first model when there is none).",
            "",
        ]
        + [f"- {line}" for line in params_lines()]
        + [""]
    )
    return "\n".join(parts)


def write_gallery(docs: str = "docs") -> None:
    from pathlib import Path

    folder = Path(docs) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.svg"), *folder.glob("*.png")]:
        old.unlink()
    for name, svg in gallery_figures().items():
        (folder / name).write_text(svg)
    for name, png in gallery_pngs().items():
        (folder / name).write_bytes(png)
    (Path(docs) / "gallery.md").write_text(gallery_markdown())


if __name__ == "__main__":
    write_gallery()
