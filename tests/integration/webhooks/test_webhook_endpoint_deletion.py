"""``DELETE /v2/webhook_endpoints/{endpoint_id}``, on SQLite and PostgreSQL: the endpoint is gone
from every view, its URL and secret are scrubbed from the database, and its pending deliveries
are cancelled and never sent."""

from __future__ import annotations

import pytest

from conftest import DatabaseInspector
from webhook_receiver import receiving
from webhooks.conftest import Hooks

NOWHERE = "00000000-0000-4000-8000-000000000000"
URL = "http://localhost:9/hooks/delete-me"


async def test_deleting_answers_the_id_and_the_endpoint_is_gone_everywhere(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    kept_id, _ = await hooks.register("http://localhost:9/hooks/kept")
    endpoint_id, _ = await hooks.register(URL)
    client = hooks.h.client
    response = await client.delete(f"/v2/webhook_endpoints/{endpoint_id}", auth=hooks.auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": endpoint_id, "deleted": True}
    listed = (await client.get("/v2/webhook_endpoints", auth=hooks.auth)).json()
    assert [e["id"] for e in listed["data"]] == [kept_id]
    assert listed["total"] == 1
    for method, path in [
        ("DELETE", f"/v2/webhook_endpoints/{endpoint_id}"),
        ("POST", f"/v2/webhook_endpoints/{endpoint_id}/disable"),
        ("POST", f"/v2/webhook_endpoints/{endpoint_id}/rotate_secret"),
    ]:
        again = await client.request(method, path, auth=hooks.auth)
        assert again.status_code == 404, (method, path, again.text)
        assert again.json() == {
            "type": "WEBHOOK_ENDPOINT_NOT_FOUND_ERROR",
            "message": f"Webhook endpoint not found for provided ID: {endpoint_id}",
            "param": "endpoint_id",
        }


async def test_a_deleted_endpoints_url_and_secret_do_not_linger_in_the_database(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    endpoint_id, _ = await hooks.register(URL)
    rotated = await hooks.h.client.post(
        f"/v2/webhook_endpoints/{endpoint_id}/rotate_secret", auth=hooks.auth
    )
    assert rotated.status_code == 200, rotated.text
    response = await hooks.h.client.delete(f"/v2/webhook_endpoints/{endpoint_id}", auth=hooks.auth)
    assert response.status_code == 200, response.text

    def stored(column: str) -> object:
        # Column names come from this test, never from input.
        return inspector.scalar(f"SELECT {column} FROM webhook_endpoints WHERE id = ?", endpoint_id)

    assert stored("status") == "deleted"
    assert stored("url") == ""
    # Nothing to re-derive a signing secret from: no version, no master key id.
    assert (stored("secret_version"), stored("secret_key_id")) == (0, "")
    for column in ["previous_secret_version", "previous_secret_key_id"]:
        assert stored(column) is None, column
    assert stored("previous_secret_expires_at") is None
    leftovers = inspector.scalar(
        "SELECT count(*) FROM webhook_endpoints WHERE url LIKE ?", "%delete-me%"
    )
    assert leftovers == 0


async def test_pending_deliveries_to_a_deleted_endpoint_are_cancelled_and_never_sent(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        (sent,) = await hooks.emit(1)
        await hooks.worker().drain()  # delivered before the deletion
        assert len(receiver.received) == 1
        (pending,) = await hooks.emit(1)
        response = await hooks.h.client.delete(
            f"/v2/webhook_endpoints/{endpoint_id}", auth=hooks.auth
        )
        assert response.status_code == 200, response.text
        (after,) = await hooks.emit(1)
        await hooks.worker().drain()
        assert len(receiver.received) == 1  # nothing more
    (cancelled,) = await hooks.deliveries(pending)
    assert cancelled["status"] == "DEAD"
    assert cancelled["last_error"] == "endpoint deleted"
    assert cancelled["attempts"] == []
    assert await hooks.deliveries(after) == []  # a later event has nowhere to go
    (delivered,) = await hooks.deliveries(sent)
    assert delivered["status"] == "DELIVERED"  # history is kept
    replay = await hooks.h.client.post(
        f"/v2/webhook_deliveries/{delivered['id']}/replay", auth=hooks.auth
    )
    assert replay.status_code == 409, replay.text
    assert replay.json()["type"] == "WEBHOOK_ENDPOINT_DISABLED_ERROR"
    assert inspector.count("webhook_deliveries", hooks.partner_id) == 2


@pytest.mark.parametrize("which", ["another partner's", "unknown", "malformed"])
async def test_deleting_an_endpoint_that_is_not_yours_is_a_404_and_deletes_nothing(
    hooks: Hooks, other_hooks: Hooks, which: str
) -> None:
    endpoint_id, _ = await hooks.register(URL)
    target = {"another partner's": endpoint_id, "unknown": NOWHERE, "malformed": "not-an-id"}[which]
    response = await other_hooks.h.client.delete(
        f"/v2/webhook_endpoints/{target}", auth=other_hooks.auth
    )
    assert response.status_code == 404, response.text
    assert response.json() == {
        "type": "WEBHOOK_ENDPOINT_NOT_FOUND_ERROR",
        "message": f"Webhook endpoint not found for provided ID: {target}",
        "param": "endpoint_id",
    }
    listed = (await hooks.h.client.get("/v2/webhook_endpoints", auth=hooks.auth)).json()
    assert [(e["id"], e["url"], e["status"]) for e in listed["data"]] == [
        (endpoint_id, URL, "ENABLED")
    ]


async def test_deleting_needs_an_api_key(hooks: Hooks) -> None:
    endpoint_id, _ = await hooks.register(URL)
    response = await hooks.h.client.delete(f"/v2/webhook_endpoints/{endpoint_id}")
    assert response.status_code == 401
    assert set(response.json()) == {"path", "details", "error", "status", "timestamp"}
    listed = (await hooks.h.client.get("/v2/webhook_endpoints", auth=hooks.auth)).json()
    assert listed["total"] == 1


async def test_deleting_frees_a_place_under_the_endpoint_limit(hooks: Hooks) -> None:
    ids = [(await hooks.register(f"http://localhost:9/hooks/{n}"))[0] for n in range(16)]
    full = await hooks.h.client.post(
        "/v2/webhook_endpoints", json={"url": "http://localhost:9/x"}, auth=hooks.auth
    )
    assert full.status_code == 409, full.text
    deleted = await hooks.h.client.delete(f"/v2/webhook_endpoints/{ids[0]}", auth=hooks.auth)
    assert deleted.status_code == 200, deleted.text
    await hooks.register("http://localhost:9/x")
