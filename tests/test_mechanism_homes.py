"""One home per mechanism: outside llmarch/mechanisms/, a mechanism's name appears only in the spec
schema, the kinds registry, the IR and resolve (which build the IR from the spec) and the import
families that produce it.  Analyzers, renderers and the model builder loop over the protocol.

Names are code identifiers (tokenize's NAME tokens): the answers' words ("MLA", "Gated DeltaNet" in a
conventions string) are output, pinned by the goldens, and comments are prose.
"""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "llmarch"

# The identifiers that name a mechanism: the IR's mechanism classes and fields.
MECHANISM_NAMES = {
    "AttentionIR",
    "GatedDeltaNetIR",
    "KdaIR",
    "Mamba2IR",
    "MlstmIR",
    "MoEIR",
    "FFNIR",
    "attention",
    "gated_deltanet",
    "kda",
    "mamba2",
    "mlstm",
    "moe",
    "dense",
    "is_mla",
    "kv_shared_from",
    "q_lora_rank",
    "kv_lora_rank",
    "qk_rope_head_dim",
    "qk_nope_head_dim",
    "indexer_heads",
    "indexer_head_dim",
    "indexer_topk",
    "per_layer_embedding_dim",
    "per_layer_embedding_vocab",
    "altup_inputs",
    "laurel_rank",
    "k_eq_v",
    "residual",
    "compress_ratio",
    "compress_overlap",
    "o_groups",
    "o_lora_rank",
    "hash_table_rows",
    "hc_streams",
    "hc_sinkhorn_iters",
}

# Where a mechanism's name belongs: its own module, the schema, the IR and what builds it from a
# spec, the kinds registry, the import families.
HOMES = {
    "mechanisms",
    "spec/schema.py",
    "ir.py",
    "spec/resolve.py",
    "spec/resolve_attention.py",
    "kinds.py",
    "importers/hf",
}

# Analyzers, renderers and builders that still dispatch on mechanisms themselves (issue 16 moved params,
# flops, kvcache, serve, facts, the gallery, the diagram, the meta build and the module walk onto the
# protocol).  Emptying it is the goal.
NOT_YET_MIGRATED: set[str] = set()  # emptied: verify moved onto the protocol (issues 28, 29)


def names_in(path: Path) -> set[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return {t.string for t in tokens if t.type == tokenize.NAME} & MECHANISM_NAMES


def offenders() -> dict[str, set[str]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if any(rel.as_posix() == home or rel.as_posix().startswith(home + "/") for home in HOMES):
            continue
        found = names_in(path)
        if found:
            out[rel.as_posix()] = found
    return out


def test_only_homes_name_a_mechanism():
    found = offenders()
    migrated_but_naming = {f: sorted(n) for f, n in found.items() if f not in NOT_YET_MIGRATED}
    assert not migrated_but_naming, f"analyzers naming a mechanism (use the protocol): {migrated_but_naming}"


def test_the_not_yet_migrated_list_is_current():
    """A file moved onto the protocol leaves the list (so that it cannot slide back unnoticed)."""
    assert sorted(NOT_YET_MIGRATED - set(offenders())) == []


def test_the_grep_can_fail(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""layer.attention in a docstring is prose"""\n# layer.kda\nx = layer.kda  # code\n')
    assert names_in(sample) == {"kda"}


MECHANISMS = PACKAGE / "mechanisms"
TORCH_FLOOR = {"primitives"}  # the torch primitives every `_torch` module builds on


def module_level_imports(path: Path) -> set[str]:
    """The modules a file imports at import time (not inside a function): `torch`, `.attention_torch`."""
    import ast

    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            out.add("." * node.level + (node.module or ""))
    return out


def loads_torch(imports: set[str]) -> set[str]:
    return {
        i for i in imports if i.split(".")[0] == "torch" or i.endswith("_torch") or i.rpartition(".")[2] in TORCH_FLOOR
    }


def test_a_kinds_torch_module_is_reached_lazily_beside_it():
    """A kind is `<kind>.py` (no torch at import: the counting commands import it) and its torch module
    `<kind>_torch.py`, which imports no analytic mechanism module (so the lazy import is no cycle)."""
    analytic = {p.stem for p in MECHANISMS.glob("*.py") if not p.stem.endswith("_torch")} - TORCH_FLOOR
    torch_side = {p.stem for p in MECHANISMS.glob("*_torch.py")}
    assert torch_side and {s.removesuffix("_torch") for s in torch_side} <= analytic
    eager = {s: loads_torch(module_level_imports(MECHANISMS / f"{s}.py")) for s in analytic}
    assert not {s: i for s, i in eager.items() if i}, "analytic mechanism modules importing torch"
    for stem in torch_side:
        relative = {i.lstrip(".") for i in module_level_imports(MECHANISMS / f"{stem}.py") if i.startswith(".")}
        assert not relative & analytic - {"recurrence"}, (stem, relative & analytic)


def test_the_torch_import_check_can_fail(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import torch.nn\nfrom .attention_torch import X\n\ndef f():\n    from .primitives import Linear\n"
    )
    assert loads_torch(module_level_imports(sample)) == {"torch.nn", ".attention_torch"}


def test_counting_and_drawing_commands_load_no_torch(tmp_path):
    """The analytic side of every kind is imported by these commands; its torch module is not."""
    import subprocess
    import sys

    svg = tmp_path / "fig.svg"
    code = (
        "import sys; from typer.testing import CliRunner; from llmarch.cli import app\n"
        f"for args in (['kvcache', 'gemma-3n-e4b'], ['flops', 'deepseek-v3.2-exp'], ['serve', 'qwen3-next-80b-a3b'],\n"
        f"             ['diagram', 'gemma-3n-e4b', 'kimi-linear-48b-a3b', '-o', {str(svg)!r}]):\n"
        "    r = CliRunner().invoke(app, args); assert r.exit_code == 0, r.output\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert svg.read_text().startswith("<svg")
