"""One-time-code challenges for phone verification (``/v2/client/phone_verifications``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from imprint_sessions.storage.dialect import WRITABLE_CTES
from imprint_sessions.storage.records import OtpAttempt, OtpChallenge
from imprint_sessions.storage.sql import Executor, Repository, Statement, bp, columns, lit, names
from imprint_sessions.storage.tables import customers, otp_challenges

o, c = otp_challenges.c, customers.c

_COLUMNS = columns(
    otp_challenges,
    "id customer_session_id customer_id phone code_hash attempts created_at expires_at "
    "verified_at locked_at",
)

_count = (
    sa.select(sa.func.count().label("n"))
    .select_from(otp_challenges)
    .where(o.customer_session_id == bp("customer_session_id"))
)
# seq is the session's next number; two concurrent requests collide on (session, seq) and the
# loser inserts nothing (its caller retries once). SQLite serialises its writers: no collision.
_next = _count.with_only_columns((sa.func.count() + lit(1)).label("seq")).subquery("n")
_CREATE = Statement(
    insert(otp_challenges)
    .from_select(
        names(
            "id customer_session_id customer_id phone code_hash attempts seq created_at expires_at"
        ),
        sa.select(
            bp("id"),
            bp("customer_session_id"),
            bp("customer_id"),
            bp("phone"),
            bp("code_hash"),
            lit(0),
            _next.c.seq,
            bp("created_at"),
            bp("expires_at"),
        ).where(_next.c.seq <= bp("max_per_session")),
    )
    .on_conflict_do_nothing(index_elements=[o.customer_session_id, o.seq])
    .returning(o.seq)
)
_COUNT = Statement(_count)
_LATEST = Statement(
    sa.select(*_COLUMNS)
    .where(o.customer_session_id == bp("customer_session_id"))
    .order_by(o.seq.desc())
    .limit(1)
)

# Only an open challenge counts an attempt; a match verifies it, the last miss locks it.
_matched = sa.cast(bp("matched"), sa.Boolean)
_now = sa.cast(bp("now"), sa.BigInteger)
_max_attempts = sa.cast(bp("max_attempts"), sa.Integer)
_attempt = (
    sa.update(otp_challenges)
    .where(
        o.id == bp("id"),
        o.verified_at.is_(None),
        o.locked_at.is_(None),
        o.attempts < _max_attempts,
        o.expires_at > _now,
    )
    .values(
        attempts=o.attempts + lit(1),
        verified_at=sa.case((_matched, _now)),
        locked_at=sa.case((sa.and_(sa.not_(_matched), o.attempts + lit(1) >= _max_attempts), _now)),
    )
    .returning(o.customer_id, o.phone, o.attempts, o.verified_at, o.locked_at)
)
# ... and verifies the customer's phone if it is still the one the code was sent to.
_VERIFY_PHONE = Statement(
    sa.update(customers)
    .where(c.id == bp("customer_id"), c.phone == bp("phone"))
    .values(phone_verified_at=bp("now"), updated_at=bp("now"))
)
_ATTEMPT = Statement(_attempt)
# PostgreSQL: both in one statement (one round trip).
_attempted = _attempt.cte("attempt")
_verified = (
    sa.update(customers)
    .where(
        c.id == _attempted.c.customer_id,
        _attempted.c.verified_at.is_not(None),
        c.phone == _attempted.c.phone,
    )
    .values(phone_verified_at=_now, updated_at=_now)
    .returning(c.id)
    .cte("verified")
)
_ATTEMPT_AND_VERIFY = Statement(
    sa.select(
        _attempted.c.attempts,
        _attempted.c.verified_at.is_not(None).label("verified"),
        _attempted.c.locked_at.is_not(None).label("locked"),
        sa.exists(sa.select(_verified.c.id)).label("phone_verified"),
    ),
    sqlite=False,
)


class Otp(Repository):
    async def create_otp_challenge(self, challenge: OtpChallenge, *, max_per_session: int) -> bool:
        for _ in range(2):
            created = await self._db.one(
                _CREATE,
                id=challenge.id,
                customer_session_id=challenge.customer_session_id,
                customer_id=challenge.customer_id,
                phone=challenge.phone,
                code_hash=challenge.code_hash,
                created_at=challenge.created_at,
                expires_at=challenge.expires_at,
                max_per_session=max_per_session,
            )
            if created is not None:
                return True
            count = await self._db.one(_COUNT, customer_session_id=challenge.customer_session_id)
            if count is None or count[0] >= max_per_session:
                return False
        return False

    async def get_latest_otp_challenge(self, customer_session_id: str) -> OtpChallenge | None:
        row = await self._db.one(_LATEST, customer_session_id=customer_session_id)
        return OtpChallenge(**dict(row)) if row else None

    async def record_otp_attempt(
        self, challenge_id: str, *, matched: bool, now: int, max_attempts: int
    ) -> OtpAttempt | None:
        params = {"id": challenge_id, "now": now, "matched": matched, "max_attempts": max_attempts}
        if WRITABLE_CTES[self._db.dialect]:
            row = await self._db.one(_ATTEMPT_AND_VERIFY, **params)
            return OtpAttempt(**dict(row)) if row else None

        async def attempt(x: Executor) -> OtpAttempt | None:
            row = await x.one(_ATTEMPT, **params)
            if row is None:
                return None
            phone_verified = (
                row["verified_at"] is not None
                and await x.count(
                    _VERIFY_PHONE, customer_id=row["customer_id"], phone=row["phone"], now=now
                )
                == 1
            )
            return OtpAttempt(
                attempts=row["attempts"],
                verified=row["verified_at"] is not None,
                locked=row["locked_at"] is not None,
                phone_verified=phone_verified,
            )

        return await self._db.transaction(attempt)
