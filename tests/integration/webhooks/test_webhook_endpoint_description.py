"""A webhook endpoint's ``description`` (Stripe's), on SQLite and PostgreSQL: kept as sent,
shown on every read, refused when empty, too long or null, and erased with the endpoint.

This field was added after the store was written once (issue 14): a migration, the table's
column, the record's field, the wire schemas and this test, and nothing else.
"""

from __future__ import annotations

import pytest

from conftest import DatabaseInspector
from imprint_sessions.validation import DESCRIPTION_MAX_LENGTH
from webhooks.conftest import Hooks

URL = "http://localhost:9/described"
WORDS = "Order service: card decisions, Zoë's team"


async def test_a_description_is_kept_and_shown_on_every_read(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    created = await hooks.h.client.post(
        "/v2/webhook_endpoints", json={"url": URL, "description": WORDS}, auth=hooks.auth
    )
    assert created.status_code == 200, created.text
    assert created.json()["description"] == WORDS
    listed = await hooks.h.client.get("/v2/webhook_endpoints", auth=hooks.auth)
    assert [e["description"] for e in listed.json()["data"]] == [WORDS]
    endpoint_id = created.json()["id"]
    disabled = await hooks.h.client.post(
        f"/v2/webhook_endpoints/{endpoint_id}/disable", auth=hooks.auth
    )
    assert disabled.json()["description"] == WORDS
    stored = inspector.scalar("SELECT description FROM webhook_endpoints WHERE id = ?", endpoint_id)
    assert stored == WORDS


async def test_an_endpoint_without_one_shows_none(hooks: Hooks) -> None:
    await hooks.register(URL)
    listed = await hooks.h.client.get("/v2/webhook_endpoints", auth=hooks.auth)
    assert "description" not in listed.json()["data"][0]  # left out, never null


@pytest.mark.parametrize(
    ("description", "detail"),
    [
        ("", "description: must not be empty"),
        ("x" * (DESCRIPTION_MAX_LENGTH + 1), "description: must be at most 500 characters"),
        (None, "description: must not be null (leave the field out instead)"),
        (7, "description: must be a string"),
    ],
)
async def test_a_bad_description_is_a_400_and_registers_nothing(
    hooks: Hooks, description: object, detail: str, inspector: DatabaseInspector
) -> None:
    response = await hooks.h.client.post(
        "/v2/webhook_endpoints", json={"url": URL, "description": description}, auth=hooks.auth
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [detail]
    registered = inspector.scalar(
        "SELECT count(*) FROM webhook_endpoints WHERE partner_id = ?", hooks.partner_id
    )
    assert registered == 0


async def test_deleting_an_endpoint_erases_its_description(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    created = await hooks.h.client.post(
        "/v2/webhook_endpoints", json={"url": URL, "description": WORDS}, auth=hooks.auth
    )
    endpoint_id = created.json()["id"]
    deleted = await hooks.h.client.delete(f"/v2/webhook_endpoints/{endpoint_id}", auth=hooks.auth)
    assert deleted.status_code == 200, deleted.text
    stored = inspector.scalar("SELECT description FROM webhook_endpoints WHERE id = ?", endpoint_id)
    assert stored is None
