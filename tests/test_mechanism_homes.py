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
    "MoEIR",
    "FFNIR",
    "attention",
    "gated_deltanet",
    "kda",
    "mamba2",
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
}

# Where a mechanism's name belongs: its own module, the schema, the IR and what builds it from a
# spec, the kinds registry, the import families.
HOMES = {"mechanisms", "schema.py", "ir.py", "resolve.py", "kinds.py", "import_hf"}

# Analyzers, renderers and builders that still dispatch on mechanisms themselves (issue 16 moved params,
# flops, kvcache, serve, facts and the gallery onto the protocol; these are next).  Emptying it is the goal.
NOT_YET_MIGRATED = {
    "diagram.py",  # one adapter per mechanism kind for its boxes (to become the protocol's box data)
    "meta.py",  # the torch modules, still to move beside each mechanism's weight table
    "params_module.py",  # the module walk reads a MoE's top_k to scale its routed experts
    # verify (issue 28, written beside this issue): its checkpoint naming tables find the MoE layers by name;
    # to read every weight's shape and deciding field from each kind's weight table instead
    "verify/__init__.py",
    "verify/naming.py",
}


def names_in(path: Path) -> set[str]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return {t.string for t in tokens if t.type == tokenize.NAME} & MECHANISM_NAMES


def offenders() -> dict[str, set[str]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in HOMES:
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
