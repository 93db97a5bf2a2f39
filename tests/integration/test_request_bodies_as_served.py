"""Request bodies behave as the served spec declares them: a required body, when missing, is the
documented 400 naming the missing field; an optional one may be left out; ``null`` is refused
wherever the spec does not allow it. Each case is one schemathesis found accepted."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DatabaseInspector, Harness

NULL = "must not be null (leave the field out instead)"
ERROR_KEYS = {"path", "details", "error", "status", "timestamp"}


async def _spec_body(harness: Harness, method: str, path: str) -> dict[str, Any]:
    spec = (await harness.client.get("/openapi.json")).json()
    body: dict[str, Any] = spec["paths"][path][method]["requestBody"]
    return body


@pytest.mark.parametrize(
    ("path", "detail", "table"),
    [
        ("/v2/webhook_endpoints", "url: is required", "webhook_endpoints"),
        ("/v2/simulate_application", "status: is required", "applications"),
    ],
)
async def test_missing_required_body_is_the_documented_400_and_writes_nothing(
    harness: Harness, inspector: DatabaseInspector, path: str, detail: str, table: str
) -> None:
    assert (await _spec_body(harness, "post", path))["required"] is True
    partner_id, key = await harness.new_partner()
    response = await harness.client.post(path, auth=(key, ""))
    assert response.status_code == 400, response.text
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["details"] == [detail]
    assert inspector.count(table, partner_id) == 0


async def test_delete_key_without_body_is_the_documented_400(harness: Harness) -> None:
    assert (await _spec_body(harness, "delete", "/v2/keys"))["required"] is True
    _, key = await harness.new_partner()
    response = await harness.client.request("DELETE", "/v2/keys", auth=(key, ""))
    assert response.status_code == 400, response.text
    assert response.json()["details"] == ["id: is required"]
    # The key still works: nothing was deleted.
    assert (await harness.client.get("/v2/customers", auth=(key, ""))).status_code == 200


@pytest.mark.parametrize("path", ["/v2/customers", "/v2/customer_sessions"])
async def test_optional_body_may_be_left_out(harness: Harness, path: str) -> None:
    # POST /v2/customers (a search) answered 200 without a body while the spec required one:
    # the body is truly optional (every filter is), and the spec now says so.
    assert (await _spec_body(harness, "post", path))["required"] is False
    _, key = await harness.new_partner()
    response = await harness.client.post(path, auth=(key, ""))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "https://partner.example.com/hooks", "event_types": None}, "event_types"),
        ({"url": None}, "url"),
    ],
)
async def test_null_in_webhook_endpoint_registration_is_refused(
    harness: Harness, inspector: DatabaseInspector, body: dict[str, Any], detail: str
) -> None:
    partner_id, key = await harness.new_partner()
    response = await harness.client.post("/v2/webhook_endpoints", json=body, auth=(key, ""))
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [f"{detail}: {NULL}"]
    assert inspector.count("webhook_endpoints", partner_id) == 0


@pytest.mark.parametrize(
    ("grace", "detail"),
    [
        (None, f"grace_period_seconds: {NULL}"),
        ("60", "grace_period_seconds: must be an integer"),
    ],
)
async def test_rotate_secret_refuses_what_its_schema_refuses(
    harness: Harness, grace: Any, detail: str
) -> None:
    _, key = await harness.new_partner()
    created = await harness.client.post(
        "/v2/webhook_endpoints", json={"url": "https://partner.example.com/h"}, auth=(key, "")
    )
    assert created.status_code == 200, created.text
    endpoint = created.json()
    response = await harness.client.post(
        f"/v2/webhook_endpoints/{endpoint['id']}/rotate_secret",
        json={"grace_period_seconds": grace},
        auth=(key, ""),
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [detail]
    listed = (await harness.client.get("/v2/webhook_endpoints", auth=(key, ""))).json()["data"]
    assert [e["updated_at"] for e in listed] == [endpoint["updated_at"]]  # not rotated


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/v2/webhook_endpoints",
            {"url": "https://partner.example.com/h", "description": "a\0b"},
            "description",
        ),
        ("/v2/test_helpers/sandboxes", {"name": "ci\0"}, "name"),
    ],
)
async def test_free_text_with_a_nul_is_the_documented_400_on_both_databases(
    harness: Harness, path: str, body: dict[str, Any], field: str
) -> None:
    """PostgreSQL text cannot hold U+0000: a NUL in free text was a 500 there (schemathesis found
    one in a sandbox's name). Refused alike on both, as the served schema's pattern says."""
    spec = (await harness.client.get("/openapi.json")).json()
    ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][ref["$ref"].split("/")[-1]]["properties"][field]
    text = next(s for s in schema.get("anyOf", [schema]) if s.get("type") == "string")
    assert text.get("pattern") == "^[^\u0000]*$", schema
    _, key = await harness.new_partner()
    response = await harness.client.post(path, json=body, auth=(key, ""))
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [f"{field}: must not contain NUL characters"]
