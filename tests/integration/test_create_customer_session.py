"""POST /v2/customer_sessions over HTTP on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import uuid

import anyio

from conftest import DatabaseInspector, Harness
from imprint_sessions.clock import rfc3339_ms

UPPER_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
RFC3339_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


async def create(h: Harness, key: str, body: object = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return await h.client.post("/v2/customer_sessions", json=body, auth=(key, ""), **kwargs)


async def test_empty_object_creates_session_with_new_customer(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    response = await create(harness, key, {})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "client_secret", "expires_at"}
    assert UPPER_UUID.match(body["id"])
    assert RFC3339_MS_Z.match(body["expires_at"])
    assert body["client_secret"].startswith("ics_")
    assert inspector.count("customers", partner_id) == 1
    assert inspector.count("customer_sessions", partner_id) == 1


async def test_no_body_at_all_is_an_empty_request(harness: Harness) -> None:
    _, key = await harness.new_partner()
    response = await harness.client.post("/v2/customer_sessions", auth=(key, ""))
    assert response.status_code == 200


async def test_expires_at_is_ttl_after_creation(harness: Harness, clock) -> None:  # type: ignore[no-untyped-def]
    _, key = await harness.new_partner()
    body = (await create(harness, key, {})).json()
    ttl_ms = harness.services.settings.session_ttl_seconds * 1000
    assert body["expires_at"] == rfc3339_ms(clock.now_ms() + ttl_ms)


async def test_metadata_and_source_are_echoed_as_sent(harness: Harness) -> None:
    _, key = await harness.new_partner()
    metadata = {"store_number": "123", "nested": {"a": [1, 2.5, None, True]}, "ü": "ß"}
    body = (await create(harness, key, {"metadata": metadata, "source": "web_signup"})).json()
    assert body["metadata"] == metadata
    assert body["source"] == "web_signup"


async def test_seed_example_body_is_accepted(harness: Harness) -> None:
    _, key = await harness.new_partner()
    seed_example = {
        "partner_customer_id": "CUST_03476998",
        "transaction_amount": 34000,
        "transaction_currency": "USD",
        "customer_history": {
            "email": "customer@example.com",
            "phone": "+14155552671",
            "first_name": "John",
            "last_name": "Doe",
            "preferred_language": "en",
            "address": {
                "street_line1": "123 Main St",
                "street_line2": "Apt 4B",
                "city": "San Francisco",
                "state": "CA",
                "postal_code": "94105",
                "country": "USA",
            },
            "account_tenure": 13,
            "ltv_amount": 34000,
            "ltv_currency": "USD",
            "loyalty_tier": "GOLD",
            "account_created_at": "2025-02-13T19:08:07.000Z",
            "transaction_count": 100,
        },
        "source": "web_signup",
        "metadata": {"store_number": "123"},
    }
    response = await create(harness, key, seed_example)
    assert response.status_code == 200, response.text


async def test_session_ids_and_secrets_are_unique(harness: Harness) -> None:
    _, key = await harness.new_partner()
    bodies = [(await create(harness, key, {})).json() for _ in range(20)]
    assert len({b["id"] for b in bodies}) == 20
    assert len({b["client_secret"] for b in bodies}) == 20


async def test_same_partner_customer_id_reuses_the_customer(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    for _ in range(3):
        assert (await create(harness, key, {"partner_customer_id": "CUST_1"})).status_code == 200
    assert inspector.count("customers", partner_id) == 1
    assert inspector.count("customer_sessions", partner_id) == 3


async def test_fifty_concurrent_first_sessions_create_one_customer(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    statuses: list[int] = []

    async def one() -> None:
        response = await create(harness, key, {"partner_customer_id": "CUST_RACE"})
        statuses.append(response.status_code)

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(one)
    assert statuses == [200] * 50
    assert inspector.count("customers", partner_id) == 1
    assert inspector.count("customer_sessions", partner_id) == 50


async def test_two_partners_with_the_same_partner_customer_id_get_two_customers(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    first, first_key = await harness.new_partner()
    second, second_key = await harness.new_partner()
    await create(harness, first_key, {"partner_customer_id": "SHARED"})
    await create(harness, second_key, {"partner_customer_id": "SHARED"})
    assert inspector.count("customers", first) == 1
    assert inspector.count("customers", second) == 1


def customer_of(inspector: DatabaseInspector, session_id: str) -> str:
    return str(
        inspector.scalar("SELECT customer_id FROM customer_sessions WHERE id = ?", session_id)
    ).upper()


async def test_known_customer_id_attaches_the_session(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    first = (await create(harness, key, {})).json()
    customer_id = customer_of(inspector, first["id"])
    second = await create(harness, key, {"customer_id": customer_id.lower()})
    assert second.status_code == 200
    assert customer_of(inspector, second.json()["id"]) == customer_id
    assert inspector.count("customers", partner_id) == 1


async def test_other_partners_customer_id_is_not_found_and_creates_nothing(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, owner_key = await harness.new_partner()
    intruder, intruder_key = await harness.new_partner()
    owned = (await create(harness, owner_key, {})).json()
    customer_id = customer_of(inspector, owned["id"])
    stolen = await create(harness, intruder_key, {"customer_id": customer_id})
    missing_id = str(uuid.uuid4()).upper()
    missing = await create(harness, intruder_key, {"customer_id": missing_id})
    assert stolen.status_code == missing.status_code == 404
    assert stolen.json() == {
        "type": "CUSTOMER_NOT_FOUND_ERROR",
        "message": f"Customer not found for provided ID: {customer_id}",
        "param": "customer_id",
    }
    assert set(missing.json()) == {"type", "message", "param"}
    assert inspector.count("customers", intruder) == 0
    assert inspector.count("customer_sessions", intruder) == 0


async def test_malformed_customer_id_is_not_found(harness: Harness) -> None:
    _, key = await harness.new_partner()
    response = await create(harness, key, {"customer_id": "not-a-uuid"})
    assert response.status_code == 404
    assert response.json()["type"] == "CUSTOMER_NOT_FOUND_ERROR"


async def test_customer_id_and_partner_customer_id_disagreeing_is_400(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    a = (await create(harness, key, {"partner_customer_id": "A"})).json()
    await create(harness, key, {"partner_customer_id": "B"})
    response = await create(
        harness, key, {"customer_id": customer_of(inspector, a["id"]), "partner_customer_id": "B"}
    )
    assert response.status_code == 400
    details = response.json()["details"]
    assert any(d.startswith("customer_id:") for d in details)
    assert any(d.startswith("partner_customer_id:") for d in details)
    assert inspector.count("customer_sessions", partner_id) == 2


async def test_customer_id_and_partner_customer_id_agreeing_is_200(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    a = (await create(harness, key, {"partner_customer_id": "A"})).json()
    customer_id = customer_of(inspector, a["id"])
    response = await create(harness, key, {"customer_id": customer_id, "partner_customer_id": "A"})
    assert response.status_code == 200


async def test_history_fills_profile_of_new_customer(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    history = {"email": "a@example.com", "first_name": "Ada", "address": {"country": "USA"}}
    body = (
        await create(harness, key, {"partner_customer_id": "P", "customer_history": history})
    ).json()
    customer_id = customer_of(inspector, body["id"])
    assert (
        inspector.scalar("SELECT email FROM customers WHERE id = ?", customer_id) == "a@example.com"
    )
    assert inspector.scalar("SELECT first_name FROM customers WHERE id = ?", customer_id) == "Ada"


async def test_history_never_overwrites_an_existing_profile(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    first = {"partner_customer_id": "P", "customer_history": {"email": "first@example.com"}}
    body = (await create(harness, key, first)).json()
    second = {"partner_customer_id": "P", "customer_history": {"email": "second@example.com"}}
    later = (await create(harness, key, second)).json()
    customer_id = customer_of(inspector, body["id"])
    assert (
        inspector.scalar("SELECT email FROM customers WHERE id = ?", customer_id)
        == "first@example.com"
    )
    kept = inspector.scalar(
        "SELECT customer_history FROM customer_sessions WHERE id = ?", later["id"]
    )
    assert "second@example.com" in kept


async def test_amount_without_currency_means_usd(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    body = (await create(harness, key, {"transaction_amount": 34000})).json()
    currency = inspector.scalar(
        "SELECT transaction_currency FROM customer_sessions WHERE id = ?", body["id"]
    )
    assert currency == "USD"


async def test_currency_without_amount_is_400_and_writes_nothing(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, key = await harness.new_partner()
    response = await create(harness, key, {"transaction_currency": "USD"})
    assert response.status_code == 400
    assert inspector.count("customer_sessions", partner_id) == 0
