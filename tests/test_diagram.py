"""Diagrams: blocks matched by kind, differences by the majority rule, text inside its box, one layout
written as SVG, HTML and PNG in a font llmarch embeds."""

from __future__ import annotations

import base64
import io
import re
import struct
import xml.etree.ElementTree as ET
from functools import lru_cache

import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.analyze.facts import layer_pattern
from llmarch.api import diagram_numbers
from llmarch.cli import app
from llmarch.gallery import ARTICLE_PAIRS, OTHER_PAIRS
from llmarch.render.diagram import differing, render_svg
from llmarch.render.diagram_blocks import blocks_of, match_blocks

NS = "{http://www.w3.org/2000/svg}"


@lru_cache(maxsize=None)
def svg_of(*names: str) -> str:
    return draw([llmarch.load(n) for n in names])


def draw(irs, render=render_svg):
    return render(irs, diagram_numbers(irs))


def groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)  # valid XML
    return {g.get("id"): g for g in root.iter(f"{NS}g") if g.get("id")}


def text_of(g: ET.Element) -> str:
    return " ".join(t.text or "" for t in g.iter(f"{NS}text"))


def differing_notes(g: ET.Element) -> set[str]:
    return {n.get("data-key") for n in g.iter(f"{NS}g") if n.get("class") == "note differs"}


def frame_bottom(g: ET.Element) -> float:
    rect = g.find(f"{NS}rect")  # a block's first rect is its frame
    return float(rect.get("y")) + float(rect.get("height"))


def rows_by_key(*names: str) -> list[tuple]:
    rows = match_blocks([blocks_of(llmarch.load(n)) for n in names])
    return [tuple(b.key[:2] if b is not None else None for b in row) for row in rows]


# --- blocks matched by kind and role ------------------------------------------------------------------


def test_qwen3_moe_block_faces_deepseeks_moe_block_not_its_dense_prefix():
    # DeepSeek-V3: first 3 layers dense, then 58 MoE (config first_k_dense_replace = 3, 61 layers)
    assert rows_by_key("qwen3-235b-a22b", "deepseek-v3") == [
        (None, ("global", "dense")),
        (("global", "moe"), ("global", "moe")),
    ]
    g = groups(svg_of("qwen3-235b-a22b", "deepseek-v3"))
    # drawn in the same row: the frames of the two MoE blocks end at the same height
    assert frame_bottom(g["qwen3-235b-a22b/block-0"]) == frame_bottom(g["deepseek-v3/block-1"])
    assert "58×" in text_of(g["deepseek-v3/block-1"]) and "3×" in text_of(g["deepseek-v3/block-0"])
    # 128 vs 256 experts, no majority of two: the second model's value is the one marked
    assert "n_experts" in differing_notes(g["deepseek-v3/block-1/moe/notes"])
    assert "n_experts" not in differing_notes(g["qwen3-235b-a22b/block-0/moe/notes"])
    # the dense prefix has nothing to differ from
    assert not differing_notes(g["deepseek-v3/block-0/ffn/notes"])
    assert "box differs" == g["deepseek-v3/block-1/attention"].get("class")  # MLA vs GQA


def test_qwen3_next_and_kimi_linear_match_linear_with_linear_and_attention_with_attention():
    assert rows_by_key("qwen3-next-80b-a3b", "kimi-linear-48b-a3b") == [
        (None, ("kda", "dense")),
        (("gated_deltanet", "moe"), ("kda", "moe")),
        (("global", "moe"), ("global", "moe")),
    ]
    g = groups(svg_of("qwen3-next-80b-a3b", "kimi-linear-48b-a3b"))
    assert frame_bottom(g["qwen3-next-80b-a3b/block-0"]) == frame_bottom(g["kimi-linear-48b-a3b/block-1"])
    assert frame_bottom(g["qwen3-next-80b-a3b/block-1"]) == frame_bottom(g["kimi-linear-48b-a3b/block-2"])
    assert "Gated DeltaNet" in text_of(g["qwen3-next-80b-a3b/block-0/mixer"])
    assert "Kimi Delta Attention" in text_of(g["kimi-linear-48b-a3b/block-1/mixer"])
    calls = text_of(g["kimi-linear-48b-a3b/block-2"])
    assert "MLA instead of GQA" in calls and "no positional encoding in global layers" in calls


def test_gpt2_faces_gpt_oss_global_layers_and_the_final_norm_kind_differs():
    assert rows_by_key("gpt2", "gpt-oss-120b") == [
        (None, ("local", "moe")),
        (("global", "dense"), ("global", "moe")),
    ]
    g = groups(svg_of("gpt2", "gpt-oss-120b"))
    assert frame_bottom(g["gpt2/block-0"]) == frame_bottom(g["gpt-oss-120b/block-1"])
    assert text_of(g["gpt2/final-norm"]) == "Final LayerNorm"
    assert text_of(g["gpt-oss-120b/final-norm"]) == "Final RMSNorm"
    assert g["gpt-oss-120b/final-norm"].get("class") == "box differs"
    assert g["gpt2/final-norm"].get("class") == "box"
    assert "MoE instead of dense FFN" in text_of(g["gpt-oss-120b/block-1"])


def test_dense_prefix_faces_dense_prefix():
    # DeepSeek-V3 and Mistral Large 3 both open with 3 dense layers
    assert rows_by_key("deepseek-v3", "mistral-large-3") == [
        (("global", "dense"), ("global", "dense")),
        (("global", "moe"), ("global", "moe")),
    ]


# --- differences: the majority rule, callouts -----------------------------------------------------------


def test_majority_rule():
    assert differing(["a", "a", "b"]) == [False, False, True]
    assert differing(["b", "a", "a"]) == [True, False, False]
    assert differing(["a", "b"]) == [False, True]  # no majority: against the first
    assert differing(["a", "b", "c"]) == [False, True, True]
    assert differing([None, "a", "b"]) == [False, False, True]  # an absent block is no vote
    assert differing(["a", None]) == [False, False]
    assert differing(["a", "a"]) == [False, False]


def test_three_models_highlight_only_the_odd_one_out():
    # Qwen3 235B and Qwen3 30B-A3B both use head dim 128; DeepSeek-V3's MLA heads are 192 (128 + 64 RoPE)
    g = groups(svg_of("qwen3-235b-a22b", "qwen3-30b-a3b", "deepseek-v3"))
    assert "head_dim" not in differing_notes(g["qwen3-235b-a22b/block-0/attention/notes"])
    assert "head_dim" not in differing_notes(g["qwen3-30b-a3b/block-0/attention/notes"])
    assert "head_dim" in differing_notes(g["deepseek-v3/block-1/attention/notes"])
    # 64, 32 and 128 query heads: no majority, so the first model is the reference
    assert "heads" not in differing_notes(g["qwen3-235b-a22b/block-0/attention/notes"])
    assert "heads" in differing_notes(g["qwen3-30b-a3b/block-0/attention/notes"])
    assert "vocab_size" in differing_notes(g["deepseek-v3/embedding/notes"])  # 129,280 vs 151,936 twice
    assert "vocab_size" not in differing_notes(g["qwen3-30b-a3b/embedding/notes"])


def test_same_model_twice_highlights_nothing():
    svg = svg_of("gemma-3-27b", "gemma-3-27b")
    assert 'class="box"' in svg and 'class="note"' in svg
    assert not re.search(r'class="[^"]*differs', svg) and 'class="callout"' not in svg


def test_shared_expert_callout_and_legend():
    g = groups(svg_of("qwen3-235b-a22b", "deepseek-v3"))
    calls = text_of(g["deepseek-v3/block-1"])
    assert "MLA instead of GQA" in calls and "shared expert" in calls
    assert "dense FFN in the first 3 layers" in text_of(g["deepseek-v3/block-0"])
    assert "the other model lacks" in text_of(groups(svg_of("gpt2", "gpt-oss-120b"))["gpt-oss-120b/block-0"])
    legend = text_of(g["legend"])
    assert "majority" in legend and "architectural difference" in legend


# --- what the boxes say --------------------------------------------------------------------------------


def test_slots_carry_the_panel_values():
    g = groups(svg_of("deepseek-v3", "llama-4-maverick"))
    assert "vocabulary 129,280" in text_of(g["deepseek-v3/embedding/notes"])
    assert "embedding dimension 7,168" in text_of(g["deepseek-v3/embedding/notes"])
    moe = text_of(g["deepseek-v3/block-1/moe/notes"])
    assert "256 experts, 8 routed + 1 shared active" in moe and "expert hidden size 2,048" in moe
    assert "Router: top-8 of 256" in text_of(g["deepseek-v3/block-1/moe"])
    assert "shared" in text_of(g["deepseek-v3/block-1/moe"])
    assert "hidden size 18,432" in text_of(g["deepseek-v3/block-0/ffn/notes"])
    assert "Multi-head latent attention" in text_of(g["deepseek-v3/block-0/attention"])
    assert "1,152 B/token/layer" in text_of(g["deepseek-v3/block-0/attention/notes"])  # (512 + 64) x 2 B
    attn = text_of(g["llama-4-maverick/block-0/attention/notes"])
    assert "40 heads, 8 KV heads" in attn and "chunks of 8,192" in attn
    assert "36.6B active" in text_of(g["deepseek-v3/header"])


def test_layer_pattern_as_people_say_it():
    # Gemma 3: five sliding-window layers per global one, 62 = 10 x 6 + 2 local; gpt-oss alternates, 36 = 18 x 2
    assert layer_pattern(llmarch.load("gemma-3-27b")) == "62 blocks: (5 local + 1 global) × 10, then 2 local"
    assert layer_pattern(llmarch.load("gpt-oss-120b")) == "36 blocks: (1 local + 1 global) × 18"
    # every layer attends globally (said by nothing); the FFNs vary: first_k_dense_replace 3, 61 - 3 = 58
    assert layer_pattern(llmarch.load("deepseek-v3")) == "61 blocks: 3 dense, then 58 MoE"
    assert layer_pattern(llmarch.load("qwen3-next-80b-a3b")) == "48 blocks: (3 Gated DeltaNet + 1 global) × 12"
    # Kimi Linear's 3:1 ends on a global layer: 27 = 6 x 4 + 3 (2 KDA, then the last MLA layer)
    assert layer_pattern(llmarch.load("kimi-linear-48b-a3b")) == (
        "27 blocks: (3 KDA + 1 global) × 6, then 2 KDA, then 1 global; 1 dense, then 26 MoE"
    )
    assert layer_pattern(llmarch.load("gpt2")) == "12 blocks"
    g = groups(svg_of("gemma-3-27b", "mistral-small-3.1-24b"))
    assert "62 blocks: (5 local + 1 global) × 10, then 2 local" in text_of(g["gemma-3-27b/header"])
    assert "52×" in text_of(g["gemma-3-27b/block-0"]) and "10×" in text_of(g["gemma-3-27b/block-1"])


def test_hybrid_and_single_mixer_layers():
    g = groups(svg_of("nemotron-3-nano-30b-a3b", "qwen3-next-80b-a3b"))
    texts = {k: text_of(v) for k, v in g.items()}
    assert any("Mamba-2" in t for k, t in texts.items() if k.endswith("/mixer"))
    assert any("64 heads" in t for k, t in texts.items() if k.endswith("/mixer/notes"))
    # its 52 layers said in order (tests/test_patterns.py holds the text against the config's pattern)
    assert (
        "52 blocks: ((1 Mamba-2 + 1 MoE) × 2 + 1 Mamba-2 + 1 global + 1 MoE) × 5"
        in (texts["nemotron-3-nano-30b-a3b/header"])
    )


# --- text fits, the font is embedded, one layout for every format ----------------------------------------


def _ink_width(text: str, size: float, bold: bool) -> float:
    """Independent of the layout's measure: the advance widths in the font file, and matplotlib's ink."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    from llmarch.render.diagram_font import font_path

    font = _font(bold)
    cmap, hmtx, upem = font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm
    advance = sum(hmtx[cmap.get(ord(c), ".notdef")][0] for c in text) * size / upem
    ink = TextPath((0, 0), text, size=size, prop=FontProperties(fname=str(font_path(bold)))).get_extents().x1
    return max(advance, ink)


@lru_cache(maxsize=2)
def _font(bold: bool):
    from fontTools.ttLib import TTFont

    from llmarch.render.diagram_font import font_path

    return TTFont(str(font_path(bold)))


FIGURES = [(a, b) for _, a, b in ARTICLE_PAIRS + OTHER_PAIRS] + [
    ("gemma-3-27b", "mistral-small-3.1-24b", "llama-4-maverick"),
    ("qwen3-next-80b-a3b", "kimi-linear-48b-a3b"),
    ("gpt2", "gpt-oss-120b"),
    ("nemotron-3-nano-30b-a3b", "gemma-3n-e4b"),
]


@pytest.mark.parametrize("names", FIGURES, ids=lambda n: " vs ".join(n))
def test_no_text_crosses_its_box(names):
    root = ET.fromstring(svg_of(*names))
    texts = list(root.iter(f"{NS}text"))
    assert texts
    for t in texts:
        x, y, size = float(t.get("x")), float(t.get("y")), float(t.get("font-size"))
        x0, y0, x1, y1 = map(float, t.get("data-fit").split())
        width = _ink_width(t.text or "", size, t.get("font-weight") == "bold")
        assert x0 <= x and x + width <= x1 + 0.01, (t.text, x, width, x0, x1)
        assert y0 <= y - 0.7 * size and y <= y1 + 0.01, (t.text, y, y0, y1)


def test_svg_embeds_the_glyphs_it_uses():
    from fontTools.ttLib import TTFont

    svg = svg_of("qwen3-235b-a22b", "deepseek-v3")
    faces = re.findall(r"font-weight:(\w+);src:url\(data:font/ttf;base64,([A-Za-z0-9+/=]+)\)", svg)
    assert {w for w, _ in faces} == {"normal", "bold"}
    root = ET.fromstring(svg)
    assert root.get("font-family").startswith('"llmarch DejaVu Sans"')
    for weight, data in faces:
        cmap = TTFont(io.BytesIO(base64.b64decode(data))).getBestCmap()
        used = {
            c
            for t in root.iter(f"{NS}text")
            if (t.get("font-weight") == "bold") == (weight == "bold")
            for c in t.text or ""
        }
        assert used and all(ord(c) in cmap for c in used), sorted(c for c in used if ord(c) not in cmap)


def test_cli_png_svg_html_share_one_layout(tmp_path):
    runner = CliRunner()
    for suffix in ("svg", "png", "html"):
        path = tmp_path / f"fig.{suffix}"
        result = runner.invoke(app, ["diagram", "deepseek-v3", "llama-4-maverick", "-o", str(path)])
        assert result.exit_code == 0, result.output
    svg = (tmp_path / "fig.svg").read_text()
    png = (tmp_path / "fig.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    root = ET.fromstring(svg)
    assert (width, height) == (round(2 * float(root.get("width"))), round(2 * float(root.get("height"))))
    html = (tmp_path / "fig.html").read_text()
    assert svg in html  # the very same SVG, font included
    bad = runner.invoke(app, ["diagram", "gpt2", "-o", str(tmp_path / "fig.jpg")])
    assert bad.exit_code == 2


def test_png_asks_for_no_system_font(monkeypatch):
    """The PNG is drawn with the font files llmarch names: every font matplotlib resolves is one of them."""
    import matplotlib.font_manager as fm

    from llmarch.render.diagram import render_png
    from llmarch.render.diagram_font import font_path

    found = []
    original = fm.FontManager.findfont

    def record(self, *args, **kwargs):
        found.append(str(original(self, *args, **kwargs)))
        return found[-1]

    monkeypatch.setattr(fm.FontManager, "findfont", record)
    assert draw([llmarch.load("gpt2")], render_png)[:4] == b"\x89PNG"
    assert found and set(found) <= {str(font_path(False)), str(font_path(True))}


def test_layers_of_one_kind_with_other_sizes_are_drawn_as_their_own_block():
    from dataclasses import replace

    ir = llmarch.load("gpt2")
    wide = replace(ir.layers[5].dense, d_ff=4096)
    layers = tuple(replace(l, ffn_ir=wide) if l.index == 5 else l for l in ir.layers)
    ir = replace(ir, layers=layers)
    assert [[l.index for l in b.layers] for b in blocks_of(ir)] == [[0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11], [5]]
    g = groups(draw([ir]))
    assert "hidden size 3,072" in text_of(g["gpt2/block-0/ffn/notes"])
    assert "hidden size 4,096" in text_of(g["gpt2/block-1/ffn/notes"])
    assert "11×" in text_of(g["gpt2/block-0"]) and "1×" in text_of(g["gpt2/block-1"])


def test_a_png_too_large_to_draw_is_a_clear_error(tmp_path, monkeypatch):
    import llmarch.render.diagram_draw

    monkeypatch.setattr(llmarch.render.diagram_draw, "PNG_MAX_PIXELS", 1_000_000)  # gpt2 twice is about 2,400 x 2,700
    target = tmp_path / "fig.png"
    result = CliRunner().invoke(app, ["diagram", "gpt2", "gpt2", "-o", str(target)])
    assert result.exit_code == 2 and "pixels" in result.output and ".svg" in result.output
    assert "Traceback" not in result.output and not target.exists()


def test_a_model_drawn_twice_or_beside_its_what_if_repeats_no_id(tmp_path):
    """SVG ids are unique per document: the second column of a repeated name is `name~2` (distinct names keep
    their ids, so every shipped figure is unchanged)."""
    for names, second in (
        (["qwen3-8b", "qwen3-8b"], "qwen3-8b~2"),
        (["qwen3-8b", "qwen3-8b[n_layers=40]"], "qwen3-8b~2"),
        (["gpt2", "qwen3-8b", "gpt2"], "gpt2~2"),
    ):
        target = tmp_path / "fig.svg"
        result = CliRunner().invoke(app, ["diagram", *names, "-o", str(target)])
        assert result.exit_code == 0, result.output
        ids = [g.get("id") for g in ET.fromstring(target.read_text()).iter(f"{NS}g") if g.get("id")]
        assert len(ids) == len(set(ids)), sorted(i for i in set(ids) if ids.count(i) > 1)[:5]
        assert {"qwen3-8b/block-0", f"{second}/block-0", f"{second}/header", f"{second}/input", second} <= set(ids)
        g = groups(target.read_text())
        # the second column is the second model: the what-if's 40 layers, qwen3-8b's 36 beside it
        layers = "40×" if "n_layers=40" in names[1] else ("36×" if second.startswith("qwen3") else "12×")
        assert layers in text_of(g[f"{second}/block-0"])
        assert "36×" in text_of(g["qwen3-8b/block-0"])
