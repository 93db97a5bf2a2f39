"""A partner's own API keys on PostgreSQL: serialised changes and scoped revocation."""

from __future__ import annotations

from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import ApiKey


class PgPartnerApiKeys(PgRepository):
    async def lock_partner_api_keys(self, partner_id: str) -> int:
        # The partner's row is the lock: two concurrent creates cannot both pass the key limit,
        # two concurrent deletes cannot both leave the partner without a key.
        await self._fetchrow("SELECT 1 FROM partners WHERE id = $1 FOR UPDATE", partner_id)
        row = await self._fetchrow(
            "SELECT count(*) AS n FROM api_keys WHERE partner_id = $1 AND revoked_at IS NULL",
            partner_id,
        )
        assert row is not None
        return int(row["n"])

    async def revoke_partner_api_key(
        self, partner_id: str, api_key_id: str, *, now: int
    ) -> ApiKey | None:
        row = await self._fetchrow(
            "UPDATE api_keys SET revoked_at = $3 "
            "WHERE id = $1 AND partner_id = $2 AND revoked_at IS NULL "
            "RETURNING upper(id::text) AS id, upper(partner_id::text) AS partner_id, "
            "display_prefix, created_at, revoked_at",
            api_key_id,
            partner_id,
            now,
        )
        return ApiKey(**dict(row)) if row else None
