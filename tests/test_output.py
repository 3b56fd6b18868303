"""Output and environment (issue 26): integer options, GPU profiles, --set keys."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmarch.cli import app
from llmarch.serve import HARDWARE_DIR

runner = CliRunner()


def invoke(*args: str, env: dict | None = None):
    return runner.invoke(app, ["--no-color", *args], env=env)


def error_of(result) -> str:
    """The one paragraph of a refused input: exit 2, no traceback, no internal error."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.output


# ---------------------------------------------------------------------------
# 5. integer options and GPU profiles


@pytest.mark.parametrize(
    "args, option",
    [
        (["serve", "qwen3-8b", "--ep", "0"], "--ep"),
        (["serve", "qwen3-8b", "--tp", "0"], "--tp"),
        (["serve", "qwen3-8b", "--gpus", "0"], "--gpus"),
        (["serve", "qwen3-8b", "--gpus", "-2"], "--gpus"),
        (["serve", "qwen3-8b", "--batch", "0"], "--batch"),
        (["serve", "qwen3-8b", "--batch", str(10**30)], "--batch"),
        (["serve", "qwen3-8b", "--ctx", "0"], "--ctx"),
        (["kvcache", "gpt2", "--batch", "0"], "--batch"),
        (["kvcache", "gpt2", "--batch", "-1"], "--batch"),
        (["kvcache", "gpt2", "--sweep", "1k,0"], "--sweep"),
        (["flops", "gpt2", "--batch", "0"], "--batch"),
        (["flops", "gpt2", "--seq", "0"], "--seq"),
        (["flops", "gpt2", "--ctx", "0k"], "--ctx"),
        (["report", "gpt2", "--seq", "0"], "--seq"),
        (["report", "gpt2", "--ctx", "x"], "--ctx"),
    ],
    ids=lambda a: " ".join(a) if isinstance(a, list) else a,
)
def test_integer_options_are_validated(args, option):
    out = error_of(invoke(*args))
    assert option in out


def _profile(tmp_path: Path, field: str, value: str) -> str:
    lines = (HARDWARE_DIR / "h100-sxm.yaml").read_text().splitlines()
    if field.startswith("peak_flops."):
        lines = [
            f"peak_flops: {{bf16: 989.4e12, {field.split('.')[1]}: {value}}}" if l.startswith("peak_flops:") else l
            for l in lines
        ]
    else:
        lines = [f"{field}: {value}" if l.startswith(f"{field}:") else l for l in lines]
    path = tmp_path / "gpu.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.mark.parametrize(
    "field, value, line",
    [
        ("bandwidth_bytes_per_s", ".nan", 4),
        ("bandwidth_bytes_per_s", ".inf", 4),
        ("bandwidth_bytes_per_s", "true", 4),
        ("bandwidth_bytes_per_s", "'nan'", 4),
        ("memory_bytes", "true", 3),
        ("memory_bytes", ".inf", 3),
        ("peak_flops.bf16", ".NaN", 5),
        ("peak_flops.fp8", "-.inf", 5),
        ("peak_flops.fp8", "false", 5),
    ],
)
def test_gpu_profile_refuses_nan_infinity_and_booleans(tmp_path, field, value, line):
    path = _profile(tmp_path, field, value)
    out = error_of(invoke("serve", "qwen3-8b", "--gpu", path, "-f", "json"))
    assert f"{path}:{line}:" in out and f"field `{field}`" in out


def test_shipped_gpu_profiles_still_load():
    for path in sorted(HARDWARE_DIR.glob("*.yaml")):
        result = invoke("serve", "qwen3-8b", "--gpu", path.stem, "-f", "json")
        assert result.exit_code == 0, result.output
        roofline = json.loads(result.output)["models"][0]["decode_roofline"]
        assert all(math.isfinite(v) for v in roofline.values() if isinstance(v, float))


# ---------------------------------------------------------------------------
# 6. --set keys


def test_set_extends_is_refused():
    out = error_of(invoke("show", "qwen3-8b", "--set", "extends=gpt2"))
    assert "cannot change `extends`" in out


@pytest.mark.parametrize(
    "key", ["foo[0]", "str", "attention.str", "attention.list[str]", "attention.a[1]", "constrained-str", "Attention"]
)
def test_unknown_keys_that_look_like_pydantic_tags_are_named(key):
    """pydantic's union branch tags (`str`, `list[str]`) were dropped from every path, user keys included:
    an IndexError for `foo[0]`, and `unknown key attention; did you mean attention?` for `attention.str`."""
    out = error_of(invoke("show", "qwen3-8b", "--set", f"{key}=1"))
    last = key.split(".")[-1]
    assert f"--set {key}=1: field `{key}`: unknown key `{last}`" in out
    assert f"did you mean `{last}`" not in out


def test_set_type_errors_name_the_field_not_a_tag():
    out = error_of(invoke("show", "qwen3-8b", "--set", "layers.mixer=5"))
    assert "field `layers.mixer`: expected a string" in out and "constrained" not in out
    # a mapping the edit created is blamed on the edit, not on the spec's `attention:` line
    out = error_of(invoke("show", "qwen3-8b", "--set", "attention.overrides.glob.head_dim=4"))
    assert out.startswith("error: --set attention.overrides.glob.head_dim=4: field `attention.overrides.glob`")
