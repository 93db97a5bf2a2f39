"""Idempotency-Key records on SQLite: the claim reads and writes in one ``BEGIN IMMEDIATE``."""

from __future__ import annotations

import sqlite3

from imprint_sessions.storage.records import IdempotencyClaim, IdempotencyRecord, StoredResponse
from imprint_sessions.storage.sqlite.runner import LiteRepository

_CLAIM = """
INSERT INTO idempotency_keys (partner_id, key, request_hash, status, created_at, expires_at)
VALUES (?, ?, ?, 'in_flight', ?, ?)
ON CONFLICT (partner_id, key) DO UPDATE
SET request_hash = excluded.request_hash, status = 'in_flight', response_status = NULL,
    response_headers = NULL, response_body = NULL, response_secrets = NULL,
    created_at = excluded.created_at, expires_at = excluded.expires_at
"""


class LiteIdempotency(LiteRepository):
    async def claim_idempotency_key(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        return await self._runner.write(lambda c: _claim(c, claim))

    async def complete_idempotency_key(
        self, partner_id: str, key: str, *, claimed_at: int, response: StoredResponse
    ) -> bool:
        cursor = await self._runner.write(
            lambda c: c.execute(
                "UPDATE idempotency_keys SET status = 'completed', response_status = ?, "
                "response_headers = ?, response_body = ?, response_secrets = ? "
                "WHERE partner_id = ? AND key = ? AND status = 'in_flight' AND created_at = ?",
                (
                    response.status,
                    response.headers_json,
                    response.body,
                    response.secrets_json,
                    partner_id,
                    key,
                    claimed_at,
                ),
            )
        )
        return cursor.rowcount == 1

    async def release_idempotency_key(self, partner_id: str, key: str, *, claimed_at: int) -> None:
        await self._runner.write(
            lambda c: c.execute(
                "DELETE FROM idempotency_keys "
                "WHERE partner_id = ? AND key = ? AND status = 'in_flight' AND created_at = ?",
                (partner_id, key, claimed_at),
            )
        )

    async def delete_expired_idempotency_keys(self, *, now: int, limit: int) -> int:
        cursor = await self._runner.write(
            lambda c: c.execute(
                "DELETE FROM idempotency_keys WHERE rowid IN ("
                "SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)",
                (now, limit),
            )
        )
        return cursor.rowcount


def _claim(conn: sqlite3.Connection, claim: IdempotencyClaim) -> IdempotencyRecord | None:
    """Inside ``BEGIN IMMEDIATE``: nobody can write between the read and the upsert."""
    row = conn.execute(
        "SELECT request_hash, status, created_at, expires_at, response_status, response_headers, "
        "response_body, response_secrets FROM idempotency_keys WHERE partner_id = ? AND key = ?",
        (claim.partner_id, claim.key),
    ).fetchone()
    live = row is not None and row["expires_at"] > claim.created_at
    if live and row["status"] == "in_flight" and row["created_at"] < claim.stale_before:
        live = False  # abandoned by a process that died mid-request
    if live:
        return _record(row)
    conn.execute(
        _CLAIM,
        (
            claim.partner_id,
            claim.key,
            claim.request_hash,
            claim.created_at,
            claim.expires_at,
        ),
    )
    return None


def _record(row: sqlite3.Row) -> IdempotencyRecord:
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
