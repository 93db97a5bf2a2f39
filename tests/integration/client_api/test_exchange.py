"""POST /v2/client/exchange: the client secret is used once, atomically, and only while live."""

from __future__ import annotations

import re

import anyio
import pytest

from client_api.flow import bearer, exchange, execute, new_session, without_timestamp
from conftest import DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock, rfc3339_ms
from imprint_sessions.config import Settings
from imprint_sessions.logs import CLIENT_ACCESS_TOKEN_RE

INVALID_SECRET = {
    "path": "/v2/client/exchange",
    "details": ["client_secret: is invalid, expired or already used"],
    "error": "Unauthorized",
    "status": 401,
    "error_code": "INVALID_CLIENT_SECRET",
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Room for the 200 exchanges sent at once: this module tests their exactly-once outcome,
    not load shedding (on a busy machine 72 of them waited past IMPRINT_MAX_QUEUE_SECONDS and
    one was answered 503)."""
    return settings.model_copy(update={"max_in_flight": 1000})


async def test_first_exchange_returns_a_credential_bound_to_the_session(
    harness: Harness, clock: ManualClock, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    session = await new_session(harness, key)
    response = await exchange(harness, session["client_secret"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "expires_at", "customer_session_id"}
    assert body["customer_session_id"] == session["id"]
    ttl_ms = harness.services.settings.client_token_ttl_seconds * 1000
    assert body["expires_at"] == rfc3339_ms(clock.now_ms() + ttl_ms)
    assert CLIENT_ACCESS_TOKEN_RE.fullmatch(body["access_token"])
    consumed = inspector.scalar(
        "SELECT consumed_at FROM customer_sessions WHERE id = ?", body["customer_session_id"]
    )
    assert consumed == clock.now_ms()
    me = await harness.client.get("/v2/client/session", headers=bearer(body["access_token"]))
    assert me.json()["customer_session_id"] == session["id"]


async def test_second_exchange_of_one_secret_is_401_invalid_client_secret(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    secret = (await new_session(harness, key))["client_secret"]
    assert (await exchange(harness, secret)).status_code == 200
    again = await exchange(harness, secret)
    assert again.status_code == 401
    assert without_timestamp(again.json()) == INVALID_SECRET


async def test_exchange_one_ms_before_expiry_succeeds(harness: Harness, clock: ManualClock) -> None:
    _, key = await harness.new_partner()
    session = await new_session(harness, key)
    clock.advance(ms=harness.services.settings.session_ttl_seconds * 1000 - 1)
    assert (await exchange(harness, session["client_secret"])).status_code == 200


async def test_exchange_one_ms_after_expiry_fails_like_a_used_secret(
    harness: Harness, clock: ManualClock
) -> None:
    _, key = await harness.new_partner()
    used = (await new_session(harness, key))["client_secret"]
    await exchange(harness, used)
    expiring = (await new_session(harness, key))["client_secret"]
    clock.advance(ms=harness.services.settings.session_ttl_seconds * 1000 + 1)
    expired = await exchange(harness, expiring)
    reused = await exchange(harness, used)
    assert expired.status_code == reused.status_code == 401
    assert without_timestamp(expired.json()) == without_timestamp(reused.json()) == INVALID_SECRET


async def test_exchange_exactly_at_expiry_fails(harness: Harness, clock: ManualClock) -> None:
    _, key = await harness.new_partner()
    session = await new_session(harness, key)
    clock.advance(ms=harness.services.settings.session_ttl_seconds * 1000)
    assert (await exchange(harness, session["client_secret"])).status_code == 401


async def test_malformed_forged_and_unknown_secrets_get_the_same_401(harness: Harness) -> None:
    _, key = await harness.new_partner()
    genuine = (await new_session(harness, key))["client_secret"]
    kid = genuine.split("_")[1]
    tail = genuine[-1]
    forged = genuine[:-1] + ("A" if tail != "A" else "B")
    other_box = harness.services.box.__class__([b"another-master-key-" + b"y" * 32])
    unknown_key = other_box.client_secret(
        "6F1A1E22-3A4B-4C5D-8E9F-0123456789AB", other_box.current_kid
    )
    assert unknown_key is not None
    variants = {
        "empty": "",
        "garbage": "not-a-secret",
        "api key shaped": "isk_test_" + "A" * 43,
        "truncated": genuine[:-5],
        "forged mac": forged,
        "unknown master key": unknown_key,
        "wrong kid": genuine.replace(f"_{kid}_", "_00000000_"),
    }
    for name, secret in variants.items():
        response = await exchange(harness, secret)
        assert response.status_code == 401, name
        assert without_timestamp(response.json()) == INVALID_SECRET, name
    assert (await exchange(harness, genuine)).status_code == 200  # untouched by the attempts


async def test_exchange_body_that_is_not_a_secret_is_400(harness: Harness) -> None:
    response = await harness.client.post("/v2/client/exchange", json={"client_secret": 5})
    assert response.status_code == 400
    assert response.json()["details"] == ["client_secret: must be a string"]
    missing = await harness.client.post("/v2/client/exchange", json={})
    assert missing.json()["details"] == ["client_secret: is required"]


async def test_revoked_session_cannot_be_exchanged(harness: Harness, database_url: str) -> None:
    _, key = await harness.new_partner()
    session = await new_session(harness, key)
    execute(database_url, "UPDATE customer_sessions SET revoked_at = 1 WHERE id = ?", session["id"])
    response = await exchange(harness, session["client_secret"])
    assert response.status_code == 401
    assert response.json()["error_code"] == "INVALID_CLIENT_SECRET"


async def test_two_hundred_concurrent_exchanges_of_one_secret_succeed_exactly_once(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    secret = (await new_session(harness, key))["client_secret"]
    statuses: list[int] = []
    codes: set[str] = set()

    async def one() -> None:
        response = await exchange(harness, secret)
        statuses.append(response.status_code)
        if response.status_code == 401:
            codes.add(response.json()["error_code"])

    async with anyio.create_task_group() as group:
        for _ in range(200):
            group.start_soon(one)
    assert sorted(statuses) == [200] + [401] * 199
    assert codes == {"INVALID_CLIENT_SECRET"}


async def test_access_token_is_one_base64url_word_the_redaction_sees(harness: Harness) -> None:
    _, key = await harness.new_partner()
    secret = (await new_session(harness, key))["client_secret"]
    token = (await exchange(harness, secret)).json()["access_token"]
    assert re.fullmatch(r"ict_[A-Za-z0-9_-]+", token)
    assert CLIENT_ACCESS_TOKEN_RE.fullmatch(token)


async def test_whitespace_body_is_400_not_an_empty_request(harness: Harness) -> None:
    """Regression: whitespace once counted as an empty body (shared JSON body parser)."""
    response = await harness.client.post(
        "/v2/client/exchange", content=b" \n", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["details"] == ["body: must be valid JSON"]
