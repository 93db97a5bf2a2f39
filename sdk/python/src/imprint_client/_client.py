"""``Imprint`` and ``AsyncImprint``: the settings, the connection pool, and the retry loop."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from imprint_client import _core
from imprint_client._core import Call, Config
from imprint_client._redact import mask
from imprint_client.errors import APIStatusError, ImprintError
from imprint_client.models import ImprintModel, ListBody
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.resources.api_keys import ApiKeys, AsyncApiKeys
from imprint_client.resources.audit_events import AsyncAuditEvents, AuditEvents
from imprint_client.resources.customer_sessions import AsyncCustomerSessions, CustomerSessions
from imprint_client.resources.customers import AsyncCustomers, Customers
from imprint_client.resources.payment_methods import AsyncPaymentMethods, PaymentMethods
from imprint_client.resources.test_helpers import AsyncTestHelpers, TestHelpers
from imprint_client.resources.webhook_deliveries import AsyncWebhookDeliveries, WebhookDeliveries
from imprint_client.resources.webhook_endpoints import AsyncWebhookEndpoints, WebhookEndpoints
from imprint_client.resources.webhook_events import AsyncWebhookEvents, WebhookEvents

log = logging.getLogger("imprint_client")

R = TypeVar("R", bound=BaseModel)
T = TypeVar("T", bound=ImprintModel)

# `imprint-sessions serve` listens here by default (README: "A five-minute tour").
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0  # seconds, for each attempt
DEFAULT_MAX_RETRIES = 2


class _NotGiven:
    """``with_options``' default: the setting is not changed."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


_NOT_GIVEN: Any = _NotGiven()


class _Base:
    _config: Config
    _owns_http: bool

    @property
    def base_url(self) -> str:
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        return self._config.max_retries

    @property
    def merchant_key(self) -> str | None:
        return self._config.merchant_key

    @property
    def timeout(self) -> httpx.Timeout:
        return self._config.timeout

    @property
    def test_fault(self) -> str | None:
        return self._config.test_fault

    def _changed(
        self, api_key: Any, timeout: Any, max_retries: Any, merchant_key: Any, test_fault: Any
    ) -> dict[str, Any]:
        config = self._config
        return {
            "api_key": config.api_key if api_key is _NOT_GIVEN else api_key,
            "base_url": config.base_url,
            "timeout": config.timeout if timeout is _NOT_GIVEN else timeout,
            "max_retries": config.max_retries if max_retries is _NOT_GIVEN else max_retries,
            "merchant_key": config.merchant_key if merchant_key is _NOT_GIVEN else merchant_key,
            "test_fault": config.test_fault if test_fault is _NOT_GIVEN else test_fault,
        }

    def _retry_or_raise(self, call: Call[Any], error: ImprintError, retries_done: int) -> float:
        """How long to wait before the next attempt; raises ``error`` when there is none."""
        cause = error.__cause__
        if retries_done >= self._config.max_retries:
            raise error
        if isinstance(cause, httpx.TransportError):
            retryable = _core.transport_error_is_retryable(call, cause)
            retry_after = None
        else:
            assert isinstance(error, APIStatusError)
            retryable = _core.status_error_is_retryable(call, error)
            retry_after = error.retry_after
        delay = _core.retry_delay(retries_done, retry_after) if retryable else None
        if delay is None:
            raise error
        log.info(
            "imprint_client: %s %s failed (%s); retry %d of %d in %.2f s",
            call.operation.method,
            call.operation.operation_id,
            _core.describe(error),
            retries_done + 1,
            self._config.max_retries,
            delay,
        )
        return delay

    def __repr__(self) -> str:
        config = self._config
        return (
            f"{type(self).__name__}(base_url={config.base_url!r}, "
            f"api_key={mask(config.api_key)!r}, merchant_key={config.merchant_key!r}, "
            f"max_retries={config.max_retries}"
            + (f", test_fault={config.test_fault!r})" if config.test_fault is not None else ")")
        )


class Imprint(_Base):
    """The partner API, synchronously. Thread-safe: share one client (and its connection pool).

    ``Imprint(api_key, base_url="https://imprint.internal")``; ``merchant_key`` picks one product
    of a partner with several (sent where the API takes it); ``timeout`` bounds each attempt;
    ``max_retries`` how many times a failed call may be sent again (see the README, "Python
    SDK"). ``http_client``: an ``httpx.Client`` of your own (a proxy, a transport, a test's
    in-process app); the client then does not close it (``timeout`` still bounds each attempt).

    For tests: ``test_fault`` (sandbox only) is sent as the ``Imprint-Test-Fault`` header on
    every attempt of every call that takes it (``"status=503; retry_after=2"``, ``"drop"``);
    ``sleep`` is called with the seconds to wait before each retry (default ``time.sleep``), so
    a test can record the waits instead of waiting them.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        merchant_key: str | None = None,
        http_client: httpx.Client | None = None,
        test_fault: str | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._config = _core.make_config(
            api_key, base_url, timeout, max_retries, merchant_key, test_fault
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client()
        self._sleep = sleep if sleep is not None else time.sleep
        self.customer_sessions = CustomerSessions(self)
        self.customers = Customers(self)
        self.payment_methods = PaymentMethods(self)
        self.api_keys = ApiKeys(self)
        self.audit_events = AuditEvents(self)
        self.webhook_endpoints = WebhookEndpoints(self)
        self.webhook_events = WebhookEvents(self)
        self.webhook_deliveries = WebhookDeliveries(self)
        self.test_helpers = TestHelpers(self)

    def with_options(
        self,
        *,
        api_key: str = _NOT_GIVEN,
        timeout: float | httpx.Timeout = _NOT_GIVEN,
        max_retries: int = _NOT_GIVEN,
        merchant_key: str | None = _NOT_GIVEN,
        test_fault: str | None = _NOT_GIVEN,
    ) -> Imprint:
        """A client like this one with some settings changed (a sandbox's key, say), sharing its
        connection pool and ``sleep``: closing the copy leaves the pool open, closing this
        client closes it."""
        changed = self._changed(api_key, timeout, max_retries, merchant_key, test_fault)
        return Imprint(**changed, http_client=self._http, sleep=self._sleep)

    def close(self) -> None:
        """Close the connection pool (unless it was passed in as ``http_client``)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Imprint:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, call: Call[R]) -> R:
        retries_done = 0
        while True:
            request = self._http.build_request(**self._config.request_parts(call))
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                error: ImprintError = _core.connection_error(exc, call)
                error.__cause__ = exc
            else:
                if response.is_success:
                    return _core.parse_success(call, response)
                error = _core.error_from_response(response)
            delay = self._retry_or_raise(call, error, retries_done)
            self._sleep(delay)
            retries_done += 1

    def _page(self, call: Call[ListBody[T]]) -> SyncPage[T]:
        body = self._request(call)
        fetch = None
        if call.operation.pages_by is not None:

            def fetch(after: str) -> SyncPage[T]:
                return self._page(call.after(after))

        return SyncPage(body, fetch)


class AsyncImprint(_Base):
    """The partner API for asyncio: ``await client.customer_sessions.create(...)``. Share one
    client between tasks. ``http_client``: an ``httpx.AsyncClient`` of your own; ``test_fault``
    as ``Imprint``'s; ``sleep`` is awaited with the seconds to wait before each retry (default
    ``asyncio.sleep``)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        merchant_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        test_fault: str | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._config = _core.make_config(
            api_key, base_url, timeout, max_retries, merchant_key, test_fault
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient()
        self._sleep = sleep if sleep is not None else asyncio.sleep
        self.customer_sessions = AsyncCustomerSessions(self)
        self.customers = AsyncCustomers(self)
        self.payment_methods = AsyncPaymentMethods(self)
        self.api_keys = AsyncApiKeys(self)
        self.audit_events = AsyncAuditEvents(self)
        self.webhook_endpoints = AsyncWebhookEndpoints(self)
        self.webhook_events = AsyncWebhookEvents(self)
        self.webhook_deliveries = AsyncWebhookDeliveries(self)
        self.test_helpers = AsyncTestHelpers(self)

    def with_options(
        self,
        *,
        api_key: str = _NOT_GIVEN,
        timeout: float | httpx.Timeout = _NOT_GIVEN,
        max_retries: int = _NOT_GIVEN,
        merchant_key: str | None = _NOT_GIVEN,
        test_fault: str | None = _NOT_GIVEN,
    ) -> AsyncImprint:
        """A client like this one with some settings changed, sharing its connection pool and
        ``sleep``: closing the copy leaves the pool open, closing this client closes it."""
        changed = self._changed(api_key, timeout, max_retries, merchant_key, test_fault)
        return AsyncImprint(**changed, http_client=self._http, sleep=self._sleep)

    async def close(self) -> None:
        """Close the connection pool (unless it was passed in as ``http_client``)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncImprint:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _request(self, call: Call[R]) -> R:
        retries_done = 0
        while True:
            request = self._http.build_request(**self._config.request_parts(call))
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                error: ImprintError = _core.connection_error(exc, call)
                error.__cause__ = exc
            else:
                if response.is_success:
                    return _core.parse_success(call, response)
                error = _core.error_from_response(response)
            delay = self._retry_or_raise(call, error, retries_done)
            await self._sleep(delay)
            retries_done += 1

    async def _page(self, call: Call[ListBody[T]]) -> AsyncPage[T]:
        body = await self._request(call)
        fetch = None
        if call.operation.pages_by is not None:

            async def fetch(after: str) -> AsyncPage[T]:
                return await self._page(call.after(after))

        return AsyncPage(body, fetch)
