"""A partner's own API keys (``/v2/keys``): serialised changes and scoped revocation."""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.audit_events import record_with
from imprint_sessions.storage.partners import API_KEY_COLUMNS
from imprint_sessions.storage.records import ApiKey, NewAuditEvent
from imprint_sessions.storage.sql import Executor, Repository, Statement, bp
from imprint_sessions.storage.tables import api_keys, partners

k = api_keys.c

# The partner's row is the lock: two concurrent creates cannot both pass the key limit, two
# concurrent deletes cannot both leave the partner without a key. (SQLite: no FOR UPDATE; a
# unit of work there is BEGIN IMMEDIATE, which already excludes every other writer.)
_LOCK_PARTNER = Statement(
    sa.select(sa.literal_column("1")).where(partners.c.id == bp("partner_id")).with_for_update()
)
_COUNT_ACTIVE = Statement(
    sa.select(sa.func.count())
    .select_from(api_keys)
    .where(k.partner_id == bp("partner_id"), k.revoked_at.is_(None))
)
_REVOKE = Statement(
    sa.update(api_keys)
    .where(k.id == bp("id"), k.partner_id == bp("partner_id"), k.revoked_at.is_(None))
    .values(revoked_at=bp("now"))
    .returning(*API_KEY_COLUMNS)
)


class PartnerApiKeys(Repository):
    async def lock_partner_api_keys(self, partner_id: str) -> int:
        await self._db.one(_LOCK_PARTNER, partner_id=partner_id)
        row = await self._db.one(_COUNT_ACTIVE, partner_id=partner_id)
        assert row is not None
        return int(row[0])

    async def revoke_partner_api_key(
        self, partner_id: str, api_key_id: str, *, now: int, audit: NewAuditEvent | None = None
    ) -> ApiKey | None:
        async def revoke(x: Executor) -> ApiKey | None:
            row = await x.one(_REVOKE, id=api_key_id, partner_id=partner_id, now=now)
            if row is None:
                return None
            await record_with(
                x, audit, partner_id=partner_id, details={"display_prefix": row["display_prefix"]}
            )
            return ApiKey(**dict(row))

        return await self._db.transaction(revoke)
