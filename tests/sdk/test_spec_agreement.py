"""The SDK and the served OpenAPI agree, operation by operation, schema by schema.

The spec is a freshly built app's (``create_app(...).openapi()``, sandbox mode: every partner
operation). For every operation the SDK calls (``imprint_client._operations``): its method and
path, path/query/header parameters, the retry rule the spec implies (``Idempotency-Key`` taken or
not), its request body's schema against the SDK's ``TypedDict`` and its 200 response's schema
against the SDK's model: field names, which are required, types (nullable or not), enums. The
webhook payloads and error bodies likewise. And every operation of the spec is either called by
the SDK or listed in ``NOT_COVERED`` with the reason.

Both sides are reduced to one small shape language (``Shape``) and compared; formats, lengths,
patterns and bounds are the server's to enforce and are not compared.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints, is_typeddict

import pytest
from pydantic import BaseModel

from conftest import TEST_SECRET_KEY
from imprint_client import _operations as ops
from imprint_client import models, params, webhooks
from imprint_client._core import Operation, Retry
from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

# The partner API is every operation of the served spec that takes an API key (its security
# names these schemes); the SDK calls all of them. The probes (no credential) and the client API
# (a client credential exchanged from a customer's client_secret, for the hosted page and the
# web/native SDKs) are not the partner's server's to call, and the spec says so itself.
API_KEY_SCHEMES = {"basicAuth", "bearerAuth"}

# Partner operations the SDK does not call, each with the reason: none.
NOT_COVERED: dict[str, str] = {}

# POSTs that take no Idempotency-Key and yet are safe to send again (Retry.SAFE), with why; any
# other POST without one must be Retry.ONCE: it shows a secret once, so it refuses the key, or it
# is not safe to repeat (advanceTestClock: by ``seconds``, a repeat moves the clock again).
SAFE_WITHOUT_A_KEY = {
    "searchCustomers": "a search: it changes nothing (and ignores an Idempotency-Key)",
    "resetSandbox": "resetting twice leaves what resetting once does: an empty sandbox",
}

# Fields the SDK types as plain strings where the spec enumerates an ISO code list (hundreds of
# codes that change with the standards: the server validates them and names the field); any
# other enum must match exactly.
ISO_CODE_LISTS = {
    "transaction_currency": "ISO-4217",
    "ltv_currency": "ISO-4217",
    "country": "ISO-3166-1 alpha-3",
    "preferred_language": "ISO 639-1",
}

ERROR_SCHEMAS = {
    "InvalidRequestError": models.ErrorBody,
    "NotFoundError": models.NotFoundErrorBody,
    "ConflictError": models.ConflictErrorBody,
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The OpenAPI a freshly built sandbox app serves (building it opens no database)."""
    tmp = tmp_path_factory.mktemp("sdk-spec")
    settings = Settings(
        env="sandbox",
        data_dir=tmp / "data",
        secret_key=TEST_SECRET_KEY,
        database_url=f"sqlite:///{tmp / 'unused.sqlite3'}",
    )
    served: dict[str, Any] = create_app(settings).openapi()
    return served


# -- the shape language ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    shape: Shape
    required: bool
    nullable: bool


@dataclass(frozen=True)
class Shape:
    """``kind``: string, integer, number, boolean, const, array, map, object, any."""

    kind: str
    enum: tuple[Any, ...] | None = None  # strings' or integers' allowed values; a const's value
    item: Shape | None = None  # an array's items, a map's values
    fields: tuple[tuple[str, Field], ...] | None = None  # an object's properties, sorted


ANY = Shape("any")


def spec_shape(schema: dict[str, Any], spec: dict[str, Any]) -> tuple[Shape, bool]:
    """A JSON schema as a shape, and whether it admits null."""
    if "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        return spec_shape(spec["components"]["schemas"][name], spec)
    if "anyOf" in schema:
        branches = [b for b in schema["anyOf"] if b != {"type": "null"}]
        assert len(branches) == 1, schema
        shape, _ = spec_shape(branches[0], spec)
        return shape, len(branches) < len(schema["anyOf"])
    if "const" in schema:
        if isinstance(schema["const"], str):  # one allowed string: an enum of one
            return Shape("string", enum=(schema["const"],)), False
        return Shape("const", enum=(schema["const"],)), False
    kind = schema.get("type")
    if kind == "string":
        enum = tuple(sorted(schema["enum"])) if "enum" in schema else None
        return Shape("string", enum=enum), False
    if kind == "integer" and "enum" in schema:
        return Shape("integer", enum=tuple(sorted(schema["enum"]))), False
    if kind in ("integer", "number", "boolean"):
        return Shape(kind), False
    if kind == "array":
        return Shape("array", item=spec_shape(schema["items"], spec)[0]), False
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if not properties:
            if isinstance(extra, dict):
                return Shape("map", item=spec_shape(extra, spec)[0]), False
            return Shape("map", item=ANY), False
        required = set(schema.get("required", []))
        fields = []
        for name, prop in properties.items():
            shape, nullable = spec_shape(prop, spec)
            fields.append((name, Field(shape, name in required, nullable)))
        return Shape("object", fields=tuple(sorted(fields, key=lambda f: f[0]))), False
    if not schema:
        return ANY, False
    raise AssertionError(f"no shape for {schema}")


def sdk_shape(annotation: Any) -> tuple[Shape, bool]:
    """A Python annotation of the SDK (a model, a TypedDict, a field's type) as a shape, and
    whether it admits None."""
    if annotation is Any:
        return ANY, False
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        assert len(options) == 1, annotation
        return sdk_shape(options[0])[0], len(options) < len(get_args(annotation))
    if origin is Literal:
        values = get_args(annotation)
        if all(isinstance(v, bool) for v in values):
            return Shape("const", enum=values), False
        if all(isinstance(v, int) for v in values):
            return Shape("integer", enum=tuple(sorted(values))), False
        assert all(isinstance(v, str) for v in values), annotation
        return Shape("string", enum=tuple(sorted(values))), False
    if origin is list:
        return Shape("array", item=sdk_shape(get_args(annotation)[0])[0]), False
    if origin is dict:
        key, value = get_args(annotation)
        assert key is str, annotation
        return Shape("map", item=sdk_shape(value)[0]), False
    if is_typeddict(annotation):
        hints = get_type_hints(annotation)
        fields = []
        for name, hint in hints.items():
            shape, nullable = sdk_shape(hint)
            fields.append((name, Field(shape, name in annotation.__required_keys__, nullable)))
        return Shape("object", fields=tuple(sorted(fields, key=lambda f: f[0]))), False
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        fields = []
        for name, info in annotation.model_fields.items():
            shape, nullable = sdk_shape(info.annotation)
            fields.append((name, Field(shape, info.is_required(), nullable)))
        return Shape("object", fields=tuple(sorted(fields, key=lambda f: f[0]))), False
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in simple:
        return Shape(simple[annotation]), False
    raise AssertionError(f"no shape for {annotation!r}")


def differences(want: Shape, got: Shape, at: str, *, request: bool) -> list[str]:
    """Where the SDK's shape ``got`` differs from the spec's ``want`` (``at`` names the place).

    In a response an optional field is ``X | None = None`` in the SDK (``None``: absent); the
    spec leaves it out instead of sending null, so nullability is compared on required fields
    only. A request's ISO code lists may be plain strings (``ISO_CODE_LISTS``)."""
    if want.kind == "any" or (want.kind == "map" and want.item == ANY and got.kind == "map"):
        return [] if got.kind in ("any", "map") else [f"{at}: the spec has any object, SDK {got}"]
    if want.kind != got.kind:
        return [f"{at}: the spec says {want.kind}, the SDK {got.kind}"]
    if want.kind in ("string", "const", "integer") and want.enum != got.enum:
        if got.enum is None and at.rpartition(".")[2] in ISO_CODE_LISTS:
            return []
        return [f"{at}: the spec's values {want.enum}, the SDK's {got.enum}"]
    if want.kind in ("array", "map"):
        assert want.item is not None
        assert got.item is not None
        return differences(want.item, got.item, f"{at}[]", request=request)
    if want.kind == "object":
        assert want.fields is not None
        assert got.fields is not None
        wanted, gotten = dict(want.fields), dict(got.fields)
        problems = [
            f"{at}.{n}: in the spec, not in the SDK" for n in sorted(set(wanted) - set(gotten))
        ]
        problems += [
            f"{at}.{n}: in the SDK, not in the spec" for n in sorted(set(gotten) - set(wanted))
        ]
        for name in sorted(set(wanted) & set(gotten)):
            w, g = wanted[name], gotten[name]
            where = f"{at}.{name}"
            if w.required != g.required:
                problems.append(
                    f"{where}: required {w.required} in the spec, {g.required} in the SDK"
                )
            if (w.required or request) and w.nullable != g.nullable:
                problems.append(
                    f"{where}: nullable {w.nullable} in the spec, {g.nullable} in the SDK"
                )
            problems += differences(w.shape, g.shape, where, request=request)
        return problems
    return []


def compare(
    schema: dict[str, Any], sdk_type: Any, spec: dict[str, Any], at: str, *, request: bool
) -> list[str]:
    return differences(spec_shape(schema, spec)[0], sdk_shape(sdk_type)[0], at, request=request)


# -- the comparison itself can fail ---------------------------------------------------------------


class _WrongSession(models.ImprintModel):
    id: int  # the spec: string
    client_secret: str | None = None  # the spec: required
    expires_at: str
    metadata: dict[str, Any] | None = None
    color: str | None = None  # not in the spec


class _WrongEndpoint(models.ImprintModel):
    id: str
    url: str
    event_types: list[Literal["APPLICATION"]]  # the spec has PAYMENT_METHOD too
    description: str | None = None
    status: Literal["ENABLED", "DISABLED"]
    secret: str | None = None
    previous_secret_expires_at: str | None = None
    created_at: str
    updated_at: str


class _WrongEventData(models.ApplicationEventData):
    partner_customer_id: str  # type: ignore[assignment]  # the spec: a string or null


class _WrongFaultBody(params.CreateFaultBody):
    status: Literal[429, 503]  # type: ignore[misc]  # the spec has 500 too
    times: str  # type: ignore[misc]  # the spec: an integer


def test_the_comparison_sees_each_kind_of_disagreement(spec: dict[str, Any]) -> None:
    session = spec["components"]["schemas"]["CustomerSession"]
    problems = compare(session, _WrongSession, spec, "CustomerSession", request=False)
    assert problems == [
        "CustomerSession.source: in the spec, not in the SDK",
        "CustomerSession.color: in the SDK, not in the spec",
        "CustomerSession.client_secret: required True in the spec, False in the SDK",
        "CustomerSession.client_secret: nullable False in the spec, True in the SDK",
        "CustomerSession.id: the spec says string, the SDK integer",
    ]
    endpoint = spec["components"]["schemas"]["WebhookEndpoint"]
    assert compare(endpoint, _WrongEndpoint, spec, "E", request=False) == [
        "E.event_types[]: the spec's values ('APPLICATION', 'PAYMENT_METHOD'), the SDK's "
        "('APPLICATION',)"
    ]
    data_schema = spec["components"]["schemas"]["ApplicationEventData"]
    found = compare(data_schema, _WrongEventData, spec, "D", request=False)
    assert "D.partner_customer_id: nullable True in the spec, False in the SDK" in found
    params_wrong = compare(
        spec["components"]["schemas"]["CreateWebhookEndpointRequest"],
        params.RotateWebhookSecretBody,
        spec,
        "B",
        request=True,
    )
    assert "B.url: in the spec, not in the SDK" in params_wrong
    fault_wrong = compare(
        spec["components"]["schemas"]["CreateFaultRequest"],
        _WrongFaultBody,
        spec,
        "F",
        request=True,
    )
    assert "F.status: the spec's values (429, 500, 503), the SDK's (429, 503)" in fault_wrong
    assert "F.times: the spec says integer, the SDK string" in fault_wrong


# -- every operation the SDK calls ----------------------------------------------------------------


def spec_operations(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    found = {}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            found[operation["operationId"]] = (method.upper(), path, operation)
    return found


def json_schema(holder: dict[str, Any] | None) -> dict[str, Any] | None:
    if holder is None:
        return None
    schema: dict[str, Any] = holder["content"]["application/json"]["schema"]
    return schema


SDK_OPERATIONS = sorted(ops.OPERATIONS)


def takes_an_api_key(operation: dict[str, Any]) -> bool:
    return any(API_KEY_SCHEMES & set(way) for way in operation.get("security") or [])


def partner_operations(spec: dict[str, Any]) -> set[str]:
    return {name for name, (_, _, op) in spec_operations(spec).items() if takes_an_api_key(op)}


def test_the_partner_api_is_told_apart_by_its_security(spec: dict[str, Any]) -> None:
    """What the scope rule leaves out is exactly the probes, the metrics scrape (an operator's,
    with its own token in production) and the client API."""
    served = spec_operations(spec)
    outside = set(served) - partner_operations(spec)
    assert {
        "healthz",
        "readyz",
        "getMetrics",
        "exchangeClientSecret",
        "getClientSession",
    } <= outside
    for name in outside:
        _, path, _ = served[name]
        assert path.startswith("/v2/client/") or path in ("/healthz", "/readyz", "/metrics"), name
    for name in partner_operations(spec):
        assert not served[name][1].startswith("/v2/client/"), name


def test_every_partner_operation_of_the_spec_is_called_by_the_sdk(
    spec: dict[str, Any],
) -> None:
    served = partner_operations(spec)
    called = set(ops.OPERATIONS)
    assert called & set(NOT_COVERED) == set(), "listed as not covered, yet called"
    missing = served - called - set(NOT_COVERED)
    assert not missing, (
        f"partner operations of the served spec the SDK neither calls nor lists: "
        f"{sorted(missing)}; add each to sdk/python/src/imprint_client/_operations.py (and a "
        f"resource method), or to NOT_COVERED in {Path(__file__).name} with the reason"
    )
    assert called <= served, f"the SDK calls what is not the partner API's: {called - served}"
    assert set(NOT_COVERED) <= served, set(NOT_COVERED) - served
    assert all(reason.strip() for reason in NOT_COVERED.values())


@pytest.mark.parametrize("operation_id", SDK_OPERATIONS)
def test_the_sdks_operation_is_the_spec_s(operation_id: str, spec: dict[str, Any]) -> None:
    op: Operation[Any] = ops.OPERATIONS[operation_id]
    method, path, operation = spec_operations(spec)[operation_id]
    assert (op.method, op.path) == (method, path)
    parameters = operation.get("parameters", [])
    by_place = {
        place: {p["name"] for p in parameters if p["in"] == place}
        for place in ("path", "query", "header")
    }
    assert by_place["path"] == {n.strip("{}") for n in op.path.split("/") if n.startswith("{")}
    assert by_place["query"] == set(op.query)
    takes_key = "Idempotency-Key" in by_place["header"]
    assert takes_key == (op.retry is Retry.KEYED), "KEYED exactly where the spec takes the key"
    assert ("x-imprint-merchant-key" in by_place["header"]) == op.merchant_key
    # The sandbox's per-request fault header, sent from the client's ``test_fault``.
    assert ("Imprint-Test-Fault" in by_place["header"]) == op.test_fault
    assert by_place["header"] <= {"Idempotency-Key", "x-imprint-merchant-key", "Imprint-Test-Fault"}
    if method == "POST" and not takes_key:
        expected = Retry.SAFE if operation_id in SAFE_WITHOUT_A_KEY else Retry.ONCE
        assert op.retry is expected, "a POST without Idempotency-Key is ONCE unless listed SAFE"
    if method in ("GET", "DELETE"):
        assert op.retry is Retry.SAFE

    body = json_schema(operation.get("requestBody"))
    assert (body is None) == (op.body is None), "a body exactly where the spec takes one"
    if body is not None:
        assert compare(body, op.body, spec, f"{operation_id} body", request=True) == []
    response = json_schema(operation["responses"]["200"])
    assert response is not None
    assert compare(response, op.response, spec, f"{operation_id} 200", request=False) == []

    pages_by = None
    if "starting_after" in by_place["query"]:
        pages_by = "query"
    elif body is not None:
        fields = spec_shape(body, spec)[0].fields or ()
        if "starting_after" in dict(fields):
            pages_by = "body"
    assert op.pages_by == pages_by


@pytest.mark.parametrize("operation_id", SDK_OPERATIONS)
def test_every_error_the_operation_documents_parses_into_the_sdks_error_bodies(
    operation_id: str, spec: dict[str, Any]
) -> None:
    """Each documented error status has the body the client parses for it: 404 Imprint's
    ``{type, message, param}``, 409 ``{type, message}``, every other the flat shape."""
    _, _, operation = spec_operations(spec)[operation_id]
    for status, response in operation["responses"].items():
        if status.startswith("2"):
            continue
        schema = json_schema(response)
        assert schema is not None, (operation_id, status)
        name = schema["$ref"].rpartition("/")[2]
        expected = {"404": "NotFoundError", "409": "ConflictError"}.get(
            status, "InvalidRequestError"
        )
        assert name == expected, (operation_id, status, name)


@pytest.mark.parametrize("name", sorted(ERROR_SCHEMAS))
def test_the_error_bodies_are_the_specs(name: str, spec: dict[str, Any]) -> None:
    schema = spec["components"]["schemas"][name]
    assert compare(schema, ERROR_SCHEMAS[name], spec, name, request=False) == []


@pytest.mark.parametrize(
    ("event_type", "model"),
    [("APPLICATION", models.ApplicationEvent), ("PAYMENT_METHOD", models.PaymentMethodEvent)],
)
def test_the_webhook_events_are_the_specs_payloads(
    event_type: str, model: type[BaseModel], spec: dict[str, Any]
) -> None:
    body = spec["webhooks"][event_type]["post"]["requestBody"]
    assert compare(json_schema(body) or {}, model, spec, event_type, request=False) == []


def test_verify_knows_every_event_type_the_spec_sends(spec: dict[str, Any]) -> None:
    assert set(webhooks._EVENTS) == set(spec["webhooks"])
    listed = spec["components"]["schemas"]["WebhookEvent"]["properties"]["object"]["enum"]
    assert set(listed) == set(spec["webhooks"])
