"""The import: dispatch by `model_type` to a text type or a multimodal wrapper, the spec's notes, reference
and weights, and the check that the spec loads."""

from __future__ import annotations

import re
from typing import Optional

from ...errors import LlmarchError, SpecError, did_you_mean
from ...spec.yamlsafe import Located
from .common import _settle
from .config import Config, _show, _Source
from .families import MODULE_NAMES, TEXT_TYPES
from .jsonfile import default_name, read_config
from .quant import _weights
from .vision import VISION_TYPES, WRAPPER_TYPES, WrapperType
from .writer import Imported

SUPPORTED_TYPES = sorted(set(TEXT_TYPES) | set(WRAPPER_TYPES))


NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")


def import_config(config: dict, *, name: str, source: str, marks: Optional[dict] = None) -> Imported:
    """A parsed config.json -> the spec it describes; `source` names the file in errors and in the spec.

    Any bad value is a `SpecError` naming the key; an exception the readers did not foresee is turned into an
    `LlmarchError` naming the file and model type (a value import-hf cannot read), never a traceback.
    """
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > 64:
        raise LlmarchError(
            f"`{name}` is not a spec name: lowercase letters, digits, `.` and `-`, "
            "starting with a letter or digit (give --name)"
        )
    if not isinstance(config, dict):
        raise SpecError("a config.json is a JSON object", file=source)
    try:
        return _import(config, name, source, marks)
    except LlmarchError:
        raise
    except (
        TypeError,
        ValueError,
        ZeroDivisionError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
        OverflowError,
    ) as exc:
        model_type = config.get("model_type")
        raise LlmarchError(
            f"{source}: a value import-hf cannot read (model type {_show(model_type)}): "
            f"{type(exc).__name__}: {exc}; check the config's values against transformers' config class"
        ) from None


def _model_type(located: Located, data: dict, path: tuple, default: Optional[str] = None) -> Optional[str]:
    value = data.get("model_type", default)
    if value is not None and not isinstance(value, str):
        raise located.error(path + ("model_type",), f"expected a model type name, got {_show(value)}")
    return value


def _import(config: dict, name: str, source: str, marks: Optional[dict]) -> Imported:
    located = Located(data=config, file=source, marks=marks or {})
    src = _Source(located=located)
    model_type = _model_type(located, config, ())
    if model_type is None:
        raise located.error((), "the config has no `model_type`", f"supported: {', '.join(SUPPORTED_TYPES)}")
    if model_type not in TEXT_TYPES and model_type not in WRAPPER_TYPES:
        hint = did_you_mean(str(model_type), SUPPORTED_TYPES)
        raise located.error(
            ("model_type",),
            f"model type {_show(model_type)} is not supported by import-hf",
            (hint + " " if hint else "") + f"supported: {', '.join(SUPPORTED_TYPES)}",
        )
    readers: list[Config] = []
    reference = None
    if model_type in WRAPPER_TYPES:
        wrapper_type = WRAPPER_TYPES[model_type]
        wrapper = Config(config, model_type, wrapper_type.keys, src)
        wrapper.check_keys()
        text_data = wrapper.mapping("text_config") or {}
        text_name = _model_type(located, text_data, ("text_config",), wrapper_type.text_types[0])
        if text_name not in wrapper_type.text_types:
            raise wrapper.error(
                ("text_config", "model_type"),
                f"text model type {_show(text_name)} is not supported in a {model_type} wrapper",
                f"supported: {', '.join(wrapper_type.text_types)}",
            )
        text_type = TEXT_TYPES[text_name]
        cfg = Config(text_data, text_name, text_type.keys, src, ("text_config",))
        cfg.check_keys()
        body = text_type.build(cfg)
        _settle(body)
        cfg.check_consistency()
        # The wrapper's tie_word_embeddings when it states one.  When it is silent, the text config's: checkpoints
        # written by transformers 4 (Mistral Small 3.1) tie only when the text config says so, although
        # transformers 5 would apply the wrapper class's default.
        if wrapper.has("tie_word_embeddings"):
            body["tie_embeddings"] = wrapper.bool("tie_word_embeddings")
        readers += [wrapper, cfg]
        if wrapper_type.vision_types:
            vision = _vision(wrapper, wrapper_type, src)
            params = VISION_TYPES[vision.type_name].count(vision) + wrapper_type.projector(
                wrapper, vision, body["d_model"]
            )
            reference = [
                {
                    "source": source,
                    "note": "no published figure; the adjustment holds the checkpoint's parts outside the text model",
                    "adjustments": [
                        {
                            "what": f"{VISION_TYPES[vision.type_name].what} and multimodal projector "
                            f"({model_type} vision_config, counted in closed form)",
                            "kind": "vision_tower",
                            "params": params,
                        }
                    ],
                }
            ]
            readers.append(vision)
        else:
            wrapper.touch("vision_config", "audio_config")  # described in the notes, not read
        family, note, quant_reader = wrapper_type.family, wrapper_type.towers_note, wrapper
        if cfg.has("quantization_config"):
            if wrapper.get("quantization_config"):
                raise cfg.error(
                    "quantization_config", "both the wrapper and its text_config hold a quantization_config"
                )
            quant_reader = cfg
    else:
        text_type = TEXT_TYPES[model_type]
        cfg = Config(config, model_type, text_type.keys, src)
        cfg.check_keys()
        body = text_type.build(cfg)
        _settle(body)
        cfg.check_consistency()
        readers.append(cfg)
        family, note, quant_reader = text_type.family, text_type.note, cfg

    notes = [f"Imported by `llmarch import-hf` from {source} (model_type {model_type})."]
    if model_type in WRAPPER_TYPES:
        notes.append(
            "Text model of a multimodal checkpoint"
            + ("; the vision tower is a reference adjustment." if reference else ".")
        )
    if note:
        notes.append(note + ".")
    spec = {"name": name, "family": family, "sources": {"config": source}, **body}
    if reference:
        spec["reference"] = reference
    # the spec must load; resolved once, before the weights block (its formats and components are fixed names)
    model = _resolve(spec, source)
    weights = _weights(quant_reader, model, MODULE_NAMES[text_type.name], text_type.name, model_type)
    if text_type.adjust_weights is not None:
        weights = text_type.adjust_weights(cfg, weights)
    if weights:
        spec["weights"] = weights
    if src.defaulted:
        notes.append(
            "Keys absent from the config took transformers' defaults: "
            + "; ".join(f"{k} = {v}" for k, v in src.defaulted)
            + "."
        )
    spec["notes"] = " ".join(notes)
    if not spec.get("layers"):
        spec.pop("layers", None)  # every layer global attention + the default FFN
    spec = _ordered(spec)
    unread = [r.where(k) for r in readers for k in r.data if k in r.keys.mapped and k not in r.read]
    return Imported(spec, model_type, source, list(src.defaulted), list(src.ignored), list(src.off), unread)


def _vision(wrapper: Config, wrapper_type: WrapperType, src: _Source) -> Config:
    data = wrapper.mapping("vision_config") or {}
    name = _model_type(src.located, data, ("vision_config",), wrapper_type.vision_types[0])
    name = wrapper_type.vision_renames.get(name, name)
    if name not in wrapper_type.vision_types:
        raise wrapper.error(
            ("vision_config", "model_type"),
            f"vision model type {_show(name)} is not supported in a {wrapper_type.name} wrapper",
            f"supported: {', '.join(wrapper_type.vision_types)}",
        )
    vision = Config(data, name, VISION_TYPES[name].keys, src, ("vision_config",))
    vision.check_keys()
    return vision


def _resolve(spec: dict, source: str):
    """The spec's IR; a spec llmarch rejects is reported by the spec field and the config it came from."""
    from ...analyze.params import check_size
    from ...spec.resolve import to_ir
    from ...spec.validate import validate

    located = Located(data=spec, file=f"<spec imported from {source}>")
    try:
        model = to_ir(validate(located), located)
        check_size(model, located)
        return model
    except SpecError as exc:
        where = f"field `{exc.field}` of " if exc.field else ""
        raise LlmarchError(
            f"{source}: the config's values make a spec llmarch cannot represent: {where}the "
            f"imported spec: {exc.message}" + (f"; {exc.suggestion}" if exc.suggestion else "")
        ) from None


def _ordered(spec: dict) -> dict:
    from ...spec.schema import Spec

    order = list(Spec.model_fields)
    return {k: spec[k] for k in sorted(spec, key=order.index)}


def import_file(path: str, name: Optional[str] = None) -> Imported:
    """Read a config.json (errors located by line and column) and import it."""
    config, marks = read_config(path)
    return import_config(config, name=name or default_name(path), source=path, marks=marks)
