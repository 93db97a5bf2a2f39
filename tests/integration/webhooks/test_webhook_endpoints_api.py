"""The partner API's webhook resources, on SQLite and PostgreSQL: endpoints, the secret shown
once, production target rules, events and deliveries, replays, and partner scoping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conftest import _REGISTRY, TEST_SECRET_KEY, DatabaseInspector, Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.webhooks.targets import TargetPolicy
from webhook_receiver import receiving
from webhooks.conftest import Hooks, ms_of

NOWHERE = "00000000-0000-4000-8000-000000000000"


async def test_creating_an_endpoint_shows_its_secret_once(
    hooks: Hooks, inspector: DatabaseInspector
) -> None:
    response = await hooks.h.client.post(
        "/v2/webhook_endpoints",
        json={"url": "http://localhost:9/hooks", "event_types": ["APPLICATION"]},
        auth=hooks.auth,
    )
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["APPLICATION"]
    assert created["status"] == "ENABLED"
    assert created["id"] == created["id"].upper()
    listed = await hooks.h.client.get("/v2/webhook_endpoints", auth=hooks.auth)
    assert listed.status_code == 200
    (shown,) = listed.json()["data"]
    assert "secret" not in shown
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    assert listed.json()["total"] == 1
    stored = inspector.scalar(
        "SELECT secret_version FROM webhook_endpoints WHERE partner_id = ?", hooks.partner_id
    )
    assert stored == 1  # only the version: the secret itself is re-derived, never stored


async def test_every_event_type_is_the_default(hooks: Hooks) -> None:
    endpoint_id, _ = await hooks.register("http://localhost:9/hooks")
    listed = await hooks.h.client.get("/v2/webhook_endpoints", auth=hooks.auth)
    assert listed.json()["data"][0]["event_types"] == ["APPLICATION", "PAYMENT_METHOD"]
    assert listed.json()["data"][0]["id"] == endpoint_id


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({}, "url: is required"),
        ({"url": "ftp://localhost/x"}, "url: must be an http or https URL"),
        ({"url": "http://a:b@localhost/x"}, "url: must not contain credentials"),
        ({"url": "http://169.254.169.254/latest"}, "url: resolves to a cloud metadata address"),
        ({"url": "http://localhost/x", "event_types": ["NOPE"]}, "event_types[0]: must be one of"),
        ({"url": "http://localhost/x", "event_types": []}, "event_types: must name at least"),
    ],
)
async def test_an_invalid_endpoint_is_a_400_listing_the_problem(
    hooks: Hooks, body: dict[str, object], detail: str
) -> None:
    response = await hooks.h.client.post("/v2/webhook_endpoints", json=body, auth=hooks.auth)
    assert response.status_code == 400, response.text
    assert any(d.startswith(detail) for d in response.json()["details"]), response.json()


async def test_the_webhook_routes_need_an_api_key(harness: Harness) -> None:
    for method, path in [
        ("POST", "/v2/webhook_endpoints"),
        ("GET", "/v2/webhook_endpoints"),
        ("GET", "/v2/webhook_events"),
        ("POST", f"/v2/webhook_deliveries/{NOWHERE}/replay"),
    ]:
        response = await harness.client.request(method, path, json={})
        assert response.status_code == 401, (method, path)


@pytest.fixture
async def production(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> AsyncIterator[Harness]:
    """The app in production mode, on the same database."""
    settings = Settings(
        env="production",
        data_dir=tmp_path / "production",
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        database_url=database_url,
        log_level="DEBUG",
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Harness(app=app, client=client, services=app.state.services)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://[::1]/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://172.20.0.2/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://100.64.1.1/hooks",
        "https://internal.example.com/hooks",  # resolves (stub) to a private address
        "http://hooks.example.com/hooks",  # public, but not https
    ],
)
async def test_registration_refuses_private_and_loopback_targets_in_production(
    production: Harness, url: str, inspector: DatabaseInspector
) -> None:
    async def stub(host: str, port: int) -> list[str]:
        answers = {"internal.example.com": ["10.0.0.8"], "hooks.example.com": ["93.184.216.34"]}
        if host in answers:
            return answers[host]
        raise OSError("only literals and localhost are resolved here")

    production.services.webhook_targets = TargetPolicy(production=True, resolver=stub)
    partner_id, api_key = await production.new_partner()
    if url.startswith("https://localhost") or url.startswith("https://["):
        production.services.webhook_targets = TargetPolicy(production=True)  # real, no DNS
    response = await production.client.post(
        "/v2/webhook_endpoints", json={"url": url}, auth=(api_key, "")
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"][0].startswith("url: ")
    assert inspector.count("webhook_endpoints", partner_id) == 0


async def test_registration_accepts_a_public_https_target_in_production(
    production: Harness,
) -> None:
    async def stub(host: str, port: int) -> list[str]:
        assert host == "hooks.example.com"
        return ["93.184.216.34", "2606:4700:4700::1111"]

    production.services.webhook_targets = TargetPolicy(production=True, resolver=stub)
    _, api_key = await production.new_partner()
    response = await production.client.post(
        "/v2/webhook_endpoints",
        json={"url": "https://hooks.example.com/imprint"},
        auth=(api_key, ""),
    )
    assert response.status_code == 200, response.text
    _REGISTRY.remember(response.json()["secret"])


async def test_another_partners_ids_are_not_found(hooks: Hooks, other_hooks: Hooks) -> None:
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        await hooks.worker().drain()
    (delivery,) = await hooks.deliveries(event_id)
    client, auth = other_hooks.h.client, other_hooks.auth
    for method, path, type_ in [
        (
            "POST",
            f"/v2/webhook_endpoints/{endpoint_id}/disable",
            "WEBHOOK_ENDPOINT_NOT_FOUND_ERROR",
        ),
        (
            "POST",
            f"/v2/webhook_endpoints/{endpoint_id}/rotate_secret",
            "WEBHOOK_ENDPOINT_NOT_FOUND_ERROR",
        ),
        ("GET", f"/v2/webhook_events/{event_id}/deliveries", "WEBHOOK_EVENT_NOT_FOUND_ERROR"),
        (
            "POST",
            f"/v2/webhook_deliveries/{delivery['id']}/replay",
            "WEBHOOK_DELIVERY_NOT_FOUND_ERROR",
        ),
        ("POST", f"/v2/webhook_deliveries/{NOWHERE}/replay", "WEBHOOK_DELIVERY_NOT_FOUND_ERROR"),
        ("POST", "/v2/webhook_endpoints/not-a-uuid/disable", "WEBHOOK_ENDPOINT_NOT_FOUND_ERROR"),
    ]:
        response = await client.request(method, path, auth=auth)
        assert response.status_code == 404, (path, response.text)
        body = response.json()
        assert set(body) == {"type", "message", "param"}
        assert body["type"] == type_
    assert (await client.get("/v2/webhook_endpoints", auth=auth)).json()["data"] == []
    assert (await client.get("/v2/webhook_events", auth=auth)).json()["total"] == 0
    assert (await hooks.h.client.get("/v2/webhook_events", auth=hooks.auth)).json()["total"] == 1


async def test_events_are_listed_oldest_first_a_page_at_a_time(
    hooks: Hooks, clock: ManualClock
) -> None:
    ids = []
    for _ in range(5):
        ids += await hooks.emit(1)
        clock.advance(ms=1)
    client = hooks.h.client
    first = await client.get("/v2/webhook_events", params={"limit": 2}, auth=hooks.auth)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["id"] for e in page["data"]] == ids[:2]
    assert (page["has_more"], page["total"]) == (True, 5)
    event = page["data"][0]
    assert event["object"] == "APPLICATION"
    assert set(event["data"]) >= {"customer_id", "status", "created_at", "updated_at"}
    rest = await client.get(
        "/v2/webhook_events", params={"limit": 10, "starting_after": ids[1]}, auth=hooks.auth
    )
    assert [e["id"] for e in rest.json()["data"]] == ids[2:]
    assert rest.json()["has_more"] is False
    unknown = await client.get(
        "/v2/webhook_events", params={"starting_after": NOWHERE}, auth=hooks.auth
    )
    assert unknown.status_code == 400
    too_many = await client.get("/v2/webhook_events", params={"limit": 101}, auth=hooks.auth)
    assert too_many.status_code == 400


async def test_deliveries_are_listed_with_every_attempt_and_can_be_replayed(
    hooks: Hooks,
) -> None:
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        worker = hooks.worker()
        await worker.drain()
        (delivery,) = await hooks.deliveries(event_id)
        assert delivery["status"] == "DELIVERED"
        assert delivery["endpoint_id"] == endpoint_id
        assert delivery["attempt_count"] == 1
        assert "next_attempt_at" not in delivery
        (attempt,) = delivery["attempts"]
        assert attempt["http_status"] == 200
        assert attempt["response_body"] == "ok"

        replay = await hooks.h.client.post(
            f"/v2/webhook_deliveries/{delivery['id']}/replay", auth=hooks.auth
        )
        assert replay.status_code == 200, replay.text
        pending_again = await hooks.h.client.post(
            f"/v2/webhook_deliveries/{replay.json()['id']}/replay", auth=hooks.auth
        )
        assert pending_again.status_code == 409
        assert pending_again.json()["type"] == "WEBHOOK_DELIVERY_PENDING_ERROR"
        await worker.drain()
    first, second = receiver.received
    assert first.event_id == second.event_id == event_id
    assert first.body == second.body
    listed = {d["id"]: d for d in await hooks.deliveries(event_id)}
    assert {d["status"] for d in listed.values()} == {"DELIVERED"}
    assert listed[replay.json()["id"]]["replay_of"] == delivery["id"]


async def test_a_disabled_endpoints_delivery_cannot_be_replayed(hooks: Hooks) -> None:
    with receiving() as receiver:
        endpoint_id, _ = await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        await hooks.worker().drain()
    (delivery,) = await hooks.deliveries(event_id)
    await hooks.h.client.post(f"/v2/webhook_endpoints/{endpoint_id}/disable", auth=hooks.auth)
    replay = await hooks.h.client.post(
        f"/v2/webhook_deliveries/{delivery['id']}/replay", auth=hooks.auth
    )
    assert replay.status_code == 409
    assert replay.json()["type"] == "WEBHOOK_ENDPOINT_DISABLED_ERROR"


async def test_rotation_grace_is_bounded(hooks: Hooks) -> None:
    endpoint_id, _ = await hooks.register("http://localhost:9/hooks")
    response = await hooks.h.client.post(
        f"/v2/webhook_endpoints/{endpoint_id}/rotate_secret",
        json={"grace_period_seconds": 8 * 86_400},
        auth=hooks.auth,
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["grace_period_seconds: must be 0 to 604800"]


async def test_rotation_without_a_body_uses_the_default_grace(
    hooks: Hooks, clock: ManualClock
) -> None:
    endpoint_id, old = await hooks.register("http://localhost:9/hooks")
    response = await hooks.h.client.post(
        f"/v2/webhook_endpoints/{endpoint_id}/rotate_secret", auth=hooks.auth
    )
    assert response.status_code == 200, response.text
    assert response.json()["secret"] != old
    expected = clock.now_ms() + hooks.h.services.settings.webhook_secret_grace_seconds * 1000
    assert ms_of(response.json()["previous_secret_expires_at"]) == expected


async def test_a_partner_may_have_at_most_16_enabled_endpoints(hooks: Hooks) -> None:
    for n in range(16):
        await hooks.register(f"http://localhost:9/hooks/{n}")
    response = await hooks.h.client.post(
        "/v2/webhook_endpoints", json={"url": "http://localhost:9/x"}, auth=hooks.auth
    )
    assert response.status_code == 409
    assert response.json()["type"] == "WEBHOOK_ENDPOINT_LIMIT_ERROR"


async def test_a_replay_with_an_idempotency_key_happens_once(hooks: Hooks) -> None:
    with receiving() as receiver:
        await hooks.register(receiver.url)
        (event_id,) = await hooks.emit(1)
        worker = hooks.worker()
        await worker.drain()
        (delivery,) = await hooks.deliveries(event_id)
        path = f"/v2/webhook_deliveries/{delivery['id']}/replay"
        headers = {"Idempotency-Key": "replay-once"}
        first = await hooks.h.client.post(path, auth=hooks.auth, headers=headers)
        again = await hooks.h.client.post(path, auth=hooks.auth, headers=headers)
        assert first.status_code == again.status_code == 200, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        await worker.drain()
    assert len(await hooks.deliveries(event_id)) == 2
    assert len(receiver.received) == 2
