"""The client credential: who may call the client API, for how long, and for whose data."""

from __future__ import annotations

from typing import Any

from client_api.flow import (
    CARD,
    PHONE,
    applicant,
    apply,
    bearer,
    client_token,
    execute,
    without_timestamp,
)
from conftest import Harness
from imprint_sessions.clock import ManualClock

CREDENTIAL_REQUIRED = {
    "path": "/v2/client/session",
    "details": ["a valid client credential is required"],
    "error": "Unauthorized",
    "status": 401,
}


async def get_session(h: Harness, headers: dict[str, str]) -> Any:
    return await h.client.get("/v2/client/session", headers=headers)


async def test_every_bad_credential_gets_the_same_401(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    variants = {
        "missing": {},
        "wrong scheme": {"Authorization": f"Token {token}"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": bearer("ict_garbage"),
        "tampered": bearer(token[:-2] + ("AA" if token[-2:] != "AA" else "BB")),
        "partner api key": bearer(key),
        "partner api key as basic": {},
    }
    for name, headers in variants.items():
        response = await get_session(harness, headers)
        assert response.status_code == 401, name
        assert without_timestamp(response.json()) == CREDENTIAL_REQUIRED, name
    basic = await harness.client.get("/v2/client/session", auth=(key, ""))
    assert basic.status_code == 401


async def test_partner_api_key_is_refused_on_every_client_route(harness: Harness) -> None:
    _, key = await harness.new_partner()
    routes = [
        ("GET", "/v2/client/session"),
        ("GET", "/v2/client/profile"),
        ("POST", "/v2/client/profile"),
        ("POST", "/v2/client/phone/verification"),
        ("POST", "/v2/client/applications"),
        ("GET", "/v2/client/applications/current"),
        ("GET", "/v2/client/payment_methods"),
    ]
    for method, path in routes:
        response = await harness.client.request(method, path, json={}, headers=bearer(key))
        assert response.status_code == 401, path
        assert response.json()["details"] == ["a valid client credential is required"]


async def test_client_credential_is_refused_on_the_partner_api(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    response = await harness.client.post("/v2/customer_sessions", json={}, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["details"] == ["a valid API key is required"]


async def test_credential_one_ms_before_expiry_works_and_at_expiry_is_401(
    harness: Harness, clock: ManualClock
) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    ttl_ms = harness.services.settings.client_token_ttl_seconds * 1000
    clock.advance(ms=ttl_ms - 1)
    assert (await get_session(harness, bearer(token))).status_code == 200
    clock.advance(ms=1)
    expired = await get_session(harness, bearer(token))
    assert expired.status_code == 401
    assert without_timestamp(expired.json()) == CREDENTIAL_REQUIRED


async def test_credential_outlives_the_secret_it_was_exchanged_for(
    harness: Harness, clock: ManualClock
) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    clock.advance(seconds=harness.services.settings.session_ttl_seconds + 60)
    assert (await get_session(harness, bearer(token))).status_code == 200


async def test_revoked_session_stops_its_credential_at_once(
    harness: Harness, database_url: str
) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    me = (await get_session(harness, bearer(token))).json()
    execute(
        database_url,
        "UPDATE customer_sessions SET revoked_at = 1 WHERE id = ?",
        me["customer_session_id"],
    )
    assert (await get_session(harness, bearer(token))).status_code == 401


async def test_session_reports_the_customer_partner_and_transaction(harness: Harness) -> None:
    _, key = await harness.new_partner(merchant_keys=["shop"])
    token = await client_token(
        harness,
        key,
        {
            "partner_customer_id": "CUST_1",
            "transaction_amount": 34000,
            "customer_history": {"preferred_language": "es"},
        },
    )
    body = (await get_session(harness, bearer(token))).json()
    assert body["partner_customer_id"] == "CUST_1"
    assert body["merchant_key"] == "shop"
    assert body["transaction_amount"] == 34000
    assert body["transaction_currency"] == "USD"
    assert body["preferred_language"] == "es"
    assert body["partner_name"].startswith("partner ")
    assert body["application"] is None


async def test_other_customers_application_and_card_are_not_found(harness: Harness) -> None:
    _, key = await harness.new_partner()
    owner = await applicant(harness, key, phone=PHONE)
    intruder = await applicant(harness, key, phone="+14155550123")
    application = (await apply(harness, owner, CARD)).json()
    stolen_accept = await harness.client.post(
        f"/v2/client/applications/{application['id']}/accept", headers=bearer(intruder)
    )
    assert stolen_accept.status_code == 404
    assert stolen_accept.json() == {
        "type": "APPLICATION_NOT_FOUND_ERROR",
        "message": f"Application not found for provided ID: {application['id']}",
        "param": "application_id",
    }
    accepted = await harness.client.post(
        f"/v2/client/applications/{application['id']}/accept", headers=bearer(owner)
    )
    card_id = accepted.json()["payment_method"]["id"]
    for action in ("lock", "unlock"):
        stolen = await harness.client.post(
            f"/v2/client/payment_methods/{card_id}/{action}", headers=bearer(intruder)
        )
        assert stolen.status_code == 404
        assert stolen.json()["type"] == "PAYMENT_METHOD_NOT_FOUND_ERROR"
    listed = await harness.client.get("/v2/client/payment_methods", headers=bearer(intruder))
    assert listed.json() == {"data": []}
    current = await harness.client.get("/v2/client/applications/current", headers=bearer(intruder))
    assert current.status_code == 404


async def test_another_partners_credential_cannot_see_this_partners_data(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    _, other_key = await harness.new_partner()
    owner = await applicant(harness, key)
    application = (await apply(harness, owner, CARD)).json()
    other = await applicant(harness, other_key)  # same phone, another partner
    response = await harness.client.post(
        f"/v2/client/applications/{application['id']}/accept", headers=bearer(other)
    )
    assert response.status_code == 404
    fresh = (await apply(harness, other, CARD)).json()
    assert fresh["id"] != application["id"]  # no resuming across partners
