"""``client.payment_methods``: a customer's cards and loans (read-only)."""

from __future__ import annotations

from imprint_client import _operations as ops
from imprint_client.models import PaymentMethod
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.resources._base import AsyncResource, SyncResource


class PaymentMethods(SyncResource):
    def list(
        self, customer_id: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> SyncPage[PaymentMethod]:
        """A customer's cards and loans, oldest first."""
        return self._client._page(
            ops.LIST_PAYMENT_METHODS.call(
                path={"customer_id": customer_id},
                query={"limit": limit, "starting_after": starting_after},
            )
        )

    def retrieve(self, payment_method_id: str) -> PaymentMethod:
        """One card or loan (a card shows only ``last4``, ``network``, ``card_type``...)."""
        return self._client._request(
            ops.GET_PAYMENT_METHOD.call(path={"payment_method_id": payment_method_id})
        )


class AsyncPaymentMethods(AsyncResource):
    async def list(
        self, customer_id: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPage[PaymentMethod]:
        """A customer's cards and loans, oldest first."""
        return await self._client._page(
            ops.LIST_PAYMENT_METHODS.call(
                path={"customer_id": customer_id},
                query={"limit": limit, "starting_after": starting_after},
            )
        )

    async def retrieve(self, payment_method_id: str) -> PaymentMethod:
        """One card or loan (a card shows only ``last4``, ``network``, ``card_type``...)."""
        return await self._client._request(
            ops.GET_PAYMENT_METHOD.call(path={"payment_method_id": payment_method_id})
        )
