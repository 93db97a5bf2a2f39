"""One-time-code challenges on PostgreSQL; an attempt is counted (and checked) in one statement."""

from __future__ import annotations

import asyncpg

from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import OtpAttempt, OtpChallenge

_COLUMNS = (
    "upper(id::text) AS id, upper(customer_session_id::text) AS customer_session_id, "
    "upper(customer_id::text) AS customer_id, phone, code_hash, attempts, created_at, expires_at, "
    "verified_at, locked_at"
)

# seq is the session's next number; two concurrent requests collide on (session, seq) and the
# loser inserts nothing (its caller retries once).
_CREATE = """
INSERT INTO otp_challenges (id, customer_session_id, customer_id, phone, code_hash, attempts,
    seq, created_at, expires_at)
SELECT $1, $2, $3, $4, $5, 0, n.seq, $6, $7
FROM (SELECT count(*) + 1 AS seq FROM otp_challenges WHERE customer_session_id = $2) n
WHERE n.seq <= $8
ON CONFLICT (customer_session_id, seq) DO NOTHING
RETURNING seq
"""

# $1 challenge, $2 now, $3 matched, $4 max attempts. Only an open challenge counts an attempt;
# a match also verifies the customer's phone if it is still the one the code was sent to.
_ATTEMPT = """
WITH attempt AS (
    UPDATE otp_challenges SET attempts = attempts + 1,
        verified_at = CASE WHEN $3::boolean THEN $2::bigint END,
        locked_at = CASE WHEN NOT $3::boolean AND attempts + 1 >= $4::int THEN $2::bigint END
    WHERE id = $1 AND verified_at IS NULL AND locked_at IS NULL AND attempts < $4::int
        AND expires_at > $2::bigint
    RETURNING customer_id, phone, attempts, verified_at, locked_at
), verified AS (
    UPDATE customers c SET phone_verified_at = $2::bigint, updated_at = $2::bigint FROM attempt
    WHERE c.id = attempt.customer_id AND attempt.verified_at IS NOT NULL
        AND c.phone = attempt.phone
    RETURNING c.id
)
SELECT attempts, verified_at IS NOT NULL AS verified, locked_at IS NOT NULL AS locked,
    EXISTS (SELECT 1 FROM verified) AS phone_verified
FROM attempt
"""


class PgOtp(PgRepository):
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
        for _ in range(2):
            if await self._fetchrow(_CREATE, *args) is not None:
                return True
            count = await self._fetchrow(
                "SELECT count(*) AS n FROM otp_challenges WHERE customer_session_id = $1",
                challenge.customer_session_id,
            )
            if count is None or count["n"] >= max_per_session:
                return False
        return False

    async def get_latest_otp_challenge(self, customer_session_id: str) -> OtpChallenge | None:
        row = await self._fetchrow(
            f"SELECT {_COLUMNS} FROM otp_challenges WHERE customer_session_id = $1 "
            "ORDER BY seq DESC LIMIT 1",
            customer_session_id,
        )
        return _challenge(row) if row else None

    async def record_otp_attempt(
        self, challenge_id: str, *, matched: bool, now: int, max_attempts: int
    ) -> OtpAttempt | None:
        row = await self._fetchrow(_ATTEMPT, challenge_id, now, matched, max_attempts)
        return OtpAttempt(**dict(row)) if row else None


def _challenge(row: asyncpg.Record) -> OtpChallenge:
    return OtpChallenge(**dict(row))
