"""Declared ``webhook_failure`` faults (sandbox): the next N attempts to an endpoint fail without
being sent, each recorded as an attempt, and the retries follow the usual schedule; then the
receiver gets the event, once. Other endpoints, and a worker with no fault index (production's),
are untouched."""

from __future__ import annotations

import itertools
from typing import Any

from conftest import DatabaseInspector
from imprint_sessions.clock import ManualClock
from imprint_sessions.domain.faults import FaultIndex
from imprint_sessions.webhooks.targets import TargetPolicy
from imprint_sessions.webhooks.worker import WebhookWorker
from webhook_receiver import receiving
from webhooks.conftest import Hooks, ms_of, standard_signature_ok

FAULTS = "/v2/test_helpers/faults"


async def fire_application(hooks: Hooks) -> str:
    created = await hooks.h.client.post(
        "/v2/customer_sessions", json={"partner_customer_id": "CUST_HOOKED"}, auth=hooks.auth
    )
    assert created.status_code == 200, created.text
    fired = await hooks.h.client.post(
        "/v2/test_helpers/webhook_events",
        json={"type": "APPLICATION", "partner_customer_id": "CUST_HOOKED", "status": "REJECTED"},
        auth=hooks.auth,
    )
    assert fired.status_code == 200, fired.text
    event_id: str = fired.json()["id"]
    return event_id


async def declare_failures(hooks: Hooks, endpoint_id: str, times: int) -> dict[str, Any]:
    declared = await hooks.h.client.post(
        FAULTS,
        json={"kind": "webhook_failure", "endpoint_id": endpoint_id, "times": times},
        auth=hooks.auth,
    )
    assert declared.status_code == 200, declared.text
    fault: dict[str, Any] = declared.json()
    return fault


async def run_until_settled(
    worker: WebhookWorker, clock: ManualClock, inspector: DatabaseInspector, partner_id: str
) -> None:
    for _ in range(20):
        await worker.drain()
        due = inspector.scalar(
            "SELECT min(next_attempt_at) FROM webhook_deliveries "
            "WHERE partner_id = ? AND status = 'pending'",
            partner_id,
        )
        if due is None:
            return
        clock.advance(ms=max(0, due - clock.now_ms()))
    raise AssertionError("the deliveries did not settle")


async def test_the_next_attempts_fail_unsent_then_retries_deliver_on_the_schedule(
    hooks: Hooks, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    services = hooks.h.services
    assert services.faults is not None
    with receiving() as receiver, receiving() as bystander:
        endpoint_id, secret = await hooks.register(receiver.url)
        other_id, _ = await hooks.register(bystander.url)
        fault = await declare_failures(hooks, endpoint_id, 2)
        event_id = await fire_application(hooks)
        worker = hooks.worker(fault_index=services.faults.index)
        await run_until_settled(worker, clock, inspector, hooks.partner_id)
        assert len(receiver.received) == 1  # the two forced failures sent nothing
        assert standard_signature_ok(
            secret, receiver.received[0].headers, receiver.received[0].body
        )
        assert len(bystander.received) == 1  # delivered at the first attempt
    deliveries = {d["endpoint_id"]: d for d in await hooks.deliveries(event_id)}
    faulted = deliveries[endpoint_id]
    assert faulted["status"] == "DELIVERED"
    attempts = faulted["attempts"]
    forced = f"test fault {fault['id']}: a forced failure (nothing was sent)"
    assert [(a.get("http_status"), a.get("error")) for a in attempts] == [
        (None, forced),
        (None, forced),
        (200, None),
    ]
    times = [ms_of(a["attempted_at"]) for a in attempts]
    for failures, (before, after) in enumerate(itertools.pairwise(times), start=1):
        ceiling = worker.schedule.ceiling_ms(failures)
        assert ceiling // 2 <= after - before <= ceiling, (failures, after - before)
    assert [a.get("http_status") for a in deliveries[other_id]["attempts"]] == [200]
    (listed,) = (await hooks.h.client.get(FAULTS, auth=hooks.auth)).json()["data"]
    assert listed["remaining"] == 0


async def test_a_worker_without_a_fault_index_never_applies_them(
    hooks: Hooks, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    """Production's worker (``from_settings`` with ``IMPRINT_ENV=production``) has none."""
    services = hooks.h.services
    production = services.settings.model_copy(update={"env": "production"})
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        await declare_failures(hooks, endpoint_id, 3)
        await fire_application(hooks)
        worker = WebhookWorker.from_settings(
            services.database,
            production,
            box=services.box,
            clock=clock,
            targets=TargetPolicy(production=False),  # loopback, as the sandbox allows
            fault_index=FaultIndex(),  # offered, and still not used outside the sandbox
        )
        try:
            await run_until_settled(worker, clock, inspector, hooks.partner_id)
        finally:
            await worker.aclose()
        assert len(receiver.received) == 1
    (listed,) = (await hooks.h.client.get(FAULTS, auth=hooks.auth)).json()["data"]
    assert listed["remaining"] == 3
