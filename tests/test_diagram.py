"""Diagrams: structural tests on the SVG, the PNG and the HTML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from typer.testing import CliRunner

import llmarch
from llmarch.cli import app
from llmarch.diagram import render_svg

NS = "{http://www.w3.org/2000/svg}"


def groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)  # valid XML
    return {g.get("id"): g for g in root.iter(f"{NS}g") if g.get("id")}


def text_of(g: ET.Element) -> str:
    return " ".join(t.text or "" for t in g.iter(f"{NS}text"))


def test_columns_and_numbers_in_their_boxes():
    svg = render_svg([llmarch.load("deepseek-v3"), llmarch.load("llama-4-maverick")])
    g = groups(svg)
    models = [k for k, v in g.items() if v.get("class") == "model"]
    assert models == ["deepseek-v3", "llama-4-maverick"]
    assert "129,280 x 7,168" in text_of(g["deepseek-v3/embedding"])
    moe = text_of(g["deepseek-v3/block-1/moe"])
    assert "256 experts, 1 shared + 8 active" in moe and "size 2,048" in moe
    assert "3 x global/dense" in text_of(g["deepseek-v3/block-0"])
    assert "hidden size 18,432" in text_of(g["deepseek-v3/block-0/ffn"])
    attn = text_of(g["llama-4-maverick/block-0/attention"])
    assert "40 heads / 8 KV heads" in attn and "chunks of 8,192" in attn
    assert "1,152 B/token/layer" in text_of(g["deepseek-v3/block-0/attention"])  # (512 + 64) x 2 B
    assert "active 36.6B" in text_of(g["deepseek-v3"])


def test_highlight_exactly_where_different():
    same = groups(render_svg([llmarch.load("gemma-3-27b"), llmarch.load("gemma-3-27b")]))
    assert not [k for k, v in same.items() if "differs" in (v.get("class") or "")]
    g = groups(render_svg([llmarch.load("deepseek-v3"), llmarch.load("kimi-k2")]))
    differs = {k for k, v in g.items() if "differs" in (v.get("class") or "")}
    assert "deepseek-v3/embedding" in differs  # vocabulary 129,280 vs 163,840
    assert "deepseek-v3/block-1/attention" in differs  # 128 vs 64 heads
    assert "deepseek-v3/block-1/moe" in differs  # 256 vs 384 experts
    assert "deepseek-v3/norm" not in differs


def test_hybrid_and_single_mixer_layers():
    g = groups(render_svg([llmarch.load("nemotron-3-nano-30b-a3b"), llmarch.load("qwen3-next-80b-a3b")]))
    texts = {k: text_of(v) for k, v in g.items()}
    assert any("Mamba-2" in t and "64 heads x 64" in t for k, t in texts.items() if k.endswith("/mixer"))
    assert any("Gated DeltaNet" in t for k, t in texts.items() if k.endswith("/mixer"))


def test_cli_png_svg_html(tmp_path):
    runner = CliRunner()
    for suffix in ("svg", "png", "html"):
        path = tmp_path / f"fig.{suffix}"
        result = runner.invoke(app, ["diagram", "deepseek-v3", "llama-4-maverick", "-o", str(path)])
        assert result.exit_code == 0, result.output
        assert path.stat().st_size > (20_000 if suffix == "png" else 2_000)
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "fig.html").read_text()
    bad = runner.invoke(app, ["diagram", "gpt2", "-o", str(tmp_path / "fig.jpg")])
    assert bad.exit_code == 2
