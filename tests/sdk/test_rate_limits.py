"""429 from the service's own rate limit (one request per second per key, burst 1): waited out
for its ``Retry-After``, every attempt of one call with the same Idempotency-Key."""

from __future__ import annotations

import secrets
import time

import httpx
import pytest

from conftest import _REGISTRY
from imprint_client import RateLimitError
from imprint_sessions.config import Settings
from sdk.conftest import AsyncApp, RetryLog, SyncApp
from sdk.test_retries import UUID4_RE


def pcid() -> str:
    return f"CUST_{secrets.token_hex(4)}"


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_per_second": 1.0, "rate_limit_burst": 1})


def test_a_429_is_retried_after_its_retry_after_with_the_same_idempotency_key(
    sync_app: SyncApp, retry_log: RetryLog
) -> None:
    sent: list[httpx.Request] = []
    client = sync_app.client(sync_app.new_partner()[1], sent=sent)
    client.customers.list()  # spends the burst
    started = time.monotonic()
    created = client.customer_sessions.create(partner_customer_id=pcid())
    elapsed = time.monotonic() - started
    assert created.client_secret.startswith("ics_")
    posts = [r for r in sent if r.method == "POST"]
    assert len(posts) >= 2, retry_log.lines()
    keys = {r.headers["idempotency-key"] for r in posts}
    assert len(keys) == 1
    assert UUID4_RE.fullmatch(keys.pop())
    assert elapsed >= 1.0  # Retry-After: 1, waited in full
    assert any("createSession failed (HTTP 429)" in line for line in retry_log.lines())


def test_the_callers_idempotency_key_is_sent_on_every_attempt(sync_app: SyncApp) -> None:
    sent: list[httpx.Request] = []
    client = sync_app.client(sync_app.new_partner()[1], sent=sent)
    client.customers.list()
    client.customer_sessions.create(partner_customer_id=pcid(), idempotency_key="order-4812")
    posts = [r for r in sent if r.method == "POST"]
    assert len(posts) >= 2
    assert {r.headers["idempotency-key"] for r in posts} == {"order-4812"}


def test_a_post_that_shows_a_secret_once_is_retried_on_a_429_without_an_idempotency_key(
    sync_app: SyncApp,
) -> None:
    """A 429 is refused before any work, so even createKey may go again; no attempt of it
    carries an Idempotency-Key (the server would refuse one: 400)."""
    sent: list[httpx.Request] = []
    client = sync_app.client(sync_app.new_partner()[1], sent=sent)
    client.customers.list()
    created = client.api_keys.create()
    _REGISTRY.remember(created.api_key)
    posts = [r for r in sent if r.method == "POST"]
    assert len(posts) >= 2
    assert all("idempotency-key" not in r.headers for r in posts)


def test_without_retries_a_429_is_a_rate_limit_error_with_retry_after(sync_app: SyncApp) -> None:
    client = sync_app.partner_client(max_retries=0)
    client.customers.list()
    with pytest.raises(RateLimitError) as limited_error:
        client.customers.list()
    assert limited_error.value.status == 429
    assert limited_error.value.retry_after is not None
    assert limited_error.value.retry_after >= 1


async def test_the_async_client_waits_out_a_429_too(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    await client.customers.list()
    started = time.monotonic()
    await client.customers.list()
    assert time.monotonic() - started >= 1.0
