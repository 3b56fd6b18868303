"""The article's side-by-side figures: each shipped pair's compare JSON holds the panel values.

Panel values are copied from docs/sources/article.md section 24 ("Every explicit pairwise
comparison"), which reads them off Raschka's figures.  Where a panel and the checkpoint's config
disagree (the same file, section 25: Mistral Small 3.1's 40 heads and 256k vocabulary), the spec follows the
config and the test asserts the config value, saying so.  Panels round vocabularies and contexts
("151k", "128k"); `k(x)` accepts either rounding (x // 1000 or x // 1024).
"""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import llmarch
from conftest import ROOT
from llmarch.analyze.reference import check_references
from llmarch.cli import app
from llmarch.gallery import ARTICLE_PAIRS, gallery_markdown

SHIPPED = set(llmarch.registry().names())


def k(value: int) -> set[int]:
    return {value // 1000, value // 1024, round(value / 1000), round(value / 1024)}


def compare(a: str, b: str) -> tuple[dict, dict, list[str]]:
    result = CliRunner().invoke(app, ["compare", a, b, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    return data["models"][0]["architecture"], data["models"][1]["architecture"], data["differences"]


# (figure, left, right, {fact: (left panel value, right panel value)}); "vocab_k"/"context_k" are panel roundings
PANELS = [
    (
        "Fig. 10",
        "llama-3-8b",
        "olmo-2-7b",
        {
            "n_layers": (32, 32),
            "d_model": (4096, 4096),
            "d_ff": (14336, 11008),
            "vocab_k": (128, 100),
            "context_length": (8192, 4096),
            "heads": ([32, 8], [32, 32]),
        },
    ),
    (
        "Fig. 14",
        "olmo-2-7b",
        "gemma-3-27b",
        {
            "n_layers": (32, 62),
            "d_model": (4096, 5376),
            "d_ff": (11008, 21504),
            "vocab_k": (100, 256),
            "context_k": (4, 128),
            "norm": ("post", "sandwich"),
        },
    ),
    (
        "Fig. 16",
        "gemma-3-27b",
        "mistral-small-3.1-24b",
        {
            "n_layers": (62, 40),
            "d_model": (5376, 5120),
            "d_ff": (21504, 32768),
            "context_k": (128, 128),
            # panel: 40 heads / 256k vocabulary for Mistral; its config has 32 heads and 131,072 tokens
            "heads": ([32, 16], [32, 8]),
            "vocab_size": (262208, 131072),
        },
    ),
    (
        "Fig. 17",
        "deepseek-v3",
        "llama-4-maverick",
        {
            "n_layers": (61, 48),
            "d_model": (7168, 5120),
            "n_experts": (256, 128),
            "experts_active": ({"shared": 1, "routed": 8}, {"shared": 1, "routed": 1}),
            "d_ff": (18432, 16384),
            "vocab_k": (129, 202),
        },
    ),
    (
        "Fig. 18",
        "qwen3-0.6b",
        "llama-3.2-1b",
        {
            "n_layers": (28, 16),
            "d_model": (1024, 2048),
            "d_ff": (3072, 8192),
            "vocab_k": (151, 128),
            "heads": ([16, 8], [32, 8]),
            "qk_norm": ("per_head", "none"),
        },
    ),
    (
        "Fig. 19",
        "deepseek-v3",
        "qwen3-235b-a22b",
        {
            "n_layers": (61, 94),
            "d_model": (7168, 4096),
            "n_experts": (256, 128),
            "experts_active": ({"shared": 1, "routed": 8}, {"shared": 0, "routed": 8}),
            "d_expert": (2048, 1536),
            "n_dense_layers": (3, 0),
            "vocab_k": (129, 151),
        },
    ),
    (
        "Fig. 21",
        "qwen3-4b",
        "smollm3-3b",
        {
            "n_layers": (36, 36),
            "d_model": (2560, 2048),
            "d_ff": (9728, 11008),
            "vocab_k": (151, 128),
            "heads": ([32, 8], [16, 4]),
        },
    ),
    (
        "Fig. 25.1",
        "deepseek-v3",
        "kimi-k2",
        {
            "n_experts": (256, 384),
            "heads": ([128, 128], [64, 64]),
            "n_dense_layers": (3, 1),
            "vocab_k": (129, 160),
            "n_layers": (61, 61),
            "d_model": (7168, 7168),
            "d_expert": (2048, 2048),
            "experts_active": ({"shared": 1, "routed": 8}, {"shared": 1, "routed": 8}),
        },
    ),
    (
        "Fig. 26",
        "gpt-oss-20b",
        "gpt-oss-120b",
        {
            "n_layers": (24, 36),
            "n_experts": (32, 128),
            "d_model": (2880, 2880),
            "d_expert": (2880, 2880),
            "experts_active": ({"shared": 0, "routed": 4}, {"shared": 0, "routed": 4}),
            "vocab_k": (201, 201),
            "context_k": (128, 128),
        },
    ),
    (
        "Fig. 27",
        "gpt-oss-20b",
        "qwen3-30b-a3b",
        {
            "n_layers": (24, 48),
            "d_model": (2880, 2048),
            "d_expert": (2880, 768),
            "n_experts": (32, 128),
            "experts_active": ({"shared": 0, "routed": 4}, {"shared": 0, "routed": 8}),
            "heads": ([64, 8], [32, 4]),
        },
    ),
    (
        "Fig. 32",
        "grok-2.5",
        "qwen3-235b-a22b",
        {
            "n_layers": (64, 94),
            "d_model": (8192, 4096),
            "n_experts": (8, 128),
            "d_expert": (16384, 1536),
            "d_shared": (32768, None),
        },
    ),
    (
        "Fig. 34",
        "glm-4.5",
        "qwen3-235b-a22b",
        {
            "n_layers": (92, 94),
            "d_model": (5120, 4096),
            "n_experts": (160, 128),
            "d_expert": (1536, 1536),
            "experts_active": ({"shared": 1, "routed": 8}, {"shared": 0, "routed": 8}),
            "n_dense_layers": (3, 0),
            "vocab_k": (151, 151),
        },
    ),
    (
        "Fig. 35",
        "qwen3-235b-a22b",
        "qwen3-next-80b-a3b",
        {
            "n_layers": (94, 48),
            "d_model": (4096, 2048),
            "n_experts": (128, 512),
            "d_expert": (1536, 512),
            "experts_active": ({"shared": 0, "routed": 8}, {"shared": 1, "routed": 10}),
        },
    ),
    (
        "Fig. 39",
        "qwen3-235b-a22b",
        "minimax-m2",
        {"n_layers": (94, 62), "d_model": (4096, 3072), "n_experts": (128, 256), "d_expert": (1536, 1536)},
    ),
    ("Fig. 42", "qwen3-next-80b-a3b", "kimi-linear-48b-a3b", {"n_layers": (48, 27)}),
    (
        "Fig. 44",
        "olmo-3-7b",
        "qwen3-8b",
        {
            "n_layers": (32, 36),
            "d_ff": (11008, 12288),
            "heads": ([32, 32], [32, 8]),
            "d_model": (4096, 4096),
            "norm": ("post", "pre"),
            "vocab_k": (100, 151),
            "context_length": (65536, 40960),
        },
    ),
    (
        "Fig. 45",
        "olmo-3-32b",
        "qwen3-32b",
        {"d_ff": (27648, 25600), "heads": ([40, 8], [64, 8]), "n_layers": (64, 64), "d_model": (5120, 5120)},
    ),
    (
        "Fig. 50",
        "deepseek-v3",
        "mistral-large-3",
        {
            "n_experts": (256, 128),
            "d_expert": (2048, 4096),
            "experts_active": ({"shared": 1, "routed": 8}, {"shared": 1, "routed": 4}),
            "d_ff": (18432, 16384),
        },
    ),
    (
        "Fig. 52",
        "mimo-v2-flash",
        "deepseek-v3.2-exp",
        {"d_model": (4096, 7168), "n_experts": (256, 256), "d_expert": (2048, 2048)},
    ),
    (
        # the article draws Gemma 3 on the left; `compare gemma-4-31b gemma-3-27b` as issue 19 asks. Panel: 60 vs 62
        # blocks, global-layer KV heads 4 (values = keys in global layers) vs 16, p-RoPE 25% vs RoPE, 262k vs 256k
        # vocabulary, 256k vs 128k context; the same 5,376 embedding and FFN 21,504. Gemma 3's global RoPE is
        # linearly scaled x8 in its config, which the panel does not say.
        "Fig. 58",
        "gemma-4-31b",
        "gemma-3-27b",
        {
            "n_layers": (60, 62),
            "heads": ({"local": [32, 16], "global": [32, 4]}, [32, 16]),
            "attention_extras": (["values = keys"], []),
            "position": (
                {"local": "RoPE", "global": "p-RoPE (25%)"},
                {"local": "RoPE", "global": "RoPE + linear x8"},
            ),
            "vocab_k": (262, 256),
            "context_k": (256, 128),
            "d_model": (5376, 5376),
            "d_ff": (21504, 21504),
        },
    ),
    (
        # Qwen3 Coder Flash on the article's left; the 26B-A4B's dense MLP in parallel is its "1 shared" expert.
        # Both 256k context; Gemma 4 has pre + post norms
        "Fig. 60",
        "gemma-4-26b-a4b",
        "qwen3-coder-30b-a3b",
        {
            "n_layers": (30, 48),
            "d_model": (2816, 2048),
            "n_experts": (128, 128),
            "experts_active": ({"shared": 1, "routed": 8}, {"shared": 0, "routed": 8}),
            "d_expert": (704, 768),
            "vocab_k": (262, 151),
            "context_k": (256, 256),
            "norm": ("sandwich", "pre"),
        },
    ),
    (
        # docs/sources/article.md, "Arcee Trinity Large 400B vs GLM-4.5 355B (Fig 54)" and section 20's panel;
        # the words of the panel (SWA, RoPE + NoPE, gated attention) in test_fig_54_panel_words
        "Fig. 54",
        "trinity-large",
        "glm-4.5",
        {
            "n_layers": (60, 92),  # "Blocks"
            "d_model": (3072, 5120),  # "Embedding"
            "n_experts": (256, 160),
            "experts_active": ({"shared": 1, "routed": 4}, {"shared": 1, "routed": 8}),  # "1 + 4", "1 + 8"
            "d_expert": (3072, 1536),  # "Expert size"
            "n_dense_layers": (6, 3),  # "Dense prefix 6 x 12,288", "3 x 12,288"
            "d_ff": (12288, 12288),
            "norm": ("sandwich", "pre"),  # "sandwich norm", "pre-norm"
            "vocab_k": (200, 151),
            "context_k": (512, 128),
        },
    ),
]


# Panels vendored under tests/data/article/ (one YAML per figure, with the article as source): the facts the
# generic check below reads; the rest (published totals, attention words) are checked in their own tests
VENDORED = {
    fig: yaml.safe_load(fig.read_text()) for fig in sorted((ROOT / "tests" / "data" / "article").glob("*.yaml"))
}
GENERIC = ("n_layers", "d_model", "n_experts", "d_expert", "vocab_k", "context_k")
PANELS += [
    (v["figure"], v["left"], v["right"], {k: tuple(v["panel"][k]) for k in GENERIC if k in v["panel"]})
    for v in VENDORED.values()
]


def _parse_experts(text: str) -> dict:
    routed, shared = (int(t.split()[0]) for t in text.split(" + "))
    return {"shared": shared, "routed": routed}


@pytest.mark.parametrize("path", sorted(VENDORED), ids=lambda p: p.name)
def test_vendored_panel_words_and_figures(path):
    """The panel's total / active are figures each spec publishes and checks; its attention words name what the
    spec's attention is; the text's active experts and dense blocks are the specs'."""
    v = VENDORED[path]
    left, right, _ = compare(v["left"], v["right"])
    for i, (name, arch) in enumerate(((v["left"], left), (v["right"], right))):
        ir = llmarch.load(name)
        checks = check_references(ir, llmarch.count_params(ir))
        for key in ("total", "active"):
            published = [c for c in checks if c.key == key and c.published == v["panel"][key][i]]
            assert published and all(c.ok for c in published), (name, key, v["panel"][key][i])
        words = v["panel"]["attention"][i].split(" + ")
        for word in words:
            if word == "QKNorm":
                assert arch["qk_norm"] != "none", (name, word)
            else:
                assert word in arch["attention"].split(), (name, word, arch["attention"])
        if "QKNorm" not in words:
            assert arch["qk_norm"] == "none", name
        assert arch["experts_active"] == _parse_experts(v["also_in_the_text"]["experts_active"][i])
        assert arch["n_dense_layers"] == v["also_in_the_text"]["n_dense_layers"][i]


@pytest.mark.parametrize("fig,a,b,panel", [pytest.param(*p, id=f"{p[0]} {p[1]} vs {p[2]}") for p in PANELS])
def test_panel_values(fig, a, b, panel):
    if a not in SHIPPED or b not in SHIPPED:
        pytest.skip(f"{fig}: {a if a not in SHIPPED else b} is not shipped yet")
    left, right, differences = compare(a, b)
    for key, (want_a, want_b) in panel.items():
        if key.endswith("_k"):
            fact = {"vocab_k": "vocab_size", "context_k": "context_length"}[key]
            assert want_a in k(left[fact]) and want_b in k(right[fact]), (fig, key, left[fact], right[fact])
            continue
        if key == "norm":
            assert (left["norm"], right["norm"]) == (want_a, want_b)
            continue
        assert left[key] == want_a, (fig, a, key, left[key], want_a)
        assert right[key] == want_b, (fig, b, key, right[key], want_b)
        assert (key in differences) == (want_a != want_b), (fig, key)


def test_every_article_pair_has_a_panel_test():
    assert {(a, b) for _, a, b, _ in PANELS} == {
        (a, b) for _, a, b in ARTICLE_PAIRS if (a, b) != ("deepseek-r1", "kimi-k2-thinking")
    }


def test_gallery_is_current():
    from llmarch.gallery import gallery_figures

    assert (ROOT / "docs" / "gallery.md").read_text() == gallery_markdown(), (
        "docs/gallery.md is stale: run `make gallery`"
    )
    figures = gallery_figures()
    on_disk = {p.name: p.read_text() for p in (ROOT / "docs" / "figures").glob("*.svg")}
    assert on_disk == figures, "docs/figures is stale: run `make gallery`"


def _gallery_table_rows() -> dict[str, list[str]]:
    from llmarch.gallery import gallery_table

    lines = gallery_table().splitlines()[2:]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in lines)}


def test_gallery_table_has_every_fact_sheet_model():
    """One row per row of the vendored fact sheet (72 at its pinned commit), in its order, each with the
    gallery's KV figure; a row shows llmarch's figures exactly when its spec ships."""
    from llmarch.gallery import GALLERY_SPECS, gallery_rows

    sheet = gallery_rows()
    table = _gallery_table_rows()
    assert list(table) == [row["title"] for row in sheet] and len(table) == 72
    assert set(GALLERY_SPECS) <= set(table), set(GALLERY_SPECS) - set(table)
    assert set(GALLERY_SPECS.values()) <= SHIPPED, set(GALLERY_SPECS.values()) - SHIPPED
    for row in sheet:
        cells = table[row["title"]]
        assert cells[1] == row["Date"]
        assert cells[7] == row["KV cache / token (bf16) info"].split(" · ")[0]
        shipped = row["title"] in GALLERY_SPECS
        assert (cells[0] == f"`{GALLERY_SPECS[row['title']]}`") if shipped else (cells[8] == "not shipped")


def test_gallery_map_agrees_with_the_kv_references():
    from test_kvcache import GALLERY_TITLES

    from llmarch.gallery import GALLERY_SPECS

    assert {title: name for name, title in GALLERY_TITLES.items()}.items() <= GALLERY_SPECS.items()


def test_gallery_table_kv_by_hand():
    """GLM-5: 78 MLA layers x (kv rank 512 + rope 64) x 2 B = 89,856 B = 87.75 KiB, the gallery's 87.8 KiB;
    MiMo-V2-Flash: the config's 217.5 KiB against the gallery's 144 KiB, the disagreement its spec documents."""
    table = _gallery_table_rows()
    assert table["GLM-5 (744B)"][6:] == [f"{78 * (512 + 64) * 2:,} B (87.8 KiB)", "87.8 KiB", "yes"]
    mimo = table["Xiaomi MiMo-V2-Flash (309B)"]
    assert mimo[6:8] == ["222,720 B (217.5 KiB)", "144 KiB"] and mimo[8].startswith("no: the config gives 217.5 KiB")


def test_every_shipped_gallery_model_agrees_or_documents_why_not():
    table = _gallery_table_rows()
    assert not [title for title, cells in table.items() if cells[8] == "**no**"]


def test_gallery_kv_agreement_precision():
    """Half a unit of the figure's last digit: 68.6 KiB holds for 70,195..70,297 B (68.55..68.65 KiB)."""
    from llmarch.gallery import kv_agreement

    ir = llmarch.load("deepseek-v3")
    assert kv_agreement(ir, 70_272, "68.6 KiB") == "yes"
    assert kv_agreement(ir, 70_297, "68.6 KiB") == "yes"
    assert kv_agreement(ir, 70_298, "68.6 KiB") == "**no**"
    assert kv_agreement(ir, 70_272, "69 KiB") == "yes" and kv_agreement(ir, 70_272, "68 KiB") == "**no**"


def test_fig_54_panel_words():
    """Fig. 54's words: Trinity Large's 3:1 sliding window (4,096) to global layers, RoPE on the sliding layers and
    NoPE on the global ones, gated attention, 48 heads, a depth-scaled sandwich norm; GLM-4.5 has none of these,
    and the panel's 13B / 32B active hold as each spec's published figures."""
    left, right, differences = compare("trinity-large", "glm-4.5")
    assert left["layer_mix"] == "45 local(4,096) + 15 nope" and right["layer_mix"] == "92 global"
    assert left["position"] == {"local": "RoPE", "nope": "NoPE"} and "RoPE" in right["position"]
    assert "elementwise output gate" in left["attention_extras"]
    assert not any("gate" in x for x in right["attention_extras"])
    assert left["heads"][0] == 48
    ir = llmarch.load("trinity-large")
    assert (ir.norm.placement, ir.norm.depth_scaled) == ("sandwich", True)
    for name, active in (("trinity-large", "13B"), ("glm-4.5", "32B")):
        spec = llmarch.load(name)
        checks = [c for c in check_references(spec, llmarch.count_params(spec)) if c.key == "active"]
        assert any(c.published == active and c.ok for c in checks), name


def test_nemotron_3_super_comparison_in_the_gallery():
    """Section 18.2's comparison (Nemotron 3 Super vs Qwen3.5 122B-A10B and gpt-oss-120b) is a compare table in
    docs/gallery.md; its facts are each config's: 88 / 48 / 36 blocks, 512 / 256 / 128 experts with 22 / 8 / 4
    routed, Super's experts in a 1,024 latent of its 4,096-wide stream."""
    from llmarch.gallery import ARTICLE_COMPARISONS

    ((section, names, _),) = ARTICLE_COMPARISONS
    text = (ROOT / "docs" / "gallery.md").read_text()
    assert f"## {section}: Nemotron 3 Super 120B-A12B vs Qwen3.5 122B-A10B vs" in text
    result = CliRunner().invoke(app, ["compare", *names, "--format", "json"])
    assert result.exit_code == 0, result.output
    archs = [m["architecture"] for m in json.loads(result.output)["models"]]
    assert [a["n_layers"] for a in archs] == [88, 48, 36]
    assert [a["n_experts"] for a in archs] == [512, 256, 128]
    assert [a["experts_active"]["routed"] for a in archs] == [22, 8, 4]
    assert archs[0]["expert_latent"] == 1024 and "expert_latent" not in archs[1]
