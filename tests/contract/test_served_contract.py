"""The served OpenAPI declares what the server sends and reads beyond FastAPI's inference: body
requiredness, response headers, the merchant-key header, error fields, links and webhooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

SECRET_KEY = "contract-test-master-key-" + "k" * 15
JSON = "application/json"
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("served-contract")
    settings = Settings(
        env="sandbox",
        data_dir=tmp / "data",
        secret_key=SECRET_KEY,
        database_url=f"sqlite:///{tmp / 'imprint.sqlite3'}",
    )
    return create_app(settings).openapi()


def operations(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        operation["operationId"]: operation
        for item in spec["paths"].values()
        for method, operation in item.items()
        if method in METHODS
    }


def component(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def test_a_body_is_required_exactly_when_its_schema_requires_a_field(
    spec: dict[str, Any],
) -> None:
    bodies = {
        name: operation["requestBody"]
        for name, operation in operations(spec).items()
        if "requestBody" in operation
    }
    assert len(bodies) >= 11, sorted(bodies)
    for name, body in bodies.items():
        schema = component(spec, body["content"][JSON]["schema"]["$ref"])
        refuses_empty = bool(schema.get("required")) or any(
            branch.get("required") for branch in schema.get("oneOf", ())
        )
        assert body["required"] is refuses_empty, name
    # Spelled out for the ones schemathesis found: a search takes no body; a registration does.
    assert bodies["searchCustomers"]["required"] is False
    assert bodies["createSession"]["required"] is False  # the seed's: every field optional
    assert bodies["createWebhookEndpoint"]["required"] is True
    assert bodies["advanceTestClock"]["required"] is True  # one of two fields, so not {}


def test_every_response_of_every_operation_declares_request_id(spec: dict[str, Any]) -> None:
    for name, operation in operations(spec).items():
        for status, response in operation["responses"].items():
            header = response.get("headers", {}).get("Request-Id")
            assert header is not None, (name, status)
            assert header["required"] is True


def test_every_401_declares_the_challenge_and_every_rate_limit_429_its_retry_after(
    spec: dict[str, Any],
) -> None:
    for name, operation in operations(spec).items():
        responses = operation["responses"]
        if "401" in responses:
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True, name
        if "429" in responses and not spec_path_of(spec, name).startswith("/v2/client/"):
            assert "Retry-After" in responses["429"]["headers"], name
        if "503" in responses:
            assert "Retry-After" in responses["503"]["headers"], name


def spec_path_of(spec: dict[str, Any], operation_id: str) -> str:
    return next(
        path
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS and operation["operationId"] == operation_id
    )


def test_create_key_declares_cache_control_no_store(spec: dict[str, Any]) -> None:
    header = operations(spec)["createKey"]["responses"]["200"]["headers"]["Cache-Control"]
    assert header["schema"]["enum"] == ["no-store"]


@pytest.mark.parametrize(
    "operation_id", ["createSession", "simulateApplication", "fireWebhookEvent"]
)
def test_operations_that_read_the_merchant_key_declare_it(
    spec: dict[str, Any], operation_id: str
) -> None:
    parameters = {p["name"]: p for p in operations(spec)[operation_id]["parameters"]}
    header = parameters["x-imprint-merchant-key"]
    assert header["in"] == "header"
    assert header["required"] is False
    assert header["schema"]["type"] == "string"  # absent when not sent, never null


def test_only_the_operations_that_read_the_merchant_key_declare_it(spec: dict[str, Any]) -> None:
    declaring = {
        name
        for name, operation in operations(spec).items()
        if any(p["name"] == "x-imprint-merchant-key" for p in operation.get("parameters", []))
    }
    assert declaring == {"createSession", "simulateApplication", "fireWebhookEvent"}


def test_client_api_errors_declare_error_code_and_remaining_attempts(spec: dict[str, Any]) -> None:
    confirm = operations(spec)["confirmPhoneVerification"]["responses"]
    schema = component(spec, confirm["400"]["content"][JSON]["schema"]["$ref"])
    assert {"error_code", "remaining_attempts"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    exchange = operations(spec)["exchangeClientSecret"]["responses"]["401"]
    schema = component(spec, exchange["content"][JSON]["schema"]["$ref"])
    assert "INVALID_CLIENT_SECRET" in schema["properties"]["error_code"]["enum"]


def test_partner_error_bodies_are_closed(spec: dict[str, Any]) -> None:
    for name in ("InvalidRequestError", "NotFoundError", "ConflictError"):
        assert spec["components"]["schemas"][name]["additionalProperties"] is False, name


@pytest.mark.parametrize(("operation_id", "status"), [("healthz", "ok"), ("readyz", "ready")])
def test_health_checks_declare_their_body(
    spec: dict[str, Any], operation_id: str, status: str
) -> None:
    ok = operations(spec)[operation_id]["responses"]["200"]["content"][JSON]["schema"]
    schema = component(spec, ok["$ref"])
    assert schema["required"] == ["status"]
    assert schema["properties"]["status"]["const"] == status


def test_links_name_real_operations_and_their_parameters(spec: dict[str, Any]) -> None:
    by_id = operations(spec)
    links = [
        (source, link)
        for source, operation in by_id.items()
        for link in operation["responses"]["200"].get("links", {}).values()
    ]
    assert len(links) >= 20
    for source, link in links:
        target = by_id[link["operationId"]]
        names = {p["name"] for p in target.get("parameters", [])}
        assert set(link.get("parameters", {})) <= names, (source, link)
        if "requestBody" in link:
            body = component(spec, target["requestBody"]["content"][JSON]["schema"]["$ref"])
            assert set(link["requestBody"]) <= set(body["properties"]), (source, link)
    linked = {(source, link["operationId"]) for source, link in links}
    assert {
        ("createSession", "getSession"),
        ("createSession", "exchangeClientSecret"),
        ("listCustomers", "getCustomer"),
        ("listCustomers", "listPaymentMethods"),
        ("getCustomer", "updateCustomer"),
    } <= linked


@pytest.mark.parametrize("event_type", ["APPLICATION", "PAYMENT_METHOD"])
def test_webhooks_are_published_with_body_and_signature_header(
    spec: dict[str, Any], event_type: str
) -> None:
    assert spec["openapi"].startswith("3.1")
    post = spec["webhooks"][event_type]["post"]
    headers = {p["name"]: p for p in post["parameters"] if p["in"] == "header"}
    assert headers["X-IMPRINT-HMAC-SIGNATURE"]["required"] is True
    envelope = component(spec, post["requestBody"]["content"][JSON]["schema"]["$ref"])
    assert envelope["properties"]["object"]["const"] == event_type
    data = component(spec, envelope["properties"]["data"]["$ref"])
    # Every key is always sent: required, null where the value may be unknown.
    assert set(data["required"]) == set(data["properties"])
    assert {"customer_id", "partner_customer_id", "created_at"} <= set(data["properties"])


PYDANTIC_KEYWORDS = {"ge", "le", "gt", "lt", "strict", "min_length", "max_length", "multiple_of"}


def _keys(node: Any, where: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            # Property names are data, not keywords (a field may be called "le").
            if not where.endswith("/properties"):
                found.append((where, key))
            found += _keys(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _keys(value, f"{where}/{index}")
    return found


def test_every_constraint_is_a_json_schema_keyword(spec: dict[str, Any]) -> None:
    # A validator placed before a Field in Annotated once published "ge": 60 instead of
    # "minimum": 60: a constraint no client or tester can read.
    leftovers = [(where, key) for where, key in _keys(spec) if key in PYDANTIC_KEYWORDS]
    assert leftovers == []


@pytest.mark.parametrize(
    ("schema", "field", "value"),
    [
        ("CustomerAccountHistory", "ltv_currency", "USD"),
        ("CustomerAccountHistory", "preferred_language", "en"),
        ("Address", "country", "USA"),
    ],
)
def test_code_lists_are_published_as_enums(
    spec: dict[str, Any], schema: str, field: str, value: str
) -> None:
    enum = spec["components"]["schemas"][schema]["properties"][field]["enum"]
    assert value in enum
    assert value.lower() not in enum or value.lower() == value


def declared_bodies() -> dict[str, Any]:
    from imprint_sessions.json_body import _DECLARED

    return dict(_DECLARED)


def test_every_body_model_is_published_as_itself(spec: dict[str, Any]) -> None:
    # The client API's date of birth (1900.., a real past date) was published as the partner
    # API's unconstrained response DateOfBirth: two models under one component name.
    components = spec["components"]["schemas"]
    bodies = declared_bodies()
    assert "CreateCustomerSessionRequest" in bodies
    assert "ExchangeRequest" in bodies
    for model in bodies.values():
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            assert components[name] == definition, (model.__name__, name)
        assert components[model.__name__] == schema, model.__name__


def test_each_declared_body_is_the_body_of_exactly_one_operation(spec: dict[str, Any]) -> None:
    """One registration per request body: the route's ``JsonBody``, nothing beside it."""
    used: list[str] = []
    for operation in operations(spec).values():
        body = operation.get("requestBody")
        if body is not None:
            used.append(body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1])
    assert sorted(used) == sorted(declared_bodies())


SURFACES = Path(__file__).resolve().parents[2] / "src" / "imprint_sessions"


@pytest.mark.parametrize("surface", ["partner_api", "client_api"])
def test_routes_read_bodies_only_through_their_declared_json_body(surface: str) -> None:
    """A body parsed with ``parse_json_body`` beside the route would be a second registration
    (and an undocumented one): routes read them with ``JsonBody.read``."""
    for path in (SURFACES / surface).glob("*.py"):
        assert "parse_json_body(" not in path.read_text(), path.name
