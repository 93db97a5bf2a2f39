"""Checking a request's parameters against their ``TypedDict`` (params.py) before sending.

A type checker sees the same mistakes statically; this catches them for code that has none. It
refuses unknown keys (the server would ignore a misspelt one without a word), missing required
keys and values of the wrong type (``"5"`` for an integer, ``True`` for one too), and never
repeats a value in its message (it may be an SSN).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin, get_type_hints, is_typeddict


def problems(value: object, annotation: Any, where: str) -> list[str]:
    """Every way ``value`` does not fit ``annotation``, as ``"<where>: <what is wrong>"``."""
    if annotation is Any or annotation is object:
        return []
    if is_typeddict(annotation):
        return _typed_dict(value, annotation, where)
    origin = get_origin(annotation)
    if origin is Literal:
        allowed = get_args(annotation)
        # Same type too: 503.0 is not the status 503, nor True the integer 1.
        if any(type(value) is type(a) and value == a for a in allowed):
            return []
        return [f"{where}: must be one of {', '.join(str(a) for a in allowed)}"]
    if origin in (typing.Union, types.UnionType):
        options = get_args(annotation)
        return (
            []
            if any(not problems(value, o, where) for o in options)
            else [f"{where}: has the wrong type"]
        )
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: must be a list"]
        (item,) = get_args(annotation)
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, Mapping):
            return [f"{where}: must be a dict"]
        _, value_type = get_args(annotation)
        found = [f"{where}: keys must be strings" for k in value if not isinstance(k, str)][:1]
        return found + [
            p for k, v in value.items() for p in problems(v, value_type, f"{where}.{k}")
        ]
    if annotation is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: must be an integer"]
    if annotation is str:
        return [] if isinstance(value, str) else [f"{where}: must be a string"]
    if annotation is bool:
        return [] if isinstance(value, bool) else [f"{where}: must be true or false"]
    raise TypeError(f"no rule for {annotation!r}")  # a params.py type this module does not know


def _typed_dict(value: object, annotation: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [f"{where}: must be a dict"]
    hints = get_type_hints(annotation)
    prefix = f"{where}." if where else ""
    found = [f"{prefix}{key}: is not a known field" for key in value if key not in hints]
    found += [
        f"{prefix}{key}: is required"
        for key in sorted(annotation.__required_keys__)
        if key not in value
    ]
    for key, item in value.items():
        if key in hints:
            found += problems(item, hints[key], f"{prefix}{key}")
    return found
