"""The sandbox's served spec documents the test helpers and everything a test fault can do: each
operation a fault may name takes the ``Imprint-Test-Fault`` header (its grammar in the
description) and declares every status a fault forces, in the real error's shape; production's
spec has none of it."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

import pytest

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings
from imprint_sessions.domain import faults
from imprint_sessions.wire import test_helpers as wire

SECRET_KEY = "contract-test-master-key-" + "k" * 15
METHODS = {"get", "post", "put", "patch", "delete"}
HELPERS = {
    ("post", "/v2/test_helpers/faults"): "createFault",
    ("get", "/v2/test_helpers/faults"): "listFaults",
    ("delete", "/v2/test_helpers/faults/{fault_id}"): "deleteFault",
    ("post", "/v2/test_helpers/webhook_events"): "fireWebhookEvent",
}


def served_spec(tmp_path_factory: pytest.TempPathFactory, env: str) -> dict[str, Any]:
    tmp: Path = tmp_path_factory.mktemp(f"test-helpers-{env}")
    settings = Settings(
        env=env,  # type: ignore[arg-type]
        data_dir=tmp / "data",
        secret_key=SECRET_KEY,
        database_url=f"sqlite:///{tmp / 'imprint.sqlite3'}",
    )
    spec: dict[str, Any] = create_app(settings).openapi()
    return spec


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return served_spec(tmp_path_factory, "sandbox")


def operations(spec: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {
        operation["operationId"]: (path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def tagged_helpers(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation under the Test helpers tag (sandboxes and clocks have their own too)."""
    return {
        operation["operationId"]: operation
        for operations_of_path in spec["paths"].values()
        for operation in operations_of_path.values()
        if "Test helpers" in operation.get("tags", [])
    }


def test_the_test_helpers_are_documented_under_their_own_tag(spec: dict[str, Any]) -> None:
    for (method, path), operation_id in HELPERS.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["Test helpers"]
    for operation in tagged_helpers(spec).values():
        assert operation["summary"].endswith("(sandbox only)")
        assert operation["description"]  # the route's one-line docstring
        assert {"basicAuth": []} in operation["security"]
        assert "$ref" in operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert {"401", "429", "503"} <= set(operation["responses"])
        assert "parameters" not in operation or all(
            p["name"] != "Imprint-Test-Fault" for p in operation["parameters"]
        )


def test_a_fault_may_name_exactly_the_authenticated_operations_but_the_helpers(
    spec: dict[str, Any],
) -> None:
    found = operations(spec)
    unauthenticated = {"healthz", "readyz", "getMetrics"}
    helpers = set(tagged_helpers(spec))
    assert set(HELPERS.values()) <= helpers
    assert set(found) - unauthenticated - helpers == faults.FAULTABLE_OPERATIONS


def test_every_faultable_operation_takes_the_header_and_declares_what_it_forces(
    spec: dict[str, Any],
) -> None:
    for operation_id in sorted(faults.FAULTABLE_OPERATIONS):
        path, operation = operations(spec)[operation_id]
        (header,) = [p for p in operation["parameters"] if p["name"] == "Imprint-Test-Fault"]
        assert header["in"] == "header"
        assert header["required"] is False
        for word in ("status=429|500|503", "retry_after", "drop", "delay_ms", "400"):
            assert word in header["description"], (operation_id, word)
        shape = "ClientApiError" if path.startswith("/v2/client/") else "InvalidRequestError"
        for status in ("400", "429", "500", "503"):
            response = operation["responses"][status]
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{shape}"}, (operation_id, status)
            assert response["headers"]["Request-Id"]["required"] is True
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], (operation_id, status)


def test_the_published_code_lists_are_the_ones_the_domain_checks(spec: dict[str, Any]) -> None:
    assert set(typing.get_args(wire.FaultOperation)) == faults.FAULTABLE_OPERATIONS
    assert typing.get_args(wire.HostedOutcome) == faults.OUTCOMES
    assert typing.get_args(wire.FaultKind) == faults.KINDS
    assert typing.get_args(wire.FaultStatus) == faults.STATUSES
    body = spec["components"]["schemas"]["CreateFaultRequest"]["properties"]
    assert set(body["operation"]["enum"]) == faults.FAULTABLE_OPERATIONS
    assert body["outcome"]["enum"] == list(faults.OUTCOMES)
    assert body["kind"]["enum"] == list(faults.KINDS)
    assert body["times"]["maximum"] == faults.MAX_TIMES
    assert body["delay_ms"]["maximum"] == faults.MAX_DELAY_MS


def test_production_serves_no_test_helper_and_no_fault_header(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    production = served_spec(tmp_path_factory, "production")
    assert not [path for path in production["paths"] if path.startswith("/v2/test_helpers")]
    assert "Test helpers" not in str(production)
    assert "Imprint-Test-Fault" not in str(production)
    schemas = production["components"]["schemas"]
    assert not {"CreateFaultRequest", "FireWebhookEventRequest", "Fault", "FaultList"} & set(
        schemas
    )
    # What a production operation declares is what it declared before the test helpers.
    _, get_client_session = operations(production)["getClientSession"]
    assert set(get_client_session["responses"]) == {"200", "401", "503"}
