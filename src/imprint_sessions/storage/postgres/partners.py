"""Partners and API keys on PostgreSQL."""

from __future__ import annotations

import json

import asyncpg

from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import ApiKey, Partner, Principal


class PgPartners(PgRepository):
    async def create_partner(self, partner: Partner) -> None:
        await self._execute(
            "INSERT INTO partners (id, name, merchant_keys, allowed_origins, created_at, logo_url) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            partner.id,
            partner.name,
            json.dumps(list(partner.merchant_keys)),
            json.dumps(list(partner.allowed_origins)),
            partner.created_at,
            partner.logo_url,
        )

    async def get_partner(self, partner_id: str) -> Partner | None:
        row = await self._fetchrow(
            "SELECT upper(id::text) AS id, name, merchant_keys, allowed_origins, created_at, "
            "logo_url "
            "FROM partners "
            "WHERE id = $1",
            partner_id,
        )
        return _partner(row) if row else None

    async def list_partners(self) -> list[Partner]:
        rows = await self._fetch(
            "SELECT upper(id::text) AS id, name, merchant_keys, allowed_origins, created_at, "
            "logo_url "
            "FROM partners "
            "ORDER BY created_at, id"
        )
        return [_partner(r) for r in rows]

    async def set_partner_logo_url(self, partner_id: str, logo_url: str | None) -> Partner | None:
        row = await self._fetchrow(
            "UPDATE partners SET logo_url = $2 WHERE id = $1 RETURNING upper(id::text) AS id, "
            "name, merchant_keys, allowed_origins, created_at, logo_url",
            partner_id,
            logo_url,
        )
        return _partner(row) if row else None

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

    async def any_partner_allows_origin(self, origin: str) -> bool:
        row = await self._fetchrow(
            "SELECT EXISTS (SELECT 1 FROM partners WHERE allowed_origins::jsonb ? $1) AS allowed",
            origin,
        )
        return bool(row and row["allowed"])


def _partner(row: asyncpg.Record) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        merchant_keys=tuple(json.loads(row["merchant_keys"])),
        created_at=row["created_at"],
        allowed_origins=tuple(json.loads(row["allowed_origins"])),
        logo_url=row["logo_url"],
    )
