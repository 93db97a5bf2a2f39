"""Idempotency-Key records of the partner API: an atomic claim (upsert), completion, release."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.records import IdempotencyClaim, IdempotencyRecord, StoredResponse
from imprint_sessions.storage.sql import Repository, Row, Statement, bp, lit
from imprint_sessions.storage.tables import idempotency_keys, partners

k = idempotency_keys.c

# Insert the in-flight record, or take over one that has expired or was abandoned by a dead
# process. A live record is left alone (and locked only for this statement): no row returned.
_new = insert(idempotency_keys).values(
    partner_id=bp("partner_id"),
    key=bp("key"),
    request_hash=bp("request_hash"),
    status=lit("in_flight"),
    created_at=bp("created_at"),
    expires_at=bp("expires_at"),
)
_CLAIM = Statement(
    _new.on_conflict_do_update(
        index_elements=[k.partner_id, k.key],
        set_={
            "request_hash": _new.excluded.request_hash,
            "status": lit("in_flight"),
            "response_status": sa.null(),
            "response_headers": sa.null(),
            "response_body": sa.null(),
            "response_secrets": sa.null(),
            "created_at": _new.excluded.created_at,
            "expires_at": _new.excluded.expires_at,
        },
        where=sa.or_(
            k.expires_at <= bp("created_at"),
            sa.and_(k.status == lit("in_flight"), k.created_at < bp("stale_before")),
        ),
    ).returning(lit(1))
)
_LIVE_RECORD = Statement(
    sa.select(
        k.request_hash,
        k.status,
        k.created_at,
        k.response_status,
        k.response_headers,
        k.response_body,
        k.response_secrets,
    ).where(
        k.partner_id == bp("partner_id"),
        k.key == bp("key"),
        k.expires_at > bp("now"),
        sa.or_(k.status == lit("completed"), k.created_at >= bp("stale_before")),
    )
)
_this_claim = (
    k.partner_id == bp("partner_id"),
    k.key == bp("key"),
    k.status == lit("in_flight"),
    k.created_at == bp("claimed_at"),
)
_COMPLETE = Statement(
    sa.update(idempotency_keys)
    .where(*_this_claim)
    .values(
        status=lit("completed"),
        response_status=bp("response_status"),
        response_headers=bp("response_headers"),
        response_body=bp("response_body"),
        response_secrets=bp("response_secrets"),
    )
)
_RELEASE = Statement(sa.delete(idempotency_keys).where(*_this_claim))
# Real time, for every partner but a sandbox with a test clock: its keys expire by its clock,
# which the claim above applies (an expired record is taken over), and go with the sandbox.
_CLOCKED = sa.select(partners.c.id).where(partners.c.test_clock_at.is_not(None))
_DELETE_EXPIRED = Statement(
    sa.delete(idempotency_keys).where(
        sa.tuple_(k.partner_id, k.key).in_(
            sa.select(k.partner_id, k.key)
            .where(k.expires_at <= bp("now"), k.partner_id.not_in(_CLOCKED))
            .limit(bp("limit"))
        )
    )
)

# A claim races a release or an expiry only a few times in a row, at worst.
_CLAIM_ATTEMPTS = 5


class Idempotency(Repository):
    async def claim_idempotency_key(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        for _ in range(_CLAIM_ATTEMPTS):
            claimed = await self._db.one(
                _CLAIM,
                partner_id=claim.partner_id,
                key=claim.key,
                request_hash=claim.request_hash,
                created_at=claim.created_at,
                expires_at=claim.expires_at,
                stale_before=claim.stale_before,
            )
            if claimed is not None:
                return None
            # Its own statement, so it sees the record that made the claim conflict (committed
            # before this statement started) even if that commit came after the claim began.
            row = await self._db.one(
                _LIVE_RECORD,
                partner_id=claim.partner_id,
                key=claim.key,
                now=claim.created_at,
                stale_before=claim.stale_before,
            )
            if row is not None:
                return _record(row)
            # The record was released or lapsed between the two statements: claim again.
        raise ServiceUnavailable("database: could not settle a concurrent idempotency key claim")

    async def complete_idempotency_key(
        self, partner_id: str, key: str, *, claimed_at: int, response: StoredResponse
    ) -> bool:
        changed = await self._db.count(
            _COMPLETE,
            partner_id=partner_id,
            key=key,
            claimed_at=claimed_at,
            response_status=response.status,
            response_headers=response.headers_json,
            response_body=response.body,
            response_secrets=response.secrets_json,
        )
        return changed == 1

    async def release_idempotency_key(self, partner_id: str, key: str, *, claimed_at: int) -> None:
        await self._db.count(_RELEASE, partner_id=partner_id, key=key, claimed_at=claimed_at)

    async def delete_expired_idempotency_keys(self, *, now: int, limit: int) -> int:
        return await self._db.count(_DELETE_EXPIRED, now=now, limit=limit)


def _record(row: Row) -> IdempotencyRecord:
    response = None
    if row["status"] == "completed":
        response = StoredResponse(
            status=row["response_status"],
            headers_json=row["response_headers"],
            body=row["response_body"],
            secrets_json=row["response_secrets"],
        )
    return IdempotencyRecord(
        request_hash=row["request_hash"],
        status=row["status"],
        created_at=row["created_at"],
        response=response,
    )
