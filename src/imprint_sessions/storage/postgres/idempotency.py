"""Idempotency-Key records on PostgreSQL: an atomic claim (upsert), completion and release."""

from __future__ import annotations

import asyncpg

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import IdempotencyClaim, IdempotencyRecord, StoredResponse

# Insert the in-flight record, or take over one that has expired or was abandoned by a dead
# process. A live record is left alone (and locked only for this statement): no row returned.
_CLAIM = """
INSERT INTO idempotency_keys (partner_id, key, request_hash, status, created_at, expires_at)
VALUES ($1, $2, $3, 'in_flight', $4, $5)
ON CONFLICT (partner_id, key) DO UPDATE
SET request_hash = EXCLUDED.request_hash, status = 'in_flight', response_status = NULL,
    response_headers = NULL, response_body = NULL, response_secrets = NULL,
    created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
WHERE idempotency_keys.expires_at <= $4
   OR (idempotency_keys.status = 'in_flight' AND idempotency_keys.created_at < $6)
RETURNING 1
"""

_LIVE_RECORD = """
SELECT request_hash, status, created_at, response_status, response_headers, response_body,
    response_secrets
FROM idempotency_keys
WHERE partner_id = $1 AND key = $2 AND expires_at > $3
  AND (status = 'completed' OR created_at >= $4)
"""

_COMPLETE = """
UPDATE idempotency_keys
SET status = 'completed', response_status = $4, response_headers = $5, response_body = $6,
    response_secrets = $7
WHERE partner_id = $1 AND key = $2 AND status = 'in_flight' AND created_at = $3
"""

_RELEASE = """
DELETE FROM idempotency_keys
WHERE partner_id = $1 AND key = $2 AND status = 'in_flight' AND created_at = $3
"""

_DELETE_EXPIRED = """
DELETE FROM idempotency_keys WHERE (partner_id, key) IN (
    SELECT partner_id, key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2
)
"""

# A claim races a release or an expiry only a few times in a row, at worst.
_CLAIM_ATTEMPTS = 5


class PgIdempotency(PgRepository):
    async def claim_idempotency_key(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        for _ in range(_CLAIM_ATTEMPTS):
            claimed = await self._fetchrow(
                _CLAIM,
                claim.partner_id,
                claim.key,
                claim.request_hash,
                claim.created_at,
                claim.expires_at,
                claim.stale_before,
            )
            if claimed is not None:
                return None
            # Its own statement, so it sees the record that made the claim conflict (committed
            # before this statement started) even if that commit came after the claim began.
            row = await self._fetchrow(
                _LIVE_RECORD, claim.partner_id, claim.key, claim.created_at, claim.stale_before
            )
            if row is not None:
                return _record(row)
            # The record was released or lapsed between the two statements: claim again.
        raise ServiceUnavailable("database: could not settle a concurrent idempotency key claim")

    async def complete_idempotency_key(
        self, partner_id: str, key: str, *, claimed_at: int, response: StoredResponse
    ) -> bool:
        status = await self._execute(
            _COMPLETE,
            partner_id,
            key,
            claimed_at,
            response.status,
            response.headers_json,
            response.body,
            response.secrets_json,
        )
        return status == "UPDATE 1"

    async def release_idempotency_key(self, partner_id: str, key: str, *, claimed_at: int) -> None:
        await self._execute(_RELEASE, partner_id, key, claimed_at)

    async def delete_expired_idempotency_keys(self, *, now: int, limit: int) -> int:
        status = await self._execute(_DELETE_EXPIRED, now, limit)
        return int(status.rpartition(" ")[2])


def _record(row: asyncpg.Record) -> IdempotencyRecord:
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
