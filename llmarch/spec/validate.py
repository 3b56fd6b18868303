"""A spec document -> a validated `Spec`: pydantic's errors as one located `SpecError` naming the file, line,
column and field path, with "did you mean" for unknown keys and plain words for the expected type."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import SpecError, did_you_mean, shorten
from . import schema as S
from .yamlsafe import Located

_TYPE_WORDS = {
    "int_type": "an integer",
    "bool_type": "true or false",
    "string_type": "a string",
    "float_type": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def validate(located: Located) -> S.Spec:
    try:
        return S.Spec.model_validate(located.data)
    except ValidationError as exc:
        raise _spec_error(located, exc) from None


def _spec_error(located: Located, exc: ValidationError) -> SpecError:
    # Report the first error, located; pydantic lists union branches separately,
    # so prefer an error whose path exists in the document.
    errors = exc.errors(include_url=False)
    errors.sort(key=lambda e: (e["type"] != "extra_forbidden", _has_path(located.data, e["loc"]) is False))
    err = errors[0]
    loc = _document_path(located.data, err["loc"], missing=err["type"] == "missing")
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = loc[-1]
        known = _fields_at(loc[:-1])
        return located.error(
            loc,
            f"unknown key `{shorten(str(key))}`",
            did_you_mean(str(key), known) or (f"known keys here: {', '.join(sorted(known))}" if known else None),
        )
    if kind == "missing":
        return located.error(loc, "required key is missing")
    if kind in _TYPE_WORDS or kind.endswith("_type"):
        expected = _TYPE_WORDS.get(kind, kind.replace("_type", ""))
        return located.error(loc, f"expected {expected}, got {_show(value)}")
    if kind in ("literal_error", "enum"):
        return located.error(
            loc,
            f"{err['msg'].lower()}, got {_show(value)}",
            did_you_mean(str(value), _literal_choices(err)) if isinstance(value, str) else None,
        )
    if kind == "value_error":
        return located.error(loc, str(err["msg"]).removeprefix("Value error, "))
    if kind == "too_long" and isinstance(value, (list, dict)):
        # the limits on metadata lists (README, "Bad input"): say the limit and the count, not pydantic's words
        limit = err.get("ctx", {}).get("max_length")
        return located.error(loc, f"at most {limit} entries, got {len(value):,}")
    return located.error(loc, f"{err['msg'].lower()}, got {_show(value)}")


def _document_path(data: Any, loc: tuple, missing: bool = False) -> tuple:
    """pydantic's error location without the union branch tags it inserts (`str`, `constrained-str`,
    `list[str]`, `function-after[...]`): a part is kept when it is a key or index of the document at that
    point (`--set attention.str=1` names a key `str`, and dropping it would blame the parent field), or
    when it is the key that a "missing" error names."""
    out: list = []
    node = data
    for i, part in enumerate(loc):
        is_key = isinstance(node, dict) and part in node
        is_index = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (is_key or is_index or (missing and i == len(loc) - 1)):
            continue
        out.append(part)
        node = node[part] if is_key or is_index else None
    return tuple(out)


def _has_path(data: Any, loc: tuple) -> bool:
    for p in loc:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and isinstance(p, int) and p < len(data):
            data = data[p]
        else:
            return False
    return True


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return "a " + ("mapping" if isinstance(value, dict) else "list")
    return repr(value)


def _literal_choices(err: dict) -> list[str]:
    expected = str(err.get("ctx", {}).get("expected", ""))
    return [w.strip(" '\"") for w in expected.replace(" or ", ",").split(",") if w.strip(" '\"")]


def _fields_at(loc: tuple) -> list[str]:
    """Keys allowed at `loc` in the schema, for "did you mean"."""
    model: Any = S.Spec
    for part in loc:
        model = _unwrap(model)
        if isinstance(model, type) and issubclass(model, BaseModel):
            if not isinstance(part, str) or part not in model.model_fields:
                return []
            model = model.model_fields[part].annotation
        else:
            args = typing.get_args(model)
            model = args[-1] if args else None
    model = _unwrap(model)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    for _ in range(5):
        origin = typing.get_origin(tp)
        if origin is typing.Union or origin is getattr(__import__("types"), "UnionType", None):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else args[0]
        elif origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        else:
            break
    return tp
