"""Every table format through the CLI: markdown, csv, html, json, and -o with the format from the extension."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser

import jsonschema
import pytest
from typer.testing import CliRunner

import llmarch
from llmarch.cli import app
from llmarch.render.output_schema import OUTPUT_SCHEMA

runner = CliRunner()
COMMANDS = [
    ["compare", "qwen3-235b", "deepseek-v3"],
    ["show", "gpt-oss-120b"],
    ["list"],
    ["kvcache", "gemma3", "deepseek-v3", "--ctx", "128k"],
    ["flops", "qwen3-8b", "--seq", "1k"],
]


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_json_validates(cmd):
    jsonschema.validate(json.loads(run(*cmd, "--format", "json")), OUTPUT_SCHEMA)


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_markdown_tables(cmd):
    text = run(*cmd, "--format", "markdown")
    tables = [[l for l in block.splitlines() if l.startswith("|")] for block in text.split("\n\n")]
    tables = [t for t in tables if t]
    assert tables
    for lines in tables:
        assert len(lines) >= 3
        header, rule = lines[0], lines[1]
        assert set(rule.replace("|", "").replace("-", "").replace(":", "")) == set()
        n = header.count("|")
        for line in lines:
            assert line.replace("\\|", "").count("|") == n, line
    assert "Conventions:" in text


def test_markdown_bold_differences():
    text = run("compare", "deepseek-v3", "kimi-k2", "--format", "markdown")
    # two models that differ: the first is the reference, the second's cell is marked (tests/test_differences.py)
    assert "| Experts | 256 | **384** ‹ |" in text
    assert "| Blocks | 61 | 61 |" in text  # equal values stay plain


@pytest.mark.parametrize("cmd", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_csv_one_header_exact_integers(cmd):
    rows = list(csv.reader(io.StringIO(run(*cmd, "--format", "csv"))))
    assert len(rows) >= 2
    width = len(rows[0])
    assert all(len(r) == width for r in rows)


def test_csv_values():
    rows = list(csv.DictReader(io.StringIO(run("list", "--format", "csv"))))
    by_name = {r["name"]: r for r in rows}
    assert int(by_name["deepseek-v3"]["total"]) == llmarch.count_params(llmarch.load("deepseek-v3")).total
    rows = list(csv.DictReader(io.StringIO(run("kvcache", "deepseek-v3", "--ctx", "128k", "--format", "csv"))))
    assert int(rows[0]["bytes"]) == 61 * 576 * 2 * 131072


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.diff_cells = 0
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in ("meta", "br"):
            self.stack.append(tag)
        if tag == "td" and "diff" in (dict(attrs).get("class") or ""):
            self.diff_cells += 1

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack[-3:], tag)
        self.stack.pop()


def test_html_self_contained_and_well_formed():
    text = run("compare", "deepseek-v3", "kimi-k2", "--format", "html")
    parser = _Collector()
    parser.feed(text)
    assert parser.stack == []
    assert "style" in parser.tags and "table" in parser.tags and "footer" in parser.tags
    assert "<link" not in text and "<script" not in text  # no external resources
    assert parser.diff_cells >= 6


@pytest.mark.parametrize(
    "suffix,check",
    [
        (".json", lambda t: json.loads(t)["command"] == "compare"),
        (".md", lambda t: t.lstrip().startswith("###")),
        (".csv", lambda t: t.startswith(",")),
        (".html", lambda t: t.startswith("<!DOCTYPE html>")),
        (".txt", lambda t: "Architecture comparison" in t and "\x1b[" not in t),
    ],
)
def test_output_file_format_from_extension(tmp_path, suffix, check):
    path = tmp_path / f"out{suffix}"
    result = runner.invoke(app, ["compare", "gpt2", "gpt2-xl", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert check(path.read_text())


def test_unknown_extension_is_an_error(tmp_path):
    result = runner.invoke(app, ["list", "-o", str(tmp_path / "out.xyz")])
    assert result.exit_code == 2 and "give --format" in result.output


def test_no_color_plain_text():
    out = run("--no-color", "compare", "gpt2", "gpt2-xl")
    assert "\x1b[" not in out


def test_human_suffixes():
    out = run("--no-color", "compare", "qwen3-235b", "deepseek-v3")
    # one unit per row, 4 significant digits: 235,093,634,560 and 671,026,404,352 in B
    assert "235.1B" in out and "671.0B" in out
    # bf16 weights, binary units, one unit for the row (the issue saw 437.9 GiB beside 1.2 TiB):
    # 470,187,269,120 B / 2^40 = 0.42763 TiB; 1,342,052,808,704 B / 2^40 = 1.22059 TiB
    bf16 = next(line for line in out.splitlines() if "Weights (bf16)" in line)
    assert bf16.split()[2:] == ["0.4276", "TiB", "1.221", "TiB", "‹"]  # ‹: differs from the first model


def test_no_color_after_the_command():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "llmarch", "compare", "gpt2", "gpt2-xl", "--no-color"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Architecture comparison" in out and "\x1b[" not in out
