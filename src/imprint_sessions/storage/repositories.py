"""The repository interface: every query the domain may make, named for its intent.

One protocol per resource, composed into ``Repositories``. Two implementations, each one mixin
module per resource: ``postgres/`` (asyncpg) and ``sqlite/`` (stdlib sqlite3 on worker threads).
Each method is atomic on its own; inside a unit of work it joins that transaction instead.
"""

from __future__ import annotations

from typing import Protocol

from imprint_sessions.storage.records import (
    ApiKey,
    CreateOutcome,
    CustomerSession,
    NewCustomerSession,
    Partner,
    Principal,
)


class PartnerRepository(Protocol):
    """Partners and API keys (cold paths: the CLI and authentication)."""

    async def create_partner(self, partner: Partner) -> None: ...

    async def get_partner(self, partner_id: str) -> Partner | None: ...

    async def list_partners(self) -> list[Partner]: ...

    async def create_api_key(
        self, api_key: ApiKey, *, key_hash: str, secret_key_id: str
    ) -> None: ...

    async def list_api_keys(self, partner_id: str) -> list[ApiKey]: ...

    async def revoke_api_key(self, api_key_id: str, *, at: int) -> bool: ...

    async def find_principal_by_key_hashes(self, key_hashes: list[str]) -> Principal | None: ...


class CustomerSessionRepository(Protocol):
    """Customer sessions (the hot path)."""

    async def create_customer_session(self, new: NewCustomerSession) -> CreateOutcome: ...

    async def get_customer_session(
        self, partner_id: str, customer_session_id: str
    ) -> CustomerSession | None: ...


class Repositories(PartnerRepository, CustomerSessionRepository, Protocol):
    """Everything the domain may ask of the store: one protocol per resource, composed here."""

    async def ping(self) -> None: ...
