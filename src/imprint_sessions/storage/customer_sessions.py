"""Customer sessions (``/v2/customer_sessions``, the hot path).

Create-session finds or creates the customer and inserts the session, and its audit entry. On
PostgreSQL that is one statement (a CTE: one round trip, atomic without an explicit
transaction); SQLite, which has no writes inside WITH, runs the same customer, session and
audit inserts in one ``BEGIN IMMEDIATE`` on its thread (one hop).

``SESSION_COLUMNS`` and ``customer_session_from_row`` are the one session read the client API
and the partner's lifecycle calls share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.audit_events import audit_from, audit_params, details_naming
from imprint_sessions.storage.dialect import WRITABLE_CTES
from imprint_sessions.storage.records import (
    CreateOutcome,
    CustomerSession,
    NewAuditEvent,
    NewCustomerSession,
)
from imprint_sessions.storage.sql import (
    Executor,
    Repository,
    Row,
    Statement,
    bp,
    columns,
    lit,
    params,
)
from imprint_sessions.storage.tables import customer_sessions, customers

s, c = customer_sessions.c, customers.c

SESSION_COLUMNS = columns(
    customer_sessions,
    "id partner_id customer_id secret_key_id source metadata created_at expires_at consumed_at "
    "revoked_at",
    metadata="metadata_json",
)


def customer_session_from_row(row: Row) -> CustomerSession:
    return CustomerSession(**dict(row))


_GET = Statement(
    sa.select(*SESSION_COLUMNS).where(s.id == bp("id"), s.partner_id == bp("partner_id"))
)

# -- create-session ------------------------------------------------------------------------------
# Parameters: the session's fields by column name, the new customer's profile by column name and
# ``new_customer_id``; ``customer_id`` and ``partner_customer_id`` when the caller names them.
_SESSION_FIELDS = (
    "id partner_id merchant_key secret_key_id transaction_amount transaction_currency "
    "customer_history source metadata created_at expires_at"
)
_PROFILE_FIELDS = "email phone first_name last_name preferred_language address account_history"


def _new_session(customer: sa.CTE) -> Any:
    """The session, for the customer ``customer`` selects (none: nothing is inserted)."""
    values: dict[str, Any] = params(_SESSION_FIELDS)
    values["customer_id"] = customer.c.id
    return sa.insert(customer_sessions).from_select(
        list(values), sa.select(*values.values()).select_from(customer)
    )


def _insert_session(customer: sa.CTE) -> Any:
    return _new_session(customer).returning(lit(1))


# The audit entry names the session's customer, which only the statement knows when it was found
# (or created) by partner_customer_id.
_AUDIT_DETAILS = details_naming("customer_id", customer_sessions.c.customer_id)


def _insert_audited_session(customer: sa.CTE) -> Any:
    """PostgreSQL: the session and its audit entry, in the same statement (a row: both
    written)."""
    session = _new_session(customer).returning(s.customer_id).cte("session")
    details = details_naming("customer_id", session.c.customer_id)
    return audit_from(session, details=details).returning(lit(1))


def _new_customer(partner_customer_id: sa.ColumnElement[Any]) -> dict[str, Any]:
    """The row of the customer this call creates, by column."""
    return {
        "id": bp("new_customer_id"),
        "partner_id": bp("partner_id"),
        "partner_customer_id": partner_customer_id,
        **params(_PROFILE_FIELDS),
        "created_at": bp("created_at"),
        "updated_at": bp("created_at"),
    }


_pcid = sa.cast(bp("partner_customer_id"), sa.Text)
_of_partner_customer_id = sa.select(c.id).where(
    c.partner_id == bp("partner_id"), c.partner_customer_id == _pcid
)
_new_with_pcid = _new_customer(_pcid)
_INSERT_CUSTOMER = Statement(sa.insert(customers).values(_new_customer(sa.null())))
_INSERT_CUSTOMER_UNLESS_TAKEN = Statement(
    insert(customers)
    .values(_new_with_pcid)
    .on_conflict_do_nothing(index_elements=[c.partner_id, c.partner_customer_id])
)

# The customer named by id; ``partner_customer_id``, when given, must name the same customer.
_for_customer_id = sa.select(c.id).where(
    c.id == bp("customer_id"),
    c.partner_id == bp("partner_id"),
    sa.or_(_pcid.is_(None), c.partner_customer_id == _pcid),
)
CREATE_FOR_CUSTOMER_ID = Statement(_insert_session(_for_customer_id.cte("customer")))
_CUSTOMER_EXISTS = Statement(
    sa.select(lit(1)).where(c.id == bp("customer_id"), c.partner_id == bp("partner_id"))
)
# SQLite, after _INSERT_CUSTOMER_UNLESS_TAKEN: the customer of that partner_customer_id.
_CREATE_FOR_FOUND_CUSTOMER = Statement(_insert_session(_of_partner_customer_id.cte("customer")))

# PostgreSQL, one statement each. Find-or-create by partner_customer_id: under a race both
# callers miss `existing`; the loser's INSERT waits for the winner and then does nothing, so it
# returns no row and the caller retries (the winner's row is visible to the next statement).
_existing = _of_partner_customer_id.cte("existing")
_created = (
    insert(customers)
    .from_select(
        list(_new_with_pcid),
        sa.select(*_new_with_pcid.values()).where(~sa.exists(sa.select(_existing.c.id))),
    )
    .on_conflict_do_nothing(index_elements=[c.partner_id, c.partner_customer_id])
    .returning(c.id)
    .cte("created")
)
_found_or_created = sa.union_all(sa.select(_existing.c.id), sa.select(_created.c.id)).cte(
    "customer"
)
CREATE_FOR_PARTNER_CUSTOMER_ID = Statement(_insert_session(_found_or_created), sqlite=False)
CREATE_FOR_NEW_CUSTOMER = Statement(
    _insert_session(
        sa.insert(customers).values(_new_customer(sa.null())).returning(c.id).cte("customer")
    ),
    sqlite=False,
)


@dataclass(frozen=True, slots=True)
class _Creates:
    """PostgreSQL's three create-session statements: for a customer id, a partner_customer_id,
    or a new customer."""

    for_customer_id: Statement
    for_partner_customer_id: Statement
    for_new_customer: Statement


_CREATES = _Creates(CREATE_FOR_CUSTOMER_ID, CREATE_FOR_PARTNER_CUSTOMER_ID, CREATE_FOR_NEW_CUSTOMER)
# The same, each also writing the session's audit entry (still one statement).
_AUDITED_CREATES = _Creates(
    Statement(_insert_audited_session(_for_customer_id.cte("customer")), sqlite=False),
    Statement(_insert_audited_session(_found_or_created), sqlite=False),
    Statement(
        _insert_audited_session(
            sa.insert(customers).values(_new_customer(sa.null())).returning(c.id).cte("customer")
        ),
        sqlite=False,
    ),
)
# SQLite, after the session insert in the same transaction: its audit entry.
_AUDIT_SESSION = Statement(
    audit_from(customer_sessions, s.id == bp("audit_object_id"), details=_AUDIT_DETAILS)
)


def _params(new: NewCustomerSession) -> dict[str, Any]:
    profile = new.new_customer
    return {
        "id": new.id,
        "partner_id": new.partner_id,
        "merchant_key": new.merchant_key,
        "secret_key_id": new.secret_key_id,
        "transaction_amount": new.transaction_amount,
        "transaction_currency": new.transaction_currency,
        "customer_history": new.customer_history_json,
        "source": new.source,
        "metadata": new.metadata_json,
        "created_at": new.created_at,
        "expires_at": new.expires_at,
        "customer_id": new.customer_id,
        "partner_customer_id": new.partner_customer_id,
        "new_customer_id": profile.id,
        "email": profile.email,
        "phone": profile.phone,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "preferred_language": profile.preferred_language,
        "address": profile.address_json,
        "account_history": profile.account_history_json,
    }


async def _create_in_place(
    x: Executor, new: NewCustomerSession, params: dict[str, Any], *, audited: bool
) -> CreateOutcome:
    """SQLite, inside BEGIN IMMEDIATE: find (by id or partner_customer_id) or create the
    customer, then the session, then its audit entry."""
    if new.customer_id is not None:
        if await x.one(CREATE_FOR_CUSTOMER_ID, **params) is None:
            exists = await x.one(_CUSTOMER_EXISTS, **params)
            return CreateOutcome.CUSTOMER_MISMATCH if exists else CreateOutcome.CUSTOMER_NOT_FOUND
    elif new.partner_customer_id is None:
        await x.count(_INSERT_CUSTOMER, **params)
        await x.one(CREATE_FOR_CUSTOMER_ID, **{**params, "customer_id": params["new_customer_id"]})
    else:
        await x.count(_INSERT_CUSTOMER_UNLESS_TAKEN, **params)
        await x.one(_CREATE_FOR_FOUND_CUSTOMER, **params)
    if audited:
        await x.count(_AUDIT_SESSION, **params)
    return CreateOutcome.CREATED


class CustomerSessions(Repository):
    async def create_customer_session(
        self, new: NewCustomerSession, *, audit: NewAuditEvent | None = None
    ) -> CreateOutcome:
        params = _params(new)
        if audit is not None:
            params.update(audit_params(audit, partner_id=new.partner_id))
        if not WRITABLE_CTES[self._db.dialect]:
            audited = audit is not None
            return await self._db.transaction(
                lambda x: _create_in_place(x, new, params, audited=audited)
            )
        creates = _AUDITED_CREATES if audit is not None else _CREATES
        if new.customer_id is not None:
            if await self._db.one(creates.for_customer_id, **params) is not None:
                return CreateOutcome.CREATED
            exists = await self._db.one(_CUSTOMER_EXISTS, **params)
            return CreateOutcome.CUSTOMER_MISMATCH if exists else CreateOutcome.CUSTOMER_NOT_FOUND
        if new.partner_customer_id is None:
            await self._db.one(creates.for_new_customer, **params)
            return CreateOutcome.CREATED
        for _ in range(3):
            if await self._db.one(creates.for_partner_customer_id, **params) is not None:
                return CreateOutcome.CREATED
        raise ServiceUnavailable("database: could not settle a concurrent customer creation")

    async def get_customer_session(
        self, partner_id: str, customer_session_id: str
    ) -> CustomerSession | None:
        row = await self._db.one(_GET, id=customer_session_id, partner_id=partner_id)
        return customer_session_from_row(row) if row else None
