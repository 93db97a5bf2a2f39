"""Reading a JSON request body from raw bytes: the one parser every surface uses.

Before pydantic validates the bytes (``model_validate_json``), the body is refused when two
readers could disagree on it, or when it is too deep to be worth reading:

- **Duplicate keys** (``{"a": 1, "a": 2}``): RFC 8259 leaves their meaning open; pydantic keeps
  the last, some proxies and WAFs the first. One body must mean one thing to everyone.
- **Numbers out of range**: an integer of more than 4,300 digits, or a number beyond a double
  (``1e400``, which would otherwise be read as infinity).
- **Nesting** deeper than ``JSON_MAX_DEPTH`` levels.

The check costs one pass of the standard library's C parser with a small hook per object: about
10 us on a 1 KB create-session body, some 40% on top of the validation itself but under 2% of
the request's CPU (figures in the commit that added it). Only a body found at fault is parsed
again, slowly, to name every problem's path.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, TypeVar

import pydantic
from starlette.requests import Request

from imprint_sessions.errors import InvalidRequest
from imprint_sessions.validation import JSON_MAX_DEPTH, field_path, validation_details

M = TypeVar("M", bound=pydantic.BaseModel)
_JSON = "application/json"

_DUPLICATE_KEY: Final = "duplicate key"
_OUT_OF_RANGE: Final = "number out of range"
_INT_MAX_DIGITS: Final = 4300  # CPython's int/str conversion limit, and jiter's
# A string (escapes and all) or one bracket: what the depth scan looks at. Possessive, and an
# unterminated string runs to the end: the scan is linear even in ``"\"\"\"...`` (a plain
# string pattern retried at every quote took seconds on 16 KiB of that).
_STRUCTURE: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)


class _Ambiguous(Exception):
    """Raised by the fast pass's hooks: this body needs the slow pass to say what is wrong."""


class JsonBody(Generic[M]):
    """A route's JSON request body, declared once, where the route is::

        _BODY = JsonBody(CreateThingRequest)

        @router.post(..., openapi_extra=_BODY.openapi)
        async def create_thing(request: Request, principal: PartnerAuth, ...) -> Response:
            body = await _BODY.read(request)  # after the route's credential was checked

    ``openapi`` names the model as the operation's body; ``publish_body_schemas`` puts every
    declared model's schema in the served spec's components (and ``served_contract`` says the
    body is required exactly when the schema requires a field). The body is read from raw bytes
    by ``read``, inside the route, so a request without a valid credential gets its 401
    whatever its body: FastAPI, reading bodies itself, would have answered a bad body first.
    """

    __slots__ = ("model", "openapi")

    def __init__(self, model: type[M]) -> None:
        self.model = model
        reference = {"$ref": f"#/components/schemas/{model.__name__}"}
        self.openapi: dict[str, Any] = {"requestBody": {"content": {_JSON: {"schema": reference}}}}
        _DECLARED.setdefault(model.__name__, model)

    async def read(self, request: Request, *, context: dict[str, Any] | None = None) -> M:
        """The body validated into the model, or ``InvalidRequest`` listing every problem."""
        return parse_json_body(self.model, request, await request.body(), context=context)


_DECLARED: dict[str, type[pydantic.BaseModel]] = {}
R = TypeVar("R")


def into_record(model: type[M], record: type[R]) -> Callable[[M], R]:
    """A body's fields as ``record``'s, by name (a list as a tuple): how a route hands the
    domain what a partner sent without naming each field again. Every field of ``model`` must
    be one of ``record``'s: checked here, at import, naming the field, not on a request."""
    accepted = {field.name for field in dataclasses.fields(record)}  # type: ignore[arg-type]
    for name in model.model_fields:
        if name not in accepted:
            raise TypeError(f"{model.__name__}.{name}: {record.__name__} has no field {name!r}")

    def convert(body: M) -> R:
        values = {
            name: tuple(value) if isinstance(value, list) else value
            for name, value in body.model_dump(exclude_unset=True).items()
        }
        return record(**values)

    return convert


def publish_body_schemas(spec: dict[str, Any]) -> None:
    """Every declared body's schema (and the schemas it refers to) in ``spec``'s components,
    for the bodies of the operations ``spec`` serves (a router not mounted, such as the
    sandbox's test helpers in production, publishes nothing)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    served = {
        operation["requestBody"]["content"][_JSON]["schema"]["$ref"].rsplit("/", 1)[1]
        for item in spec.get("paths", {}).values()
        for operation in item.values()
        if isinstance(operation, dict) and "requestBody" in operation
    }
    for name, model in _DECLARED.items():
        if name not in served:
            continue
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for nested, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(nested, definition)
        schemas[name] = schema


def parse_json_body(
    model: type[M], request: Request, body: bytes, *, context: dict[str, Any] | None = None
) -> M:
    """Validate raw bytes straight into ``model`` (``model_validate_json``, no intermediate dict).

    An empty body means "no fields". Anything else must be declared JSON and be a JSON object;
    every problem becomes one ``"field: message"`` detail of a single 400.
    """
    if not body:
        body = b"{}"
    else:
        content_type = request.headers.get("content-type", "")
        media_type = content_type.partition(";")[0].strip().lower()
        if media_type != _JSON and not media_type.endswith("+json"):
            raise InvalidRequest("content-type: must be application/json")
    return parse_json(model, body, context=context)


def parse_json(model: type[M], body: bytes, *, context: dict[str, Any] | None = None) -> M:
    """``body`` (JSON bytes) validated into ``model``; ``InvalidRequest`` listing every problem."""
    refuse_ambiguous_json(body)
    try:
        return model.model_validate_json(body, context=context)
    except pydantic.ValidationError as exc:
        raise InvalidRequest(*validation_details(exc)) from None


def refuse_ambiguous_json(body: bytes) -> None:
    """``InvalidRequest`` if ``body`` nests too deeply, repeats a key in an object or holds a
    number out of range. Anything else (even malformed JSON) is left to the validator to judge.
    """
    # Depth needs at least that many brackets: a typical body has a handful, and is not scanned.
    if body.count(b"{") + body.count(b"[") > JSON_MAX_DEPTH and _depth(body) > JSON_MAX_DEPTH:
        raise InvalidRequest(f"body: nested too deeply (limit {JSON_MAX_DEPTH} levels)")
    try:
        json.loads(body, object_pairs_hook=_unique_keys, parse_float=_finite_float)
    except _Ambiguous:
        pass
    except (ValueError, RecursionError):  # malformed, or an integer too long to convert
        pass
    else:
        return
    problems = list(_problems(body))
    if problems:
        raise InvalidRequest(*problems)


def _unique_keys(pairs: list[tuple[str, Any]]) -> None:
    # The fast pass keeps nothing: pydantic parses the bytes again, straight into the model.
    if len(dict(pairs)) != len(pairs):
        raise _Ambiguous()


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Ambiguous()
    return value


def _depth(body: bytes) -> int:
    depth = deepest = 0
    for match in _STRUCTURE.finditer(body):
        token = match.group()
        if token in (b"{", b"["):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"}", b"]"):
            depth -= 1
    return deepest


# -- the slow pass: only for a body at fault, to name where --------------------------------------


class _Object(dict[str, Any]):
    duplicates: list[str]


class _OutOfRange:
    pass


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    found = _Object(pairs)
    seen: set[str] = set()
    repeated: dict[str, None] = {}  # an ordered set: each repeated key once, in order
    for key, _ in pairs:
        if key in seen:
            repeated[key] = None
        seen.add(key)
    found.duplicates = list(repeated)
    return found


def _float(text: str) -> float | _OutOfRange:
    value = float(text)
    return _OutOfRange() if math.isinf(value) else value


def _int(text: str) -> int | _OutOfRange:
    return _OutOfRange() if len(text.lstrip("-")) > _INT_MAX_DIGITS else int(text)


def _problems(body: bytes) -> Iterator[str]:
    """Every duplicate key and out-of-range number in ``body``, in document order, with its path;
    nothing if ``body`` is not JSON (the validator says so)."""
    try:
        root = json.loads(body, object_pairs_hook=_object, parse_float=_float, parse_int=_int)
    except (ValueError, RecursionError):
        return
    stack: list[tuple[tuple[int | str, ...], Any]] = [((), root)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, _OutOfRange):
            yield f"{field_path(loc)}: {_OUT_OF_RANGE}"
        elif isinstance(value, _Object):
            for key in value.duplicates:
                yield f"{field_path((*loc, key))}: {_DUPLICATE_KEY}"
            stack.extend(((*loc, k), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*loc, i), v) for i, v in reversed(list(enumerate(value))))
