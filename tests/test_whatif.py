"""What-if edits (issue 24, item 3): `--set key=value` edits every model of a command, `name[key=value,...]`
edits one; edited models are marked in titles and headers, list their edits in JSON, skip the published-figure
checks (saying why), word their errors as errors of the edit, and never share a cache entry with the spec as
written.  Every case through the CLI, at 80 columns and piped (CliRunner's output is not a terminal).

Reference numbers are hand arithmetic from Qwen3-8B's config (hidden 4,096, 36 layers, 32 heads of 128,
8 KV heads, intermediate 12,288, vocabulary 151,936, untied): the published check's 8,190,735,360 parameters
(`check` pins it), and per layer
    attention  q 4096*4096 + k, v 2 * 4096*(8*128) + o 4096*4096 + q/k-norm 2*128 = 41,943,296
    MLP        3 * 4096*12288                                                  = 150,994,944
    norms      2 * 4096                                                        =       8,192
    layer                                                                        192,946,432
so 40 layers hold 8,190,735,360 + 4 * 192,946,432 = 8,962,521,088; and 4 KV heads instead of 8 drop
k and v by 2 * 4096*(4*128) = 4,194,304 per layer, 150,994,944 over 36 layers: 8,039,740,416.
KV cache per token at bf16: 36 layers * (k + v) 2 * n_kv_heads * 128 * 2 bytes = 147,456 (8 heads), 73,728 (4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from llmarch import cache as buildcache
from llmarch.cli import app
from llmarch.render.output_schema import OUTPUT_SCHEMA
from llmarch.report import parse_pairs
from llmarch.spec.registry import split_edits

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
WIDTH = {"COLUMNS": "80"}

QWEN3_8B_TOTAL = 8_190_735_360
PER_LAYER = 41_943_296 + 150_994_944 + 8_192
FORTY_LAYERS_TOTAL = QWEN3_8B_TOTAL + 4 * PER_LAYER
FOUR_KV_HEADS_TOTAL = QWEN3_8B_TOTAL - 36 * 2 * 4096 * 4 * 128
WHATIF = "qwen3-8b[attention.n_kv_heads=4]"


def invoke(*args: str):
    return runner.invoke(app, ["--no-color", *args], env=WIDTH)


def answer(*args: str) -> dict:
    result = invoke(*args, "-f", "json")
    assert result.exit_code in (0, 1), result.output
    data = json.loads(result.stdout)
    jsonschema.validate(data, OUTPUT_SCHEMA)
    return data


def error_of(*args: str) -> str:
    """The one paragraph of a refused edit: exit 2, no traceback, never the shipped spec's file and line."""
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    text = result.stderr
    assert text.startswith("error: ") and text.count("\n") == 1, text
    assert "Traceback" not in text and ".yaml" not in text, text
    return text


def test_arithmetic_of_the_reference_numbers():
    assert PER_LAYER == 192_946_432
    assert FORTY_LAYERS_TOTAL == 8_962_521_088
    assert FOUR_KV_HEADS_TOTAL == 8_039_740_416


# --- a model against its what-if ---------------------------------------------------------------------------


def test_compare_a_model_with_its_what_if_table():
    result = invoke("compare", "qwen3-8b", WHATIF)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    header = "\n".join(lines[:5])
    assert "Qwen3 8B" in header and "(attention.n_kv_heads=4)" in header
    (heads,) = [line for line in lines if line.strip().startswith("Heads / KV heads")]
    assert heads.split()[-7:] == ["32", "/", "8", "32", "/", "4", "‹"]  # ‹: differs from the first model
    (total,) = [line for line in lines if line.strip().startswith("Total parameters")]
    assert total.split()[-3:] == ["8.191B", "8.040B", "‹"]  # 8,190,735,360 and 8,039,740,416


def test_compare_a_model_with_its_what_if_json():
    data = answer("compare", "qwen3-8b", WHATIF)
    plain, edited = data["models"]
    assert "edits" not in plain and plain["display_name"] == "Qwen3 8B"
    assert edited["edits"] == {"attention.n_kv_heads": 4}
    assert edited["display_name"] == "Qwen3 8B (attention.n_kv_heads=4)"
    assert plain["params"]["total"] == QWEN3_8B_TOTAL
    assert edited["params"]["total"] == FOUR_KV_HEADS_TOTAL
    assert "total" in data["differences"]


def test_set_still_edits_every_model():
    data = answer("compare", "qwen3-8b", "qwen3-8b", "--set", "attention.n_kv_heads=4")
    assert [m["params"]["total"] for m in data["models"]] == [FOUR_KV_HEADS_TOTAL] * 2
    assert [m["edits"] for m in data["models"]] == [{"attention.n_kv_heads": 4}] * 2


def test_set_and_a_bracketed_edit_combine_the_bracket_last():
    data = answer("show", "qwen3-8b[n_layers=40]", "--set", "n_layers=30", "--set", "attention.n_kv_heads=4")
    (model,) = data["models"]
    assert model["edits"] == {"n_layers": 40, "attention.n_kv_heads": 4}
    assert model["params"]["total"] == FOUR_KV_HEADS_TOTAL + 4 * (PER_LAYER - 2 * 4096 * 4 * 128)


def test_several_edits_in_one_bracket_and_values_with_commas():
    data = answer("show", "qwen3-8b[n_layers=40,attention.n_kv_heads=4]")
    assert data["models"][0]["edits"] == {"n_layers": 40, "attention.n_kv_heads": 4}
    data = answer("show", "gemma-3-27b[layers.mixer=[local, local, local, global],n_layers=4]")
    assert data["models"][0]["edits"] == {"layers.mixer": ["local", "local", "local", "global"], "n_layers": 4}
    assert data["models"][0]["architecture"]["n_layers"] == 4


# --- show: title, JSON, published figures ------------------------------------------------------------------


@pytest.mark.parametrize("form", [("qwen3-8b[n_layers=40]",), ("qwen3-8b", "--set", "n_layers=40")])
def test_show_marks_the_edit_and_skips_published_figures(form):
    result = invoke("show", *form)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.splitlines()[0].startswith("Qwen3 8B (n_layers=40)")
    assert "MISMATCH" not in out and "Published figures" not in out
    assert "published figures not checked: the spec was edited (n_layers=40)" in out
    assert f"{FORTY_LAYERS_TOTAL:,}" in out
    (model,) = answer("show", *form)["models"]
    assert model["edits"] == {"n_layers": 40}
    assert model["references"] == []
    assert model["references_skipped"] == "published figures not checked: the spec was edited (n_layers=40)"
    assert model["params"]["total"] == FORTY_LAYERS_TOTAL


def test_an_unedited_show_is_as_it_was():
    result = invoke("show", "qwen3-8b")
    assert "Published figures" in result.stdout and "not checked" not in result.stdout
    (model,) = answer("show", "qwen3-8b")["models"]
    assert "edits" not in model and "references_skipped" not in model
    assert model["references"] and all(r["ok"] for r in model["references"])


def test_markdown_and_csv_carry_the_marked_name():
    for fmt in ("markdown", "csv", "html"):
        result = invoke("compare", "qwen3-8b", WHATIF, "-f", fmt)
        assert result.exit_code == 0, result.output
        assert "Qwen3 8B (attention.n_kv_heads=4)" in result.stdout, fmt


# --- every command that takes model names -------------------------------------------------------------------


def test_kvcache_marks_and_counts_the_what_if():
    result = invoke("kvcache", "qwen3-8b", WHATIF, "--ctx", "1k")
    assert result.exit_code == 0, result.output
    assert "Qwen3 8B (attention.n_kv_heads=4): KV cache at 1k (1,024) tokens" in " ".join(result.stdout.split())
    csv = invoke("kvcache", "qwen3-8b", WHATIF, "--ctx", "1k", "-f", "csv").stdout
    assert "qwen3-8b (attention.n_kv_heads=4)," in csv and "\nqwen3-8b," in csv
    data = answer("kvcache", "qwen3-8b", WHATIF, "--ctx", "1k")
    plain, edited = data["models"]
    assert "edits" not in plain and edited["edits"] == {"attention.n_kv_heads": 4}
    assert plain["per_token_bytes_all_layers"] == 36 * 2 * 8 * 128 * 2 == 147_456
    assert edited["per_token_bytes_all_layers"] == 36 * 2 * 4 * 128 * 2 == 73_728
    assert edited["total_bytes"] == 73_728 * 1024


def test_warnings_name_the_what_if():
    """Past the context length: the what-if that lengthens the context is not warned about, the spec is, and a
    warned what-if is named with its edits."""
    data = answer("kvcache", "qwen3-8b", "qwen3-8b[context_length=131072]", "qwen3-8b[n_layers=40]", "--ctx", "64k")
    assert data["warnings"] == [
        f"{name}: context of 65,536 tokens is beyond its context length of 40,960 tokens "
        "(the numbers there extrapolate the architecture)"
        for name in ("qwen3-8b", "qwen3-8b (n_layers=40)")
    ]


def test_a_plot_legend_tells_the_what_if_apart():
    """kvcache --plot labels each line with its KVResult's name (matplotlib draws text as paths)."""
    from llmarch.analyze.kvcache import kv_answer
    from llmarch.api import load

    names = [kv_answer(load(n), 1024, 1, "bf16", "fp32", None, [1024]).name for n in ("qwen3-8b", WHATIF)]
    assert names == ["qwen3-8b", "qwen3-8b (attention.n_kv_heads=4)"]


def test_flops_marks_the_what_if():
    result = invoke("flops", "qwen3-8b[n_layers=40]")
    assert result.exit_code == 0, result.output
    assert "qwen3-8b (n_layers=40)" in result.stdout and "prefill 4,096" in result.stdout
    (model,) = answer("flops", "qwen3-8b[n_layers=40]")["models"]
    assert model["edits"] == {"n_layers": 40}


def test_serve_marks_the_what_if():
    result = invoke("serve", "qwen3-8b", WHATIF, "--ctx", "8k", "--batch", "1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # at 80 columns, one block per model
    assert text.count("qwen3-8b") == 2 and "qwen3-8b (attention.n_kv_heads=4)" in text
    plain, edited = answer("serve", "qwen3-8b", WHATIF, "--ctx", "8k", "--batch", "1")["models"]
    assert "edits" not in plain and edited["edits"] == {"attention.n_kv_heads": 4}
    assert edited["display_name"] == "Qwen3 8B (attention.n_kv_heads=4)"


def test_check_judges_the_what_if():
    result = invoke("check", "qwen3-8b[n_layers=40]", "--max-total", "8.5B")
    assert result.exit_code == 1, result.output  # 8,962,521,088 is over 8.5B
    assert result.stdout.startswith("Qwen3 8B (n_layers=40): budgets")
    (model,) = answer("check", "qwen3-8b[n_layers=40]", "--max-total", "8.5B")["models"]
    assert model["edits"] == {"n_layers": 40}
    assert model["budgets"][0]["measured"] == FORTY_LAYERS_TOTAL
    (model,) = answer("check", "qwen3-8b", "--max-total", "8.5B")["models"]
    assert "edits" not in model and model["budgets"][0]["measured"] == QWEN3_8B_TOTAL


def test_report_rows_and_pairs_mark_the_what_if():
    args = ("report", "qwen3-8b", "qwen3-8b[n_layers=40]", "--pairs", f"qwen3-8b:{WHATIF[:-1]},n_layers=40]")
    result = invoke(*args, "-f", "table")
    assert result.exit_code == 0, result.output
    # at 80 columns one block per model: its name, then its rows
    lines = result.stdout.splitlines()
    totals = [lines[i - 1 : i + 1] for i, line in enumerate(lines) if line.strip().startswith("total ")]
    assert [(block[0].strip(), block[1].split()[-1]) for block in totals[:2]] == [
        ("qwen3-8b", "8.191B"),  # 8,190,735,360
        ("qwen3-8b (n_layers=40)", "8.963B"),  # 8,962,521,088
    ]
    assert "Qwen3 8B vs Qwen3 8B (attention.n_kv_heads=4, n_layers=40)" in " ".join(result.stdout.split())
    data = answer(*args)
    assert [m.get("edits") for m in data["models"]] == [None, {"n_layers": 40}]
    assert data["models"][1]["total"] == FORTY_LAYERS_TOTAL
    (pair,) = data["pairs"]
    assert pair["models"][1]["edits"] == {"attention.n_kv_heads": 4, "n_layers": 40}


def test_diagram_titles_the_what_if():
    result = runner.invoke(app, ["diagram", "qwen3-8b", WHATIF, "-o", "-"])
    assert result.exit_code == 0, result.output
    assert "n_kv_heads=4" in result.stdout


def test_pairs_split_outside_brackets():
    assert parse_pairs("a:b[x=1,y=2],c:d[z={p: 1, q: 2}]") == [("a", "b[x=1,y=2]"), ("c", "d[z={p: 1, q: 2}]")]


def test_split_edits():
    assert split_edits("qwen3-8b") == ("qwen3-8b", ())
    assert split_edits("qwen3-8b[a.b=1, c=[1, 2],d={e: 1, f: 'x,y'}]") == (
        "qwen3-8b",
        ("a.b=1", "c=[1, 2]", "d={e: 1, f: 'x,y'}"),
    )
    assert split_edits("./dir[1]/spec.yaml") == ("./dir[1]/spec.yaml", ())
    assert split_edits("./dir[1]/spec.yaml[n_layers=2]") == ("./dir[1]/spec.yaml", ("n_layers=2",))


# --- errors of an edit --------------------------------------------------------------------------------------


def test_a_set_edit_a_model_lacks_says_it_does_not_apply():
    text = error_of("compare", "qwen3-8b", "qwen3-30b", "--set", "moe.n_experts=64")
    assert text.startswith("error: --set moe.n_experts=64: does not apply to qwen3-8b: the spec has no `moe` block")
    assert "`MODEL[moe.n_experts=64]`" in text


def test_the_same_edit_on_the_model_that_has_the_block_works():
    data = answer("compare", "qwen3-8b", "qwen3-30b[moe.n_experts=64]")
    assert data["models"][1]["edits"] == {"moe.n_experts": 64}
    assert data["models"][1]["architecture"]["n_experts"] == 64


def test_a_bracketed_edit_a_model_lacks_says_it_does_not_apply():
    text = error_of("show", "qwen3-8b[moe.n_experts=64]")
    assert text.startswith("error: qwen3-8b[moe.n_experts=64]: does not apply to qwen3-8b: the spec has no `moe`")


def test_a_bad_value_names_the_edit_as_written():
    text = error_of("compare", "qwen3-8b", "qwen3-8b[attention.n_kv_heads=5]")
    assert text.startswith("error: qwen3-8b[attention.n_kv_heads=5]: field `attention.n_kv_heads`: ")
    assert "not divisible" in text
    text = error_of("compare", "qwen3-8b", "qwen3-30b", "--set", "attention.n_kv_heads=5")
    assert text.startswith("error: --set attention.n_kv_heads=5: field `attention.n_kv_heads`: ")
    assert "(editing qwen3-8b)" in text


def test_an_edit_that_breaks_another_field_is_the_edit_s_error():
    """Gemma 3's pattern is six layers long: one layer breaks the spec's `layers.mixer`, which is fine as shipped."""
    text = error_of("show", "gemma-3-27b[n_layers=1]")
    assert text.startswith("error: gemma-3-27b[n_layers=1]: makes gemma-3-27b invalid: field `layers.mixer`: ")


def test_a_value_that_is_not_yaml_names_the_edit_without_a_line():
    text = error_of("show", "qwen3-8b[n_layers=a: b: c]")
    assert text.startswith("error: qwen3-8b[n_layers=a: b: c]: malformed YAML")  # no `:1:` of the one-line value


@pytest.mark.parametrize(
    "argument", ["qwen3-8b[n_layers=40", "qwen3-8b[]", "qwen3-8b[n_layers=40,]", "[n_layers=4]", "qwen3-8b[x=[1]"]
)
def test_malformed_brackets_are_one_clear_error(argument):
    text = error_of("show", argument)
    assert "qwen3-8b[n_layers=40,attention.n_kv_heads=4]" in text  # the example of the form


# --- the build cache ---------------------------------------------------------------------------------------


def _cli(cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, buildcache.ENV_DIR: str(cache), buildcache.ENV_OFF: "0", "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "llmarch", *args], capture_output=True, text=True, env=env, timeout=300, cwd=ROOT
    )


def test_an_edited_model_never_shares_a_cache_entry(tmp_path):
    """Each answer, warm or cold, is the spec's own: an edit never answers from the unedited entry (IR or
    module walk), nor the unedited model from the edit's, whichever was cached first."""
    cache = tmp_path / "cache"

    def totals(*args: str) -> list[tuple[int, dict | None]]:
        done = _cli(cache, "compare", *args, "-f", "json")
        assert done.returncode == 0, done.stderr
        return [(m["params"]["total"], m.get("edits")) for m in json.loads(done.stdout)["models"]]

    edited = (FORTY_LAYERS_TOTAL, {"n_layers": 40})
    plain = (QWEN3_8B_TOTAL, None)
    assert totals("qwen3-8b[n_layers=40]", "qwen3-8b") == [edited, plain]  # cold: both written
    assert totals("qwen3-8b", "qwen3-8b[n_layers=40]") == [plain, edited]  # warm: each its own entry
    assert totals("qwen3-8b", "qwen3-8b", "--set", "n_layers=40") == [edited, edited]  # --set: the same edit
    entries = len(list(cache.glob("ir-*.json")))
    assert entries == 2  # the IR as written and the IR with n_layers=40, whichever form wrote it
    assert totals("qwen3-8b[n_layers=41]", "qwen3-8b") == [(QWEN3_8B_TOTAL + 5 * PER_LAYER, {"n_layers": 41}), plain]
    assert len(list(cache.glob("ir-*.json"))) == 3


@pytest.mark.parametrize("command", ["show", "compare", "kvcache", "flops", "serve", "report", "check", "diagram"])
def test_help_names_both_forms(command):
    # compared without whitespace: click wraps help at 80 columns at spaces and after hyphens
    text = "".join(invoke(command, "--help").stdout.split())
    assert "NAME[k=v,...]isawhat-if" in text
    if command not in ("report", "check"):  # the commands without --set
        assert "--setattention.n_kv_heads=4" in text and "'qwen3-8b[n_layers=40,attention.n_kv_heads=4]'" in text


def test_readme_shows_both_forms():
    text = (ROOT / "README.md").read_text()
    assert "llmarch compare qwen3-8b 'qwen3-8b[attention.n_kv_heads=4]'" in text
    assert "--set attention.n_kv_heads=4" in text and "published figures not checked" in text


def test_a_spec_broken_as_written_gets_its_own_error_not_the_edit_s(tmp_path):
    """A user spec whose pattern is longer than its layers fails as written: an unrelated edit must not take
    the blame, and the error keeps the file's line."""
    spec = (ROOT / "specs" / "gemma-3-27b.yaml").read_text().replace("n_layers: 62", "n_layers: 5")
    path = tmp_path / "broken.yaml"
    path.write_text(spec.replace("name: gemma-3-27b", "name: broken"))
    result = invoke("show", f"{path}[vocab_size=1000]")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:") and "vocab_size" not in result.stderr
    assert "field `layers.mixer`" in result.stderr
