"""Phone verification with a one-time code: sandbox code, counting, lockout, expiry, production."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from client_api.flow import PHONE, bearer, client_token, confirm_code, update_profile
from conftest import _REGISTRY, DatabaseInspector, Harness
from imprint_sessions.clock import ManualClock
from imprint_sessions.domain.phone_verification import MAX_CHALLENGES_PER_SESSION, SANDBOX_CODE

START = "/v2/client/phone/verification"

# Each test here checks that its own log lines hold no code anywhere. The suite-wide sweep looks
# for codes only in context (``"code":"888888"``; see tests/leaks.py): six digits alone turn up by
# chance in a whole run's logs and dumps (hex ids, millisecond timestamps).
_codes_sent: list[str] = []


def assert_not_logged(codes: list[str], logged: str) -> None:
    leaked = [code for code in codes if code in logged]
    assert not leaked, f"one-time codes in the log: {len(leaked)}"


@pytest.fixture(autouse=True)
def _no_code_in_this_tests_log_lines() -> Iterator[None]:
    start = len(_REGISTRY.log_stream.getvalue())
    _codes_sent.clear()
    yield
    assert (
        "imprint_sessions.access" in _REGISTRY.log_stream.getvalue()[start:]
    )  # the log was captured
    assert_not_logged([SANDBOX_CODE, *_codes_sent], _REGISTRY.log_stream.getvalue()[start:])


async def with_phone(h: Harness, key: str) -> str:
    token = await client_token(h, key)
    assert (await update_profile(h, token, {"phone": PHONE})).status_code == 200
    return token


async def start(h: Harness, token: str) -> dict[str, str]:
    response = await h.client.post(START, headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def phone_verified(h: Harness, token: str) -> bool:
    profile = (await h.client.get("/v2/client/profile", headers=bearer(token))).json()
    return bool(profile["phone_verified"])


async def test_sandbox_code_verifies_the_phone(harness: Harness, clock: ManualClock) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    started = await start(harness, token)
    assert set(started) == {"expires_at"}
    response = await confirm_code(harness, token, SANDBOX_CODE)
    assert response.status_code == 200
    assert response.json() == {"phone_verified": True}
    assert await phone_verified(harness, token)


async def test_code_is_stored_only_as_a_keyed_hash(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    session_id = (await harness.client.get("/v2/client/session", headers=bearer(token))).json()[
        "customer_session_id"
    ]
    stored = inspector.scalar(
        "SELECT code_hash FROM otp_challenges WHERE customer_session_id = ?", session_id
    )
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert SANDBOX_CODE not in stored


async def test_wrong_code_is_400_and_counts_down(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    first = await confirm_code(harness, token, "123456")
    assert first.status_code == 400
    body = first.json()
    assert body["details"] == ["code: is incorrect"]
    assert body["remaining_attempts"] == 4
    assert (await confirm_code(harness, token, "123457")).json()["remaining_attempts"] == 3
    assert not await phone_verified(harness, token)


@pytest.mark.slow
async def test_fifth_wrong_code_locks_even_against_the_right_one(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    for attempt in range(1, 5):
        response = await confirm_code(harness, token, f"00000{attempt}")
        assert response.status_code == 400
        assert response.json()["remaining_attempts"] == 5 - attempt
    fifth = await confirm_code(harness, token, "000005")
    assert fifth.status_code == 429
    assert fifth.json()["error_code"] == "OTP_LOCKED"
    sixth = await confirm_code(harness, token, SANDBOX_CODE)
    assert sixth.status_code == 429
    body = sixth.json()
    assert body["error_code"] == "OTP_LOCKED"
    assert body["error"] == "Too Many Requests"
    assert body["details"] == ["code: too many incorrect attempts; request a new code"]
    assert not await phone_verified(harness, token)
    await start(harness, token)  # a new code starts a new count
    assert (await confirm_code(harness, token, SANDBOX_CODE)).status_code == 200


async def test_concurrent_wrong_codes_never_exceed_five_attempts(
    harness: Harness, inspector: DatabaseInspector
) -> None:
    import anyio

    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    statuses: list[int] = []

    async def guess(n: int) -> None:
        statuses.append((await confirm_code(harness, token, f"{n:06d}")).status_code)

    async with anyio.create_task_group() as group:
        for n in range(20):
            group.start_soon(guess, n)
    assert statuses.count(400) == 4
    assert statuses.count(429) == 16
    session_id = (await harness.client.get("/v2/client/session", headers=bearer(token))).json()[
        "customer_session_id"
    ]
    attempts = inspector.scalar(
        "SELECT attempts FROM otp_challenges WHERE customer_session_id = ?", session_id
    )
    assert attempts == 5


async def test_expired_code_is_400_has_expired(harness: Harness, clock: ManualClock) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    clock.advance(seconds=harness.services.settings.otp_ttl_seconds)
    response = await confirm_code(harness, token, SANDBOX_CODE)
    assert response.status_code == 400
    assert response.json()["details"] == ["code: has expired; request a new code"]


async def test_used_code_cannot_verify_twice(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    assert (await confirm_code(harness, token, SANDBOX_CODE)).status_code == 200
    again = await confirm_code(harness, token, SANDBOX_CODE)
    assert again.status_code == 400
    assert again.json()["details"] == ["code: has already been used; request a new code"]


async def test_without_a_phone_no_code_is_sent(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await client_token(harness, key)
    response = await harness.client.post(START, headers=bearer(token))
    assert response.status_code == 400
    assert response.json()["details"] == ["phone: is required; add it to the profile first"]


async def test_confirm_before_any_code_was_requested_is_400(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    response = await confirm_code(harness, token, SANDBOX_CODE)
    assert response.status_code == 400


async def test_malformed_code_is_400_and_not_counted(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    response = await confirm_code(harness, token, "12ab")
    assert response.status_code == 400
    assert response.json()["details"] == ["code: has an invalid format"]
    assert (await confirm_code(harness, token, "000000")).json()["remaining_attempts"] == 4


async def test_a_session_may_request_a_limited_number_of_codes(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    for _ in range(MAX_CHALLENGES_PER_SESSION):
        await start(harness, token)
    response = await harness.client.post(START, headers=bearer(token))
    assert response.status_code == 429
    assert response.json()["error_code"] == "OTP_LIMIT_REACHED"


async def test_phone_changed_after_the_code_was_sent_is_not_verified(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    await start(harness, token)
    await update_profile(harness, token, {"phone": "+14155550123"})
    response = await confirm_code(harness, token, SANDBOX_CODE)
    assert response.status_code == 400
    assert not await phone_verified(harness, token)


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, *, phone: str, code: str) -> None:
        self.sent.append((phone, code))
        _REGISTRY.remember_code(code)


async def test_production_sends_a_random_code_through_the_sender(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    sender = RecordingSender()
    services = harness.services
    services.settings = services.settings.model_copy(update={"env": "production"})
    services.otp_sender = sender
    await start(harness, token)
    ((phone, code),) = sender.sent
    _codes_sent.append(code)
    assert phone == PHONE
    assert re.fullmatch(r"[0-9]{6}", code)
    if code != SANDBOX_CODE:
        assert (await confirm_code(harness, token, SANDBOX_CODE)).status_code == 400
    assert (await confirm_code(harness, token, code)).status_code == 200


async def test_production_without_a_sender_is_503_and_sends_nothing(harness: Harness) -> None:
    _, key = await harness.new_partner()
    token = await with_phone(harness, key)
    services = harness.services
    services.settings = services.settings.model_copy(update={"env": "production"})
    from imprint_sessions.domain.phone_verification import UnconfiguredOtpSender

    services.otp_sender = UnconfiguredOtpSender()
    response = await harness.client.post(START, headers=bearer(token))
    assert response.status_code == 503
    assert response.headers["retry-after"]


async def test_the_log_check_sees_a_logged_code(harness: Harness) -> None:
    """Negative control for the autouse check: a code in a log line is found."""
    import logging

    start = len(_REGISTRY.log_stream.getvalue())
    logging.getLogger("imprint_sessions.tests").warning("sent 493817 to the phone")
    with pytest.raises(AssertionError):
        assert_not_logged(["493817"], _REGISTRY.log_stream.getvalue()[start:])
    await harness.client.get("/healthz")  # the autouse check wants an access line
