"""The one font of the diagrams: DejaVu Sans as matplotlib ships it, measured and embedded.

Every text of a figure is measured here, so that the layout is the same on every machine; the SVG and
HTML embed the subset of the font they use (as @font-face data) and the PNG is drawn with the same
file, so no system font is ever consulted.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache
from pathlib import Path

FAMILY = "llmarch DejaVu Sans"


def font_path(bold: bool = False) -> Path:
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


@lru_cache(maxsize=2)
def _advances(bold: bool) -> tuple[dict[int, int], int, int]:
    """Advance widths by code point, the font's units per em and the advance of its missing glyph."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(font_path(bold)), lazy=True)
    cmap = font.getBestCmap()
    hmtx = font["hmtx"]
    return {cp: hmtx[name][0] for cp, name in cmap.items()}, font["head"].unitsPerEm, hmtx[".notdef"][0]


@lru_cache(maxsize=2)
def _ft2font(bold: bool):
    from matplotlib.ft2font import FT2Font

    return FT2Font(str(font_path(bold)))


@lru_cache(maxsize=4096)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in px of `text` at `size` px: the larger of the advance sum (what a browser lays out,
    kerning off) and matplotlib's own extent (what the PNG draws)."""
    advances, upem, missing = _advances(bold)
    advance = sum(advances.get(ord(c), missing) for c in text) * size / upem
    font = _ft2font(bold)
    font.set_size(size, 72)
    font.set_text(text, 0.0)
    drawn = font.get_width_height()[0] / 64
    return max(advance, drawn)


def wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """Greedy word wrap to `width` px; a single word wider than that stays on its own line."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and text_width(lines[-1] + " " + word, size, bold) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def font_face_css(regular: set[str], bold: set[str]) -> str:
    """@font-face rules embedding the subsets of DejaVu Sans (regular and bold) that the texts use."""
    rules = []
    for chars, is_bold in ((regular, False), (bold, True)):
        if not chars:
            continue
        data = str(base64.b64encode(_subset(frozenset(chars), is_bold)), "ascii")
        weight = "bold" if is_bold else "normal"
        rules.append(
            f'@font-face{{font-family:"{FAMILY}";font-weight:{weight};'
            f'src:url(data:font/ttf;base64,{data}) format("truetype")}}'
        )
    return "\n".join(rules)


@lru_cache(maxsize=64)
def _subset(chars: frozenset[str], bold: bool) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    # the timestamp kept as shipped: the same texts give the same bytes (the gallery test compares them)
    font = TTFont(str(font_path(bold)), recalcTimestamp=False)
    options = subset.Options()
    options.hinting = False
    options.name_IDs = [0, 1, 2, 13]  # copyright, family, style and the licence notice travel with the glyphs
    options.notdef_outline = True
    options.drop_tables += ["FFTM"]  # FontForge's timestamps: nothing to draw with
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(chars)) + " ")
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()
