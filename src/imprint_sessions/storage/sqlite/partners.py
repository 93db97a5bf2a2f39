"""Partners and API keys on SQLite."""

from __future__ import annotations

import json
import sqlite3

from imprint_sessions.storage.records import ApiKey, Partner, Principal
from imprint_sessions.storage.sqlite.runner import LiteRepository

_PARTNER_COLUMNS = "id, name, merchant_keys, allowed_origins, created_at, logo_url"


class LitePartners(LiteRepository):
    async def create_partner(self, partner: Partner) -> None:
        await self._runner.write(
            lambda c: c.execute(
                f"INSERT INTO partners ({_PARTNER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    partner.id,
                    partner.name,
                    json.dumps(list(partner.merchant_keys)),
                    json.dumps(list(partner.allowed_origins)),
                    partner.created_at,
                    partner.logo_url,
                ),
            )
        )

    async def get_partner(self, partner_id: str) -> Partner | None:
        rows = await self._runner.read(
            f"SELECT {_PARTNER_COLUMNS} FROM partners WHERE id = ?",
            partner_id,
        )
        return _partner(rows[0]) if rows else None

    async def list_partners(self) -> list[Partner]:
        rows = await self._runner.read(
            f"SELECT {_PARTNER_COLUMNS} FROM partners ORDER BY created_at, id"
        )
        return [_partner(r) for r in rows]

    async def set_partner_logo_url(self, partner_id: str, logo_url: str | None) -> Partner | None:
        row = await self._runner.write(
            lambda c: c.execute(
                f"UPDATE partners SET logo_url = ? WHERE id = ? RETURNING {_PARTNER_COLUMNS}",
                (logo_url, partner_id),
            ).fetchone()
        )
        return _partner(row) if row else None

    async def create_api_key(self, api_key: ApiKey, *, key_hash: str, secret_key_id: str) -> None:
        await self._runner.write(
            lambda c: c.execute(
                "INSERT INTO api_keys (id, partner_id, key_hash, display_prefix, secret_key_id, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    api_key.id,
                    api_key.partner_id,
                    key_hash,
                    api_key.display_prefix,
                    secret_key_id,
                    api_key.created_at,
                ),
            )
        )

    async def list_api_keys(self, partner_id: str) -> list[ApiKey]:
        rows = await self._runner.read(
            "SELECT id, partner_id, display_prefix, created_at, revoked_at FROM api_keys "
            "WHERE partner_id = ? ORDER BY created_at, id",
            partner_id,
        )
        return [ApiKey(**dict(r)) for r in rows]

    async def revoke_api_key(self, api_key_id: str, *, at: int) -> bool:
        cursor = await self._runner.write(
            lambda c: c.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, api_key_id),
            )
        )
        return cursor.rowcount == 1

    async def find_principal_by_key_hashes(self, key_hashes: list[str]) -> Principal | None:
        marks = ", ".join("?" * len(key_hashes))
        rows = await self._runner.read(
            "SELECT k.id AS api_key_id, k.partner_id, p.merchant_keys FROM api_keys k "
            f"JOIN partners p ON p.id = k.partner_id WHERE k.key_hash IN ({marks}) "
            "AND k.revoked_at IS NULL",
            *key_hashes,
        )
        if not rows:
            return None
        row = rows[0]
        return Principal(
            api_key_id=row["api_key_id"],
            partner_id=row["partner_id"],
            merchant_keys=tuple(json.loads(row["merchant_keys"])),
        )

    async def any_partner_allows_origin(self, origin: str) -> bool:
        rows = await self._runner.read(
            "SELECT EXISTS (SELECT 1 FROM partners p, json_each(p.allowed_origins) o "
            "WHERE o.value = ?)",
            origin,
        )
        return bool(rows[0][0])


def _partner(row: sqlite3.Row) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        merchant_keys=tuple(json.loads(row["merchant_keys"])),
        created_at=row["created_at"],
        allowed_origins=tuple(json.loads(row["allowed_origins"])),
        logo_url=row["logo_url"],
    )
