"""Reading one config mapping (the top level, `text_config`, `vision_config`) through its key table: typed,
bounded values, transformers' defaults recorded, and errors located at the key's line."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ...errors import SpecError, did_you_mean
from ...spec.yamlsafe import Located
from .keys import QUIET_WHEN_NONE, REQUIRED, Derived, KeyTable


@dataclass
class _Source:
    """The config file: its data, the position of every key, and what the import noticed."""

    located: Located
    defaulted: list[tuple[str, str]] = field(default_factory=list)  # (key path, value shown)
    ignored: list[str] = field(default_factory=list)  # irrelevant keys present
    off: list[str] = field(default_factory=list)  # rejected keys present at a value that leaves the feature off


class Config:
    """One mapping of the config (the top level, `text_config`, `vision_config`), read through its key table."""

    def __init__(self, data: dict, type_name: str, keys: KeyTable, source: _Source, path: tuple = ()) -> None:
        self.data = data
        self.type_name = type_name
        self.keys = keys
        self.source = source
        self.path = path
        self.read: set[str] = set()
        self._cache: dict[str, Any] = {}
        self._computing: set[str] = set()

    # errors -----------------------------------------------------------
    def error(self, key: str | tuple, message: str, suggestion: str | None = None) -> SpecError:
        sub = key if isinstance(key, tuple) else (key,)
        alias = self._alias(sub[0])
        if alias:  # the value came from the key's other name
            sub = (alias,) + sub[1:]
        return self.source.located.error(self.path + sub, message, suggestion)

    def _alias(self, key: Any) -> Optional[str]:
        """The other name the config states `key` under, when it does not state `key` itself."""
        if isinstance(key, str) and key not in self.data:
            return next((a for a, k in self.keys.aliases.items() if k == key and a in self.data), None)
        return None

    def check_consistency(self) -> None:
        """Keys transformers writes out as copies or derivations of mapped keys must agree with them."""
        for alias, key in self.keys.aliases.items():
            if alias in self.data and key in self.data and self.data[alias] != self.data[key]:
                raise self.error(
                    alias,
                    f"`{alias}` ({_show(self.data[alias])}) is another name of `{key}` "
                    f"({_show(self.data[key])}) and disagrees with it",
                )
        for key, derived in self.keys.consistent.items():
            if key in self.data and self.data[key] is not None:
                expected = derived.compute(self)
                if self.data[key] != expected:
                    raise self.error(
                        key,
                        f"{_show(self.data[key])} disagrees with {derived.text} ({_show(expected)}), "
                        "which transformers derives it from",
                    )

    def where(self, key: str) -> str:
        return ".".join(str(p) for p in self.path + (key,))

    # the three lists --------------------------------------------------
    def check_keys(self) -> None:
        for key, value in self.data.items():
            if key in self.keys.mapped or key in self.keys.aliases or key in self.keys.consistent:
                continue
            if key in self.keys.irrelevant:
                if key != "model_type":
                    self.source.ignored.append(self.where(key))
                continue
            if key in self.keys.rejected:
                rule = self.keys.rejected[key]
                if rule.accepts(value):
                    self.source.off.append(f"{self.where(key)}: {_short(value)}")
                    continue
                raise self.error(
                    key, f"`{key}: {_show(value)}` is not supported for model type `{self.type_name}`: {rule.reason}"
                )
            raise self.error(
                key,
                f"unknown key `{key}` for model type `{self.type_name}`: it is on none of import-hf's lists "
                "(mapped, irrelevant, rejected), so the import stops rather than guess",
                did_you_mean(str(key), self.keys.known())
                or "if the key changes nothing in the architecture, delete it from a copy of the config",
            )

    # values -----------------------------------------------------------
    def _null_default(self, key: str) -> bool:
        return key in self.data and self.data[key] is None and key in self.keys.on_null

    def has(self, key: str) -> bool:
        """The config states the key (a null that means "the default" does not count)."""
        return key in self.data and not self._null_default(key)

    def get(self, key: str) -> Any:
        """The key's value, or the default transformers applies (recorded)."""
        if key not in self.keys.mapped:
            raise KeyError(f"{self.type_name}: `{key}` is not a mapped key")  # a bug in a table, not bad input
        self.read.add(key)
        if self.has(key):
            return self.data[key]
        alias = self._alias(key)
        if alias:
            self.read.add(alias)
            return self.data[alias]
        if key in self._cache:
            return self._cache[key]
        if key in self._computing:
            raise self.error(key, f"`{key}`'s default depends on itself")
        null = self._null_default(key)
        default = self.keys.on_null[key] if null else self.keys.mapped[key]
        if default is REQUIRED:
            raise self.error(
                key,
                f"required key `{key}` is missing: transformers has no default for it for model "
                f"type `{self.type_name}`",
            )
        self._computing.add(key)
        try:
            if isinstance(default, Derived):
                value = default.compute(self)
                shown = f"{_short(value)} ({default.text})"
            else:
                value = copy.deepcopy(default)
                shown = _short(value)
        finally:
            self._computing.discard(key)
        if null:
            shown += " (null: transformers' default)"
        self._cache[key] = value
        if not (value is None and key in QUIET_WHEN_NONE):
            self.source.defaulted.append((self.where(key), shown))
        return value

    def touch(self, *keys: str) -> None:
        """Mark keys as read whose value cannot change the spec here (e.g. a window when windows are off)."""
        self.read.update(k for k in keys if k in self.keys.mapped)

    def int(self, key: str, minimum: int = 1, maximum: Optional[int] = None) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_show(value)}")
        if value < minimum:
            raise self.error(key, f"expected an integer of at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"{value:,} is more than llmarch supports (at most {maximum:,})")
        return value

    def opt_int(self, key: str, minimum: int = 1, maximum: Optional[int] = None) -> Optional[int]:
        return None if self.get(key) is None else self.int(key, minimum, maximum)

    def number(self, key: str) -> float:
        value = self.get(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value != value
            or value in (float("inf"), float("-inf"))
        ):
            raise self.error(key, f"expected a number, got {_show(value)}")
        return value

    def opt_number(self, key: str) -> Optional[float]:
        return None if self.get(key) is None else self.number(key)

    def bool(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_show(value)}")
        return value

    def str(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_show(value)}")
        return value

    def list(self, key: str, length: Optional[int] = None) -> list:
        value = self.get(key)
        if not isinstance(value, list):
            raise self.error(key, f"expected a list, got {_show(value)}")
        if length is not None and len(value) != length:
            raise self.error(key, f"expected one entry per layer ({length}), got {len(value)}")
        return value

    def int_list(
        self, key: str, minimum: int = 0, maximum: Optional[int] = None, length: Optional[int] = None
    ) -> list[int]:
        """A list of integers in [minimum, maximum] (layer indices, 0/1 flags)."""
        return _int_items(self, (key,), self.list(key, length), minimum, maximum)

    def str_list(self, key: str, length: Optional[int] = None) -> list[str]:
        values = self.list(key, length)
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise self.error((key, i), f"expected a string, got {_show(v)}")
        return values

    def mapping(self, key: str) -> Optional[dict]:
        value = self.get(key)
        if value is not None and not isinstance(value, dict):
            raise self.error(key, f"expected a mapping, got {_show(value)}")
        return value


def _int_items(cfg: Config, path: tuple, values: Any, minimum: int, maximum: Optional[int]) -> list[int]:
    if not isinstance(values, list):
        raise cfg.error(path, f"expected a list of integers, got {_show(values)}")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum or (maximum is not None and v > maximum):
            span = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
            raise cfg.error(path + (i,), f"expected an integer {span}, got {_show(v)}")
    return values


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (dict, list)):
        text = json.dumps(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return repr(value) if isinstance(value, str) else str(value)


def _short(value: Any) -> str:
    if isinstance(value, list) and len(value) > 6:
        return f"[{len(value)} entries]"
    return _show(value)
