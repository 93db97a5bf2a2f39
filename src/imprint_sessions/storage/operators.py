"""The console's operators and their logins (deployment-wide: no partner owns them)."""

from __future__ import annotations

import sqlalchemy as sa

from imprint_sessions.storage.dialect import TextList, in_texts
from imprint_sessions.storage.records import Operator, OperatorSession
from imprint_sessions.storage.sql import Executor, Repository, Row, Statement, bp, columns, params
from imprint_sessions.storage.tables import operator_sessions, operators

o, os_ = operators.c, operator_sessions.c

_OPERATOR_COLUMNS = columns(operators, "id name display_prefix created_at revoked_at")
_INSERT_OPERATOR = Statement(
    sa.insert(operators).values(
        params("id name credential_hash display_prefix secret_key_id created_at")
    )
)
_LIST_OPERATORS = Statement(sa.select(*_OPERATOR_COLUMNS).order_by(o.created_at, o.id))
_REVOKE_OPERATOR = Statement(
    sa.update(operators)
    .where(o.id == bp("id"), o.revoked_at.is_(None))
    .values(revoked_at=bp("now"))
    .returning(*_OPERATOR_COLUMNS)
)
# A revoked operator's logins end with it: every live session of theirs is revoked too.
_REVOKE_OPERATOR_SESSIONS = Statement(
    sa.update(operator_sessions)
    .where(os_.operator_id == bp("id"), os_.revoked_at.is_(None))
    .values(revoked_at=bp("now"))
)
_ACTIVE_OPERATOR = Statement(
    sa.select(*_OPERATOR_COLUMNS).where(
        in_texts(o.credential_hash, bp("hashes")), o.revoked_at.is_(None)
    )
)
_INSERT_SESSION = Statement(
    sa.insert(operator_sessions).values(params("id operator_id token_hash created_at expires_at"))
)
_LIVE_SESSION = Statement(
    sa.select(
        *columns(operator_sessions, "id operator_id created_at expires_at"),
        o.name.label("operator_name"),
    )
    .select_from(operator_sessions.join(operators, o.id == os_.operator_id))
    .where(
        in_texts(os_.token_hash, bp("hashes")),
        os_.revoked_at.is_(None),
        os_.expires_at > bp("now"),
        o.revoked_at.is_(None),
    )
)
_REVOKE_SESSION = Statement(
    sa.update(operator_sessions)
    .where(os_.id == bp("id"), os_.revoked_at.is_(None))
    .values(revoked_at=bp("now"))
)


def _operator(row: Row) -> Operator:
    return Operator(**dict(row))


class Operators(Repository):
    async def create_operator(
        self, operator: Operator, *, credential_hash: str, secret_key_id: str
    ) -> None:
        await self._db.count(
            _INSERT_OPERATOR,
            id=operator.id,
            name=operator.name,
            credential_hash=credential_hash,
            display_prefix=operator.display_prefix,
            secret_key_id=secret_key_id,
            created_at=operator.created_at,
        )

    async def list_operators(self) -> list[Operator]:
        return [_operator(row) for row in await self._db.all(_LIST_OPERATORS)]

    async def revoke_operator(self, operator_id: str, *, now: int) -> Operator | None:
        async def work(x: Executor) -> Operator | None:
            row = await x.one(_REVOKE_OPERATOR, id=operator_id, now=now)
            if row is None:
                return None
            await x.count(_REVOKE_OPERATOR_SESSIONS, id=operator_id, now=now)
            return _operator(row)

        return await self._db.transaction(work)

    async def find_operator_by_credential_hashes(self, hashes: list[str]) -> Operator | None:
        row = await self._db.one(_ACTIVE_OPERATOR, hashes=TextList(hashes))
        return _operator(row) if row else None

    async def create_operator_session(self, session: OperatorSession, *, token_hash: str) -> None:
        await self._db.count(
            _INSERT_SESSION,
            id=session.id,
            operator_id=session.operator_id,
            token_hash=token_hash,
            created_at=session.created_at,
            expires_at=session.expires_at,
        )

    async def find_operator_session(self, hashes: list[str], *, now: int) -> OperatorSession | None:
        row = await self._db.one(_LIVE_SESSION, hashes=TextList(hashes), now=now)
        return OperatorSession(**dict(row)) if row else None

    async def revoke_operator_session(self, session_id: str, *, now: int) -> bool:
        return await self._db.count(_REVOKE_SESSION, id=session_id, now=now) == 1
