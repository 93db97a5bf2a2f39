"""``client.test_helpers``: what only a sandbox server answers (production: 404 or 403).

A namespace of its own, so that the sandbox's other helpers join it as ``test_helpers.<name>``
beside ``sandboxes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from imprint_client import _operations as ops
from imprint_client.models import CreatedSandbox, DeletedSandbox, Sandbox, SimulatedApplication
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.resources._base import AsyncResource, SyncResource

if TYPE_CHECKING:
    from imprint_client._client import AsyncImprint, Imprint

Decision = Literal["OFFER_ACCEPTED", "REJECTED"]


class Sandboxes(SyncResource):
    """``/v2/test_helpers/sandboxes``: throwaway sandboxes, each a partner with its own key."""

    def create(self, *, name: str | None = None) -> CreatedSandbox:
        """A new, empty sandbox; its ``api_key`` is in this response only
        (``client.with_options(api_key=sandbox.api_key)`` calls the API as it)."""
        return self._client._request(ops.CREATE_SANDBOX.call(body={"name": name}))

    def list(self) -> SyncPage[Sandbox]:
        """The sandboxes you created and have not deleted (one page)."""
        return self._client._page(ops.LIST_SANDBOXES.call())

    def reset(self, sandbox_id: str) -> Sandbox:
        """Delete everything in the sandbox; its keys keep working."""
        return self._client._request(ops.RESET_SANDBOX.call(path={"sandbox_id": sandbox_id}))

    def delete(self, sandbox_id: str) -> DeletedSandbox:
        """Delete the sandbox and its data; its keys stop working within a second."""
        return self._client._request(ops.DELETE_SANDBOX.call(path={"sandbox_id": sandbox_id}))


class AsyncSandboxes(AsyncResource):
    """``/v2/test_helpers/sandboxes``: throwaway sandboxes, each a partner with its own key."""

    async def create(self, *, name: str | None = None) -> CreatedSandbox:
        """A new, empty sandbox; its ``api_key`` is in this response only
        (``client.with_options(api_key=sandbox.api_key)`` calls the API as it)."""
        return await self._client._request(ops.CREATE_SANDBOX.call(body={"name": name}))

    async def list(self) -> AsyncPage[Sandbox]:
        """The sandboxes you created and have not deleted (one page)."""
        return await self._client._page(ops.LIST_SANDBOXES.call())

    async def reset(self, sandbox_id: str) -> Sandbox:
        """Delete everything in the sandbox; its keys keep working."""
        return await self._client._request(ops.RESET_SANDBOX.call(path={"sandbox_id": sandbox_id}))

    async def delete(self, sandbox_id: str) -> DeletedSandbox:
        """Delete the sandbox and its data; its keys stop working within a second."""
        return await self._client._request(ops.DELETE_SANDBOX.call(path={"sandbox_id": sandbox_id}))


class TestHelpers(SyncResource):
    """The sandbox's helpers: ``simulate_application`` and ``sandboxes``."""

    __slots__ = ("sandboxes",)
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, client: Imprint) -> None:
        super().__init__(client)
        self.sandboxes = Sandboxes(client)

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
    """The sandbox's helpers: ``simulate_application`` and ``sandboxes``."""

    __slots__ = ("sandboxes",)
    __test__ = False

    def __init__(self, client: AsyncImprint) -> None:
        super().__init__(client)
        self.sandboxes = AsyncSandboxes(client)

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
