"""A sandbox's webhook retries fall due by its test clock, on SQLite and PostgreSQL: a failed
delivery waits while real time passes, and goes out once the clock is advanced past its retry;
its signature still carries real time, which is what the receiver checks."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import _REGISTRY
from imprint_sessions.clock import ManualClock, rfc3339_ms
from imprint_sessions.validation import rfc3339_epoch_ms
from integration.webhooks.conftest import Hooks
from webhook_receiver import Reply, receiving

START = "2031-05-01T09:00:00.000Z"
START_MS = rfc3339_epoch_ms(START)


@pytest.fixture
def database_url(isolated_database_url: str) -> str:
    """A database of its own: the worker here claims every due delivery it can see."""
    return isolated_database_url


async def test_a_sandbox_retry_waits_for_its_clock_not_for_real_time(
    hooks: Hooks, clock: ManualClock
) -> None:
    h = hooks.h
    created = await h.client.post(
        "/v2/test_helpers/sandboxes",
        json={"test_clock": {"frozen_time": START}},
        auth=hooks.auth,
    )
    assert created.status_code == 200, created.text
    sandbox_id, key = created.json()["id"], created.json()["api_key"]
    _REGISTRY.remember(key)
    auth = (key, "")
    answers = iter([503])

    def respond(body: bytes, headers: dict[str, str]) -> Reply:
        return Reply(status=next(answers, 200))

    with receiving(respond) as receiver:
        endpoint = await h.client.post(
            "/v2/webhook_endpoints", json={"url": receiver.url}, auth=auth
        )
        assert endpoint.status_code == 200, endpoint.text
        _REGISTRY.remember(endpoint.json()["secret"])
        session = await h.client.post(
            "/v2/customer_sessions", json={"partner_customer_id": "CUST_clock"}, auth=auth
        )
        assert session.status_code == 200, session.text
        fired = await h.client.post(
            "/v2/test_helpers/webhook_events",
            json={"type": "APPLICATION", "partner_customer_id": "CUST_clock", "status": "REJECTED"},
            auth=auth,
        )
        assert fired.status_code == 200, fired.text
        event_id = fired.json()["id"]

        worker = hooks.worker(test_clocks=True)
        assert await worker.drain() == 1  # due at once: created at the clock's time
        assert len(receiver.received) == 1
        signed = receiver.received[0].headers["webhook-timestamp"]
        assert int(signed) == clock.now_ms() // 1000  # real time, not the clock's

        clock.advance(seconds=7 * 86_400)  # a week of real time: the retry is not due by the clock
        assert await worker.drain() == 0

        deliveries = await h.client.get(f"/v2/webhook_events/{event_id}/deliveries", auth=auth)
        (delivery,) = deliveries.json()["data"]
        assert delivery["status"] == "PENDING"
        retry_at = rfc3339_epoch_ms(delivery["next_attempt_at"])
        assert START_MS + 15_000 <= retry_at <= START_MS + 30_000  # the first backoff, by the clock
        assert [a["attempted_at"] for a in delivery["attempts"]] == [START]

        advanced = await h.client.post(
            f"/v2/test_helpers/sandboxes/{sandbox_id}/test_clock/advance",
            json={"seconds": 30},
            auth=auth,
        )
        assert advanced.status_code == 200, advanced.text
        assert await worker.drain() == 1
        assert len(receiver.received) == 2

    deliveries = await h.client.get(f"/v2/webhook_events/{event_id}/deliveries", auth=auth)
    (delivery,) = deliveries.json()["data"]
    assert delivery["status"] == "DELIVERED"
    assert [a["attempted_at"] for a in delivery["attempts"]] == [
        START,
        rfc3339_ms(START_MS + 30_000),
    ]


async def test_a_worker_not_following_clocks_sends_by_real_time(
    hooks: Hooks, clock: ManualClock
) -> None:
    """The control: production's worker (no test clocks) sees the clock's time as any other
    timestamp, and a delivery stamped years ahead of real time waits for real time to get there."""
    h = hooks.h
    created = await h.client.post(
        "/v2/test_helpers/sandboxes",
        json={"test_clock": {"frozen_time": rfc3339_ms(clock.now_ms() + 86_400_000)}},
        auth=hooks.auth,
    )
    key = created.json()["api_key"]
    _REGISTRY.remember(key)
    body: dict[str, Any] = {"partner_customer_id": "CUST_c"}
    with receiving() as receiver:
        endpoint = await h.client.post(
            "/v2/webhook_endpoints", json={"url": receiver.url}, auth=(key, "")
        )
        _REGISTRY.remember(endpoint.json()["secret"])
        await h.client.post("/v2/customer_sessions", json=body, auth=(key, ""))
        fired = await h.client.post(
            "/v2/test_helpers/webhook_events",
            json={"type": "APPLICATION", **body, "status": "REJECTED"},
            auth=(key, ""),
        )
        assert fired.status_code == 200, fired.text
        assert await hooks.worker(test_clocks=False).drain() == 0
        assert await hooks.worker(test_clocks=True).drain() == 1
        assert len(receiver.received) == 1
