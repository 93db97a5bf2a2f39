"""Which webhook targets the sandbox and production accept, on SQLite and PostgreSQL: private
ranges refused at registration (unless the deployment allows them) and again at delivery, when a
name that looked public resolves to a private address. Nothing here connects off loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from conftest import TEST_SECRET_KEY, DatabaseInspector, Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.webhooks.targets import TargetPolicy
from imprint_sessions.webhooks.worker import WebhookWorker
from webhooks.conftest import Hooks, _remember_webhook_secrets

PRIVATE_LITERALS = [
    "http://10.0.0.1/",
    "http://10.200.3.4:8080/hooks",
    "http://172.16.0.1/hooks",
    "http://192.168.1.20/hooks",
    "http://100.64.0.1/hooks",  # CGNAT
    "http://100.127.255.254/hooks",
    "http://[fc00::1]/hooks",  # IPv6 ULA
    "http://[fd12:3456::1]/hooks",
    "http://[::ffff:10.0.0.1]/hooks",  # IPv4-mapped private
    "http://169.254.1.1/hooks",  # link-local
    "http://[fe80::1]/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.1.2.3/hooks",
]


def stub_resolver(answers: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[str]]]:
    """DNS answers for made-up names; literals resolve as the system resolves them (no query)."""

    async def resolve(host: str, port: int) -> list[str]:
        if host in answers:
            return answers[host]
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        return [str(info[4][0]) for info in infos]

    return resolve


async def _harness_with(settings: Settings, clock: ManualClock) -> AsyncIterator[Harness]:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            event_hooks={"response": [_remember_webhook_secrets]},  # into the leak registry
        ) as client:
            yield Harness(app=app, client=client, services=app.state.services)


@pytest.fixture
async def allowing(tmp_path: Path, database_url: str, clock: ManualClock) -> AsyncIterator[Harness]:
    """A sandbox with ``IMPRINT_WEBHOOK_ALLOW_PRIVATE_TARGETS=true``, on the same database."""
    settings = Settings(
        env="sandbox",
        data_dir=tmp_path / "allowing",
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        database_url=database_url,
        webhook_allow_private_targets=True,
    )
    async for harness in _harness_with(settings, clock):
        yield harness


@pytest.fixture
async def production(
    tmp_path: Path, database_url: str, clock: ManualClock
) -> AsyncIterator[Harness]:
    settings = Settings(
        env="production",
        data_dir=tmp_path / "production",
        secret_key=TEST_SECRET_KEY,  # type: ignore[arg-type]
        database_url=database_url,
    )
    async for harness in _harness_with(settings, clock):
        yield harness


@pytest.mark.parametrize("url", PRIVATE_LITERALS)
async def test_the_sandbox_refuses_a_private_or_link_local_target_by_default(
    hooks: Hooks, inspector: DatabaseInspector, loopback_only: list[str], url: str
) -> None:
    response = await hooks.h.client.post(
        "/v2/webhook_endpoints", json={"url": url}, auth=hooks.auth
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"path", "details", "error", "status", "timestamp"}
    assert body["path"] == "/v2/webhook_endpoints"
    assert body["error"] == "Bad Request"
    assert body["status"] == 400
    (detail,) = body["details"]
    assert detail.startswith("url: resolves to a"), detail
    assert inspector.count("webhook_endpoints", hooks.partner_id) == 0
    assert loopback_only == []


async def test_the_sandbox_refuses_a_name_that_resolves_to_a_private_address(
    hooks: Hooks, inspector: DatabaseInspector, loopback_only: list[str]
) -> None:
    hooks.h.services.webhook_targets = TargetPolicy(
        production=False, resolver=stub_resolver({"intranet.corp.test": ["10.1.2.3"]})
    )
    response = await hooks.h.client.post(
        "/v2/webhook_endpoints", json={"url": "http://intranet.corp.test/"}, auth=hooks.auth
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"] == ["url: resolves to a private address"]
    assert inspector.count("webhook_endpoints", hooks.partner_id) == 0


async def test_the_sandbox_still_accepts_loopback(hooks: Hooks) -> None:
    for url in ["http://localhost:9/hooks", "http://127.0.0.1:9/hooks", "http://[::1]:9/hooks"]:
        response = await hooks.h.client.post(
            "/v2/webhook_endpoints", json={"url": url}, auth=hooks.auth
        )
        assert response.status_code == 200, (url, response.text)


@pytest.mark.parametrize("url", ["http://10.0.0.1/", "http://100.64.0.1/", "http://[fd12::1]/"])
async def test_allowing_private_targets_lets_the_sandbox_register_them(
    allowing: Harness, loopback_only: list[str], url: str
) -> None:
    _, api_key = await allowing.new_partner()
    response = await allowing.client.post(
        "/v2/webhook_endpoints", json={"url": url}, auth=(api_key, "")
    )
    assert response.status_code == 200, response.text
    assert response.json()["url"] == url
    assert loopback_only == []  # registering resolves the literal; it never connects out


async def test_allowing_private_targets_still_refuses_metadata_and_link_local(
    allowing: Harness,
) -> None:
    _, api_key = await allowing.new_partner()
    for url in ["http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://169.254.7.7/"]:
        response = await allowing.client.post(
            "/v2/webhook_endpoints", json={"url": url}, auth=(api_key, "")
        )
        assert response.status_code == 400, (url, response.text)


@pytest.mark.parametrize("mode", ["sandbox", "production"])
async def test_a_name_resolving_to_a_private_address_at_delivery_is_refused_unconnected(
    hooks: Hooks,
    production: Harness,
    loopback_only: list[str],
    mode: str,
) -> None:
    """DNS rebinding: public at registration, private when the worker connects."""
    is_production = mode == "production"
    harness = production if is_production else hooks.h
    partner = hooks if not is_production else None
    if partner is None:
        partner_id, api_key = await production.new_partner()
        partner = Hooks(production, partner_id, api_key)
    url = ("https" if is_production else "http") + "://hooks.partner.test/imprint"
    harness.services.webhook_targets = TargetPolicy(
        production=is_production,
        resolver=stub_resolver({"hooks.partner.test": ["93.184.216.34"]}),
    )
    await partner.register(url)
    (event_id,) = await partner.emit(1)
    rebound = TargetPolicy(
        production=is_production, resolver=stub_resolver({"hooks.partner.test": ["10.0.0.7"]})
    )
    worker = partner.worker(targets=rebound)
    try:
        await worker.drain()
    finally:
        await worker.aclose()
    (delivery,) = await partner.deliveries(event_id)
    assert delivery["status"] == "PENDING"  # retried later, like any failure
    (attempt,) = delivery["attempts"]
    assert attempt["error"] == "target refused: resolves to a private address"
    assert "http_status" not in attempt
    assert loopback_only == []
    await _retire_endpoints(partner)


async def _retire_endpoints(partner: Hooks) -> None:
    """Leave no pending delivery to a made-up or private target in a shared database."""
    listed = await partner.h.client.get("/v2/webhook_endpoints", auth=partner.auth)
    for endpoint in listed.json()["data"]:
        response = await partner.h.client.post(
            f"/v2/webhook_endpoints/{endpoint['id']}/disable", auth=partner.auth
        )
        assert response.status_code == 200, response.text


async def test_the_worker_of_a_deployment_that_stopped_allowing_private_targets_refuses_them(
    allowing: Harness, settings: Settings, loopback_only: list[str]
) -> None:
    """An endpoint registered while private targets were allowed; the setting turned off since."""
    partner_id, api_key = await allowing.new_partner()
    partner = Hooks(allowing, partner_id, api_key)
    await partner.register("http://10.0.0.1:8080/hooks")
    (event_id,) = await partner.emit(1)
    assert not settings.webhook_allow_private_targets
    services = allowing.services
    worker = WebhookWorker.from_settings(
        services.database, settings, box=services.box, clock=services.clock
    )
    try:
        await worker.drain()
    finally:
        await worker.aclose()
    (delivery,) = await partner.deliveries(event_id)
    (attempt,) = delivery["attempts"]
    assert attempt["error"] == "target refused: resolves to a private address"
    assert loopback_only == []
    await _retire_endpoints(partner)
