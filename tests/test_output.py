"""Output and environment (issue 26): --set keys."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from llmarch.cli import app

runner = CliRunner()


def invoke(*args: str, env: dict | None = None):
    return runner.invoke(app, ["--no-color", *args], env=env)


def error_of(result) -> str:
    """The one paragraph of a refused input: exit 2, no traceback, no internal error."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result.output


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
