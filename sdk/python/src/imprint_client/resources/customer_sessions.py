"""``client.customer_sessions``: ``/v2/customer_sessions`` and a customer's sessions."""

from __future__ import annotations

from typing import Any

from imprint_client import _operations as ops
from imprint_client.models import CustomerSession, CustomerSessionSummary
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.params import CustomerAccountHistoryParams
from imprint_client.resources._base import AsyncResource, SyncResource


class CustomerSessions(SyncResource):
    def create(
        self,
        *,
        customer_id: str | None = None,
        partner_customer_id: str | None = None,
        transaction_amount: int | None = None,
        transaction_currency: str | None = None,
        customer_history: CustomerAccountHistoryParams | None = None,
        source: str | None = None,
        metadata: dict[str, Any] | None = None,
        expires_in: int | None = None,
        merchant_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> CustomerSession:
        """Create a session for a customer (found or created): its ``client_secret`` is for the
        customer's browser or app only. Safe to retry: one Idempotency-Key for every attempt."""
        return self._client._request(
            ops.CREATE_SESSION.call(
                body={
                    "customer_id": customer_id,
                    "partner_customer_id": partner_customer_id,
                    "transaction_amount": transaction_amount,
                    "transaction_currency": transaction_currency,
                    "customer_history": customer_history,
                    "source": source,
                    "metadata": metadata,
                    "expires_in": expires_in,
                },
                idempotency_key=idempotency_key,
                merchant_key=merchant_key,
            )
        )

    def retrieve(self, session_id: str) -> CustomerSession:
        """One of your sessions, ``client_secret`` included."""
        return self._client._request(ops.GET_SESSION.call(path={"session_id": session_id}))

    def list(
        self, customer_id: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> SyncPage[CustomerSessionSummary]:
        """A customer's sessions and their states (no secrets), oldest first."""
        return self._client._page(
            ops.LIST_CUSTOMER_SESSIONS.call(
                path={"customer_id": customer_id},
                query={"limit": limit, "starting_after": starting_after},
            )
        )

    def expire(
        self, session_id: str, *, idempotency_key: str | None = None
    ) -> CustomerSessionSummary:
        """End a session now: its secret no longer exchanges (expiring it again changes nothing)."""
        return self._client._request(
            ops.EXPIRE_SESSION.call(
                path={"session_id": session_id}, idempotency_key=idempotency_key
            )
        )


class AsyncCustomerSessions(AsyncResource):
    async def create(
        self,
        *,
        customer_id: str | None = None,
        partner_customer_id: str | None = None,
        transaction_amount: int | None = None,
        transaction_currency: str | None = None,
        customer_history: CustomerAccountHistoryParams | None = None,
        source: str | None = None,
        metadata: dict[str, Any] | None = None,
        expires_in: int | None = None,
        merchant_key: str | None = None,
        idempotency_key: str | None = None,
    ) -> CustomerSession:
        """Create a session for a customer (found or created): its ``client_secret`` is for the
        customer's browser or app only. Safe to retry: one Idempotency-Key for every attempt."""
        return await self._client._request(
            ops.CREATE_SESSION.call(
                body={
                    "customer_id": customer_id,
                    "partner_customer_id": partner_customer_id,
                    "transaction_amount": transaction_amount,
                    "transaction_currency": transaction_currency,
                    "customer_history": customer_history,
                    "source": source,
                    "metadata": metadata,
                    "expires_in": expires_in,
                },
                idempotency_key=idempotency_key,
                merchant_key=merchant_key,
            )
        )

    async def retrieve(self, session_id: str) -> CustomerSession:
        """One of your sessions, ``client_secret`` included."""
        return await self._client._request(ops.GET_SESSION.call(path={"session_id": session_id}))

    async def list(
        self, customer_id: str, *, limit: int | None = None, starting_after: str | None = None
    ) -> AsyncPage[CustomerSessionSummary]:
        """A customer's sessions and their states (no secrets), oldest first."""
        return await self._client._page(
            ops.LIST_CUSTOMER_SESSIONS.call(
                path={"customer_id": customer_id},
                query={"limit": limit, "starting_after": starting_after},
            )
        )

    async def expire(
        self, session_id: str, *, idempotency_key: str | None = None
    ) -> CustomerSessionSummary:
        """End a session now: its secret no longer exchanges (expiring it again changes nothing)."""
        return await self._client._request(
            ops.EXPIRE_SESSION.call(
                path={"session_id": session_id}, idempotency_key=idempotency_key
            )
        )
