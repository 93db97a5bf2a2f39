"""The served OpenAPI documents the webhook endpoints and the sandbox trigger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings

# (method, path, operationId, tag, error statuses it must document)
OPERATIONS = [
    ("post", "/v2/webhook_endpoints", "createWebhookEndpoint", "Webhooks", {400, 401, 409}),
    ("get", "/v2/webhook_endpoints", "listWebhookEndpoints", "Webhooks", {401}),
    (
        "post",
        "/v2/webhook_endpoints/{endpoint_id}/disable",
        "disableWebhookEndpoint",
        "Webhooks",
        {401, 404},
    ),
    (
        "delete",
        "/v2/webhook_endpoints/{endpoint_id}",
        "deleteWebhookEndpoint",
        "Webhooks",
        {401, 404},
    ),
    (
        "post",
        "/v2/webhook_endpoints/{endpoint_id}/rotate_secret",
        "rotateWebhookSecret",
        "Webhooks",
        {400, 401, 404},
    ),
    ("get", "/v2/webhook_events", "listWebhookEvents", "Webhooks", {400, 401}),
    (
        "get",
        "/v2/webhook_events/{event_id}/deliveries",
        "listWebhookEventDeliveries",
        "Webhooks",
        {401, 404},
    ),
    (
        "post",
        "/v2/webhook_deliveries/{delivery_id}/replay",
        "replayWebhookDelivery",
        "Webhooks",
        {401, 404, 409},
    ),
    ("post", "/v2/simulate_application", "simulateApplication", "Sandbox", {400, 401, 403, 404}),
]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp("openapi-webhooks")
    settings = Settings(
        env="sandbox",
        data_dir=tmp / "data",
        secret_key="contract-test-master-key-" + "k" * 15,  # type: ignore[arg-type]
        database_url=f"sqlite:///{tmp / 'imprint.sqlite3'}",
    )
    return create_app(settings).openapi()


@pytest.mark.parametrize(
    ("method", "path", "operation_id", "tag", "errors"),
    OPERATIONS,
    ids=[o[2] for o in OPERATIONS],
)
def test_each_webhook_operation_is_documented(
    spec: dict[str, Any], method: str, path: str, operation_id: str, tag: str, errors: set[int]
) -> None:
    operation = spec["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert operation["tags"] == [tag]
    assert operation["description"] or operation["summary"]
    assert {"basicAuth": []} in operation["security"]
    documented = {int(status) for status in operation["responses"] if status != "default"}
    assert errors <= documented, f"{operation_id}: {sorted(errors - documented)} undocumented"
    if 404 in errors:
        schema = operation["responses"]["404"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/NotFoundError"}


def test_the_endpoint_schema_marks_the_secret_as_shown_once(spec: dict[str, Any]) -> None:
    endpoint = spec["components"]["schemas"]["WebhookEndpoint"]
    assert "never again" in endpoint["properties"]["secret"]["description"]
    assert set(endpoint["required"]) == {
        "id",
        "url",
        "event_types",
        "status",
        "created_at",
        "updated_at",
    }


def test_deleting_an_endpoint_answers_its_id_and_deleted_true(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/v2/webhook_endpoints/{endpoint_id}"]["delete"]
    assert "requestBody" not in operation
    # (the sandbox's Imprint-Test-Fault header aside: tests/contract/test_test_helpers_openapi.py)
    (parameter,) = [p for p in operation["parameters"] if p["name"] != "Imprint-Test-Fault"]
    assert (parameter["name"], parameter["in"], parameter["required"]) == (
        "endpoint_id",
        "path",
        True,
    )
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/DeletedWebhookEndpoint"}
    deleted = spec["components"]["schemas"]["DeletedWebhookEndpoint"]
    assert set(deleted["properties"]) == set(deleted["required"]) == {"id", "deleted"}
    assert deleted["properties"]["deleted"]["const"] is True
