"""The audit trail (``/v2/audit_events``): entries written with their actions, listed and scanned.

An action's entry is written in the action's own statement or transaction, by the repository
method that performs the action (given a ``NewAuditEvent``), so the two commit together and a
failed action writes none. The pieces here are what those methods use: ``INSERT_AUDIT_EVENT``
(every column bound as ``audit_<column>``, ``audit_params`` binds them) and ``audit_from``,
the same insert selecting from the row an action wrote (a writable CTE on PostgreSQL, keeping a
hot path to one round trip). Rows are never updated or deleted: the schema refuses it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import sqlalchemy as sa

from imprint_sessions.storage.dialect import TextList, id_text, in_texts
from imprint_sessions.storage.paging import Pager
from imprint_sessions.storage.records import (
    AuditEvent,
    AuditQuery,
    NewAuditEvent,
    Page,
    PageRequest,
)
from imprint_sessions.storage.sql import (
    Executor,
    Repository,
    Row,
    Statement,
    bp,
    every_column,
    lit,
)
from imprint_sessions.storage.tables import audit_events

a = audit_events.c

AUDIT_VALUES: dict[str, sa.ColumnElement[Any]] = {
    column.name: bp(f"audit_{column.name}") for column in audit_events.columns
}
INSERT_AUDIT_EVENT = Statement(sa.insert(audit_events).values(AUDIT_VALUES))


def audit_from(source: Any, *where: Any, **columns: sa.ColumnElement[Any]) -> sa.Insert:
    """The entry inserted once per row of ``source`` matching ``where`` (none: no entry), with
    ``columns`` read from that row and every other column bound (``audit_params``)."""
    values = {**AUDIT_VALUES, **columns}
    return sa.insert(audit_events).from_select(
        list(values), sa.select(*values.values()).select_from(source).where(*where)
    )


def details_naming(key: str, id_column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """``{"<key>": "<the id>"}`` built in SQL, for an id only the statement knows (a customer
    found by ``partner_customer_id``): an id is hex and hyphens, so it needs no escaping."""
    return lit('{"' + key + '":"') + id_text(id_column) + lit('"}')


def audit_params(event: NewAuditEvent, *, partner_id: str | None = None) -> dict[str, Any]:
    """``AUDIT_VALUES``' parameters for ``event``; ``partner_id``: the partner of the row the
    action changed, when the event leaves it to the repository."""
    context = event.context
    return {
        "audit_id": event.id,
        "audit_partner_id": event.partner_id or partner_id,
        "audit_type": event.type,
        "audit_actor_type": context.actor_type,
        "audit_actor_id": context.actor_id,
        "audit_actor_display": context.actor_display,
        "audit_request_id": context.request_id,
        "audit_client_address": context.client_address,
        "audit_object_type": event.object_type,
        "audit_object_id": event.object_id,
        "audit_details": event.details_json,
        "audit_created_at": event.created_at,
    }


async def record_with(
    x: Executor,
    event: NewAuditEvent | None,
    *,
    partner_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write ``event`` (if any) on ``x``, inside the action's transaction; ``details``: what only
    the changed row says (a revoked key's display prefix), added to the event's."""
    if event is None:
        return
    if details:
        merged = {**json.loads(event.details_json), **details}
        event = dataclasses.replace(
            event, details_json=json.dumps(merged, separators=(",", ":"), sort_keys=True)
        )
    await x.count(INSERT_AUDIT_EVENT, **audit_params(event, partner_id=partner_id))


_AUDIT_COLUMNS = every_column(audit_events, details="details_json")


def _audit_event(row: Row) -> AuditEvent:
    return AuditEvent(**dict(row))


_FILTERS: dict[str, Any] = {
    "types": lambda values: in_texts(a.type, values),
    "object_id": lambda value: a.object_id == value,
    "created_gte": lambda value: a.created_at >= value,
    "created_lt": lambda value: a.created_at < value,
}
# Oldest first (the partner API, exports) and newest first (the operator console).
_PAGES = {
    newest_first: Pager(
        audit_events,
        _AUDIT_COLUMNS,
        _audit_event,
        scope=("partner_id",),
        filters=_FILTERS,
        newest_first=newest_first,
    )
    for newest_first in (False, True)
}
_PARTNER_OF_OBJECT = Statement(
    sa.select(id_text(a.partner_id).label("partner_id"))
    .where(a.object_id == bp("object_id"), a.type == bp("type"))
    .limit(1)
)


def _filters(query: AuditQuery) -> dict[str, Any]:
    given = {
        "types": TextList(query.types) if query.types is not None else None,
        "object_id": query.object_id,
        "created_gte": query.created_gte,
        "created_lt": query.created_lt,
    }
    return {name: value for name, value in given.items() if value is not None}


class AuditEvents(Repository):
    async def record_audit_event(self, event: NewAuditEvent) -> None:
        await record_with(self._db, event)

    async def list_audit_events(
        self, partner_id: str, query: AuditQuery, page: PageRequest, *, newest_first: bool = False
    ) -> Page[AuditEvent] | None:
        return await _PAGES[newest_first].fetch(
            self._db, page, {"partner_id": partner_id}, _filters(query)
        )

    async def scan_audit_events(
        self, partner_id: str, query: AuditQuery, *, after: tuple[int, str] | None, limit: int
    ) -> list[AuditEvent]:
        return await _PAGES[False].scan(
            self._db, {"partner_id": partner_id}, _filters(query), after=after, limit=limit
        )

    async def partner_of_audited_object(self, object_id: str, *, type: str) -> str | None:
        row = await self._db.one(_PARTNER_OF_OBJECT, object_id=object_id, type=type)
        return row["partner_id"] if row else None
