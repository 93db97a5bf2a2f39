"""GET/POST /v2/client/profile: the customer's own profile, pre-filled and validated."""

from __future__ import annotations

from client_api.flow import (
    ADDRESS,
    PHONE,
    PROFILE,
    bearer,
    client_token,
    update_profile,
    verify_phone,
)
from conftest import DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock

HISTORY = {
    "email": "history@example.com",
    "first_name": "Hist",
    "phone": PHONE,
    "address": {"city": "Oakland", "country": "USA"},
    "loyalty_tier": "GOLD",
}


async def test_new_customer_profile_comes_from_history_and_prefill_is_empty(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key, {"customer_history": HISTORY})
    profile = (await harness.client.get("/v2/client/profile", headers=bearer(token))).json()
    assert profile["email"] == "history@example.com"
    assert profile["phone"] == PHONE
    assert profile["phone_verified"] is False
    assert profile["address"] == {
        "street_line1": None,
        "street_line2": None,
        "city": "Oakland",
        "state": None,
        "postal_code": None,
        "country": "USA",
    }
    assert profile["date_of_birth"] is None
    assert profile["prefill"] == {}


async def test_prefill_offers_history_fields_an_existing_profile_lacks(harness: Harness) -> None:
    _, key = await harness.new_partner()
    await client_token(harness, key, {"partner_customer_id": "C1"})  # profile without history
    token = await client_token(
        harness, key, {"partner_customer_id": "C1", "customer_history": HISTORY}
    )
    profile = (await harness.client.get("/v2/client/profile", headers=bearer(token))).json()
    assert profile["email"] is None
    assert profile["prefill"] == {
        "email": "history@example.com",
        "first_name": "Hist",
        "phone": PHONE,
        "address": {
            "street_line1": None,
            "street_line2": None,
            "city": "Oakland",
            "state": None,
            "postal_code": None,
            "country": "USA",
        },
    }
    assert profile["partner_customer_id"] == "C1"


async def test_partial_update_changes_only_the_fields_sent(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    await update_profile(harness, token, PROFILE)
    response = await update_profile(harness, token, {"first_name": "Grace"})
    assert response.status_code == 200
    profile = response.json()
    assert profile["first_name"] == "Grace"
    assert profile["last_name"] == PROFILE["last_name"]
    assert profile["date_of_birth"] == {"year": 1990, "month": 7, "day": 14}
    assert profile["address"]["street_line1"] == ADDRESS["street_line1"]
    fetched = (await harness.client.get("/v2/client/profile", headers=bearer(token))).json()
    assert fetched == profile


async def test_null_clears_a_field_and_address_is_replaced_whole(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    await update_profile(harness, token, PROFILE)
    profile = (
        await update_profile(harness, token, {"email": None, "address": {"country": "CAN"}})
    ).json()
    assert profile["email"] is None
    assert profile["address"]["country"] == "CAN"
    assert profile["address"]["street_line1"] is None


async def test_changing_the_phone_clears_its_verification(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    await update_profile(harness, token, {"phone": PHONE})
    await verify_phone(harness, token)
    same = (await update_profile(harness, token, {"phone": PHONE})).json()
    assert same["phone_verified"] is True
    changed = (await update_profile(harness, token, {"phone": "+14155550123"})).json()
    assert changed["phone_verified"] is False
    assert (
        inspector.scalar("SELECT phone_verified_at FROM customers WHERE id = ?", changed["id"])
        is None
    )


async def test_every_invalid_field_is_listed_in_one_400(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    response = await update_profile(
        harness,
        token,
        {
            "email": "nope",
            "phone": "555",
            "preferred_language": "english",
            "address": {"country": "US"},
            "date_of_birth": {"year": 1990, "month": 2, "day": 30},
            "first_name": "x" * 101,
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"path", "details", "error", "status", "timestamp"}
    assert body["path"] == "/v2/client/profile"
    assert body["error"] == "Bad Request"
    assert sorted(body["details"]) == sorted(
        [
            "email: must be a well-formed email address",
            "phone: must be a valid phone number in E.164 format",
            "preferred_language: must be an ISO 639-1 language code",
            "address.country: must be an ISO-3166-1 alpha-3 country code",
            "date_of_birth: must be a real date",
            "first_name: must be at most 100 characters",
        ]
    )


async def test_date_of_birth_today_or_later_is_400(harness: Harness, clock: ManualClock) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    from datetime import UTC, datetime

    today = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC).date()
    response = await update_profile(
        harness,
        token,
        {"date_of_birth": {"year": today.year, "month": today.month, "day": today.day}},
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["date_of_birth: must be in the past"]


async def test_profile_update_without_json_content_type_is_400(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    response = await harness.client.post(
        "/v2/client/profile",
        content=b'{"first_name": "A"}',
        headers={**bearer(token), "content-type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["content-type: must be application/json"]
