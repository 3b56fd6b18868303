"""Every answer llmarch gives equals its pinned golden file (tests/golden/, written by `make golden`).

A reshaping of llmarch's internals must leave these files identical; a commit that changes one names the
issue and the intended change (docs/architecture.md). JSON is compared parsed, everything else byte for
byte; a failure shows a unified diff of each file that changed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import goldens
from goldens import GOLDEN, ROOT

GROUPS = goldens.groups()
MAX_REPORT = 12_000  # characters of diff shown per failing group


def _compare(folder: str, cases, spec_path: str = "", exit_codes: bool = True) -> list[str]:
    problems = []
    for path, text in goldens.generate_group(folder, cases, spec_path).items():
        if not exit_codes and path.endswith("exit-codes.json"):
            continue  # a subset of the group's cases: its exit codes are checked by the whole group's test
        pinned = GOLDEN / path
        if not pinned.is_file():
            problems.append(f"tests/golden/{path}: missing (run `make golden` and commit it, see docs/architecture.md)")
            continue
        diff = goldens.differences(path, pinned.read_text(), text)
        if diff:
            problems.append(diff)
    return problems


def _report(problems: list[str]) -> str:
    text = "\n".join(problems)
    if len(text) > MAX_REPORT:
        text = text[:MAX_REPORT] + f"\n... ({len(text) - MAX_REPORT} more characters of diff)"
    return f"{len(problems)} golden file(s) differ:\n{text}"


@pytest.mark.parametrize("folder", sorted(GROUPS), ids=lambda f: f or "global")
def test_answers_equal_their_golden_files(folder):
    problems = _compare(folder, GROUPS[folder])
    assert not problems, _report(problems)


def test_no_stale_golden_files():
    """Every file under tests/golden/ is one `make golden` writes: a removed case cannot leave a file behind."""
    stale = goldens.pinned_files() - goldens.expected_paths()
    assert not stale, f"golden files no case produces (run `make golden`): {sorted(stale)[:20]}"


def test_goldens_cover_every_command_and_spec():
    commands = {c.args[0] for cases in GROUPS.values() for c in cases}
    assert commands == {
        "list",
        "show",
        "compare",
        "kvcache",
        "flops",
        "serve",
        "report",
        "check",
        "schema",
        "diagram",
        "import-hf",
    }
    from llmarch.spec.registry import shipped_dir

    assert {f"models/{p.stem}" for p in shipped_dir().glob("*.yaml")} <= set(GROUPS)
    configs = {p.stem for p in goldens.CONFIGS.glob("*.json")}
    imported = {
        c.args[1].rsplit("/", 1)[1][: -len(".json")] for cs in GROUPS.values() for c in cs if c.args[0] == "import-hf"
    }
    assert configs == imported


def test_a_changed_number_in_a_spec_fails_the_comparison(tmp_path):
    """A deliberately broken copy of qwen3-8b (one more FFN unit) under the same name, in a spec folder that
    overrides the shipped spec: the golden comparison must fail, and name the changed parameter count."""
    spec = (ROOT / "specs" / "qwen3-8b.yaml").read_text()
    broken, n = re.subn(r"(\bd_ff:\s*)12288\b", r"\g<1>12289", spec)
    assert n == 1, "the fixture expects qwen3-8b's d_ff: 12288"
    (tmp_path / "qwen3-8b.yaml").write_text(broken)
    cases = [c for c in GROUPS["models/qwen3-8b"] if c.path.endswith(("show.json", "show.80.txt", "flops.json"))]
    problems = _compare("models/qwen3-8b", cases, spec_path=str(tmp_path), exit_codes=False)
    changed = {p.split(" (pinned)")[0].rsplit("tests/golden/", 1)[1] for p in problems if " (pinned)" in p}
    assert changed == {"models/qwen3-8b/show.json", "models/qwen3-8b/show.80.txt", "models/qwen3-8b/flops.json"}
    # qwen3-8b has 36 layers of 3 FFN matrices of width 4096: one more unit is 36 * 3 * 4096 parameters
    assert any('"total": 8190735360' in p and f'"total": {8190735360 + 36 * 3 * 4096}' in p for p in problems)
    # and the unchanged copy passes: the comparison is not failing for some other reason
    intact = tmp_path / "intact"  # another folder: llmarch parses each spec file once per process
    intact.mkdir()
    (intact / "qwen3-8b.yaml").write_text(spec)
    assert _compare("models/qwen3-8b", cases, spec_path=str(intact), exit_codes=False) == []


GOLDEN_COMMIT = re.compile(r"\bgoldens?\b.*\bissue \d+\b|\bissue \d+\b.*\bgoldens?\b", re.I | re.S)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_commits_that_change_goldens_say_why():
    """docs/architecture.md: a commit touching tests/golden/ names the issue and the change ("issue N ... golden")."""
    out = subprocess.run(
        # merges are left out: the commits they bring in are each checked here themselves
        ["git", "log", "--no-merges", "--format=%H%x00%B%x01", "--", "tests/golden"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_PAGER": "cat"},
    )
    if out.returncode != 0:
        pytest.skip(f"git log failed: {out.stderr.strip()}")
    bad = []
    for entry in filter(str.strip, out.stdout.split("\x01")):
        sha, message = entry.strip().split("\x00", 1)
        if not GOLDEN_COMMIT.search(message):
            bad.append(f"{sha[:10]} {message.splitlines()[0]}")
    assert not bad, "commits that change tests/golden/ without naming the issue and the change: " + "; ".join(bad)
