"""Partners and API keys (cold paths: the CLI and authentication)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from imprint_sessions.storage.audit_events import record_with
from imprint_sessions.storage.dialect import TextList, id_text, in_texts, json_array_contains
from imprint_sessions.storage.records import ApiKey, NewAuditEvent, Partner, Principal
from imprint_sessions.storage.sql import Executor, Repository, Row, Statement, bp, columns, params
from imprint_sessions.storage.tables import api_keys, partners

p, k = partners.c, api_keys.c

# A partner as ``partner_from_row`` reads it (shared with hosted.py).
_PARTNER_FIELDS = "id name merchant_keys allowed_origins created_at logo_url"
PARTNER_COLUMNS = columns(partners, _PARTNER_FIELDS)
API_KEY_COLUMNS = columns(api_keys, "id partner_id display_prefix created_at revoked_at")

_INSERT_PARTNER = Statement(sa.insert(partners).values(params(_PARTNER_FIELDS)))
# A deleted sandbox is gone for every purpose but its audit trail.
_LIVE = p.deleted_at.is_(None)
_GET_PARTNER = Statement(sa.select(*PARTNER_COLUMNS).where(p.id == bp("id"), _LIVE))
_LIST_PARTNERS = Statement(
    sa.select(*PARTNER_COLUMNS).where(_LIVE, p.sandbox_of.is_(None)).order_by(p.created_at, p.id)
)
_SET_LOGO_URL = Statement(
    sa.update(partners)
    .where(p.id == bp("id"))
    .values(logo_url=bp("logo_url"))
    .returning(*PARTNER_COLUMNS)
)
_INSERT_API_KEY = Statement(
    sa.insert(api_keys).values(
        params("id partner_id key_hash display_prefix secret_key_id created_at")
    )
)
_LIST_API_KEYS = Statement(
    sa.select(*API_KEY_COLUMNS).where(k.partner_id == bp("partner_id")).order_by(k.created_at, k.id)
)
_REVOKE_API_KEY = Statement(
    sa.update(api_keys)
    .where(k.id == bp("id"), k.revoked_at.is_(None))
    .values(revoked_at=bp("at"))
    .returning(id_text(k.partner_id).label("partner_id"), k.display_prefix)
)
_PRINCIPAL = Statement(
    sa.select(
        id_text(k.id).label("api_key_id"),
        id_text(k.partner_id).label("partner_id"),
        p.merchant_keys,
        k.display_prefix,
        p.test_clock_at,
    )
    .select_from(api_keys.join(partners, p.id == k.partner_id))
    .where(in_texts(k.key_hash, bp("key_hashes")), k.revoked_at.is_(None), p.deleted_at.is_(None))
)
_ANY_ALLOWS_ORIGIN = Statement(
    sa.select(sa.exists().where(json_array_contains(p.allowed_origins, bp("origin"))))
)


def partner_from_row(row: Row) -> Partner:
    return Partner(
        id=row["id"],
        name=row["name"],
        merchant_keys=tuple(json.loads(row["merchant_keys"])),
        created_at=row["created_at"],
        allowed_origins=tuple(json.loads(row["allowed_origins"])),
        logo_url=row["logo_url"],
    )


class Partners(Repository):
    async def create_partner(self, partner: Partner) -> None:
        await self._db.count(
            _INSERT_PARTNER,
            id=partner.id,
            name=partner.name,
            merchant_keys=json.dumps(list(partner.merchant_keys)),
            allowed_origins=json.dumps(list(partner.allowed_origins)),
            created_at=partner.created_at,
            logo_url=partner.logo_url,
        )

    async def get_partner(self, partner_id: str) -> Partner | None:
        row = await self._db.one(_GET_PARTNER, id=partner_id)
        return partner_from_row(row) if row else None

    async def list_partners(self) -> list[Partner]:
        return [partner_from_row(r) for r in await self._db.all(_LIST_PARTNERS)]

    async def set_partner_logo_url(self, partner_id: str, logo_url: str | None) -> Partner | None:
        row = await self._db.one(_SET_LOGO_URL, id=partner_id, logo_url=logo_url)
        return partner_from_row(row) if row else None

    async def create_api_key(
        self,
        api_key: ApiKey,
        *,
        key_hash: str,
        secret_key_id: str,
        audit: NewAuditEvent | None = None,
    ) -> None:
        async def create(x: Executor) -> None:
            await x.count(
                _INSERT_API_KEY,
                id=api_key.id,
                partner_id=api_key.partner_id,
                key_hash=key_hash,
                display_prefix=api_key.display_prefix,
                secret_key_id=secret_key_id,
                created_at=api_key.created_at,
            )
            await record_with(x, audit, partner_id=api_key.partner_id)

        await self._db.transaction(create)

    async def list_api_keys(self, partner_id: str) -> list[ApiKey]:
        rows = await self._db.all(_LIST_API_KEYS, partner_id=partner_id)
        return [ApiKey(**dict(r)) for r in rows]

    async def revoke_api_key(
        self, api_key_id: str, *, at: int, audit: NewAuditEvent | None = None
    ) -> bool:
        async def revoke(x: Executor) -> bool:
            row = await x.one(_REVOKE_API_KEY, id=api_key_id, at=at)
            if row is None:
                return False
            await record_with(
                x,
                audit,
                partner_id=row["partner_id"],
                details={"display_prefix": row["display_prefix"]},
            )
            return True

        return await self._db.transaction(revoke)

    async def find_principal_by_key_hashes(self, key_hashes: list[str]) -> Principal | None:
        row = await self._db.one(_PRINCIPAL, key_hashes=TextList(key_hashes))
        if row is None:
            return None
        return Principal(
            api_key_id=row["api_key_id"],
            partner_id=row["partner_id"],
            merchant_keys=tuple(json.loads(row["merchant_keys"])),
            api_key_display_prefix=row["display_prefix"],
            test_clock=row["test_clock_at"] is not None,
        )

    async def any_partner_allows_origin(self, origin: str) -> bool:
        row = await self._db.one(_ANY_ALLOWS_ORIGIN, origin=origin)
        return bool(row and row[0])
