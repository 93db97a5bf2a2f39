"""The console's Replay button, on SQLite and PostgreSQL: a delivered delivery is sent again
(the same event to the same endpoint), recorded as ``webhook_delivery.replay_requested`` with
the operator as actor; a pending one is a 409 page and writes nothing; the form token is needed."""

from __future__ import annotations

import re

from conftest import DatabaseInspector
from console_login import csrf_token, signed_in
from imprint_sessions.domain import console
from webhook_receiver import receiving
from webhooks.conftest import Hooks


async def test_replay_from_the_console_is_audited_as_the_operator(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    operator = await signed_in(hooks.h)
    client = hooks.h.client
    page_path = f"/console/partners/{hooks.partner_id}/webhooks"
    with receiving() as receiver:
        await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        worker = hooks.worker()
        await worker.drain()
        page = await client.get(page_path)
        assert page.status_code == 200
        assert "APPLICATION" in page.text
        assert "state-delivered" in page.text
        assert re.search(r'data-label="Response">2\d\d<', page.text)  # the attempt's status
        assert re.search(r'data-label="Latency">\d+ ms<', page.text)
        (action,) = re.findall(r'action="(/console/[^"]+/replay)"', page.text)

        forged = await client.post(action, data={"csrf_token": "f" * 64})
        assert forged.status_code == 403
        before = inspector.count("audit_events", hooks.partner_id)

        done = await client.post(action, data={"csrf_token": csrf_token(page.text)})
        assert done.status_code == 303
        assert done.headers["location"] == f"{page_path}?done=replayed"
        assert inspector.count("audit_events", hooks.partner_id) == before + 1
        replayed = await client.get(done.headers["location"])
        assert "The delivery was queued for replay." in replayed.text
        assert "state-pending" in replayed.text

        original_id = action.split("/")[-2]
        (new,) = [d for d in await hooks.deliveries(event_id) if d["id"] != original_id]
        still_pending = action.replace(original_id, new["id"])
        pending = await client.get(page_path)
        refused = await client.post(still_pending, data={"csrf_token": csrf_token(pending.text)})
        assert refused.status_code == 409
        assert refused.headers["content-type"].startswith("text/html")
        assert inspector.count("audit_events", hooks.partner_id) == before + 1

        await worker.drain()
    assert len(receiver.event_ids()) == 2
    assert set(receiver.event_ids()) == {event_id}

    trail = await console.audit_page(
        hooks.h.services.database.repositories,
        partner_id=hooks.partner_id,
        types=["webhook_delivery.replay_requested"],
    )
    (entry,) = trail.items
    assert (entry.actor_type, entry.actor_id, entry.actor_display) == (
        "operator",
        operator.id,
        operator.name,
    )
