"""`make demo` and `make test` as a new user meets them (issue 24, item 11): read through `make -n`, which
prints the recipe without running it, against a virtual environment that does not exist."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def _recipe(target: str) -> list[str]:
    # A folder that does not exist (make -n creates nothing); not tmp_path, whose name contains "pytest".
    # Run as a fresh top-level make: under `make test` (CI) the parent's MAKELEVEL/MAKEFLAGS would add
    # "make[1]: Entering directory" lines around the recipe.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "VENV=/nonexistent/llmarch-venv", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return done.stdout.splitlines()


def test_make_demo_installs_only_what_the_demo_needs_and_says_so():
    lines = _recipe("demo")
    pip = [line for line in lines if "pip install" in line]
    assert not any(".[test]" in line for line in pip), pip
    assert any(line.endswith("pip install -q -e .") for line in pip), pip
    # Every pip run is announced first, naming what it installs.
    for index, line in enumerate(lines):
        if "pip install" in line:
            assert lines[index - 1].startswith("echo") or "pip install -q --upgrade pip" in line, lines
    announced = " ".join(line for line in lines if line.startswith('echo "make: installing'))
    assert "torch" in announced and "matplotlib" in announced
    assert "transformers" not in announced and "hypothesis" not in announced and "pytest" not in announced
    assert lines[-1].endswith("llmarch compare qwen3-235b deepseek-v3")


def test_make_test_adds_the_test_extra():
    lines = _recipe("test")
    extra = [index for index, line in enumerate(lines) if line.endswith('pip install -q -e ".[test]"')]
    assert len(extra) == 1
    assert "transformers" in lines[extra[0] - 1] and "hypothesis" in lines[extra[0] - 1]
    assert "pytest" in lines[-1]
