"""Finding specs by name, alias or path, and loading them with `extends:`.

Search order: folders given with `--spec-path`, then `LLMARCH_SPEC_PATH`
(os.pathsep-separated), then the specs shipped with the package.  A user spec
with a shipped spec's name overrides it (with a notice); two files of the same
name at the same precedence are an error.  Names never resolve by guessing:
anything that is neither a name, an alias nor a file gets "did you mean".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import LlmarchError, SpecError, did_you_mean
from .yamlsafe import Located, load_file

ENV_VAR = "LLMARCH_SPEC_PATH"
NOT_INHERITED = ("name", "display_name", "aliases", "release_date", "reference", "notes")


def shipped_dir() -> Path:
    """The shipped specs: inside the installed wheel, or the repo's specs/ when run from source."""
    here = Path(__file__).resolve().parent
    packaged = here / "_specs"
    if packaged.is_dir():
        return packaged
    return here.parent / "specs"


@dataclass
class Entry:
    name: str
    path: Path
    aliases: tuple[str, ...]
    level: int  # 0 = --spec-path, 1 = env, 2 = shipped
    located: Located


@dataclass
class Registry:
    entries: dict[str, Entry] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)

    @classmethod
    def discover(cls, spec_paths: list[str] | None = None, use_env: bool = True) -> "Registry":
        levels: list[tuple[int, Path]] = []
        for p in spec_paths or []:
            levels.append((0, Path(p)))
        if use_env and os.environ.get(ENV_VAR):
            for p in os.environ[ENV_VAR].split(os.pathsep):
                if p:
                    levels.append((1, Path(p)))
        levels.append((2, shipped_dir()))
        reg = cls()
        for level, folder in levels:
            if not folder.is_dir():
                raise LlmarchError(f"spec folder `{folder}` does not exist or is not a directory")
            for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
                reg._add(path, level)
        for entry in reg.entries.values():
            for alias in entry.aliases:
                if alias in reg.entries:
                    raise entry.located.error(
                        ("aliases",), f"alias `{alias}` is already the name of the spec in {reg.entries[alias].path}"
                    )
                if alias in reg.aliases and reg.aliases[alias] != entry.name:
                    other = reg.entries[reg.aliases[alias]].path
                    raise entry.located.error(("aliases",), f"alias `{alias}` is also declared by {other}")
                reg.aliases[alias] = entry.name
        return reg

    def _add(self, path: Path, level: int) -> None:
        located = load_file(path)
        name = located.data.get("name")
        if not isinstance(name, str):
            raise located.error(("name",), "every spec needs a `name` (a string)")
        if name != path.stem:
            raise located.error(("name",), f"name `{name}` must match the file name `{path.stem}`")
        aliases = located.data.get("aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise located.error(("aliases",), "aliases must be a list of names")
        if name in self.entries:
            prev = self.entries[name]
            if prev.level == level:
                raise SpecError(
                    f"spec `{name}` is defined twice at the same precedence, here and in {prev.path}",
                    file=str(path),
                    suggestion="rename one of them",
                )
            # a user folder (lower level number) wins over later ones
            self.notices.append(f"note: {prev.path} overrides the spec `{name}` in {path}")
            return
        self.entries[name] = Entry(name, path, tuple(aliases), level, located)

    def names(self) -> list[str]:
        return sorted(self.entries)

    def lookup(self, name: str) -> Entry:
        """The entry for a name or alias; unknown names get the closest names, never a guess."""
        key = name.strip().lower()
        if key in self.entries:
            return self.entries[key]
        if key in self.aliases:
            return self.entries[self.aliases[key]]
        hint = did_you_mean(key, list(self.entries) + list(self.aliases), n=3)
        raise LlmarchError(
            f"unknown model `{name}`" + (f"; {hint}" if hint else "") + " (`llmarch list` shows every name)"
        )

    def load(self, name_or_path: str) -> Located:
        """The merged spec document for a name, alias or file path, with `extends:` applied."""
        path = Path(name_or_path)
        if name_or_path.endswith((".yaml", ".yml")) or os.sep in name_or_path or path.is_file():
            located = load_file(path)
        else:
            located = self.lookup(name_or_path).located
        return self._with_parents(located, [])

    def _with_parents(self, located: Located, chain: list[str]) -> Located:
        parent_ref = located.data.get("extends")
        if parent_ref is None:
            return located
        if not isinstance(parent_ref, str):
            raise located.error(("extends",), "extends must name a spec or a file")
        me = str(located.data.get("name", located.file))
        chain = chain + [me]
        if parent_ref in chain or parent_ref == me:
            raise located.error(("extends",), "extends cycle: " + " -> ".join(chain + [parent_ref]))
        if parent_ref.endswith((".yaml", ".yml")):
            parent_path = Path(located.file).parent / parent_ref
            if not parent_path.is_file():
                raise located.error(("extends",), f"parent file `{parent_ref}` does not exist")
            parent = load_file(parent_path)
        else:
            key = parent_ref.strip().lower()
            if key not in self.entries and key not in self.aliases:
                hint = did_you_mean(key, list(self.entries) + list(self.aliases))
                raise located.error(("extends",), f"parent spec `{parent_ref}` not found", hint)
            parent = self.lookup(parent_ref).located
        if str(parent.data.get("name")) in chain:
            raise located.error(("extends",), "extends cycle: " + " -> ".join(chain + [str(parent.data.get("name"))]))
        parent = self._with_parents(parent, chain)
        return merge(parent, located)


def merge(parent: Located, child: Located) -> Located:
    """Deep-merge `child` over `parent`: mappings merge, everything else is replaced."""
    marks = {p: m for p, m in parent.marks.items() if not (p and p[0] in NOT_INHERITED)}
    parent_data = {k: v for k, v in parent.data.items() if k not in NOT_INHERITED}

    def over(base: Any, top: Any, path: tuple) -> Any:
        if isinstance(base, dict) and isinstance(top, dict):
            out = dict(base)
            for k, v in top.items():
                out[k] = over(base.get(k), v, path + (k,)) if k in base else v
                if k not in base or not (isinstance(base.get(k), dict) and isinstance(v, dict)):
                    for p in [p for p in marks if p[: len(path) + 1] == path + (k,)]:
                        del marks[p]
            return out
        return top

    data = over(parent_data, child.data, ())
    data.pop("extends", None)
    marks.update(child.marks)
    return Located(data=data, file=child.file, marks=marks)


def apply_sets(located: Located, sets: list[str]) -> Located:
    """What-if edits: `attention.n_kv_heads=4` sets that key (the value is parsed as YAML, safely)."""
    import copy

    from .yamlsafe import load_value

    data = copy.deepcopy(located.data)
    marks = dict(located.marks)
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set `{item}` is not `key.path=value`", file="--set")
        path = tuple(key.strip().split("."))
        label = f"--set {item if len(item) <= 80 else item[:77] + '...'}"
        # the value reads exactly as it would in a spec file: the same tags, numbers and booleans
        value = load_value(raw, label, path) if raw.strip() else None
        if isinstance(value, list) and not raw.strip().startswith("["):
            value = (
                raw.strip()
            )  # block-sequence syntax ("-", "- x") on a command line means the text (a pattern letter)
        node = data
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = value
        for p in [p for p in marks if p[: len(path)] == path]:
            del marks[p]
        marks[path] = (label, None, None)
    return Located(data=data, file=located.file, marks=marks)
