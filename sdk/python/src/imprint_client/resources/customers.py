"""``client.customers``: ``/v2/customers`` (there is no create: sessions make customers)."""

from __future__ import annotations

from typing import Any

from imprint_client import _operations as ops
from imprint_client.models import Customer
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.params import AddressParams, DateOfBirthParams
from imprint_client.resources._base import AsyncResource, SyncResource


class Customers(SyncResource):
    def list(
        self,
        *,
        partner_customer_id: str | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> SyncPage[Customer]:
        """Your customers (or the one with ``partner_customer_id``), oldest first."""
        return self._client._page(
            ops.LIST_CUSTOMERS.call(
                query={
                    "partner_customer_id": partner_customer_id,
                    "limit": limit,
                    "starting_after": starting_after,
                }
            )
        )

    def search(
        self,
        *,
        partner_customer_id: str | None = None,
        ssn: str | None = None,
        date_of_birth: DateOfBirthParams | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> SyncPage[Customer]:
        """Customers matching every filter given (an ``ssn`` needs ``date_of_birth``)."""
        return self._client._page(
            ops.SEARCH_CUSTOMERS.call(
                body={
                    "partner_customer_id": partner_customer_id,
                    "ssn": ssn,
                    "date_of_birth": date_of_birth,
                    "limit": limit,
                    "starting_after": starting_after,
                }
            )
        )

    def retrieve(self, customer_id: str) -> Customer:
        """One of your customers."""
        return self._client._request(ops.GET_CUSTOMER.call(path={"customer_id": customer_id}))

    def update(
        self,
        customer_id: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        preferred_language: str | None = None,
        address: AddressParams | None = None,
        date_of_birth: DateOfBirthParams | None = None,
        ssn: str | None = None,
        partner_customer_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Customer:
        """Change the fields given; ``address`` is replaced whole, ``metadata`` merges (``""``
        deletes a key)."""
        return self._client._request(
            ops.UPDATE_CUSTOMER.call(
                path={"customer_id": customer_id},
                body={
                    "email": email,
                    "phone": phone,
                    "first_name": first_name,
                    "last_name": last_name,
                    "preferred_language": preferred_language,
                    "address": address,
                    "date_of_birth": date_of_birth,
                    "ssn": ssn,
                    "partner_customer_id": partner_customer_id,
                    "metadata": metadata,
                },
                idempotency_key=idempotency_key,
            )
        )


class AsyncCustomers(AsyncResource):
    async def list(
        self,
        *,
        partner_customer_id: str | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> AsyncPage[Customer]:
        """Your customers (or the one with ``partner_customer_id``), oldest first."""
        return await self._client._page(
            ops.LIST_CUSTOMERS.call(
                query={
                    "partner_customer_id": partner_customer_id,
                    "limit": limit,
                    "starting_after": starting_after,
                }
            )
        )

    async def search(
        self,
        *,
        partner_customer_id: str | None = None,
        ssn: str | None = None,
        date_of_birth: DateOfBirthParams | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> AsyncPage[Customer]:
        """Customers matching every filter given (an ``ssn`` needs ``date_of_birth``)."""
        return await self._client._page(
            ops.SEARCH_CUSTOMERS.call(
                body={
                    "partner_customer_id": partner_customer_id,
                    "ssn": ssn,
                    "date_of_birth": date_of_birth,
                    "limit": limit,
                    "starting_after": starting_after,
                }
            )
        )

    async def retrieve(self, customer_id: str) -> Customer:
        """One of your customers."""
        return await self._client._request(ops.GET_CUSTOMER.call(path={"customer_id": customer_id}))

    async def update(
        self,
        customer_id: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        preferred_language: str | None = None,
        address: AddressParams | None = None,
        date_of_birth: DateOfBirthParams | None = None,
        ssn: str | None = None,
        partner_customer_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Customer:
        """Change the fields given; ``address`` is replaced whole, ``metadata`` merges (``""``
        deletes a key)."""
        return await self._client._request(
            ops.UPDATE_CUSTOMER.call(
                path={"customer_id": customer_id},
                body={
                    "email": email,
                    "phone": phone,
                    "first_name": first_name,
                    "last_name": last_name,
                    "preferred_language": preferred_language,
                    "address": address,
                    "date_of_birth": date_of_birth,
                    "ssn": ssn,
                    "partner_customer_id": partner_customer_id,
                    "metadata": metadata,
                },
                idempotency_key=idempotency_key,
            )
        )
