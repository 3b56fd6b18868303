"""The shipped specs travel inside the wheel: install it into a fresh environment outside the repo, run `llmarch list`."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, SPEC_NAMES


def test_wheel_carries_specs(tmp_path: Path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("llmarch-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    # the dependencies (typer, rich, pydantic, ...) come from this environment, llmarch itself only from the wheel
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LLMARCH_SPEC_PATH")}
    out = subprocess.run(
        [str(venv / "bin" / "llmarch"), "list", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    names = sorted(m["name"] for m in json.loads(out.stdout)["models"])
    assert names == SPEC_NAMES
    where = subprocess.run(
        [str(py), "-c", "import llmarch; print(llmarch.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert str(venv) in where  # not the repo checkout
