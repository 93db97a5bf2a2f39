"""domain/client_sessions.py on a real database: the racy exchange (the exactly-once tests'
negative control) still refuses what the real one refuses, one caller at a time."""

from __future__ import annotations

import pytest
from client_api.flow import execute, new_session

from conftest import Harness
from imprint_sessions.clock import ManualClock
from imprint_sessions.domain.client_sessions import exchange_client_secret
from imprint_sessions.errors import InvalidClientSecret


async def racy_exchange(harness: Harness, client_secret: str) -> str:
    issued = await exchange_client_secret(
        harness.services.database.repositories,
        clock=harness.services.clock,
        box=harness.services.box,
        client_secret=client_secret,
        ttl_seconds=900,
        unsafe_racy=True,
    )
    return issued.customer_session_id


async def test_the_racy_exchange_consumes_a_secret_once_when_calls_do_not_overlap(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    session = await new_session(harness, key)
    assert await racy_exchange(harness, session["client_secret"]) == session["id"]
    with pytest.raises(InvalidClientSecret):
        await racy_exchange(harness, session["client_secret"])


async def test_the_racy_exchange_refuses_an_expired_or_revoked_secret(
    harness: Harness, clock: ManualClock, database_url: str
) -> None:
    _, key = await harness.new_partner()
    expired = await new_session(harness, key)
    revoked = await new_session(harness, key)
    execute(database_url, "UPDATE customer_sessions SET revoked_at = 1 WHERE id = ?", revoked["id"])
    clock.advance(seconds=24 * 3600)
    for session in (expired, revoked):
        with pytest.raises(InvalidClientSecret):
            await racy_exchange(harness, session["client_secret"])


async def test_the_racy_exchange_refuses_a_forged_secret_before_the_database(
    harness: Harness,
) -> None:
    with pytest.raises(InvalidClientSecret):
        await racy_exchange(harness, "ics_00000000_not-a-real-secret")
