"""POST /v2/customers/{customer_id}: partial updates, SSN handling, metadata merge, conflicts."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from conftest import DatabaseInspector
from imprint_sessions.clock import ManualClock
from imprint_sessions.validation import METADATA_MAX_KEYS
from partner_api.conftest import Caller, random_id

DOB = {"year": 1990, "month": 7, "day": 14}


async def update(caller: Caller, customer_id: str, body: Any) -> dict[str, Any]:
    response = await caller.post(f"/v2/customers/{customer_id}", body)
    assert response.status_code == 200, response.text
    updated: dict[str, Any] = response.json()
    return updated


async def test_update_changes_only_the_fields_sent(caller: Caller, clock: ManualClock) -> None:
    customer_id = await caller.new_customer(
        "CUST_PARTIAL", customer_history={"email": "old@example.com", "first_name": "Ada"}
    )
    before = (await caller.get(f"/v2/customers/{customer_id}")).json()
    clock.advance(seconds=5)
    after = await update(caller, customer_id, {"email": "new@example.com"})
    assert after["email"] == "new@example.com"
    assert after["first_name"] == "Ada"
    assert after["created_at"] == before["created_at"]
    assert after["updated_at"] > before["updated_at"]
    assert {k: v for k, v in after.items() if k not in ("email", "updated_at")} == {
        k: v for k, v in before.items() if k not in ("email", "updated_at")
    }


async def test_empty_update_changes_nothing(caller: Caller, clock: ManualClock) -> None:
    customer_id = await caller.new_customer()
    before = (await caller.get(f"/v2/customers/{customer_id}")).json()
    clock.advance(seconds=5)
    for body in ({}, None, {"unknown_field": 1}):
        assert await update(caller, customer_id, body) == before


async def test_null_field_is_refused_and_changes_nothing(caller: Caller) -> None:
    # The served spec types `email` as a string (never null): a null is a 400, like a number.
    customer_id = await caller.new_customer(customer_history={"email": "ada@example.com"})
    before = (await caller.get(f"/v2/customers/{customer_id}")).json()
    response = await caller.post(f"/v2/customers/{customer_id}", {"email": None})
    assert response.status_code == 400
    assert response.json()["details"] == ["email: must not be null (leave the field out instead)"]
    assert (await caller.get(f"/v2/customers/{customer_id}")).json() == before


async def test_address_is_replaced_as_a_whole(caller: Caller) -> None:
    customer_id = await caller.new_customer(
        customer_history={"address": {"street_line1": "1 Old Rd", "street_line2": "Apt 4B"}}
    )
    after = await update(caller, customer_id, {"address": {"street_line1": "2 New St"}})
    assert after["address"] == {"street_line1": "2 New St"}


async def test_ssn_is_kept_as_ssn4_and_never_returned(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    response = await caller.post(f"/v2/customers/{customer_id}", {"ssn": "123456789"})
    assert response.status_code == 200
    assert response.json()["ssn4"] == "6789"
    assert "123456789" not in response.text
    assert "ssn_hash" not in response.text


async def test_date_of_birth_is_returned_as_year_month_day(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    after = await update(
        caller, customer_id, {"date_of_birth": {"year": 1990, "month": 1, "day": 2}}
    )
    assert after["date_of_birth"] == {"year": 1990, "month": 1, "day": 2}


async def test_metadata_merges_and_an_empty_string_deletes_a_key(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    await update(caller, customer_id, {"metadata": {"a": "1", "b": {"nested": [1, 2]}, "c": 3}})
    after = await update(caller, customer_id, {"metadata": {"a": "", "c": 4, "d": None}})
    assert after["metadata"] == {"b": {"nested": [1, 2]}, "c": 4, "d": None}
    deleting_missing = await update(caller, customer_id, {"metadata": {"never_set": ""}})
    assert deleting_missing["metadata"] == after["metadata"]


async def test_metadata_merge_beyond_the_key_limit_is_400_and_changes_nothing(
    caller: Caller,
) -> None:
    customer_id = await caller.new_customer()
    full = {f"k{i}": i for i in range(METADATA_MAX_KEYS)}
    await update(caller, customer_id, {"metadata": full})
    response = await caller.post(f"/v2/customers/{customer_id}", {"metadata": {"one_more": 1}})
    assert response.status_code == 400
    assert response.json()["details"] == [f"metadata: must have at most {METADATA_MAX_KEYS} keys"]
    assert (await caller.get(f"/v2/customers/{customer_id}")).json()["metadata"] == full
    # Deleting one and adding one in the same update fits.
    after = await update(caller, customer_id, {"metadata": {"k0": "", "one_more": 1}})
    assert len(after["metadata"]) == METADATA_MAX_KEYS


async def test_metadata_merge_beyond_the_size_limit_is_400(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    half = {f"a{i}": "x" * 400 for i in range(12)}
    await update(caller, customer_id, {"metadata": half})
    response = await caller.post(
        f"/v2/customers/{customer_id}", {"metadata": {f"b{i}": "x" * 400 for i in range(12)}}
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["metadata: must be at most 8192 bytes when serialized"]


async def test_concurrent_metadata_merges_keep_every_key(caller: Caller) -> None:
    customer_id = await caller.new_customer()

    async def set_key(i: int) -> None:
        await update(caller, customer_id, {"metadata": {f"k{i}": i}})

    async with anyio.create_task_group() as tasks:
        for i in range(8):
            tasks.start_soon(set_key, i)
    fetched = (await caller.get(f"/v2/customers/{customer_id}")).json()
    assert fetched["metadata"] == {f"k{i}": i for i in range(8)}


async def test_update_with_every_invalid_field_lists_each_and_changes_nothing(
    caller: Caller,
) -> None:
    customer_id = await caller.new_customer()
    before = (await caller.get(f"/v2/customers/{customer_id}")).json()
    response = await caller.post(
        f"/v2/customers/{customer_id}",
        {
            "email": "not-an-email",
            "phone": "555",
            "first_name": "",
            "last_name": "x" * 101,
            "preferred_language": "english",
            "address": {"country": "US", "postal_code": "9" * 21},
            "date_of_birth": {"year": 1990, "month": 2, "day": 30},
            "ssn": "98765432",
            "partner_customer_id": "",
            "metadata": {"": 1},
        },
    )
    assert response.status_code == 400
    assert sorted(response.json()["details"]) == sorted(
        [
            "email: must be a well-formed email address",
            "phone: must be a valid phone number in E.164 format",
            "first_name: must not be empty",
            "last_name: must be at most 100 characters",
            "preferred_language: must be an ISO 639-1 language code",
            "address.country: must be an ISO-3166-1 alpha-3 country code",
            "address.postal_code: must be at most 20 characters",
            "date_of_birth: must be a real calendar date",
            "ssn: must be 9 digits, written 123456789 or 123-45-6789",
            "partner_customer_id: must not be empty",
            "metadata: keys must not be empty",
        ]
    )
    assert "98765432" not in response.text
    assert (await caller.get(f"/v2/customers/{customer_id}")).json() == before


async def test_taken_partner_customer_id_is_409_and_changes_nothing(caller: Caller) -> None:
    await caller.new_customer("CUST_TAKEN")
    customer_id = await caller.new_customer("CUST_MINE")
    response = await caller.post(
        f"/v2/customers/{customer_id}",
        {"partner_customer_id": "CUST_TAKEN", "email": "x@example.com"},
    )
    assert response.status_code == 409
    assert response.json() == {
        "type": "CUSTOMER_CONFLICT_ERROR",
        "message": "partner_customer_id: another of your customers already has 'CUST_TAKEN'",
    }
    after = (await caller.get(f"/v2/customers/{customer_id}")).json()
    assert after["partner_customer_id"] == "CUST_MINE"
    assert "email" not in after


async def test_another_partners_partner_customer_id_is_free_to_take(
    caller: Caller, intruder: Caller
) -> None:
    await intruder.new_customer("CUST_THEIRS")
    customer_id = await caller.new_customer()
    after = await update(caller, customer_id, {"partner_customer_id": "CUST_THEIRS"})
    assert after["partner_customer_id"] == "CUST_THEIRS"


async def test_new_partner_customer_id_is_what_sessions_find(caller: Caller) -> None:
    customer_id = await caller.new_customer("CUST_BEFORE")
    await update(caller, customer_id, {"partner_customer_id": "CUST_AFTER"})
    await update(caller, customer_id, {"partner_customer_id": "CUST_AFTER"})  # its own: fine
    await caller.new_session(partner_customer_id="CUST_AFTER")
    listed = (
        await caller.get("/v2/customers", params={"partner_customer_id": "CUST_AFTER"})
    ).json()
    assert [c["id"] for c in listed["data"]] == [customer_id]
    sessions = (await caller.get(f"/v2/customers/{customer_id}/customer_sessions")).json()
    assert sessions["total"] == 2


async def test_update_of_another_partners_customer_is_404_and_changes_nothing(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await intruder.new_customer("CUST_VICTIM")
    missing = random_id()
    stolen = await caller.post(f"/v2/customers/{theirs}", {"email": "evil@example.com"})
    absent = await caller.post(f"/v2/customers/{missing}", {"email": "evil@example.com"})
    assert stolen.status_code == absent.status_code == 404
    assert stolen.json() == {
        "type": "CUSTOMER_NOT_FOUND_ERROR",
        "message": f"Customer not found for provided ID: {theirs}",
        "param": "customer_id",
    }
    assert absent.json()["message"] == f"Customer not found for provided ID: {missing}"
    assert "email" not in (await intruder.get(f"/v2/customers/{theirs}")).json()


async def test_update_body_over_the_limit_is_413(caller: Caller) -> None:
    customer_id = await caller.new_customer()
    response = await caller.post(f"/v2/customers/{customer_id}", {"first_name": "x" * 70_000})
    assert response.status_code == 413


@pytest.mark.parametrize("body", [[], "text", 1])
async def test_update_body_that_is_not_an_object_is_400(caller: Caller, body: Any) -> None:
    customer_id = await caller.new_customer()
    response = await caller.post(f"/v2/customers/{customer_id}", body)
    assert response.status_code == 400
    assert response.json()["details"] == ["body: must be a JSON object"]


async def test_update_replayed_with_its_idempotency_key_changes_nothing_more(
    caller: Caller, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    customer_id = await caller.new_customer()
    headers = {"Idempotency-Key": "update-1"}
    first = await caller.post(
        f"/v2/customers/{customer_id}", {"first_name": "Ada"}, headers=headers
    )
    await update(caller, customer_id, {"first_name": "Grace"})
    clock.advance(seconds=1)
    replay = await caller.post(
        f"/v2/customers/{customer_id}", {"first_name": "Ada"}, headers=headers
    )
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    assert (await caller.get(f"/v2/customers/{customer_id}")).json()["first_name"] == "Grace"
