"""``client.test_helpers``: what only a sandbox server answers (production: 404 or 403).

A namespace of its own: ``simulate_application``, and ``sandboxes`` (with their test clocks),
``faults`` (declared test faults; the client's ``test_fault`` option sends the per-request header)
and ``webhook_events.fire``. None of these is ever faulted itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from imprint_client import _operations as ops
from imprint_client._core import Call
from imprint_client.models import (
    CreatedSandbox,
    DeletedFault,
    DeletedSandbox,
    EventType,
    Fault,
    Sandbox,
    SimulatedApplication,
    TestClock,
    WebhookEvent,
)
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.params import (
    FaultKind,
    FaultOperation,
    FaultStatus,
    HostedOutcome,
    NewTestClockParams,
    PaymentMethodStatus,
)
from imprint_client.resources._base import AsyncResource, SyncResource

if TYPE_CHECKING:
    from imprint_client._client import AsyncImprint, Imprint

Decision = Literal["OFFER_ACCEPTED", "REJECTED"]


def _create_fault_call(
    kind: FaultKind,
    operation: FaultOperation | None,
    status: FaultStatus | None,
    retry_after: int | None,
    delay_ms: int | None,
    endpoint_id: str | None,
    outcome: HostedOutcome | None,
    times: int | None,
    until_deleted: bool | None,
    idempotency_key: str | None,
) -> Call[Fault]:
    return ops.CREATE_FAULT.call(
        body={
            "kind": kind,
            "operation": operation,
            "status": status,
            "retry_after": retry_after,
            "delay_ms": delay_ms,
            "endpoint_id": endpoint_id,
            "outcome": outcome,
            "times": times,
            "until_deleted": until_deleted,
        },
        idempotency_key=idempotency_key,
    )


def _create_sandbox_call(
    name: str | None, test_clock: NewTestClockParams | None
) -> Call[CreatedSandbox]:
    return ops.CREATE_SANDBOX.call(body={"name": name, "test_clock": test_clock})


def _advance_test_clock_call(
    sandbox_id: str, frozen_time: str | None, seconds: int | None
) -> Call[TestClock]:
    return ops.ADVANCE_TEST_CLOCK.call(
        path={"sandbox_id": sandbox_id}, body={"frozen_time": frozen_time, "seconds": seconds}
    )


def _fire_call(
    type: EventType,
    customer_id: str | None,
    partner_customer_id: str | None,
    status: Decision | None,
    payment_method_id: str | None,
    previous_status: PaymentMethodStatus | None,
    new_status: PaymentMethodStatus | None,
    merchant_key: str | None,
    idempotency_key: str | None,
) -> Call[WebhookEvent]:
    return ops.FIRE_WEBHOOK_EVENT.call(
        body={
            "type": type,
            "customer_id": customer_id,
            "partner_customer_id": partner_customer_id,
            "status": status,
            "payment_method_id": payment_method_id,
            "previous_status": previous_status,
            "new_status": new_status,
        },
        idempotency_key=idempotency_key,
        merchant_key=merchant_key,
    )


class Faults(SyncResource):
    """``/v2/test_helpers/faults``: faults declared ahead, applied by every process."""

    def create(
        self,
        *,
        kind: FaultKind,
        operation: FaultOperation | None = None,
        status: FaultStatus | None = None,
        retry_after: int | None = None,
        delay_ms: int | None = None,
        endpoint_id: str | None = None,
        outcome: HostedOutcome | None = None,
        times: int | None = None,
        until_deleted: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Fault:
        """Declare a fault: the next ``times`` requests (default 1; or every one,
        ``until_deleted``) of ``operation`` answer ``status`` (``kind="error"``: 429, 500 or 503,
        with ``retry_after``), run ``delay_ms`` late (``"delay"``) or lose their connection
        (``"drop"``); deliveries to ``endpoint_id`` fail (``"webhook_failure"``); the hosted
        page's next start ends with ``outcome`` (``"hosted_outcome"``). Every ``serve`` process
        applies it."""
        return self._client._request(
            _create_fault_call(
                kind,
                operation,
                status,
                retry_after,
                delay_ms,
                endpoint_id,
                outcome,
                times,
                until_deleted,
                idempotency_key,
            )
        )

    def list(self) -> SyncPage[Fault]:
        """Your faults, oldest first, with the uses each has left (one page: at most 100)."""
        return self._client._page(ops.LIST_FAULTS.call())

    def delete(self, fault_id: str) -> DeletedFault:
        """Delete a fault: from now on it applies to nothing, on every process."""
        return self._client._request(ops.DELETE_FAULT.call(path={"fault_id": fault_id}))


class AsyncFaults(AsyncResource):
    """``/v2/test_helpers/faults``: faults declared ahead, applied by every process."""

    async def create(
        self,
        *,
        kind: FaultKind,
        operation: FaultOperation | None = None,
        status: FaultStatus | None = None,
        retry_after: int | None = None,
        delay_ms: int | None = None,
        endpoint_id: str | None = None,
        outcome: HostedOutcome | None = None,
        times: int | None = None,
        until_deleted: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Fault:
        """Declare a fault: the next ``times`` requests (default 1; or every one,
        ``until_deleted``) of ``operation`` answer ``status`` (``kind="error"``: 429, 500 or 503,
        with ``retry_after``), run ``delay_ms`` late (``"delay"``) or lose their connection
        (``"drop"``); deliveries to ``endpoint_id`` fail (``"webhook_failure"``); the hosted
        page's next start ends with ``outcome`` (``"hosted_outcome"``). Every ``serve`` process
        applies it."""
        return await self._client._request(
            _create_fault_call(
                kind,
                operation,
                status,
                retry_after,
                delay_ms,
                endpoint_id,
                outcome,
                times,
                until_deleted,
                idempotency_key,
            )
        )

    async def list(self) -> AsyncPage[Fault]:
        """Your faults, oldest first, with the uses each has left (one page: at most 100)."""
        return await self._client._page(ops.LIST_FAULTS.call())

    async def delete(self, fault_id: str) -> DeletedFault:
        """Delete a fault: from now on it applies to nothing, on every process."""
        return await self._client._request(ops.DELETE_FAULT.call(path={"fault_id": fault_id}))


class TestWebhookEvents(SyncResource):
    """``/v2/test_helpers/webhook_events``: events fired on demand."""

    __test__ = False  # not a pytest test class, whatever its name

    def fire(
        self,
        *,
        type: EventType,
        customer_id: str | None = None,
        partner_customer_id: str | None = None,
        status: Decision | None = None,
        payment_method_id: str | None = None,
        previous_status: PaymentMethodStatus | None = None,
        new_status: PaymentMethodStatus | None = None,
        merchant_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookEvent:
        """Send one event for one of your customers (``customer_id`` or
        ``partner_customer_id``): ``APPLICATION`` with ``status``, or ``PAYMENT_METHOD`` with
        ``new_status`` (and ``previous_status``) for its ``payment_method_id`` (default: its
        newest); signed, delivered and retried like a real one. Safe to retry."""
        return self._client._request(
            _fire_call(
                type,
                customer_id,
                partner_customer_id,
                status,
                payment_method_id,
                previous_status,
                new_status,
                merchant_key,
                idempotency_key,
            )
        )


class AsyncTestWebhookEvents(AsyncResource):
    """``/v2/test_helpers/webhook_events``: events fired on demand."""

    __test__ = False

    async def fire(
        self,
        *,
        type: EventType,
        customer_id: str | None = None,
        partner_customer_id: str | None = None,
        status: Decision | None = None,
        payment_method_id: str | None = None,
        previous_status: PaymentMethodStatus | None = None,
        new_status: PaymentMethodStatus | None = None,
        merchant_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> WebhookEvent:
        """Send one event for one of your customers (``customer_id`` or
        ``partner_customer_id``): ``APPLICATION`` with ``status``, or ``PAYMENT_METHOD`` with
        ``new_status`` (and ``previous_status``) for its ``payment_method_id`` (default: its
        newest); signed, delivered and retried like a real one. Safe to retry."""
        return await self._client._request(
            _fire_call(
                type,
                customer_id,
                partner_customer_id,
                status,
                payment_method_id,
                previous_status,
                new_status,
                merchant_key,
                idempotency_key,
            )
        )


class Sandboxes(SyncResource):
    """``/v2/test_helpers/sandboxes``: throwaway sandboxes, each a partner with its own key, and
    their test clocks."""

    def create(
        self, *, name: str | None = None, test_clock: NewTestClockParams | None = None
    ) -> CreatedSandbox:
        """A new, empty sandbox; its ``api_key`` is in this response only
        (``client.with_options(api_key=sandbox.api_key)`` calls the API as it). With
        ``test_clock`` (``{}``: starting now, or ``{"frozen_time": "2031-05-01T09:00:00Z"}``) its
        time stands still for its whole life, moving only when advanced."""
        return self._client._request(_create_sandbox_call(name, test_clock))

    def list(self) -> SyncPage[Sandbox]:
        """The sandboxes you created and have not deleted (one page)."""
        return self._client._page(ops.LIST_SANDBOXES.call())

    def reset(self, sandbox_id: str) -> Sandbox:
        """Delete everything in the sandbox; its keys keep working."""
        return self._client._request(ops.RESET_SANDBOX.call(path={"sandbox_id": sandbox_id}))

    def retrieve_test_clock(self, sandbox_id: str) -> TestClock:
        """The time the sandbox's test clock shows (``NotFoundError``
        ``TEST_CLOCK_NOT_FOUND_ERROR`` if it was created without one)."""
        return self._client._request(ops.GET_TEST_CLOCK.call(path={"sandbox_id": sandbox_id}))

    def advance_test_clock(
        self, sandbox_id: str, *, frozen_time: str | None = None, seconds: int | None = None
    ) -> TestClock:
        """Move the sandbox's test clock forward, to ``frozen_time`` (RFC 3339) or by
        ``seconds``: give exactly one. What falls due by then (expiry, webhook retries) does.
        Never back (``ConflictError``). Not retried once it may have run: advancing to a
        ``frozen_time`` is safe to call again, by ``seconds`` is not."""
        return self._client._request(_advance_test_clock_call(sandbox_id, frozen_time, seconds))

    def delete(self, sandbox_id: str) -> DeletedSandbox:
        """Delete the sandbox and its data; its keys stop working within a second."""
        return self._client._request(ops.DELETE_SANDBOX.call(path={"sandbox_id": sandbox_id}))


class AsyncSandboxes(AsyncResource):
    """``/v2/test_helpers/sandboxes``: throwaway sandboxes, each a partner with its own key, and
    their test clocks."""

    async def create(
        self, *, name: str | None = None, test_clock: NewTestClockParams | None = None
    ) -> CreatedSandbox:
        """A new, empty sandbox; its ``api_key`` is in this response only
        (``client.with_options(api_key=sandbox.api_key)`` calls the API as it). With
        ``test_clock`` (``{}``: starting now, or ``{"frozen_time": "2031-05-01T09:00:00Z"}``) its
        time stands still for its whole life, moving only when advanced."""
        return await self._client._request(_create_sandbox_call(name, test_clock))

    async def list(self) -> AsyncPage[Sandbox]:
        """The sandboxes you created and have not deleted (one page)."""
        return await self._client._page(ops.LIST_SANDBOXES.call())

    async def reset(self, sandbox_id: str) -> Sandbox:
        """Delete everything in the sandbox; its keys keep working."""
        return await self._client._request(ops.RESET_SANDBOX.call(path={"sandbox_id": sandbox_id}))

    async def retrieve_test_clock(self, sandbox_id: str) -> TestClock:
        """The time the sandbox's test clock shows (``NotFoundError``
        ``TEST_CLOCK_NOT_FOUND_ERROR`` if it was created without one)."""
        return await self._client._request(ops.GET_TEST_CLOCK.call(path={"sandbox_id": sandbox_id}))

    async def advance_test_clock(
        self, sandbox_id: str, *, frozen_time: str | None = None, seconds: int | None = None
    ) -> TestClock:
        """Move the sandbox's test clock forward, to ``frozen_time`` (RFC 3339) or by
        ``seconds``: give exactly one. What falls due by then (expiry, webhook retries) does.
        Never back (``ConflictError``). Not retried once it may have run: advancing to a
        ``frozen_time`` is safe to call again, by ``seconds`` is not."""
        return await self._client._request(
            _advance_test_clock_call(sandbox_id, frozen_time, seconds)
        )

    async def delete(self, sandbox_id: str) -> DeletedSandbox:
        """Delete the sandbox and its data; its keys stop working within a second."""
        return await self._client._request(ops.DELETE_SANDBOX.call(path={"sandbox_id": sandbox_id}))


class TestHelpers(SyncResource):
    """The sandbox's helpers: ``simulate_application``, ``sandboxes``, ``faults`` and
    ``webhook_events``."""

    __slots__ = ("faults", "sandboxes", "webhook_events")
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, client: Imprint) -> None:
        super().__init__(client)
        self.sandboxes = Sandboxes(client)
        self.faults = Faults(client)
        self.webhook_events = TestWebhookEvents(client)

    def simulate_application(
        self,
        *,
        status: Decision,
        customer_id: str | None = None,
        partner_customer_id: str | None = None,
        merchant_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> SimulatedApplication:
        """Drive a customer's application to a decision, sending the webhooks a real one
        would (``OFFER_ACCEPTED`` also creates a card)."""
        return self._client._request(
            ops.SIMULATE_APPLICATION.call(
                body={
                    "customer_id": customer_id,
                    "partner_customer_id": partner_customer_id,
                    "status": status,
                },
                idempotency_key=idempotency_key,
                merchant_key=merchant_key,
            )
        )


class AsyncTestHelpers(AsyncResource):
    """The sandbox's helpers: ``simulate_application``, ``sandboxes``, ``faults`` and
    ``webhook_events``."""

    __slots__ = ("faults", "sandboxes", "webhook_events")
    __test__ = False

    def __init__(self, client: AsyncImprint) -> None:
        super().__init__(client)
        self.sandboxes = AsyncSandboxes(client)
        self.faults = AsyncFaults(client)
        self.webhook_events = AsyncTestWebhookEvents(client)

    async def simulate_application(
        self,
        *,
        status: Decision,
        customer_id: str | None = None,
        partner_customer_id: str | None = None,
        merchant_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> SimulatedApplication:
        """Drive a customer's application to a decision, sending the webhooks a real one
        would (``OFFER_ACCEPTED`` also creates a card)."""
        return await self._client._request(
            ops.SIMULATE_APPLICATION.call(
                body={
                    "customer_id": customer_id,
                    "partner_customer_id": partner_customer_id,
                    "status": status,
                },
                idempotency_key=idempotency_key,
                merchant_key=merchant_key,
            )
        )
