"""A replay is in the audit trail (``webhook_delivery.replay_requested``), once per replay made,
naming the new delivery; a refused replay writes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from conftest import DatabaseInspector
from webhook_receiver import receiving
from webhooks.conftest import Hooks


async def replays(hooks: Hooks) -> list[dict[str, Any]]:
    response = await hooks.h.client.get(
        "/v2/audit_events",
        params={"type": "webhook_delivery.replay_requested", "limit": 100},
        auth=hooks.auth,
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def test_a_replay_writes_one_entry_about_the_original_naming_the_replay(
    hooks: Hooks, other_hooks: Hooks, inspector: DatabaseInspector
) -> None:
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        worker = hooks.worker()
        await worker.drain()
        (delivery,) = await hooks.deliveries(event_id)
        path = f"/v2/webhook_deliveries/{delivery['id']}/replay"
        replay = await hooks.h.client.post(path, auth=hooks.auth, headers={"Request-Id": "r-1"})
        assert replay.status_code == 200, replay.text
        before = inspector.count("audit_events", hooks.partner_id)
        # Still pending: refused (409), as is another partner's delivery (404); neither recorded.
        pending = f"/v2/webhook_deliveries/{replay.json()['id']}/replay"
        assert (await hooks.h.client.post(pending, auth=hooks.auth)).status_code == 409
        assert (await other_hooks.h.client.post(path, auth=other_hooks.auth)).status_code == 404
        assert inspector.count("audit_events", hooks.partner_id) == before
        await worker.drain()
    (entry,) = await replays(hooks)
    assert entry["type"] == "webhook_delivery.replay_requested"
    assert (entry["object_type"], entry["object_id"]) == ("webhook_delivery", delivery["id"])
    assert entry["details"] == {
        "replay_id": replay.json()["id"],
        "event_id": event_id,
        "endpoint_id": endpoint_id,
    }
    assert (entry["actor_type"], entry["request_id"]) == ("api_key", "r-1")
    assert await replays(other_hooks) == []
