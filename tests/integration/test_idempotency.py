"""Idempotency-Key on POST /v2/customer_sessions, on a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import urllib.parse
from typing import Any

import anyio
import httpx
import pytest

from conftest import DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock
from imprint_sessions.domain import customer_sessions, idempotency
from imprint_sessions.errors import Conflict
from imprint_sessions.storage.records import IdempotencyClaim

URL = "/v2/customer_sessions"
BODY = {"partner_customer_id": "CUST_IDEM", "metadata": {"store_number": "123"}}
# Every column of a record, as one text, to scan for what must never be stored.
RECORD_TEXT = (
    "SELECT request_hash || '|' || status || '|' || coalesce(response_headers, '') || '|' || "
    "coalesce(response_body, '') || '|' || coalesce(response_secrets, '') "
    "FROM idempotency_keys WHERE partner_id = ?"
)


async def post(
    h: Harness, api_key: str, body: Any = BODY, *, key: str | bytes | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await h.client.post(URL, json=body, auth=(api_key, ""), headers=headers)


def records(inspector: DatabaseInspector, partner_id: str) -> int:
    return inspector.count("idempotency_keys", partner_id)


async def test_same_key_and_body_replays_the_first_response(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    first = await post(harness, api_key, key="order-1")
    second = await post(harness, api_key, key="order-1")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()  # same id, same client_secret, same expires_at
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert second.headers["request-id"] != first.headers["request-id"]
    assert inspector.count("customer_sessions", partner_id) == 1
    assert records(inspector, partner_id) == 1


async def test_replayed_secret_is_the_sessions_live_secret(harness: Harness) -> None:
    _, api_key = await harness.new_partner()
    await post(harness, api_key, key="k")
    replayed = (await post(harness, api_key, key="k")).json()
    fetched = await harness.client.get(f"{URL}/{replayed['id']}", auth=(api_key, ""))
    assert fetched.json()["client_secret"] == replayed["client_secret"]
    assert harness.services.box.verify_client_secret(replayed["client_secret"]) == replayed["id"]


async def test_record_never_holds_the_client_secret(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    await post(harness, api_key, key="scan-me")
    replayed = await post(harness, api_key, key="scan-me")
    secret = replayed.json()["client_secret"]
    assert secret.startswith("ics_")
    stored = str(inspector.scalar(RECORD_TEXT, partner_id))
    forms = [
        secret,
        secret[-64:],  # the MAC-bearing part alone
        urllib.parse.quote(secret, safe=""),
        base64.b64encode(secret.encode()).decode(),
    ]
    assert not [form for form in forms if form in stored]
    assert "ics_" not in stored
    assert replayed.json()["id"] in stored  # what the secret is re-derived from


async def test_same_key_with_a_different_body_is_422_in_the_flat_shape(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    assert (await post(harness, api_key, key="k1")).status_code == 200
    response = await post(harness, api_key, {**BODY, "source": "pos"}, key="k1")
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"path", "details", "error", "status", "timestamp"}
    assert body["path"] == URL
    assert body["details"] == ["idempotency-key: was used with a different request body"]
    assert body["error"] == "Unprocessable Entity"
    assert body["status"] == 422
    assert inspector.count("customer_sessions", partner_id) == 1


async def test_same_body_bytes_are_what_counts(harness: Harness) -> None:
    """The raw body is compared: the same JSON spelled differently is a different request."""
    _, api_key = await harness.new_partner()
    headers = {"Idempotency-Key": "raw", "content-type": "application/json"}
    first = await harness.client.post(
        URL, content=b'{"source": "a"}', headers=headers, auth=(api_key, "")
    )
    again = await harness.client.post(
        URL, content=b'{"source": "a"}', headers=headers, auth=(api_key, "")
    )
    respelled = await harness.client.post(
        URL, content=b'{"source":"a"}', headers=headers, auth=(api_key, "")
    )
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert respelled.status_code == 422


async def test_fifty_concurrent_duplicates_create_exactly_one_session(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    responses: list[httpx.Response] = []

    async def one() -> None:
        responses.append(await post(harness, api_key, key="race"))

    async with anyio.create_task_group() as group:
        for _ in range(50):
            group.start_soon(one)
    assert inspector.count("customer_sessions", partner_id) == 1
    succeeded = [r for r in responses if r.status_code == 200]
    conflicted = [r for r in responses if r.status_code == 409]
    assert len(succeeded) + len(conflicted) == 50, [r.status_code for r in responses]
    assert succeeded, "one of the fifty must have run"
    assert len({r.json()["id"] for r in succeeded}) == 1
    assert len({r.json()["client_secret"] for r in succeeded}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in succeeded) == 1
    for response in conflicted:
        assert response.json() == {
            "type": "IDEMPOTENCY_KEY_IN_USE",
            "message": "A request with this Idempotency-Key is still being processed; "
            "retry it later.",
        }
    # Once the first has finished, a retry replays it.
    retried = await post(harness, api_key, key="race")
    assert retried.headers["idempotent-replayed"] == "true"
    assert retried.json()["id"] == succeeded[0].json()["id"]


async def test_key_is_replayed_until_its_window_ends_then_runs_anew(
    harness: Harness, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    ttl = harness.services.settings.idempotency_ttl_seconds
    assert ttl == 24 * 3600  # the documented default
    first = (await post(harness, api_key, key="daily")).json()
    clock.advance(seconds=ttl - 1)
    assert (await post(harness, api_key, key="daily")).json()["id"] == first["id"]
    clock.advance(seconds=1)
    later = await post(harness, api_key, key="daily")
    assert later.status_code == 200
    assert "idempotent-replayed" not in later.headers
    assert later.json()["id"] != first["id"]
    assert inspector.count("customer_sessions", partner_id) == 2
    assert records(inspector, partner_id) == 1  # the expired record was taken over
    # The new window starts with the new request; a different body is now a conflict again.
    assert (await post(harness, api_key, {"source": "x"}, key="daily")).status_code == 422


async def test_two_partners_using_the_same_key_get_two_sessions(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    first_partner, first_key = await harness.new_partner()
    second_partner, second_key = await harness.new_partner()
    first = await post(harness, first_key, key="shared-key")
    second = await post(harness, second_key, key="shared-key")
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in second.headers
    assert first.json()["id"] != second.json()["id"]
    assert inspector.count("customer_sessions", first_partner) == 1
    assert inspector.count("customer_sessions", second_partner) == 1
    # Not even a different body conflicts across partners.
    other_body = await post(harness, second_key, {"source": "elsewhere"}, key="shared-key")
    assert other_body.status_code == 422  # ... but within one partner it does


async def test_without_the_header_nothing_is_recorded(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    first = await post(harness, api_key)
    second = await post(harness, api_key)
    assert first.json()["id"] != second.json()["id"]
    assert records(inspector, partner_id) == 0


@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "clé".encode(), "tab\there", b"nul\x00"],
    ids=["empty", "256 chars", "non-ascii", "control character", "nul"],
)
async def test_malformed_key_is_400_and_nothing_runs(
    harness: Harness, inspector: DatabaseInspector, key: str | bytes
) -> None:
    partner_id, api_key = await harness.new_partner()
    response = await post(harness, api_key, key=key)
    assert response.status_code == 400
    assert response.json()["details"] == [
        "idempotency-key: must be 1 to 255 printable ASCII characters"
    ]
    assert inspector.count("customer_sessions", partner_id) == 0
    assert records(inspector, partner_id) == 0


async def test_longest_key_and_every_printable_character_are_accepted(harness: Harness) -> None:
    _, api_key = await harness.new_partner()
    printable = "".join(chr(c) for c in range(0x21, 0x7F))
    for key in ["k" * 255, printable, "with inner space"]:
        first = await post(harness, api_key, key=key)
        again = await post(harness, api_key, key=key)
        assert first.status_code == 200, (key, first.text)
        assert again.json()["id"] == first.json()["id"]


async def test_validation_failure_is_not_recorded_so_a_corrected_body_may_reuse_the_key(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    """Decision: only 2xx responses are recorded. An error changed nothing, so the key is free
    (as Stripe does for requests that fail validation)."""
    partner_id, api_key = await harness.new_partner()
    invalid = await post(harness, api_key, {"customer_history": {"email": "nope"}}, key="fix-me")
    assert invalid.status_code == 400
    assert records(inspector, partner_id) == 0
    corrected = await post(
        harness, api_key, {"customer_history": {"email": "a@b.co"}}, key="fix-me"
    )
    assert corrected.status_code == 200
    replayed = await post(harness, api_key, {"customer_history": {"email": "a@b.co"}}, key="fix-me")
    assert replayed.json()["id"] == corrected.json()["id"]
    assert replayed.headers["idempotent-replayed"] == "true"


async def test_domain_error_is_not_recorded(harness: Harness, inspector: DatabaseInspector) -> None:
    partner_id, api_key = await harness.new_partner()
    unknown = {"customer_id": "00000000-0000-4000-8000-000000000000"}
    first = await post(harness, api_key, unknown, key="missing-customer")
    second = await post(harness, api_key, unknown, key="missing-customer")
    assert first.status_code == second.status_code == 404
    assert "idempotent-replayed" not in second.headers
    assert records(inspector, partner_id) == 0


async def test_crash_releases_the_key_and_rolls_back(
    harness: Harness, inspector: DatabaseInspector, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner_id, api_key = await harness.new_partner()
    real = customer_sessions.create_customer_session

    async def create_then_crash(*args: Any, **kwargs: Any) -> Any:
        await real(*args, **kwargs)  # the session is written inside the unit of work ...
        raise RuntimeError("boom")  # ... which the crash rolls back

    monkeypatch.setattr(customer_sessions, "create_customer_session", create_then_crash)
    crashed = await post(harness, api_key, key="retry-me")
    assert crashed.status_code == 500
    assert records(inspector, partner_id) == 0
    assert inspector.count("customer_sessions", partner_id) == 0
    monkeypatch.setattr(customer_sessions, "create_customer_session", real)
    retried = await post(harness, api_key, key="retry-me")
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert inspector.count("customer_sessions", partner_id) == 1


async def test_abandoned_in_flight_claim_is_taken_over_after_its_lease(
    harness: Harness, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    """A process that died mid-request leaves an in-flight record: 409 until its lease ends."""
    partner_id, api_key = await harness.new_partner()
    body = b"{}"
    now = clock.now_ms()
    dead = await harness.services.database.repositories.claim_idempotency_key(
        IdempotencyClaim(
            partner_id=partner_id,
            key="orphan",
            request_hash=harness.services.box.request_fingerprint("POST", URL, body),
            created_at=now,
            expires_at=now + 86_400_000,
            stale_before=now - idempotency.IN_FLIGHT_LEASE_MS,
        )
    )
    assert dead is None  # claimed, and never completed

    async def send() -> httpx.Response:
        return await harness.client.post(
            URL,
            content=body,
            headers={"Idempotency-Key": "orphan", "content-type": "application/json"},
            auth=(api_key, ""),
        )

    assert (await send()).status_code == 409
    clock.advance(ms=idempotency.IN_FLIGHT_LEASE_MS + 1)
    taken_over = await send()
    assert taken_over.status_code == 200
    assert (await send()).json()["id"] == taken_over.json()["id"]
    assert inspector.count("customer_sessions", partner_id) == 1


async def test_completion_after_a_take_over_rolls_the_late_request_back(
    harness: Harness, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    """The record is the fence: a claim that lost its key cannot record, so its writes roll back."""
    partner_id, _ = await harness.new_partner()
    repos = harness.services.database.repositories
    box = harness.services.box
    late = await idempotency.claim(
        repos,
        clock=clock,
        box=box,
        partner_id=partner_id,
        key="k",
        request_hash="h",
        ttl_seconds=60,
    )
    assert isinstance(late, idempotency.Claim)
    clock.advance(ms=idempotency.IN_FLIGHT_LEASE_MS + 1)
    winner = await idempotency.claim(
        repos,
        clock=clock,
        box=box,
        partner_id=partner_id,
        key="k",
        request_hash="h",
        ttl_seconds=60,
    )
    assert isinstance(winner, idempotency.Claim)
    with pytest.raises(Conflict):
        await idempotency.complete(repos, late, box=box, status=200, headers=[], body=b"{}")
    await idempotency.complete(repos, winner, box=box, status=200, headers=[], body=b'{"a":1}')
    replay = await idempotency.claim(
        repos,
        clock=clock,
        box=box,
        partner_id=partner_id,
        key="k",
        request_hash="h",
        ttl_seconds=60,
    )
    assert isinstance(replay, idempotency.Replay)
    assert replay.body == b'{"a":1}'
    await idempotency.release(repos, late)  # a stale release leaves the completed record alone
    assert records(inspector, partner_id) == 1


async def test_expired_records_are_swept_in_batches(
    harness: Harness, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    partner_id, api_key = await harness.new_partner()
    for i in range(3):
        await post(harness, api_key, key=f"old-{i}")
    clock.advance(seconds=harness.services.settings.idempotency_ttl_seconds)
    await post(harness, api_key, key="fresh")
    repos = harness.services.database.repositories
    # Other tests' records share the PostgreSQL database: sweep until this partner's are gone.
    while await repos.delete_expired_idempotency_keys(now=clock.now_ms(), limit=2):
        pass
    assert records(inspector, partner_id) == 1
    assert (
        inspector.scalar("SELECT key FROM idempotency_keys WHERE partner_id = ?", partner_id)
        == "fresh"
    )


async def test_get_ignores_the_header(harness: Harness) -> None:
    _, api_key = await harness.new_partner()
    created = (await post(harness, api_key, key="g")).json()
    fetched = await harness.client.get(
        f"{URL}/{created['id']}", auth=(api_key, ""), headers={"Idempotency-Key": "\x01"}
    )
    assert fetched.status_code == 200
