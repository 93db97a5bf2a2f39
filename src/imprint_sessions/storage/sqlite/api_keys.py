"""A partner's own API keys on SQLite: serialised changes and scoped revocation."""

from __future__ import annotations

import sqlite3

from imprint_sessions.storage.records import ApiKey
from imprint_sessions.storage.sqlite.runner import LiteRepository


class LitePartnerApiKeys(LiteRepository):
    async def lock_partner_api_keys(self, partner_id: str) -> int:
        # A unit of work on SQLite is BEGIN IMMEDIATE: it already excludes every other writer.
        rows = await self._runner.read(
            "SELECT count(*) FROM api_keys WHERE partner_id = ? AND revoked_at IS NULL",
            partner_id,
        )
        return int(rows[0][0])

    async def revoke_partner_api_key(
        self, partner_id: str, api_key_id: str, *, now: int
    ) -> ApiKey | None:
        def revoke(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute(
                "UPDATE api_keys SET revoked_at = ? "
                "WHERE id = ? AND partner_id = ? AND revoked_at IS NULL "
                "RETURNING id, partner_id, display_prefix, created_at, revoked_at",
                (now, api_key_id, partner_id),
            ).fetchone()
            return ApiKey(**dict(row)) if row else None

        return await self._runner.write(revoke)
