"""The shape of the library: imports between llmarch's modules form no cycle.

Every import counts, the lazy ones inside functions included (llmarch imports torch and heavy modules
lazily, and a lazy import is still a dependency). See docs/architecture.md.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "llmarch"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The llmarch modules `name` imports anywhere in its source: `from .x import y` is an edge to `x.y`
    when that is a module, else to `x` (a name defined in x or in its package's __init__)."""
    package = name if is_package else name.rpartition(".")[0]
    edges = set()
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names
            ]
        else:
            continue
        for target in targets:
            # `import llmarch.a.b` depends on llmarch.a.b (the innermost known module)
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
    return edges


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, p.read_text(), p.name == "__init__.py", known) for name, p in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_modules():
    found = cycles(import_graph())
    assert not found, "import cycles between llmarch modules (lazy imports included): " + "; ".join(
        " <-> ".join(c) for c in found
    )


# The spec layer: reading, validating and resolving a spec into the IR, and the vocabularies it shares
# (kinds, units, budgets' text).  The analyzers, the builder and the mechanisms sit above it.
SPEC_LAYER = {
    "llmarch.errors",
    "llmarch.spec.yamlsafe",
    "llmarch.kinds",
    "llmarch.limits",
    "llmarch.units",
    "llmarch.spec.budget_text",
    "llmarch.spec.schema",
    "llmarch.spec.validate",
    "llmarch.ir",
    "llmarch.spec.resolve",
    "llmarch.spec.resolve_attention",
    "llmarch.spec.registry",
}
# Below every layer: storage that imports nothing from llmarch (the registry keeps its folder indexes there)
STORAGE = {"llmarch.cache"}


def test_the_spec_layer_imports_nothing_above_it():
    """schema read params.COMPONENTS and resolve called count_params and parse_budget (issue 17): the
    shared vocabularies moved down into kinds and budget_text, and the size check up into params."""
    graph = import_graph()
    assert SPEC_LAYER <= set(graph)
    assert all(not graph[m] for m in STORAGE)
    allowed = SPEC_LAYER | STORAGE
    above = {m: sorted(graph[m] - allowed) for m in sorted(SPEC_LAYER) if graph[m] - allowed}
    assert not above, f"spec-layer modules importing analysis modules: {above}"


# What a renderer must not call: it formats a result, it does not analyse or load (issue 17)
ANALYSES = {"facts", "check_references", "count_params", "kv_cache", "load", "prefill", "decode", "serve"}


def calls_in(source: str) -> set[str]:
    calls = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            calls.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else "")
    return calls


# the renderers: render/ and the diagram's modules (its header numbers come in: `api.diagram_numbers`)
RENDERERS = ("render/*.py",)


def test_renderers_compute_nothing():
    """render/ formats typed results: facts, reference checks and comparisons come in the result (report's
    pairs included, so report loads no spec twice); the diagram draws the numbers it is given."""
    paths = sorted(p for pattern in RENDERERS for p in PACKAGE.glob(pattern))
    assert PACKAGE / "render" / "diagram.py" in paths and PACKAGE / "render" / "kv.py" in paths
    found = {p.name: sorted(calls_in(p.read_text()) & ANALYSES) for p in paths}
    assert not {name: calls for name, calls in found.items() if calls}
    assert calls_in("x = facts(ir)\ny = api.load(n)\n") & ANALYSES == {"facts", "load"}


# Modules still over the size limit: none (the diagram split into diagram_blocks, diagram_draw and the
# layout).  A module may leave it, none may join it.
OVER_600_LINES: set[str] = set()


def test_no_library_module_over_600_lines():
    """A module that outgrows 600 lines is split by what it holds (issue 17: import_hf became a package,
    cli.py kept the commands only, resolve.py gave validation to validate.py)."""
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    over = {name for name, n in sizes.items() if n > 600}
    assert over <= OVER_600_LINES, {name: sizes[name] for name in over - OVER_600_LINES}


def test_the_cycle_finder_finds_cycles():
    """The check can fail: a cycle is found, and a lazy import inside a function is an edge."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    known = {"llmarch", "llmarch.a", "llmarch.b", "llmarch.render", "llmarch.render.doc"}
    lazy = "def f():\n    from .b import g\n    from .render.doc import Doc\n    import torch\n"
    assert imports_of("llmarch.a", lazy, False, known) == {"llmarch.b", "llmarch.render.doc"}
    assert imports_of("llmarch.render.doc", "from .. import a\n", False, known) == {"llmarch.a"}
    assert imports_of("llmarch.render", "from .doc import Doc\n", True, known) == {"llmarch.render.doc"}


# research notes outside the repository (the project's shared folder), which a clone does not have
OUTSIDE = ("shared/research", "shared/design", "../shared/")


def cited_outside(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if any(o in line for o in OUTSIDE)]


def test_tests_and_library_cite_only_the_repository():
    """A source a test or the library cites is vendored under docs/ or tests/data/ (issue 17), and exists."""
    root = PACKAGE.parent
    files = [*PACKAGE.rglob("*.py"), *(root / "tests").glob("*.py"), *(root / "tests" / "data").rglob("*.yaml")]
    outside = {str(p.relative_to(root)): cited_outside(p.read_text()) for p in files}
    assert not {p: lines for p, lines in outside.items() if lines and p != "tests/test_structure.py"}
    cited = {m for p in files for m in re.findall(r"docs/sources/[\w.-]+\.md", p.read_text())}
    assert cited and all((root / c).is_file() for c in cited), cited


def test_the_outside_finder_finds_outside_citations():
    cited = "x = 1  # see shared/research/article.md section 24\ny = 2\n"
    assert cited_outside(cited) == ["x = 1  # see shared/research/article.md section 24"]
    assert not cited_outside("# see docs/sources/article.md section 24 (shared experts)")


# import-hf's layers, bottom first (docs/architecture.md, "import-hf: one module per model family"): a module
# imports only modules of lower layers; a family may build on another family's type (GLM-5 on DeepSeek V3.2)
IMPORT_HF = "llmarch.importers.hf"
IMPORT_HF_LAYERS = (
    {"keys"},
    {"config"},
    {"rope", "jsonfile", "writer", "quant", "vision"},
    {"common"},
    {"families"},  # the package and every module under it
    {"driver", "checkpoint"},  # checkpoint: the written spec held against a checkpoint's shards (verify)
    {""},  # llmarch.importers.hf itself: re-exports
)


def import_hf_layer(module: str) -> int | None:
    """The layer of a module of import-hf (None for a module outside it, or one no layer names)."""
    if module != IMPORT_HF and not module.startswith(IMPORT_HF + "."):
        return None
    first = module[len(IMPORT_HF) + 1 :].split(".")[0]
    return next((i for i, names in enumerate(IMPORT_HF_LAYERS) if first in names), None)


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, targets in graph.items():
        if not module.startswith(IMPORT_HF):
            continue
        layer = import_hf_layer(module)
        if layer is None:
            found.append(f"{module} is in no layer of IMPORT_HF_LAYERS: place it (and in docs/architecture.md)")
            continue
        for target in sorted(targets):
            other = import_hf_layer(target)
            if other is None:
                continue  # the rest of llmarch (schema, errors, yamlsafe, ...)
            families = IMPORT_HF_LAYERS[layer] == IMPORT_HF_LAYERS[other] == {"families"}
            if other >= layer and not families:
                found.append(f"{module} imports {target}, which is not below it")
    return found


def test_import_hf_modules_import_only_lower_layers():
    """The bottom modules never import a family or the driver, families never import the driver, and a new
    module must be given its layer; lazy imports count."""
    assert not layering_violations(import_graph())


def test_the_layering_check_finds_an_upward_import():
    graph = {
        "llmarch.importers.hf.keys": set(),
        "llmarch.importers.hf.quant": {"llmarch.importers.hf.families.qwen", "llmarch.errors"},
        "llmarch.importers.hf.families.glm": {"llmarch.importers.hf.families.deepseek", "llmarch.importers.hf.common"},
        "llmarch.importers.hf.families.qwen": {"llmarch.importers.hf.driver"},
        "llmarch.importers.hf.cache": set(),
    }
    assert layering_violations(graph) == [
        "llmarch.importers.hf.quant imports llmarch.importers.hf.families.qwen, which is not below it",
        "llmarch.importers.hf.families.qwen imports llmarch.importers.hf.driver, which is not below it",
        "llmarch.importers.hf.cache is in no layer of IMPORT_HF_LAYERS: place it (and in docs/architecture.md)",
    ]


# ---------------------------------------------------------------------------------------------------
# The parts drawn in docs/architecture.md: every import between parts is an arrow of the page's table

ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def drawn_parts(text: str) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
    """The page's parts table: part -> module prefixes it holds, part -> parts it may import."""
    block = text.split("<!-- parts:", 1)[1].split("<!-- /parts -->", 1)[0]
    holds: dict[str, list[str]] = {}
    may: dict[str, set[str]] = {}
    for row in block.splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("part", "") or set(cells[0]) <= {"-"}:
            continue
        part, held, imports = cells
        names = re.findall(r"`([\w/]+)`", held)
        holds[part] = [n if n == "llmarch" else "llmarch." + n.rstrip("/").replace("/", ".") for n in names]
        may[part] = {p.strip() for p in imports.split(",") if p.strip() not in ("", "—")}
    return holds, may


def part_of(module: str, holds: dict[str, list[str]]) -> str | None:
    best = None
    for part, prefixes in holds.items():
        for prefix in prefixes:
            hit = module == prefix or (prefix != "llmarch" and module.startswith(prefix + "."))
            if hit and (best is None or len(prefix) > best[1]):
                best = (part, len(prefix))
    return best[0] if best else None


def test_every_import_between_parts_is_drawn():
    holds, may = drawn_parts(ARCHITECTURE.read_text())
    assert set().union(*may.values()) <= set(holds), "the table names a part it does not define"
    graph = import_graph()
    homeless = sorted(m for m in graph if part_of(m, holds) is None)
    assert not homeless, f"modules in no part of docs/architecture.md's table: {homeless}"
    undrawn = sorted(
        f"{a} -> {b} ({part_of(a, holds)} -> {part_of(b, holds)})"
        for a, targets in graph.items()
        for b in targets
        if part_of(a, holds) != part_of(b, holds) and part_of(b, holds) not in may[part_of(a, holds)]
    )
    assert not undrawn, f"imports the page does not draw: {undrawn}"


def test_the_drawn_parts_form_no_cycle():
    _, may = drawn_parts(ARCHITECTURE.read_text())
    assert cycles({part: set(targets) for part, targets in may.items()}) == []


def test_the_parts_check_can_fail():
    page = "<!-- parts: x -->\n| part | holds | imports |\n|---|---|---|\n| a | `x/` | b |\n| b | `y` | — |\n<!-- /parts -->"
    holds, may = drawn_parts(page)
    assert holds == {"a": ["llmarch.x"], "b": ["llmarch.y"]} and may == {"a": {"b"}, "b": set()}
    assert part_of("llmarch.x.z", holds) == "a" and part_of("llmarch.xz", holds) is None
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b"]]
