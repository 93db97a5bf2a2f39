"""The one place we rely on a library's internals: ``VettedTransport`` replaces httpx's private
connection pool (httpx has no network-backend parameter). pyproject.toml pins httpx and httpcore
to the versions this was checked on; these tests fail loudly when that shape changes."""

from __future__ import annotations

import httpcore
import httpx
import pytest

from imprint_sessions.webhooks.targets import TargetPolicy, TargetRefused
from imprint_sessions.webhooks.transport import VettedTransport
from webhook_receiver import receiving


def test_httpx_still_keeps_its_connection_pool_in_the_attribute_we_replace() -> None:
    transport = httpx.AsyncHTTPTransport()
    pool = getattr(transport, "_pool", None)
    assert isinstance(pool, httpcore.AsyncConnectionPool), (
        "httpx.AsyncHTTPTransport no longer keeps an httpcore.AsyncConnectionPool in _pool: "
        "webhooks/transport.py must be rewritten for this httpx version"
    )


async def test_requests_go_through_the_replaced_pool_and_its_vetting_backend() -> None:
    """If httpx stopped sending through ``_pool``, this request would reach the receiver."""
    with receiving() as receiver:
        transport = VettedTransport(TargetPolicy(production=True), max_connections=1)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(TargetRefused):
                await client.post(receiver.url, content=b"{}")
        assert receiver.received == []
