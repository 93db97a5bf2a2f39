"""Delivery through a real HTTP receiver on loopback, on SQLite and PostgreSQL: signatures,
retries on an injectable clock, dead deliveries, redirects, timeouts, the attempt record."""

from __future__ import annotations

import itertools
import json
import time
from collections import Counter

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from conftest import DatabaseInspector
from imprint_sessions.clock import ManualClock
from imprint_sessions.domain.events import PAYMENT_METHOD, record_event
from webhook_receiver import Receiver, Reply, closed_port, receiving
from webhooks.conftest import Hooks, imprint_signature_ok, ms_of, standard_signature_ok


@pytest.mark.slow
async def test_a_thousand_deliveries_all_verify_and_tampering_fails_both_checks(
    hooks: Hooks,
) -> None:
    with receiving() as receiver:
        _, secret = await hooks.register(receiver.url)
        event_ids = await hooks.emit(1000)
        started = time.monotonic()
        handled = await hooks.worker(concurrency=16).drain()
        elapsed = time.monotonic() - started
    assert handled == 1000
    assert sorted(receiver.event_ids()) == sorted(event_ids)  # each exactly once
    webhook = Webhook(secret)
    for request in receiver.received:
        body, headers = request.body, request.headers
        payload = webhook.verify(body, headers)
        assert payload["id"] == headers["webhook-id"]
        assert imprint_signature_ok(secret, headers["x-imprint-hmac-signature"], body)
        assert (
            body
            == json.dumps(
                payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False
            ).encode()
        )
        tampered = body.replace(b'"object":"APPLICATION"', b'"object":"PAYMENT_METHOD"')
        assert tampered != body
        with pytest.raises(WebhookVerificationError):
            webhook.verify(tampered, headers)
        assert not imprint_signature_ok(secret, headers["x-imprint-hmac-signature"], tampered)
        earlier = str(int(headers["webhook-timestamp"]) - 1)
        with pytest.raises(WebhookVerificationError):
            webhook.verify(body, {**headers, "webhook-timestamp": earlier})
        t, _, signatures = headers["x-imprint-hmac-signature"].partition(",")
        moved = f"t={int(t.removeprefix('t=')) + 1},{signatures}"
        assert not imprint_signature_ok(secret, moved, body)
    assert elapsed < 60, f"1000 deliveries took {elapsed:.1f} s"
    print(f"1000 deliveries in {elapsed:.1f} s")


@pytest.mark.slow
async def test_receiver_down_then_up_every_event_arrives_on_the_schedule(
    hooks: Hooks, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    port = closed_port()
    _, secret = await hooks.register(f"http://127.0.0.1:{port}/hooks")
    event_ids = await hooks.emit(20)
    worker = hooks.worker()
    schedule = worker.schedule
    down_until = clock.now_ms() + 10 * 60_000  # the receiver comes back after ten minutes
    receiver: Receiver | None = None
    try:
        for _ in range(500):
            if receiver is None and clock.now_ms() >= down_until:
                receiver = Receiver(port=port).start()
            await worker.drain()
            due = inspector.scalar(
                "SELECT min(next_attempt_at) FROM webhook_deliveries "
                "WHERE partner_id = ? AND status = 'pending'",
                hooks.partner_id,
            )
            if due is None:
                break
            clock.advance(ms=max(0, due - clock.now_ms()))  # straight to the next due attempt
    finally:
        if receiver is not None:
            receiver.stop()
    assert receiver is not None
    assert Counter(receiver.event_ids()) == Counter(event_ids)  # every one, exactly once
    for request in receiver.received:
        assert standard_signature_ok(secret, request.headers, request.body)
        assert imprint_signature_ok(
            secret, request.headers["x-imprint-hmac-signature"], request.body
        )
    for event_id in event_ids:
        (delivery,) = await hooks.deliveries(event_id)
        assert delivery["status"] == "DELIVERED"
        attempts = delivery["attempts"]
        assert 2 <= len(attempts) <= schedule.max_attempts()
        assert attempts[-1]["http_status"] == 200
        assert all(a["error"] for a in attempts[:-1])  # connection refused while down
        times = [ms_of(a["attempted_at"]) for a in attempts]
        for failures, (before, after) in enumerate(itertools.pairwise(times), start=1):
            ceiling = schedule.ceiling_ms(failures)
            assert ceiling // 2 <= after - before <= ceiling, (failures, after - before)


async def test_a_receiver_that_keeps_failing_makes_the_delivery_dead_after_the_window(
    hooks: Hooks, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    status = {"code": 500}
    with receiving(lambda body, headers: Reply(status=status["code"], body=b"boom")) as receiver:
        await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        created = clock.now_ms()
        worker = hooks.worker()
        rounds = 0
        while True:
            rounds += 1
            await worker.drain()
            due = inspector.scalar(
                "SELECT min(next_attempt_at) FROM webhook_deliveries "
                "WHERE partner_id = ? AND status = 'pending'",
                hooks.partner_id,
            )
            if due is None:
                break
            clock.advance(ms=due - clock.now_ms())
        (delivery,) = await hooks.deliveries(event_id)
        assert delivery["status"] == "DEAD"
        assert delivery["last_error"] == "HTTP 500"
        assert delivery["attempt_count"] == rounds == len(receiver.received)
        assert rounds <= worker.schedule.max_attempts()
        last = ms_of(delivery["attempts"][-1]["attempted_at"])
        window = int(worker.schedule.window_seconds * 1000)
        assert created + window - worker.schedule.cap_seconds * 1000 <= last <= created + window
        assert {a["http_status"] for a in delivery["attempts"]} == {500}

        # A dead delivery can be replayed once the receiver is fixed: same event, same body.
        status["code"] = 204
        replay = await hooks.h.client.post(
            f"/v2/webhook_deliveries/{delivery['id']}/replay", auth=hooks.auth
        )
        assert replay.status_code == 200, replay.text
        assert replay.json()["replay_of"] == delivery["id"]
        assert replay.json()["status"] == "PENDING"
        await worker.drain()
    first, *_, replayed = receiver.received
    assert replayed.event_id == first.event_id == event_id
    assert replayed.body == first.body
    statuses = {d["id"]: d["status"] for d in await hooks.deliveries(event_id)}
    assert statuses == {delivery["id"]: "DEAD", replay.json()["id"]: "DELIVERED"}


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(hooks: Hooks) -> None:
    with receiving() as target:
        redirect = Reply(status=302, body=b"", headers={"location": target.url})
        with receiving(lambda body, headers: redirect) as receiver:
            await hooks.register(receiver.url)
            (event_id,) = await hooks.emit(1)
            await hooks.worker().drain()
        assert target.received == []  # never followed
    (delivery,) = await hooks.deliveries(event_id)
    assert delivery["status"] == "PENDING"
    assert delivery["last_error"] == "HTTP 302"
    assert delivery["attempts"][0]["http_status"] == 302


async def test_every_attempt_records_its_time_status_duration_and_a_truncated_body(
    hooks: Hooks, clock: ManualClock
) -> None:
    big = ("é" * 3000).encode()  # 6,000 bytes
    with receiving(lambda body, headers: Reply(status=503, body=big)) as receiver:
        await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        await hooks.worker().drain()
    (delivery,) = await hooks.deliveries(event_id)
    (attempt,) = delivery["attempts"]
    assert attempt["http_status"] == 503
    assert ms_of(attempt["attempted_at"]) == clock.now_ms()
    assert 0 <= attempt["duration_ms"] < 5000
    assert len(attempt["response_body"].encode()) <= 1024
    assert attempt["response_body"].startswith("é" * 500)
    assert len(receiver.received) == 1


async def test_a_receiver_slower_than_the_timeout_is_a_failed_bounded_attempt(
    hooks: Hooks,
) -> None:
    with receiving(lambda body, headers: Reply(delay_seconds=1.5)) as receiver:
        await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        await hooks.worker(timeout_seconds=0.3, lease_seconds=5).drain()
        assert receiver.started == 1
    (delivery,) = await hooks.deliveries(event_id)
    (attempt,) = delivery["attempts"]
    assert delivery["status"] == "PENDING"
    assert attempt["error"] == "timed out after 0.3 s"
    assert "http_status" not in attempt
    assert attempt["duration_ms"] < 1000


async def test_a_disabled_endpoint_gets_nothing(hooks: Hooks, inspector: DatabaseInspector) -> None:
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        (before,) = await hooks.emit(1)  # pending when the endpoint is disabled
        response = await hooks.h.client.post(
            f"/v2/webhook_endpoints/{endpoint_id}/disable", auth=hooks.auth
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "DISABLED"
        (after,) = await hooks.emit(1)
        await hooks.worker().drain()
    assert receiver.received == []
    (retired,) = await hooks.deliveries(before)
    assert retired["status"] == "DEAD"
    assert retired["last_error"] == "endpoint disabled"
    assert retired["attempts"] == []
    assert await hooks.deliveries(after) == []
    assert inspector.count("webhook_events", hooks.partner_id) == 2


async def test_each_endpoint_gets_only_the_event_types_it_subscribed_to(hooks: Hooks) -> None:
    with receiving() as applications, receiving() as cards:
        await hooks.register(applications.url, events=["APPLICATION"])
        await hooks.register(cards.url, events=["PAYMENT_METHOD"])
        application_ids = await hooks.emit(2)
        card_ids = await hooks.emit(3, event_type=PAYMENT_METHOD)
        await hooks.worker().drain()
    assert sorted(applications.event_ids()) == sorted(application_ids)
    assert sorted(cards.event_ids()) == sorted(card_ids)
    body = json.loads(cards.received[0].body)
    assert body["object"] == "PAYMENT_METHOD"
    assert set(body["data"]) == {
        "payment_method_id",
        "customer_id",
        "partner_customer_id",
        "type",
        "card_type",
        "previous_status",  # null on a creation: every key is always sent
        "new_status",
        "created_at",
        "updated_at",
        "merchant_key",
    }
    assert body["data"]["previous_status"] is None


async def test_a_rolled_back_transaction_produces_no_event(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    with receiving() as receiver:
        await hooks.register(receiver.url)
        services = hooks.h.services

        class Abandoned(Exception):
            pass

        async def change_that_fails() -> None:
            async with services.database.unit_of_work() as uow:
                await record_event(
                    uow.repositories,
                    partner_id=hooks.partner_id,
                    event_type="APPLICATION",
                    data={"status": "REJECTED"},
                    now=services.clock.now_ms(),
                )
                raise Abandoned  # the state change failed after the event was written

        with pytest.raises(Abandoned):
            await change_that_fails()
        async with services.database.unit_of_work() as uow:
            await record_event(
                uow.repositories,
                partner_id=hooks.partner_id,
                event_type="APPLICATION",
                data={"status": "REJECTED"},
                now=services.clock.now_ms(),
            )
            # left without commit(): rolled back
        await hooks.worker().drain()
    assert receiver.received == []
    assert inspector.count("webhook_events", hooks.partner_id) == 0
    assert inspector.count("webhook_deliveries", hooks.partner_id) == 0


async def test_rotation_both_secrets_sign_during_the_grace_period_and_the_old_one_stops_after(
    hooks: Hooks, clock: ManualClock
) -> None:
    with receiving() as receiver:
        endpoint_id, old = await hooks.register(receiver.url)
        rotated = await hooks.h.client.post(
            f"/v2/webhook_endpoints/{endpoint_id}/rotate_secret",
            json={"grace_period_seconds": 3600},
            auth=hooks.auth,
        )
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old
        assert ms_of(rotated.json()["previous_secret_expires_at"]) == clock.now_ms() + 3_600_000
        await hooks.emit(1)
        worker = hooks.worker()
        await worker.drain()
        clock.advance(seconds=3601)
        await hooks.emit(1)
        await worker.drain()
    during, after = receiver.received
    for secret in (old, new):  # the real clock has not moved: the library's check applies too
        Webhook(secret).verify(during.body, during.headers)
        assert imprint_signature_ok(secret, during.headers["x-imprint-hmac-signature"], during.body)
    assert standard_signature_ok(new, after.headers, after.body)
    assert imprint_signature_ok(new, after.headers["x-imprint-hmac-signature"], after.body)
    assert not standard_signature_ok(old, after.headers, after.body)
    assert not imprint_signature_ok(old, after.headers["x-imprint-hmac-signature"], after.body)
    listed = await hooks.h.client.get("/v2/webhook_endpoints", auth=hooks.auth)
    assert "previous_secret_expires_at" not in listed.json()["data"][0]


async def test_rotation_with_no_grace_retires_the_old_secret_at_once(hooks: Hooks) -> None:
    with receiving() as receiver:
        endpoint_id, old = await hooks.register(receiver.url)
        rotated = await hooks.h.client.post(
            f"/v2/webhook_endpoints/{endpoint_id}/rotate_secret",
            json={"grace_period_seconds": 0},
            auth=hooks.auth,
        )
        new = rotated.json()["secret"]
        await hooks.emit(1)
        await hooks.worker().drain()
    (request,) = receiver.received
    Webhook(new).verify(request.body, request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(request.body, request.headers)
    assert request.headers["x-imprint-hmac-signature"].count("s=") == 1
