"""A customer's sessions: list with states, expire one now, and a caller-chosen lifetime."""

from __future__ import annotations

from typing import Any

import pytest

from imprint_sessions.clock import ManualClock, rfc3339_ms
from partner_api.conftest import Caller, random_id, walk


async def exchange(caller: Caller, client_secret: str) -> Any:
    return await caller.harness.client.post(
        "/v2/client/exchange", json={"client_secret": client_secret}
    )


async def sessions_of(caller: Caller, customer_id: str) -> dict[str, dict[str, Any]]:
    page = (await caller.get(f"/v2/customers/{customer_id}/customer_sessions")).json()
    return {s["id"]: s for s in page["data"]}


async def test_list_shows_each_state_and_never_a_secret(caller: Caller, clock: ManualClock) -> None:
    short = await caller.new_session(partner_customer_id="CUST_STATES", expires_in=60)
    active = await caller.new_session(partner_customer_id="CUST_STATES", source="pos")
    consumed = await caller.new_session(partner_customer_id="CUST_STATES")
    revoked = await caller.new_session(partner_customer_id="CUST_STATES", metadata={"store": "1"})
    assert (await exchange(caller, consumed["client_secret"])).status_code == 200
    assert (await caller.post(f"/v2/customer_sessions/{revoked['id']}/expire")).status_code == 200
    clock.advance(seconds=61)
    [customer_id] = [
        c["id"]
        for c in (
            await caller.get("/v2/customers", params={"partner_customer_id": "CUST_STATES"})
        ).json()["data"]
    ]
    response = await caller.get(f"/v2/customers/{customer_id}/customer_sessions")
    assert response.status_code == 200
    assert "client_secret" not in response.text
    assert "ics_" not in response.text
    states = {s["id"]: s for s in response.json()["data"]}
    assert {s["id"]: s["state"] for s in states.values()} == {
        short["id"]: "expired",
        active["id"]: "active",
        consumed["id"]: "consumed",
        revoked["id"]: "revoked",
    }
    assert states[active["id"]]["source"] == "pos"
    assert states[active["id"]]["expires_at"] == active["expires_at"]
    assert "consumed_at" in states[consumed["id"]]
    assert "revoked_at" not in states[consumed["id"]]
    assert states[revoked["id"]]["metadata"] == {"store": "1"}
    assert set(states[short["id"]]) == {"id", "state", "created_at", "expires_at"}


async def test_consumed_session_stays_consumed_after_it_expires(
    caller: Caller, clock: ManualClock
) -> None:
    customer_id = await caller.new_customer("CUST_USED")
    session = await caller.new_session(partner_customer_id="CUST_USED")
    await exchange(caller, session["client_secret"])
    clock.advance(seconds=3600)
    assert (await sessions_of(caller, customer_id))[session["id"]]["state"] == "consumed"


async def test_13_sessions_walked_5_at_a_time_come_in_order(
    caller: Caller, clock: ManualClock
) -> None:
    customer_id = await caller.new_customer("CUST_MANY")  # its first session
    made = []
    for i in range(12):
        made.append((await caller.new_session(partner_customer_id="CUST_MANY"))["id"])
        if i % 4 == 0:
            clock.advance(ms=1)
    await caller.new_session(partner_customer_id="CUST_OTHER")  # another customer's
    pages = await walk(caller, f"/v2/customers/{customer_id}/customer_sessions", limit=5)
    assert [len(p["data"]) for p in pages] == [5, 5, 3]
    assert [p["has_more"] for p in pages] == [True, True, False]
    assert {p["total"] for p in pages} == {13}
    listed = [s for page in pages for s in page["data"]]
    assert set(made) < {s["id"] for s in listed}
    keys = [(s["created_at"], s["id"]) for s in listed]
    assert keys == sorted(keys)


async def test_expire_revokes_now_and_the_secret_can_no_longer_be_exchanged(
    caller: Caller, clock: ManualClock
) -> None:
    session = await caller.new_session()
    clock.advance(seconds=10)
    response = await caller.post(f"/v2/customer_sessions/{session['id']}/expire")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "revoked"
    assert body["revoked_at"] == rfc3339_ms(clock.now_ms())
    assert body["expires_at"] == session["expires_at"]
    assert "client_secret" not in response.text
    refused = await exchange(caller, session["client_secret"])
    assert refused.status_code == 401
    assert refused.json()["error_code"] == "INVALID_CLIENT_SECRET"


async def test_expire_cuts_off_a_client_credential_already_exchanged(caller: Caller) -> None:
    session = await caller.new_session()
    token = (await exchange(caller, session["client_secret"])).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (
        await caller.harness.client.get("/v2/client/session", headers=bearer)
    ).status_code == 200
    expired = await caller.post(f"/v2/customer_sessions/{session['id']}/expire")
    assert expired.json()["state"] == "revoked"
    after = await caller.harness.client.get("/v2/client/session", headers=bearer)
    assert after.status_code == 401


async def test_expire_twice_keeps_the_first_revocation(caller: Caller, clock: ManualClock) -> None:
    session = await caller.new_session()
    first = (await caller.post(f"/v2/customer_sessions/{session['id']}/expire")).json()
    clock.advance(seconds=5)
    second = await caller.post(f"/v2/customer_sessions/{session['id']}/expire")
    assert second.status_code == 200
    assert second.json() == first


async def test_expiring_a_session_past_its_lifetime_leaves_it_expired(
    caller: Caller, clock: ManualClock
) -> None:
    session = await caller.new_session(expires_in=60)
    clock.advance(seconds=60)
    body = (await caller.post(f"/v2/customer_sessions/{session['id']}/expire")).json()
    assert body["state"] == "expired"
    assert "revoked_at" not in body


async def test_retrieve_after_expire_keeps_the_seed_shape(caller: Caller) -> None:
    session = await caller.new_session(metadata={"a": 1})
    await caller.post(f"/v2/customer_sessions/{session['id']}/expire")
    fetched = await caller.get(f"/v2/customer_sessions/{session['id']}")
    assert fetched.json() == session


async def test_expire_of_another_partners_session_is_the_same_404_and_changes_nothing(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await intruder.new_session(partner_customer_id="CUST_VICTIM")
    missing = random_id()
    stolen = await caller.post(f"/v2/customer_sessions/{theirs['id']}/expire")
    absent = await caller.post(f"/v2/customer_sessions/{missing}/expire")
    assert stolen.status_code == absent.status_code == 404
    assert stolen.json() == {
        "type": "SESSION_NOT_FOUND_ERROR",
        "message": f"Session not found for provided ID: {theirs['id']}",
        "param": "session_id",
    }
    assert absent.json()["message"] == f"Session not found for provided ID: {missing}"
    customer_id = (
        await intruder.get("/v2/customers", params={"partner_customer_id": "CUST_VICTIM"})
    ).json()["data"][0]["id"]
    assert (await sessions_of(intruder, customer_id))[theirs["id"]]["state"] == "active"
    assert (await exchange(intruder, theirs["client_secret"])).status_code == 200


async def test_another_partners_customers_sessions_are_not_found(
    caller: Caller, intruder: Caller
) -> None:
    theirs = await intruder.new_customer()
    stolen = await caller.get(f"/v2/customers/{theirs}/customer_sessions")
    absent = await caller.get(f"/v2/customers/{random_id()}/customer_sessions")
    assert stolen.status_code == absent.status_code == 404
    assert stolen.json()["type"] == absent.json()["type"] == "CUSTOMER_NOT_FOUND_ERROR"
    assert stolen.json()["message"] == f"Customer not found for provided ID: {theirs}"


async def test_starting_after_another_customers_session_is_400(caller: Caller) -> None:
    customer_id = await caller.new_customer("CUST_ONE")
    other = await caller.new_session(partner_customer_id="CUST_TWO")
    response = await caller.get(
        f"/v2/customers/{customer_id}/customer_sessions", params={"starting_after": other["id"]}
    )
    assert response.status_code == 400
    assert response.json()["details"] == [
        "starting_after: must be the id of one of this customer's sessions"
    ]


async def test_session_ids_over_255_characters_are_400(caller: Caller) -> None:
    too_long = "x" * 256
    for response in (
        await caller.post(f"/v2/customer_sessions/{too_long}/expire"),
        await caller.get(f"/v2/customer_sessions/{too_long}"),
    ):
        assert response.status_code == 400
        assert response.json()["details"] == ["session_id: must be at most 255 characters"]


# -- a caller-chosen lifetime on create ------------------------------------------------------------


@pytest.mark.parametrize("seconds", [60, 900, 86_400])
async def test_expires_in_within_bounds_sets_the_lifetime(
    caller: Caller, clock: ManualClock, seconds: int
) -> None:
    session = await caller.new_session(expires_in=seconds)
    assert session["expires_at"] == rfc3339_ms(clock.now_ms() + seconds * 1000)
    assert set(session) == {"id", "client_secret", "expires_at"}


async def test_without_expires_in_the_deployment_default_applies(
    caller: Caller, clock: ManualClock
) -> None:
    session = await caller.new_session()
    default = caller.harness.services.settings.session_ttl_seconds
    assert session["expires_at"] == rfc3339_ms(clock.now_ms() + default * 1000)


@pytest.mark.parametrize(
    ("expires_in", "detail"),
    [
        (59, "expires_in: must be greater than or equal to 60"),
        (86_401, "expires_in: must be less than or equal to 86400"),
        ("900", "expires_in: must be an integer"),
        (900.5, "expires_in: must be an integer"),
        (True, "expires_in: must be an integer"),
    ],
)
async def test_expires_in_outside_bounds_is_400(
    caller: Caller, expires_in: Any, detail: str
) -> None:
    response = await caller.post("/v2/customer_sessions", {"expires_in": expires_in})
    assert response.status_code == 400
    assert response.json()["details"] == [detail]


async def test_session_with_a_short_lifetime_cannot_be_exchanged_after_it(
    caller: Caller, clock: ManualClock
) -> None:
    session = await caller.new_session(expires_in=60)
    clock.advance(seconds=60)
    assert (await exchange(caller, session["client_secret"])).status_code == 401
