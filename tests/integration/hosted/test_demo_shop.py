"""The sandbox's demo shop over HTTP: a page and a session maker, both gone in production."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from conftest import _REGISTRY, DatabaseInspector, Harness
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain.partners import SANDBOX_PARTNER_NAME


@pytest.fixture
async def production_client(
    settings: Settings, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"env": "production"}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def create_demo_session(harness: Harness, **body: str) -> dict[str, str]:
    response = await harness.client.post("/demo/session", json=body)
    assert response.status_code == 200, response.text
    created: dict[str, str] = response.json()
    _REGISTRY.remember(created["client_secret"])
    return created


async def test_the_demo_page_loads_the_sdk_under_a_strict_policy(harness: Harness) -> None:
    response = await harness.client.get("/demo")
    assert response.status_code == 200
    assert '<script src="/sdk/imprintsdk.js" defer></script>' in response.text
    assert "Apply for the store card" in response.text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy


async def test_a_demo_session_belongs_to_the_sandbox_partner(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    created = await create_demo_session(harness, last_name="review", preferred_language="es")
    session_id = harness.services.box.verify_client_secret(created["client_secret"])
    assert session_id == created["id"]
    partner_name = inspector.scalar(
        "SELECT p.name FROM customer_sessions s JOIN partners p ON p.id = s.partner_id "
        "WHERE s.id = ?",
        session_id,
    )
    assert partner_name == SANDBOX_PARTNER_NAME
    row = [
        inspector.scalar(
            f"SELECT c.{column} FROM customer_sessions s JOIN customers c "
            "ON c.id = s.customer_id WHERE s.id = ?",
            session_id,
        )
        for column in ("last_name", "preferred_language", "partner_customer_id")
    ]
    assert row[:2] == ["review", "es"]
    assert row[2].startswith("DEMO-")


async def test_each_demo_session_is_a_new_customer_with_a_new_phone(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    first = await create_demo_session(harness)
    second = await create_demo_session(harness)

    def phone(created: dict[str, str]) -> str:
        value: str = inspector.scalar(
            "SELECT c.phone FROM customer_sessions s JOIN customers c ON c.id = s.customer_id "
            "WHERE s.id = ?",
            created["id"],
        )
        return value

    assert phone(first).startswith("+1415")
    assert phone(first) != phone(second)


async def test_demo_sessions_reuse_the_one_sandbox_partner(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    await create_demo_session(harness)
    await create_demo_session(harness, partner_customer_id="CUST_1")
    count = inspector.scalar("SELECT count(*) FROM partners WHERE name = ?", SANDBOX_PARTNER_NAME)
    assert count == 1


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"last_name": "approve"}'),
        ("application/x-www-form-urlencoded", b"last_name=approve"),
        ("application/json", b'{"last_name": ""}'),
        ("application/json", b'{"preferred_language": "fr"}'),
    ],
)
async def test_a_demo_session_needs_a_valid_json_body(
    harness: Harness, content_type: str, body: bytes
) -> None:
    response = await harness.client.post(
        "/demo/session", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["details"]


async def test_a_demo_session_refuses_a_repeated_key(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    before = inspector.scalar("SELECT count(*) FROM customer_sessions")
    response = await harness.client.post(
        "/demo/session",
        content=b'{"last_name": "approve", "last_name": "reject"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["last_name: duplicate key"]
    assert inspector.scalar("SELECT count(*) FROM customer_sessions") == before


async def test_the_demo_does_not_exist_in_production(production_client: httpx.AsyncClient) -> None:
    page = await production_client.get("/demo")
    session = await production_client.post("/demo/session", json={})
    unknown = await production_client.get("/no-such-page")
    assert page.status_code == session.status_code == 404
    assert page.json()["details"] == unknown.json()["details"]
