"""The SDK against the real app: in this process (both databases), sync and async.

``sync_app`` runs the app on an event loop in a thread of its own (``inprocess.py``) for the
synchronous ``Imprint``; ``async_app`` runs it on the test's own loop for ``AsyncImprint``,
through ``httpx.ASGITransport``. Each makes partners with real keys, as ``Harness.new_partner``
does, and closes the clients a test opened. Nothing of the SDK or the app is replaced.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal

from conftest import _REGISTRY
from imprint_client import AsyncImprint, Imprint
from imprint_sessions.app import create_app
from imprint_sessions.config import Settings
from imprint_sessions.domain import partners
from imprint_sessions.services import Services
from sdk.inprocess import PortalTransport, running

BASE_URL = "http://testserver"


async def make_partner(
    services: Services, *, merchant_keys: list[str] | None = None
) -> tuple[str, str]:
    """A fresh partner and one API key for it: ``(partner_id, api_key)``."""
    repos = services.database.repositories
    partner = await partners.create_partner(
        repos,
        clock=services.clock,
        name=f"sdk partner {secrets.token_hex(3)}",
        merchant_keys=merchant_keys or [],
    )
    issued = await partners.create_api_key(
        repos,
        clock=services.clock,
        box=services.box,
        env=services.settings.env,
        partner_id=partner.id,
    )
    _REGISTRY.remember(issued.api_key)
    return partner.id, issued.api_key


@dataclass
class SyncApp:
    app: Any
    portal: BlockingPortal
    opened: list[Imprint] = field(default_factory=list)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def http_client(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        sent: list[httpx.Request] | None = None,
    ) -> httpx.Client:
        """``sent``: every request the client sends is appended to it (each attempt)."""
        hooks = {"request": [sent.append]} if sent is not None else {}
        return httpx.Client(
            transport=transport or PortalTransport(self.portal, self.app), event_hooks=hooks
        )

    def transport(self) -> PortalTransport:
        return PortalTransport(self.portal, self.app)

    def new_partner(self, *, merchant_keys: list[str] | None = None) -> tuple[str, str]:
        return self.portal.call(lambda: make_partner(self.services, merchant_keys=merchant_keys))

    def client(
        self,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        sent: list[httpx.Request] | None = None,
        **options: Any,
    ) -> Imprint:
        http = self.http_client(transport, sent=sent)
        client = Imprint(api_key, base_url=BASE_URL, http_client=http, **options)
        self.opened.append(client)
        return client

    def partner_client(self, **options: Any) -> Imprint:
        """A client of a fresh partner (one product)."""
        return self.client(self.new_partner()[1], **options)


@dataclass
class AsyncApp:
    app: Any
    opened: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app, raise_app_exceptions=False)

    async def new_partner(self, *, merchant_keys: list[str] | None = None) -> tuple[str, str]:
        return await make_partner(self.services, merchant_keys=merchant_keys)

    def client(
        self, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None, **options: Any
    ) -> AsyncImprint:
        http = httpx.AsyncClient(transport=transport or self.transport())
        self.opened.append(http)
        return AsyncImprint(api_key, base_url=BASE_URL, http_client=http, **options)

    async def partner_client(self, **options: Any) -> AsyncImprint:
        return self.client((await self.new_partner())[1], **options)


@dataclass
class RetryLog:
    """The SDK's own log lines (``imprint_client``), read when asked."""

    caplog: pytest.LogCaptureFixture

    def lines(self) -> list[str]:
        return [r.getMessage() for r in self.caplog.records if r.name == "imprint_client"]


@pytest.fixture
def retry_log(caplog: pytest.LogCaptureFixture) -> Iterator[RetryLog]:
    with caplog.at_level(logging.INFO, logger="imprint_client"):
        yield RetryLog(caplog)


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    """The app's settings (a module overrides this to change one, e.g. the rate limit)."""
    return settings


@pytest.fixture
def sync_app(app_settings: Settings) -> Iterator[SyncApp]:
    app = create_app(app_settings)
    with running(app) as portal:
        served = SyncApp(app, portal)
        try:
            yield served
        finally:
            for client in served.opened:
                client._http.close()


@pytest.fixture
async def async_app(app_settings: Settings) -> AsyncIterator[AsyncApp]:
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        served = AsyncApp(app)
        try:
            yield served
        finally:
            for http in served.opened:
                await http.aclose()
