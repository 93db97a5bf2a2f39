"""One-time-code challenges on SQLite; an attempt is counted (and checked) in one transaction."""

from __future__ import annotations

import sqlite3

from imprint_sessions.storage.records import OtpAttempt, OtpChallenge
from imprint_sessions.storage.sqlite.runner import LiteRepository

_COLUMNS = (
    "id, customer_session_id, customer_id, phone, code_hash, attempts, created_at, expires_at, "
    "verified_at, locked_at"
)

# Writers are serialised (BEGIN IMMEDIATE), so the next seq cannot be taken twice.
_CREATE = """
INSERT INTO otp_challenges (id, customer_session_id, customer_id, phone, code_hash, attempts,
    seq, created_at, expires_at)
SELECT ?1, ?2, ?3, ?4, ?5, 0, n.seq, ?6, ?7
FROM (SELECT count(*) + 1 AS seq FROM otp_challenges WHERE customer_session_id = ?2) n
WHERE n.seq <= ?8
RETURNING seq
"""

# ?1 challenge, ?2 now, ?3 matched, ?4 max attempts. Only an open challenge counts an attempt.
_ATTEMPT = """
UPDATE otp_challenges SET attempts = attempts + 1,
    verified_at = CASE WHEN ?3 THEN ?2 END,
    locked_at = CASE WHEN NOT ?3 AND attempts + 1 >= ?4 THEN ?2 END
WHERE id = ?1 AND verified_at IS NULL AND locked_at IS NULL AND attempts < ?4 AND expires_at > ?2
RETURNING customer_id, phone, attempts, verified_at, locked_at
"""


class LiteOtp(LiteRepository):
    async def create_otp_challenge(self, challenge: OtpChallenge, *, max_per_session: int) -> bool:
        args = (
            challenge.id,
            challenge.customer_session_id,
            challenge.customer_id,
            challenge.phone,
            challenge.code_hash,
            challenge.created_at,
            challenge.expires_at,
            max_per_session,
        )
        row = await self._runner.write(lambda c: c.execute(_CREATE, args).fetchone())
        return row is not None

    async def get_latest_otp_challenge(self, customer_session_id: str) -> OtpChallenge | None:
        rows = await self._runner.read(
            f"SELECT {_COLUMNS} FROM otp_challenges WHERE customer_session_id = ? "
            "ORDER BY seq DESC LIMIT 1",
            customer_session_id,
        )
        return OtpChallenge(**dict(rows[0])) if rows else None

    async def record_otp_attempt(
        self, challenge_id: str, *, matched: bool, now: int, max_attempts: int
    ) -> OtpAttempt | None:
        def work(conn: sqlite3.Connection) -> OtpAttempt | None:
            row = conn.execute(_ATTEMPT, (challenge_id, now, matched, max_attempts)).fetchone()
            if row is None:
                return None
            phone_verified = False
            if row["verified_at"] is not None:
                # The phone is verified only if it is still the one the code was sent to.
                cursor = conn.execute(
                    "UPDATE customers SET phone_verified_at = ?, updated_at = ? "
                    "WHERE id = ? AND phone = ?",
                    (now, now, row["customer_id"], row["phone"]),
                )
                phone_verified = cursor.rowcount == 1
            return OtpAttempt(
                attempts=row["attempts"],
                verified=row["verified_at"] is not None,
                locked=row["locked_at"] is not None,
                phone_verified=phone_verified,
            )

        return await self._runner.write(work)
