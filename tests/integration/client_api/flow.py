"""Steps of the customer's flow through the client API, shared by the client API tests."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from conftest import _REGISTRY, Harness
from imprint_sessions.domain import partners
from imprint_sessions.domain.phone_verification import SANDBOX_CODE

PHONE = "+14155552671"
ADDRESS = {
    "street_line1": "123 Main St",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94105",
    "country": "USA",
}
PROFILE = {
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "approve",
    "date_of_birth": {"year": 1990, "month": 7, "day": 14},
    "address": ADDRESS,
}
CARD = {
    "type": "CARD",
    "ssn4": "1234",
    "housing_type": "RENT",
    "housing_cost": 150_000,
    "income_type": "EMPLOYED",
    "income_amount": 9_000_000,
}
LOAN = {**CARD, "type": "LOAN", "amount": 1_000_000, "term_months": 24}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_partner_with_origins(h: Harness, origins: list[str]) -> tuple[str, str]:
    repos = h.services.database.repositories
    partner = await partners.create_partner(
        repos,
        clock=h.services.clock,
        name=f"partner {secrets.token_hex(3)}",
        merchant_keys=[],
        allowed_origins=origins,
    )
    issued = await partners.create_api_key(
        repos, clock=h.services.clock, box=h.services.box, env="sandbox", partner_id=partner.id
    )
    _REGISTRY.remember(issued.api_key)
    return partner.id, issued.api_key


async def new_session(h: Harness, key: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await h.client.post("/v2/customer_sessions", json=body or {}, auth=(key, ""))
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def exchange(h: Harness, client_secret: str, **kwargs: Any) -> httpx.Response:
    return await h.client.post(
        "/v2/client/exchange", json={"client_secret": client_secret}, **kwargs
    )


async def client_token(h: Harness, key: str, body: dict[str, Any] | None = None) -> str:
    """A new session of ``key``'s partner, exchanged: its client credential."""
    session = await new_session(h, key, body)
    response = await exchange(h, session["client_secret"])
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def update_profile(h: Harness, token: str, body: dict[str, Any]) -> httpx.Response:
    return await h.client.post("/v2/client/profile", json=body, headers=bearer(token))


async def verify_phone(h: Harness, token: str) -> None:
    started = await h.client.post("/v2/client/phone/verification", headers=bearer(token))
    assert started.status_code == 200, started.text
    confirmed = await confirm_code(h, token, SANDBOX_CODE)
    assert confirmed.status_code == 200, confirmed.text


async def confirm_code(h: Harness, token: str, code: str) -> httpx.Response:
    return await h.client.post(
        "/v2/client/phone/verification/confirm", json={"code": code}, headers=bearer(token)
    )


async def applicant(
    h: Harness, key: str, *, last_name: str = "approve", phone: str = PHONE, **session: Any
) -> str:
    """A credential whose customer has a complete profile and a verified phone."""
    token = await client_token(h, key, session or None)
    response = await update_profile(h, token, {**PROFILE, "last_name": last_name, "phone": phone})
    assert response.status_code == 200, response.text
    await verify_phone(h, token)
    return token


async def apply(h: Harness, token: str, body: dict[str, Any]) -> httpx.Response:
    return await h.client.post("/v2/client/applications", json=body, headers=bearer(token))


def execute(database_url: str, sql: str, *params: Any) -> None:
    """Write straight to the database (``?`` placeholders), as another process would."""
    if database_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(database_url) as conn:
            conn.execute(sql.replace("?", "%s"), params)
        return
    import sqlite3

    conn = sqlite3.connect(database_url.split(":///", 1)[1])
    try:
        with conn:
            conn.execute(sql, params)
    finally:
        conn.close()


def without_timestamp(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "timestamp"}
