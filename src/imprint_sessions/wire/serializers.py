"""JSON serializers generated from the wire models, so each response shape is written once.

A response model (pydantic) is the shape: the served OpenAPI schema comes from it, and so does its
serializer. ``serializer(Model, record=Record)`` reads the model's fields, in order, and generates
once, at import, a function that writes a record straight to the model's JSON bytes without
building the model (a hand-written renderer's speed, with nothing written beside the model):

- each field's value is the record's attribute of the same name, unless the field's
  ``From(...)`` names another attribute, a conversion (``rfc3339_ms``), JSON text to embed as it
  is (``raw_json``), or a value computed from the record and a context (``compute``);
- an optional field (default ``None``) is left out when its value is ``None``, as the seed's
  responses do, never sent as ``null``;
- a field whose type is a model (or a list of models) is written by that model's own generated
  serializer, from a record (attributes) or a ``dict`` (keys): a nested model is an allowlist,
  so whatever else a stored object holds is never shown.

``record`` is checked at import: a field the record cannot supply fails there, naming the field,
not on the first request.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import to_json

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class From:
    """Where a response field's value comes from in the record it is serialised from."""

    attr: str | None = None  # the record's attribute (or dict key); default: the field's name
    convert: Callable[[Any], Any] | None = None  # applied to the value (optional: when not None)
    raw_json: bool = False  # the value is JSON text already, embedded as it is
    compute: Callable[[Any, Any], Any] | None = None  # (record, context) -> value; no attribute


class Serializer(Generic[R]):
    """``serialize(record, context)``: the model's JSON bytes for ``record``."""

    __slots__ = ("_write", "model")

    def __init__(self, model: type[BaseModel], write: Callable[[Any, Any], bytes]) -> None:
        self.model = model
        self._write = write

    def __call__(self, record: R, context: Any = None) -> bytes:
        return self._write(record, context)


def serializer(model: type[BaseModel], *, record: type[R] | None = None) -> Serializer[R]:
    """The generated serializer of ``model``, reading attributes (checked against ``record``)."""
    if record is not None:
        _check(model, record)
    return Serializer(model, _writers(model)[0])


def _field_source(name: str, field: FieldInfo) -> From:
    found = [item for item in field.metadata if isinstance(item, From)]
    return found[0] if found else From()


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(the model a field holds, whether it is a list of them), or (None, False)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _nested(rest[0]) if len(rest) == 1 else (None, False)
    if origin is list:
        (item,) = typing.get_args(annotation)
        model, _ = _nested(item)
        return model, model is not None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


_CACHE: dict[type[BaseModel], tuple[Callable[[Any, Any], bytes], Callable[[Any, Any], bytes]]] = {}


def _writers(
    model: type[BaseModel],
) -> tuple[Callable[[Any, Any], bytes], Callable[[Any, Any], bytes]]:
    """(reads attributes, reads dict keys): the two generated writers of ``model``."""
    if model not in _CACHE:
        _CACHE[model] = (_generate(model, keys=False), _generate(model, keys=True))
    return _CACHE[model]


def _generate(model: type[BaseModel], *, keys: bool) -> Callable[[Any, Any], bytes]:
    namespace: dict[str, Any] = {"enc": to_json}
    lines = ["def write(r, ctx):", "    out = []"]
    for index, (name, field) in enumerate(model.model_fields.items()):
        wire = field.serialization_alias or field.alias or name
        source = _field_source(name, field)
        attr = source.attr or name
        if source.compute is not None:
            namespace[f"compute{index}"] = source.compute
            read = f"compute{index}(r, ctx)"
        elif keys:
            read = f"r.get({attr!r})"
        else:
            read = f"r.{attr}"
        body = ["v = " + read]
        if source.convert is not None:
            namespace[f"convert{index}"] = source.convert
        nested, is_list = _nested(field.annotation)
        if nested is not None:
            namespace[f"by_attr{index}"], namespace[f"by_key{index}"] = _writers(nested)
            if is_list:
                one = f"(by_key{index} if type(x) is dict else by_attr{index})(x, ctx)"
                value = f"b'[' + b','.join([{one} for x in v]) + b']'"
            else:
                value = f"(by_key{index} if type(v) is dict else by_attr{index})(v, ctx)"
        elif source.raw_json:
            value = "v.encode()"
        else:
            value = "enc(v)"
        emit = f"out.append({to_json(wire) + b':'!r} + {value})"
        convert = f"v = convert{index}(v)" if source.convert is not None else None
        if field.is_required():
            body += [convert] if convert else []
            body.append(emit)
        else:
            if convert:
                body += ["if v is not None:", "    " + convert]
            body += ["if v is not None:", "    " + emit]
        lines += ["    " + line for line in body]
    lines.append("    return b'{' + b','.join(out) + b'}'")
    exec("\n".join(lines), namespace)  # noqa: S102 - our own fields' names, checked above
    return cast(Callable[[Any, Any], bytes], namespace["write"])


def _check(model: type[BaseModel], record: type[Any]) -> None:
    names = (
        {f.name for f in dataclasses.fields(record)}
        if dataclasses.is_dataclass(record)
        else set(getattr(record, "__annotations__", {}))
    )
    for name, field in model.model_fields.items():
        source = _field_source(name, field)
        attr = source.attr or name
        if source.compute is None and attr not in names:
            raise TypeError(
                f"{model.__name__}.{name}: {record.__name__} has no attribute {attr!r} "
                "(give the field a From(...) saying where its value comes from)"
            )


# Conversions the stored forms need, for ``From(convert=...)``.


def json_object(text: str | None) -> dict[str, Any]:
    """Stored JSON text as an object: ``{}`` when there is none (or it is not an object)."""
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else {}


def json_object_or_none(text: str | None) -> dict[str, Any] | None:
    """Stored JSON text as an object, or ``None`` (the field is left out) when there is none."""
    value = json.loads(text) if text else None
    return value if isinstance(value, dict) else None
