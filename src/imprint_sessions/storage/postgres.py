"""PostgreSQL through an asyncpg pool: the production store.

Create-session is one statement (a CTE that finds or creates the customer and inserts the session),
so it costs one round trip and is atomic without an explicit transaction.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.records import (
    ApiKey,
    CreateOutcome,
    CustomerSession,
    NewCustomerSession,
    Partner,
    Principal,
)
from imprint_sessions.storage.urls import asyncpg_dsn

T = TypeVar("T")

# Errors that mean "the database is unreachable or going away", not "the query is wrong".
_UNAVAILABLE = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,
    asyncpg.TooManyConnectionsError,
)

_SESSION_COLUMNS = (
    "upper(id::text) AS id, upper(partner_id::text) AS partner_id, "
    "upper(customer_id::text) AS customer_id, secret_key_id, source, metadata, "
    "created_at, expires_at, consumed_at, revoked_at"
)

# $1..$11: the session; $12..$19: the profile of a customer created by this call.
_INSERT_SESSION = """
INSERT INTO customer_sessions (id, partner_id, customer_id, merchant_key, secret_key_id,
    transaction_amount, transaction_currency, customer_history, source, metadata,
    created_at, expires_at)
SELECT $1, $2, customer.id, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM customer
RETURNING 1
"""
_NEW_CUSTOMER_VALUES = "$12, $2, {pcid}, $13, $14, $15, $16, $17, $18, $19, $10, $10"
_CUSTOMER_COLUMNS = (
    "id, partner_id, partner_customer_id, email, phone, first_name, last_name, "
    "preferred_language, address, account_history, created_at, updated_at"
)

# Find-or-create by partner_customer_id in one statement. Under a race both callers miss
# `existing`; the loser's INSERT waits for the winner and then does nothing, so it returns no
# row and the caller retries once (the winner's row is visible to the next statement).
CREATE_FOR_PARTNER_CUSTOMER_ID = f"""
WITH existing AS (
    SELECT id FROM customers WHERE partner_id = $2 AND partner_customer_id = $20
), created AS (
    INSERT INTO customers ({_CUSTOMER_COLUMNS})
    SELECT {_NEW_CUSTOMER_VALUES.format(pcid="$20")} WHERE NOT EXISTS (SELECT 1 FROM existing)
    ON CONFLICT (partner_id, partner_customer_id) DO NOTHING
    RETURNING id
), customer AS (
    SELECT id FROM existing UNION ALL SELECT id FROM created
)
{_INSERT_SESSION}
"""

CREATE_FOR_NEW_CUSTOMER = f"""
WITH customer AS (
    INSERT INTO customers ({_CUSTOMER_COLUMNS})
    VALUES ({_NEW_CUSTOMER_VALUES.format(pcid="NULL")})
    RETURNING id
)
{_INSERT_SESSION}
"""

# $12 is the customer_id; $13 (partner_customer_id), when given, must name the same customer.
CREATE_FOR_CUSTOMER_ID = f"""
WITH customer AS (
    SELECT id FROM customers
    WHERE id = $12 AND partner_id = $2
      AND ($13::text IS NULL OR partner_customer_id = $13::text)
)
{_INSERT_SESSION}
"""


def _session_args(new: NewCustomerSession) -> list[Any]:
    return [
        new.id,
        new.partner_id,
        new.merchant_key,
        new.secret_key_id,
        new.transaction_amount,
        new.transaction_currency,
        new.customer_history_json,
        new.source,
        new.metadata_json,
        new.created_at,
        new.expires_at,
    ]


def _customer_args(new: NewCustomerSession) -> list[Any]:
    c = new.new_customer
    return [
        c.id,
        c.email,
        c.phone,
        c.first_name,
        c.last_name,
        c.preferred_language,
        c.address_json,
        c.account_history_json,
    ]


class _Runner:
    """Runs statements either on pooled connections (autocommit) or on one transaction's."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        acquire_timeout: float,
        connection: asyncpg.Connection | None = None,
    ) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self._connection = connection

    async def run(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        try:
            if self._connection is not None:
                return await work(self._connection)
            async with self._pool.acquire(timeout=self._acquire_timeout) as connection:
                return await work(connection)
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable("database: temporarily unavailable") from exc


class PostgresRepositories:
    """asyncpg implementation of ``repositories.Repositories``."""

    def __init__(self, runner: _Runner) -> None:
        self._run = runner.run

    async def _fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._run(lambda c: c.fetchrow(sql, *args))

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._run(lambda c: c.fetch(sql, *args))

    async def _execute(self, sql: str, *args: Any) -> str:
        return await self._run(lambda c: c.execute(sql, *args))

    # -- partners and keys --------------------------------------------------------------------
    async def create_partner(self, partner: Partner) -> None:
        await self._execute(
            "INSERT INTO partners (id, name, merchant_keys, created_at) VALUES ($1, $2, $3, $4)",
            partner.id,
            partner.name,
            json.dumps(list(partner.merchant_keys)),
            partner.created_at,
        )

    async def get_partner(self, partner_id: str) -> Partner | None:
        row = await self._fetchrow(
            "SELECT upper(id::text) AS id, name, merchant_keys, created_at FROM partners "
            "WHERE id = $1",
            partner_id,
        )
        return _partner(row) if row else None

    async def list_partners(self) -> list[Partner]:
        rows = await self._fetch(
            "SELECT upper(id::text) AS id, name, merchant_keys, created_at FROM partners "
            "ORDER BY created_at, id"
        )
        return [_partner(r) for r in rows]

    async def create_api_key(self, api_key: ApiKey, *, key_hash: str, secret_key_id: str) -> None:
        await self._execute(
            "INSERT INTO api_keys (id, partner_id, key_hash, display_prefix, secret_key_id, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            api_key.id,
            api_key.partner_id,
            key_hash,
            api_key.display_prefix,
            secret_key_id,
            api_key.created_at,
        )

    async def list_api_keys(self, partner_id: str) -> list[ApiKey]:
        rows = await self._fetch(
            "SELECT upper(id::text) AS id, upper(partner_id::text) AS partner_id, display_prefix, "
            "created_at, revoked_at FROM api_keys WHERE partner_id = $1 ORDER BY created_at, id",
            partner_id,
        )
        return [ApiKey(**dict(r)) for r in rows]

    async def revoke_api_key(self, api_key_id: str, *, at: int) -> bool:
        status = await self._execute(
            "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            api_key_id,
            at,
        )
        return status == "UPDATE 1"

    async def find_principal_by_key_hashes(self, key_hashes: list[str]) -> Principal | None:
        row = await self._fetchrow(
            "SELECT upper(k.id::text) AS api_key_id, upper(k.partner_id::text) AS partner_id, "
            "p.merchant_keys FROM api_keys k JOIN partners p ON p.id = k.partner_id "
            "WHERE k.key_hash = ANY($1::text[]) AND k.revoked_at IS NULL",
            key_hashes,
        )
        if row is None:
            return None
        return Principal(
            api_key_id=row["api_key_id"],
            partner_id=row["partner_id"],
            merchant_keys=tuple(json.loads(row["merchant_keys"])),
        )

    # -- customer sessions --------------------------------------------------------------------
    async def create_customer_session(self, new: NewCustomerSession) -> CreateOutcome:
        session_args = _session_args(new)
        if new.customer_id is not None:
            created = await self._fetchrow(
                CREATE_FOR_CUSTOMER_ID, *session_args, new.customer_id, new.partner_customer_id
            )
            if created is not None:
                return CreateOutcome.CREATED
            exists = await self._fetchrow(
                "SELECT 1 FROM customers WHERE id = $1 AND partner_id = $2",
                new.customer_id,
                new.partner_id,
            )
            return CreateOutcome.CUSTOMER_MISMATCH if exists else CreateOutcome.CUSTOMER_NOT_FOUND
        customer_args = _customer_args(new)
        if new.partner_customer_id is None:
            await self._fetchrow(CREATE_FOR_NEW_CUSTOMER, *session_args, *customer_args)
            return CreateOutcome.CREATED
        for _ in range(3):
            created = await self._fetchrow(
                CREATE_FOR_PARTNER_CUSTOMER_ID,
                *session_args,
                *customer_args,
                new.partner_customer_id,
            )
            if created is not None:
                return CreateOutcome.CREATED
        raise ServiceUnavailable("database: could not settle a concurrent customer creation")

    async def get_customer_session(
        self, partner_id: str, customer_session_id: str
    ) -> CustomerSession | None:
        row = await self._fetchrow(
            f"SELECT {_SESSION_COLUMNS} FROM customer_sessions WHERE id = $1 AND partner_id = $2",
            customer_session_id,
            partner_id,
        )
        return _customer_session(row) if row else None

    async def ping(self) -> None:
        await self._fetchrow("SELECT 1")


def _partner(row: asyncpg.Record) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        merchant_keys=tuple(json.loads(row["merchant_keys"])),
        created_at=row["created_at"],
    )


def _customer_session(row: asyncpg.Record) -> CustomerSession:
    values = dict(row)
    values["metadata_json"] = values.pop("metadata")
    return CustomerSession(**values)


class PostgresUnitOfWork:
    def __init__(self, connection: asyncpg.Connection, repositories: PostgresRepositories) -> None:
        self._connection = connection
        self.repositories = repositories
        self.committed = False

    async def commit(self) -> None:
        try:
            await self._connection.execute("COMMIT")
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable("database: temporarily unavailable") from exc
        self.committed = True


class PostgresDatabase:
    backend = "postgresql"

    def __init__(self, pool: asyncpg.Pool, acquire_timeout: float) -> None:
        self._pool = pool
        self._acquire_timeout = acquire_timeout
        self.repositories = PostgresRepositories(_Runner(pool, acquire_timeout))

    @classmethod
    async def open(cls, url: str, *, pool_size: int, acquire_timeout: float) -> PostgresDatabase:
        try:
            pool = await asyncpg.create_pool(
                asyncpg_dsn(url),
                min_size=min(2, pool_size),
                max_size=pool_size,
                max_inactive_connection_lifetime=60.0,
                command_timeout=30.0,
            )
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable("database: unreachable at start-up") from exc
        return cls(pool, acquire_timeout)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[PostgresUnitOfWork]:
        """One transaction; leaving the block without ``commit()`` rolls it back."""
        try:
            connection = await self._pool.acquire(timeout=self._acquire_timeout)
        except _UNAVAILABLE as exc:
            raise ServiceUnavailable("database: temporarily unavailable") from exc
        uow: PostgresUnitOfWork | None = None
        try:
            await connection.execute("BEGIN")
            uow = PostgresUnitOfWork(
                connection,
                PostgresRepositories(_Runner(self._pool, self._acquire_timeout, connection)),
            )
            yield uow
        finally:
            try:
                if uow is not None and not uow.committed and not connection.is_closed():
                    await connection.execute("ROLLBACK")
            finally:
                await self._pool.release(connection)

    async def close(self) -> None:
        await self._pool.close()
