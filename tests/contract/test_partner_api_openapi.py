"""The served OpenAPI documents every partner-API endpoint of issue 5: ids, statuses, bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

JSON = "application/json"
SECRET_KEY = "contract-test-master-key-" + "k" * 15

# (method, path, operationId, error statuses it must document)
OPERATIONS = [
    ("get", "/v2/customers", "listCustomers", {400, 401, 429, 503}),
    ("post", "/v2/customers", "searchCustomers", {400, 401, 413, 429, 503}),
    ("get", "/v2/customers/{customer_id}", "getCustomer", {400, 401, 404, 429, 503}),
    ("post", "/v2/customers/{customer_id}", "updateCustomer", {400, 401, 404, 409, 413, 422}),
    (
        "get",
        "/v2/customers/{customer_id}/payment_methods",
        "listPaymentMethods",
        {400, 401, 404, 429},
    ),
    ("get", "/v2/payment_methods/{payment_method_id}", "getPaymentMethod", {400, 401, 404, 429}),
    ("post", "/v2/keys", "createKey", {400, 401, 409, 413, 429}),
    ("delete", "/v2/keys", "deleteKey", {400, 401, 404, 409, 413, 429}),
    (
        "get",
        "/v2/customers/{customer_id}/customer_sessions",
        "listCustomerSessions",
        {400, 401, 404, 429},
    ),
    ("post", "/v2/customer_sessions/{session_id}/expire", "expireSession", {400, 401, 404, 429}),
]
FLAT_ERROR = {"path", "details", "error", "status", "timestamp"}
REQUEST_BODIES = {
    "searchCustomers": "SearchCustomersRequest",
    "updateCustomer": "UpdateCustomerRequest",
    "deleteKey": "DeleteApiKeyRequest",
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("openapi5")
    settings = Settings(
        env="sandbox",
        data_dir=tmp / "data",
        secret_key=SECRET_KEY,  # type: ignore[arg-type]
        database_url=f"sqlite:///{tmp / 'imprint.sqlite3'}",
    )
    return create_app(settings).openapi()


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def response_schema(spec: dict[str, Any], operation: dict[str, Any], status: int) -> Any:
    return resolve(spec, operation["responses"][str(status)]["content"][JSON]["schema"])


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "errors"), OPERATIONS, ids=[o[2] for o in OPERATIONS]
)
def test_operation_documents_its_id_summary_and_every_status(
    spec: dict[str, Any], method: str, path: str, operation_id: str, errors: set[int]
) -> None:
    operation = spec["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert operation.get("summary")
    assert operation.get("description")
    assert {"basicAuth": []} in operation["security"]
    assert {"bearerAuth": []} in operation["security"]
    documented = {int(status) for status in operation["responses"]}
    assert {200, *errors} <= documented
    for status in documented - {200}:
        body = response_schema(spec, operation, status)
        if status == 404:
            assert set(body["properties"]) == {"type", "message", "param"}
        elif status == 409:
            assert set(body["properties"]) == {"type", "message"}
        else:
            assert set(body["properties"]) == FLAT_ERROR, (status, body)
    assert response_schema(spec, operation, 200)["type"] == "object"


@pytest.mark.parametrize(("operation_id", "schema"), REQUEST_BODIES.items())
def test_raw_body_operations_publish_their_request_schema(
    spec: dict[str, Any], operation_id: str, schema: str
) -> None:
    [operation] = [
        op
        for ops in spec["paths"].values()
        for op in ops.values()
        if op.get("operationId") == operation_id
    ]
    ref = operation["requestBody"]["content"][JSON]["schema"]["$ref"]
    assert ref == f"#/components/schemas/{schema}"
    assert spec["components"]["schemas"][schema]["properties"]


def test_no_partner_operation_documents_fastapis_422(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert "HTTPValidationError" not in repr(spec["paths"])


def test_lists_document_their_limits(spec: dict[str, Any]) -> None:
    parameters = {p["name"]: p for p in spec["paths"]["/v2/customers"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["limit"]["schema"]["default"] == 10
    assert parameters["starting_after"]["schema"]["anyOf"][0]["maxLength"] == 255
    envelope = response_schema(spec, spec["paths"]["/v2/customers"]["get"], 200)
    assert set(envelope["properties"]) == {"data", "has_more", "total"}


def test_objects_never_document_a_secret(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert "ssn" not in schemas["Customer"]["properties"]
    assert "ssn_hash" not in schemas["Customer"]["properties"]
    assert set(schemas["PaymentMethodCard"]["properties"]) == {
        "last4",
        "network",
        "card_type",
        "card_design_id",
    }
    assert "client_secret" not in schemas["CustomerSessionSummary"]["properties"]
