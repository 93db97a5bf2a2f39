"""Test clocks, on SQLite and PostgreSQL: a throwaway sandbox created with one reads its time as
now everywhere (session and secret expiry, one-time codes, client credentials, idempotency keys,
webhook retries) while every other partner keeps real time; it only moves forward."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import _REGISTRY, Harness
from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.domain import test_clocks
from imprint_sessions.domain.phone_verification import SANDBOX_CODE
from imprint_sessions.domain.test_clocks import EARLIEST_AT, LATEST_AT
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.validation import rfc3339_epoch_ms
from integration.client_api.flow import (
    PHONE,
    PROFILE,
    bearer,
    confirm_code,
    exchange,
    update_profile,
)

SANDBOXES = "/v2/test_helpers/sandboxes"
START = "2031-05-01T09:00:00.000Z"
START_MS = rfc3339_epoch_ms(START)
HOUR_MS = 3_600_000


@pytest.fixture
def database_url(isolated_database_url: str) -> str:
    """A database of its own: the webhook test's worker claims every due delivery it sees."""
    return isolated_database_url


class Clocked:
    """A sandbox with a test clock, its key, and its parent's."""

    def __init__(self, h: Harness, created: dict[str, Any], parent_key: str) -> None:
        self.h = h
        self.id: str = created["id"]
        self.key: str = created["api_key"]
        self.parent_key = parent_key
        self.created = created

    @property
    def auth(self) -> tuple[str, str]:
        return (self.key, "")

    async def advance(self, key: str | None = None, **body: Any) -> Any:
        return await self.h.client.post(
            f"{SANDBOXES}/{self.id}/test_clock/advance", json=body, auth=(key or self.key, "")
        )

    async def session(self, **body: Any) -> dict[str, Any]:
        response = await self.h.client.post("/v2/customer_sessions", json=body, auth=self.auth)
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()
        return created

    async def summary(self, partner_customer_id: str, session_id: str) -> dict[str, Any]:
        """The session as the customer's session list shows it (with ``state``)."""
        return await summary(self.h, self.key, partner_customer_id, session_id)


async def summary(
    h: Harness, key: str, partner_customer_id: str, session_id: str
) -> dict[str, Any]:
    found = await h.client.post(
        "/v2/customers", json={"partner_customer_id": partner_customer_id}, auth=(key, "")
    )
    assert found.status_code == 200, found.text
    customer_id = found.json()["data"][0]["id"]
    listed = await h.client.get(f"/v2/customers/{customer_id}/customer_sessions", auth=(key, ""))
    assert listed.status_code == 200, listed.text
    (session,) = [s for s in listed.json()["data"] if s["id"] == session_id]
    return dict(session)


async def new_clocked(h: Harness, test_clock: dict[str, Any] | None = None) -> Clocked:
    _, parent_key = await h.new_partner()
    response = await h.client.post(
        SANDBOXES,
        json={"test_clock": {"frozen_time": START} if test_clock is None else test_clock},
        auth=(parent_key, ""),
    )
    assert response.status_code == 200, response.text
    _REGISTRY.remember(response.json()["api_key"])
    return Clocked(h, response.json(), parent_key)


async def test_a_sandbox_made_with_a_clock_shows_it_and_only_it_may_read_it(
    harness: Harness,
) -> None:
    sandbox = await new_clocked(harness)
    expected = {"sandbox_id": sandbox.id, "frozen_time": START}
    assert sandbox.created["test_clock"] == expected
    for key in (sandbox.key, sandbox.parent_key):  # the sandbox and its parent
        got = await harness.client.get(f"{SANDBOXES}/{sandbox.id}/test_clock", auth=(key, ""))
        assert got.status_code == 200, got.text
        assert got.json() == expected
    listed = await harness.client.get(SANDBOXES, auth=(sandbox.parent_key, ""))
    assert listed.json()["data"][0]["test_clock"] == expected
    _, stranger = await harness.new_partner()
    hidden = await harness.client.get(f"{SANDBOXES}/{sandbox.id}/test_clock", auth=(stranger, ""))
    assert hidden.status_code == 404
    assert hidden.json()["type"] == "SANDBOX_NOT_FOUND_ERROR"
    assert (await sandbox.advance(stranger, seconds=60)).status_code == 404


async def test_a_clock_given_no_time_starts_at_now_and_a_sandbox_without_one_has_none(
    harness: Harness, clock: Any
) -> None:
    sandbox = await new_clocked(harness, {})
    assert sandbox.created["test_clock"]["frozen_time"] == rfc3339_ms(clock.now_ms())
    _, parent_key = await harness.new_partner()
    plain = await harness.client.post(SANDBOXES, json={}, auth=(parent_key, ""))
    _REGISTRY.remember(plain.json()["api_key"])
    assert "test_clock" not in plain.json()
    got = await harness.client.get(
        f"{SANDBOXES}/{plain.json()['id']}/test_clock", auth=(parent_key, "")
    )
    assert got.status_code == 404
    assert got.json()["type"] == "TEST_CLOCK_NOT_FOUND_ERROR"


async def test_a_clock_advances_by_seconds_or_to_a_time_and_never_back(harness: Harness) -> None:
    sandbox = await new_clocked(harness)
    by = await sandbox.advance(seconds=90)
    assert by.status_code == 200, by.text
    assert by.json()["frozen_time"] == rfc3339_ms(START_MS + 90_000)
    later = rfc3339_ms(START_MS + 5 * HOUR_MS)
    to = await sandbox.advance(sandbox.parent_key, frozen_time=later)
    assert to.json() == {"sandbox_id": sandbox.id, "frozen_time": later}
    assert (await sandbox.advance(frozen_time=later)).status_code == 200  # a retry: no change
    back = await sandbox.advance(frozen_time=START)
    assert back.status_code == 409
    assert back.json()["type"] == "TEST_CLOCK_ADVANCE_ERROR"
    assert f"shows ({later})" in back.json()["message"]
    assert "only moves forward" in back.json()["message"]
    for body in ({}, {"seconds": 1, "frozen_time": later}):
        refused = await sandbox.advance(**body)
        assert refused.status_code == 400, body
        assert refused.json()["details"] == [
            "frozen_time: give exactly one of frozen_time and seconds"
        ]
    past_the_end = await sandbox.advance(frozen_time="9999-12-31T23:59:59.999Z")
    assert past_the_end.status_code == 200
    past_it = await sandbox.advance(seconds=1)
    assert past_it.status_code == 409
    assert past_it.json()["type"] == "TEST_CLOCK_ADVANCE_ERROR"
    got = await harness.client.get(f"{SANDBOXES}/{sandbox.id}/test_clock", auth=sandbox.auth)
    assert got.json()["frozen_time"] == "9999-12-31T23:59:59.999Z"


async def test_a_clock_time_is_utc_from_1970_to_9999_as_the_schema_says(harness: Harness) -> None:
    _, parent_key = await harness.new_partner()
    for frozen_time in (
        "1969-12-31T23:59:59Z",
        "2024-02-30T00:00:00Z",
        "2031-05-01T09:00:00+02:00",  # an offset: the schema says UTC
        "9999-12-31T23:00:00-05:00",  # would be the year 10000 in UTC
        "2031-05-01t09:00:00z",
        "soon",
    ):
        response = await harness.client.post(
            SANDBOXES, json={"test_clock": {"frozen_time": frozen_time}}, auth=(parent_key, "")
        )
        assert response.status_code == 400, frozen_time
        assert response.json()["details"] == [
            "test_clock.frozen_time: must be an RFC-3339 date-time in UTC from 1970 to 9999, "
            "e.g. 2031-05-01T09:00:00Z"
        ]
    last = await harness.client.post(
        SANDBOXES,
        json={"test_clock": {"frozen_time": "9999-12-31T23:59:59.9999999Z"}},
        auth=(parent_key, ""),
    )
    assert last.status_code == 200, last.text  # a finer fraction is dropped, not rounded up
    _REGISTRY.remember(last.json()["api_key"])
    assert last.json()["test_clock"]["frozen_time"] == "9999-12-31T23:59:59.999Z"


async def test_sessions_are_stamped_and_expire_by_the_clock_while_others_keep_real_time(
    harness: Harness, clock: Any
) -> None:
    sandbox = await new_clocked(harness)
    session = await sandbox.session(partner_customer_id="CUST_clock")
    assert session["expires_at"] == rfc3339_ms(START_MS + 1800 * 1000)
    assert (await sandbox.summary("CUST_clock", session["id"]))["created_at"] == START
    _, other_key = await harness.new_partner()
    other = await harness.client.post(
        "/v2/customer_sessions", json={"partner_customer_id": "CUST_real"}, auth=(other_key, "")
    )
    assert other.json()["expires_at"] == rfc3339_ms(clock.now_ms() + 1800 * 1000)

    clock.advance(seconds=2 * 3600)  # real time passes: the sandbox's session does not expire
    assert (await sandbox.summary("CUST_clock", session["id"]))["state"] == "active"
    fresh = await sandbox.session()
    assert (await sandbox.advance(seconds=1801)).status_code == 200
    assert (await sandbox.summary("CUST_clock", session["id"]))["state"] == "expired"
    refused = await exchange(harness, session["client_secret"])
    assert refused.status_code == 401
    other_summary = await summary(harness, other_key, "CUST_real", other.json()["id"])
    assert other_summary["state"] == "expired"  # by real time, two hours on
    # A secret is judged by its own partner's clock: this one is expired there too.
    assert (await exchange(harness, fresh["client_secret"])).status_code == 401
    audit = await harness.client.get(
        "/v2/audit_events",
        params={"type": "customer_session.exchange_refused"},
        auth=sandbox.auth,
    )
    reasons = {event["object_id"]: event["details"]["reason"] for event in audit.json()["data"]}
    assert reasons == {session["id"]: "expired", fresh["id"]: "expired"}
    assert {event["created_at"] for event in audit.json()["data"]} == {
        rfc3339_ms(START_MS + 1801 * 1000)
    }


async def test_a_secret_exchanged_on_the_clock_gives_a_credential_that_expires_by_it(
    harness: Harness, clock: Any
) -> None:
    sandbox = await new_clocked(harness)
    session = await sandbox.session()
    clock.advance(seconds=3600)  # real time past the secret's 30 minutes: the clock says no
    exchanged = await exchange(harness, session["client_secret"])
    assert exchanged.status_code == 200, exchanged.text
    credential = exchanged.json()
    ttl_ms = harness.services.settings.client_token_ttl_seconds * 1000
    assert credential["expires_at"] == rfc3339_ms(START_MS + ttl_ms)
    token = credential["access_token"]
    assert (
        await harness.client.get("/v2/client/session", headers=bearer(token))
    ).status_code == 200
    assert (await sandbox.advance(seconds=ttl_ms // 1000)).status_code == 200
    after = await harness.client.get("/v2/client/session", headers=bearer(token))
    assert after.status_code == 401
    audit = await harness.client.get(
        "/v2/audit_events", params={"type": "customer_session.exchanged"}, auth=sandbox.auth
    )
    assert [event["created_at"] for event in audit.json()["data"]] == [START]


async def test_one_time_codes_expire_by_the_clock(harness: Harness, clock: Any) -> None:
    sandbox = await new_clocked(harness)
    session = await sandbox.session()
    token = (await exchange(harness, session["client_secret"])).json()["access_token"]
    updated = await update_profile(harness, token, {**PROFILE, "phone": PHONE})
    assert updated.status_code == 200, updated.text
    started = await harness.client.post("/v2/client/phone/verification", headers=bearer(token))
    assert started.status_code == 200, started.text
    clock.advance(seconds=3600)  # real time past the code's 10 minutes: the clock says no
    otp_ttl = harness.services.settings.otp_ttl_seconds
    assert (await sandbox.advance(seconds=otp_ttl - 1)).status_code == 200
    assert (await sandbox.advance(seconds=2)).status_code == 200
    expired = await confirm_code(harness, token, SANDBOX_CODE)
    assert expired.status_code == 400, expired.text
    assert "expired" in expired.text
    again = await harness.client.post("/v2/client/phone/verification", headers=bearer(token))
    assert again.status_code == 200, again.text
    confirmed = await confirm_code(harness, token, SANDBOX_CODE)
    assert confirmed.status_code == 200, confirmed.text


async def test_idempotency_keys_are_kept_by_the_clock(harness: Harness, clock: Any) -> None:
    sandbox = await new_clocked(harness)

    async def create(body: dict[str, Any]) -> Any:
        return await harness.client.post(
            "/v2/customer_sessions",
            json=body,
            auth=sandbox.auth,
            headers={"Idempotency-Key": "order-1"},
        )

    first = await create({"partner_customer_id": "CUST_a"})
    assert first.status_code == 200
    clock.advance(seconds=3 * 86_400)  # real time past the key's 24 hours: kept by the clock
    assert (await create({"partner_customer_id": "CUST_b"})).status_code == 422
    # Sweeping by real time, for everyone, leaves a clocked sandbox's keys alone.
    swept = await harness.services.database.repositories.delete_expired_idempotency_keys(
        now=clock.now_ms(), limit=1000
    )
    assert swept == 0
    replay = await create({"partner_customer_id": "CUST_a"})
    assert replay.json()["id"] == first.json()["id"]
    assert (await sandbox.advance(seconds=86_400)).status_code == 200
    after = await create({"partner_customer_id": "CUST_b"})
    assert after.status_code == 200, after.text  # expired by the clock: as if never used
    assert after.json()["id"] != first.json()["id"]


async def test_a_request_on_the_clock_leaves_the_next_one_on_real_time(
    harness: Harness, clock: Any
) -> None:
    sandbox = await new_clocked(harness)
    await sandbox.session()
    assert harness.services.clock.now_ms() == clock.now_ms()
    _, other_key = await harness.new_partner()
    other = await harness.client.post("/v2/customer_sessions", json={}, auth=(other_key, ""))
    assert other.json()["expires_at"] == rfc3339_ms(clock.now_ms() + 1800 * 1000)


async def test_the_real_time_sweep_leaves_a_clock_in_the_past_its_idempotency_keys(
    harness: Harness, clock: Any
) -> None:
    sandbox = await new_clocked(harness, {"frozen_time": "2020-01-01T00:00:00Z"})
    _, other_key = await harness.new_partner()

    async def create(key: str, customer: str) -> Any:
        return await harness.client.post(
            "/v2/customer_sessions",
            json={"partner_customer_id": customer},
            auth=(key, ""),
            headers={"Idempotency-Key": "order-1"},
        )

    assert (await create(sandbox.key, "CUST_a")).status_code == 200
    assert (await create(other_key, "CUST_a")).status_code == 200
    clock.advance(seconds=2 * 86_400)  # the other partner's key is past its 24 hours
    swept = await harness.services.database.repositories.delete_expired_idempotency_keys(
        now=clock.now_ms(), limit=1000
    )
    assert swept == 1  # the other partner's; the sandbox's is six years "expired" by real time
    assert (await create(sandbox.key, "CUST_b")).status_code == 422  # kept: by its clock, live


async def test_the_served_schema_says_exactly_one_of_the_two_and_a_body_is_required(
    harness: Harness,
) -> None:
    """Regression (schemathesis, ST202): an advance with no body at all was schema-valid, as the
    body was published optional, and answered 400."""
    spec = (await harness.client.get("/openapi.json")).json()
    body = spec["paths"][f"{SANDBOXES}/{{sandbox_id}}/test_clock/advance"]["post"]["requestBody"]
    assert body["required"] is True
    schema = spec["components"]["schemas"]["AdvanceTestClockRequest"]
    assert schema["oneOf"] == [{"required": ["frozen_time"]}, {"required": ["seconds"]}]
    sandbox = await new_clocked(harness)
    empty = await harness.client.post(
        f"{SANDBOXES}/{sandbox.id}/test_clock/advance", auth=sandbox.auth
    )
    assert empty.status_code == 400
    assert empty.json()["details"] == ["frozen_time: give exactly one of frozen_time and seconds"]


async def test_a_time_the_timestamps_cannot_show_is_refused_by_the_domain_too(
    harness: Harness,
) -> None:
    """The API's pattern keeps such times out; the CLI reaches the domain with any RFC-3339 time
    (an offset may take it past 9999 in UTC), and the domain refuses it with one clear line."""
    for at in (EARLIEST_AT - 1, LATEST_AT + 1):
        with pytest.raises(InvalidRequest, match=r"from 1970-01-01T00:00:00Z to 9999"):
            test_clocks.starting_time(at, clock=harness.services.clock)
    sandbox = await new_clocked(harness)
    repos = harness.services.database.repositories
    with pytest.raises(InvalidRequest, match=r"^frozen_time: must be from 1970"):
        await test_clocks.advance_test_clock(
            repos, caller_id=None, sandbox_id=sandbox.id, to=LATEST_AT + 1
        )
    moved = await test_clocks.advance_test_clock(
        repos, caller_id=None, sandbox_id=sandbox.id, to=LATEST_AT
    )
    assert moved.test_clock_at == LATEST_AT  # an operator (caller None) may advance any
