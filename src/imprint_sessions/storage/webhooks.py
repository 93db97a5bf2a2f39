"""Webhook endpoints, the event outbox, deliveries and their attempts (``/v2/webhook_*``).

Workers claim due deliveries under a lease (``locked_until``, ``lease_token``): a delivery is held
by at most one worker at a time. PostgreSQL workers on any number of hosts pick rows with
``FOR UPDATE SKIP LOCKED``; on SQLite the claim runs inside ``BEGIN IMMEDIATE``, which admits one
writer at a time across every process on the file. The outbox write, the claim and the finish
are one statement each on PostgreSQL (writes inside WITH); SQLite runs the same pieces in one
transaction on its thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from imprint_sessions.storage.audit_events import record_with
from imprint_sessions.storage.dialect import WRITABLE_CTES, TextList, id_text, in_texts
from imprint_sessions.storage.paging import Pager
from imprint_sessions.storage.records import (
    ClaimedDelivery,
    DeliveryOutcome,
    NewAuditEvent,
    OutboxStats,
    Page,
    PageRequest,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from imprint_sessions.storage.sandboxes import partner_now, partner_test_clock
from imprint_sessions.storage.sql import (
    Executor,
    Repository,
    Row,
    Statement,
    bp,
    columns,
    every_column,
    every_param,
    lit,
    names,
    params,
    values_of,
)
from imprint_sessions.storage.tables import (
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
)

ep, ev, d, at = webhook_endpoints.c, webhook_events.c, webhook_deliveries.c, webhook_attempts.c

_ENDPOINT_COLUMNS = every_column(webhook_endpoints)
_EVENT_FIELDS = "id partner_id type payload created_at"
_EVENT_COLUMNS = columns(webhook_events, _EVENT_FIELDS)
_DELIVERY_COLUMNS = columns(
    webhook_deliveries,
    "id event_id endpoint_id partner_id status attempts next_attempt_at last_attempt_at "
    "last_error replay_of created_at updated_at",
)
_ATTEMPT_COLUMNS = columns(
    webhook_attempts,
    "id delivery_id attempted_at duration_ms http_status error response_body",
)


def _endpoint(values: dict[str, Any]) -> WebhookEndpoint:
    values["event_types"] = tuple(json.loads(values["event_types"]))
    return WebhookEndpoint(**values)


def _event(row: Row) -> WebhookEvent:
    return WebhookEvent(**dict(row))


def _scoped(build: Callable[[bool], Any]) -> dict[bool, Statement]:
    """``build(scoped)`` compiled for any partner (False) and for the one bound as
    ``partner_id`` (True): ``partner_id=None`` means any partner (the admin CLI)."""
    return {False: Statement(build(False)), True: Statement(build(True))}


def _of_partner(table: sa.Table, scoped: bool) -> list[Any]:
    return [table.c.partner_id == bp("partner_id")] if scoped else []


def _partner(partner_id: str | None) -> tuple[bool, dict[str, Any]]:
    return partner_id is not None, {"partner_id": partner_id}


_not_deleted = ep.status != lit("deleted")


def _endpoint_update(
    values: dict[str, Any], returning: tuple[Any, ...] = _ENDPOINT_COLUMNS
) -> dict[bool, Statement]:
    def build(scoped: bool) -> Any:
        where = [ep.id == bp("id"), _not_deleted, *_of_partner(webhook_endpoints, scoped)]
        return sa.update(webhook_endpoints).where(*where).values(values).returning(*returning)

    return _scoped(build)


def _select_scoped(table: sa.Table, columns: Any, *where: Any) -> dict[bool, Statement]:
    return _scoped(
        lambda scoped: sa.select(*columns).where(
            table.c.id == bp("id"), *where, *_of_partner(table, scoped)
        )
    )


_INSERT_ENDPOINT = Statement(sa.insert(webhook_endpoints).values(every_param(webhook_endpoints)))
_LIST_ENDPOINTS = Statement(
    sa.select(*_ENDPOINT_COLUMNS)
    .where(ep.partner_id == bp("partner_id"), _not_deleted)
    .order_by(ep.created_at, ep.id)
)
_GET_ENDPOINT = _select_scoped(webhook_endpoints, _ENDPOINT_COLUMNS, _not_deleted)
# Whether a disable changes anything (only then is it audited): the status it had, locked.
_STATUS_FOR_UPDATE = _scoped(
    lambda scoped: (
        sa.select(ep.status)
        .where(ep.id == bp("id"), _not_deleted, *_of_partner(webhook_endpoints, scoped))
        .with_for_update()
    )
)
_DISABLE = _endpoint_update({"status": lit("disabled"), "updated_at": bp("now")})
_ROTATE = _endpoint_update(
    {
        "previous_secret_version": ep.secret_version,
        "previous_secret_key_id": ep.secret_key_id,
        "previous_secret_expires_at": bp("previous_expires_at"),
        "secret_version": ep.secret_version + lit(1),
        "secret_key_id": bp("secret_key_id"),
        "updated_at": bp("now"),
    }
)
# A deleted endpoint keeps its id (its past deliveries name it) and nothing else worth having:
# no URL, and no secret version or master key id to re-derive a signing secret from.
_KEPT_BY_A_TOMBSTONE = {"id", "partner_id", "event_types", "created_at"}
_TOMBSTONE = _endpoint_update(
    {
        # Whatever else an endpoint holds (a nullable column added later included) is erased.
        **{
            column.name: sa.null()
            for column in webhook_endpoints.columns
            if column.nullable and column.name not in _KEPT_BY_A_TOMBSTONE
        },
        "status": lit("deleted"),
        "url": lit(""),
        "secret_version": lit(0),
        "secret_key_id": lit(""),
        "updated_at": bp("now"),
    },
    returning=(id_text(ep.partner_id).label("partner_id"),),
)
# Dropping the lease too: a worker holding one can no longer record its attempt as delivered.
_CANCEL_PENDING = Statement(
    sa.update(webhook_deliveries)
    .where(d.endpoint_id == bp("id"), d.status == lit("pending"))
    .values(
        status=lit("dead"),
        last_error=lit("endpoint deleted"),
        updated_at=bp("now"),
        locked_until=sa.null(),
        lease_token=sa.null(),
    )
)

_DELIVERY_FIELDS = (
    "id event_id endpoint_id partner_id status attempts next_attempt_at replay_of created_at "
    "updated_at"
)
_INSERT_DELIVERY = Statement(sa.insert(webhook_deliveries).values(params(_DELIVERY_FIELDS)))
_new_event = sa.insert(webhook_events).values(params(_EVENT_FIELDS))
_INSERT_EVENT = Statement(_new_event)
# PostgreSQL: the event and one delivery per (id, endpoint id, next attempt) of the arrays.
_event_cte = _new_event.returning(ev.id).cte("event")
_each = (
    sa.func.unnest(
        sa.cast(bp("delivery_ids"), ARRAY(UUID)),
        sa.cast(bp("endpoint_ids"), ARRAY(UUID)),
        sa.cast(bp("next_attempt_ats"), ARRAY(sa.BigInteger)),
    )
    .table_valued("id", "endpoint_id", "next_attempt_at")
    .render_derived(name="d")
)
_INSERT_EVENT_AND_DELIVERIES = Statement(
    sa.insert(webhook_deliveries).from_select(
        names(
            "id event_id endpoint_id partner_id status attempts next_attempt_at created_at "
            "updated_at"
        ),
        sa.select(
            _each.c.id,
            _event_cte.c.id,
            _each.c.endpoint_id,
            bp("partner_id"),
            lit("pending"),
            lit(0),
            _each.c.next_attempt_at,
            bp("created_at"),
            bp("created_at"),
        ).select_from(_event_cte, _each),
    ),
    sqlite=False,
)
_PAGES = Pager(webhook_events, _EVENT_COLUMNS, _event, scope=("partner_id",))
_GET_EVENT = _select_scoped(webhook_events, _EVENT_COLUMNS)
_LIST_DELIVERIES = Statement(
    sa.select(*_DELIVERY_COLUMNS).where(d.event_id == bp("event_id")).order_by(d.created_at, d.id)
)
_LIST_ATTEMPTS = Statement(
    sa.select(*_ATTEMPT_COLUMNS)
    .where(in_texts(at.delivery_id, bp("delivery_ids")))
    .order_by(at.attempted_at, at.id)
)
_GET_DELIVERY = _select_scoped(webhook_deliveries, _DELIVERY_COLUMNS)


# -- the worker ----------------------------------------------------------------------------------
def _due(test_clocks: bool) -> Any:
    """Due: pending, its time come, no live lease. PostgreSQL locks the rows it picks and skips
    rows another worker is claiming this instant; the lease keeps them off everyone else's list
    until the attempt is recorded (or the lease runs out because the worker died). With
    ``test_clocks`` (the sandbox), a delivery of a partner with a test clock falls due by that
    clock's time (``domain/test_clocks.py``); its lease, which guards against a dead worker, by
    real time."""
    return (
        sa.select(d.id)
        .where(
            d.status == lit("pending"),
            d.next_attempt_at <= (partner_now(d.partner_id) if test_clocks else bp("now")),
            sa.or_(d.locked_until.is_(None), d.locked_until <= bp("now")),
        )
        .order_by(d.next_attempt_at)
        .limit(bp("limit"))
        .with_for_update(skip_locked=True)
    )


_lease = {"locked_until": bp("lease_until"), "lease_token": bp("lease_token")}


def _claimed_select(claimed: Any, test_clocks: bool) -> Any:
    """The deliveries ``claimed`` (the table, or the claim's CTE) with events and endpoints (and
    in the sandbox the time of the partner's test clock, if any, which its retries follow)."""
    e, p = webhook_events.alias("e"), webhook_endpoints.alias("ep")
    clock = (partner_test_clock(claimed.c.partner_id) if test_clocks else sa.null()).label(
        "test_clock_at"
    )
    delivery = (
        id_text(claimed.c[name]).label(name)
        if isinstance(webhook_deliveries.c[name].type, sa.Uuid)
        else claimed.c[name]
        for name in (column.name for column in _DELIVERY_COLUMNS)
    )
    endpoint = (p.c[column.name].label(f"ep_{column.name}") for column in _ENDPOINT_COLUMNS[2:])
    return (
        sa.select(
            *delivery,
            e.c.type.label("event_type"),
            e.c.payload.label("event_payload"),
            e.c.created_at.label("event_created_at"),
            *endpoint,
            clock,
        )
        .select_from(
            claimed.join(e, e.c.id == claimed.c.event_id).join(p, p.c.id == claimed.c.endpoint_id)
        )
        .order_by(claimed.c.next_attempt_at)
    )


def _claim(test_clocks: bool) -> Statement:
    due = _due(test_clocks).cte("due")
    claimed = (
        sa.update(webhook_deliveries)
        .where(d.id == due.c.id)
        .values(_lease)
        .returning(*webhook_deliveries.c)
        .cte("claimed")
    )
    return Statement(_claimed_select(claimed, test_clocks), sqlite=False)


# The /metrics outbox gauges: one aggregate over the (status, next_attempt_at) index.
_OUTBOX_STATS = Statement(
    sa.select(
        sa.func.count().label("pending"), sa.func.min(d.created_at).label("oldest_created_at")
    ).where(d.status == lit("pending"))
)
# Keyed by whether test clocks are followed (the sandbox).
_CLAIM = {clocks: _claim(clocks) for clocks in (False, True)}
_LEASE_DUE = {
    clocks: Statement(
        sa.update(webhook_deliveries).where(d.id.in_(_due(clocks).scalar_subquery())).values(_lease)
    )
    for clocks in (False, True)
}
_LEASED = {
    clocks: Statement(
        _claimed_select(webhook_deliveries, clocks).where(d.lease_token == bp("lease_token"))
    )
    for clocks in (False, True)
}

_attempt = sa.insert(webhook_attempts).values(
    id=bp("attempt_id"),
    delivery_id=bp("delivery_id"),
    attempted_at=bp("attempted_at"),
    duration_ms=bp("duration_ms"),
    http_status=bp("http_status"),
    error=bp("error"),
    response_body=bp("response_body"),
)
_finish = (
    sa.update(webhook_deliveries)
    .where(d.id == bp("delivery_id"), d.lease_token == bp("lease_token"))
    .values(
        status=bp("status"),
        attempts=bp("attempts"),
        next_attempt_at=bp("next_attempt_at"),
        last_attempt_at=bp("last_attempt_at"),
        last_error=bp("last_error"),
        updated_at=bp("updated_at"),
        locked_until=sa.null(),
        lease_token=sa.null(),
    )
    .returning(lit(1))
)
_INSERT_ATTEMPT = Statement(_attempt)
_FINISH = Statement(_finish)
# PostgreSQL: the attempt is inserted whatever becomes of the lease (it happened), in the same
# statement as the outcome.
_FINISH_WITH_ATTEMPT = Statement(_finish.add_cte(_attempt.cte("attempt")), sqlite=False)


def _delivery_params(delivery: WebhookDelivery) -> dict[str, Any]:
    return values_of(delivery, _DELIVERY_FIELDS)


def _claimed(row: Row, lease_token: str) -> ClaimedDelivery:
    values = dict(row)
    endpoint = _endpoint(
        {
            "id": values["endpoint_id"],
            "partner_id": values["partner_id"],
            **{k[3:]: values.pop(k) for k in list(values) if k.startswith("ep_")},
        }
    )
    event = WebhookEvent(
        id=values["event_id"],
        partner_id=values["partner_id"],
        type=values.pop("event_type"),
        payload=values.pop("event_payload"),
        created_at=values.pop("event_created_at"),
    )
    test_clock_at = values.pop("test_clock_at")
    return ClaimedDelivery(
        delivery=WebhookDelivery(**values),
        event=event,
        endpoint=endpoint,
        lease_token=lease_token,
        test_clock_at=test_clock_at,
    )


class Webhooks(Repository):
    # -- endpoints ------------------------------------------------------------------------------
    async def create_webhook_endpoint(
        self, endpoint: WebhookEndpoint, *, audit: NewAuditEvent | None = None
    ) -> None:
        values = {field.name: getattr(endpoint, field.name) for field in fields(endpoint)}
        values["event_types"] = json.dumps(list(endpoint.event_types))

        async def create(x: Executor) -> None:
            await x.count(_INSERT_ENDPOINT, **values)
            await record_with(x, audit, partner_id=endpoint.partner_id)

        await self._db.transaction(create)

    async def list_webhook_endpoints(self, partner_id: str) -> list[WebhookEndpoint]:
        rows = await self._db.all(_LIST_ENDPOINTS, partner_id=partner_id)
        return [_endpoint(dict(r)) for r in rows]

    async def get_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None
    ) -> WebhookEndpoint | None:
        scoped, params = _partner(partner_id)
        row = await self._db.one(_GET_ENDPOINT[scoped], id=endpoint_id, **params)
        return _endpoint(dict(row)) if row else None

    async def disable_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> WebhookEndpoint | None:
        scoped, params = _partner(partner_id)

        async def disable(x: Executor) -> Row | None:
            before = await x.one(_STATUS_FOR_UPDATE[scoped], id=endpoint_id, **params)
            row = await x.one(_DISABLE[scoped], id=endpoint_id, now=now, **params)
            if row is not None and before is not None and before["status"] != "disabled":
                await record_with(x, audit, partner_id=row["partner_id"])
            return row

        row = await self._db.transaction(disable)
        return _endpoint(dict(row)) if row else None

    async def delete_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> bool:
        scoped, params = _partner(partner_id)

        async def delete(x: Executor) -> bool:
            deleted = await x.one(_TOMBSTONE[scoped], id=endpoint_id, now=now, **params)
            if deleted is None:
                return False
            await x.count(_CANCEL_PENDING, id=endpoint_id, now=now)
            await record_with(x, audit, partner_id=deleted["partner_id"])
            return True

        return await self._db.transaction(delete)

    async def rotate_webhook_endpoint_secret(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        secret_key_id: str,
        previous_expires_at: int,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> WebhookEndpoint | None:
        scoped, params = _partner(partner_id)

        async def rotate(x: Executor) -> Row | None:
            row = await x.one(
                _ROTATE[scoped],
                id=endpoint_id,
                secret_key_id=secret_key_id,
                previous_expires_at=previous_expires_at,
                now=now,
                **params,
            )
            if row is not None:
                await record_with(x, audit, partner_id=row["partner_id"])
            return row

        row = await self._db.transaction(rotate)
        return _endpoint(dict(row)) if row else None

    # -- events and deliveries ------------------------------------------------------------------
    async def insert_webhook_event(
        self, event: WebhookEvent, deliveries: list[WebhookDelivery]
    ) -> None:
        params = {
            "id": event.id,
            "partner_id": event.partner_id,
            "type": event.type,
            "payload": event.payload,
            "created_at": event.created_at,
        }
        if WRITABLE_CTES[self._db.dialect]:
            # One statement: the event and its deliveries are written together or not at all.
            await self._db.count(
                _INSERT_EVENT_AND_DELIVERIES,
                **params,
                delivery_ids=[x.id for x in deliveries],
                endpoint_ids=[x.endpoint_id for x in deliveries],
                next_attempt_ats=[x.next_attempt_at for x in deliveries],
            )
            return

        async def insert(x: Executor) -> None:
            await x.count(_INSERT_EVENT, **params)
            for delivery in deliveries:
                await x.count(_INSERT_DELIVERY, **_delivery_params(delivery))

        await self._db.transaction(insert)

    async def insert_webhook_delivery(
        self, delivery: WebhookDelivery, *, audit: NewAuditEvent | None = None
    ) -> None:
        async def insert(x: Executor) -> None:
            await x.count(_INSERT_DELIVERY, **_delivery_params(delivery))
            await record_with(x, audit, partner_id=delivery.partner_id)

        await self._db.transaction(insert)

    async def list_webhook_events(
        self, partner_id: str, page: PageRequest
    ) -> Page[WebhookEvent] | None:
        return await _PAGES.fetch(self._db, page, {"partner_id": partner_id})

    async def get_webhook_event(
        self, event_id: str, *, partner_id: str | None
    ) -> WebhookEvent | None:
        scoped, params = _partner(partner_id)
        row = await self._db.one(_GET_EVENT[scoped], id=event_id, **params)
        return _event(row) if row else None

    async def list_webhook_deliveries(self, event_id: str) -> list[WebhookDelivery]:
        rows = await self._db.all(_LIST_DELIVERIES, event_id=event_id)
        return [WebhookDelivery(**dict(r)) for r in rows]

    async def list_webhook_attempts(self, delivery_ids: list[str]) -> list[WebhookAttempt]:
        if not delivery_ids:
            return []
        rows = await self._db.all(_LIST_ATTEMPTS, delivery_ids=TextList(delivery_ids))
        return [WebhookAttempt(**dict(r)) for r in rows]

    async def get_webhook_delivery(
        self, delivery_id: str, *, partner_id: str | None
    ) -> WebhookDelivery | None:
        scoped, params = _partner(partner_id)
        row = await self._db.one(_GET_DELIVERY[scoped], id=delivery_id, **params)
        return WebhookDelivery(**dict(row)) if row else None

    # -- the worker -----------------------------------------------------------------------------
    async def webhook_outbox_stats(self) -> OutboxStats:
        row = await self._db.one(_OUTBOX_STATS)
        assert row is not None  # an aggregate always answers one row
        return OutboxStats(pending=int(row["pending"]), oldest_created_at=row["oldest_created_at"])

    async def claim_webhook_deliveries(
        self, *, now: int, limit: int, lease_until: int, lease_token: str, test_clocks: bool = False
    ) -> list[ClaimedDelivery]:
        params = {
            "now": now,
            "limit": limit,
            "lease_until": lease_until,
            "lease_token": lease_token,
        }
        if WRITABLE_CTES[self._db.dialect]:
            rows = await self._db.all(_CLAIM[test_clocks], **params)
        else:

            async def claim(x: Executor) -> list[Row]:
                if not await x.count(_LEASE_DUE[test_clocks], **params):
                    return []
                return await x.all(_LEASED[test_clocks], lease_token=lease_token)

            rows = await self._db.transaction(claim)
        return [_claimed(r, lease_token) for r in rows]

    async def finish_webhook_delivery(
        self, outcome: DeliveryOutcome, attempt: WebhookAttempt | None
    ) -> bool:
        params: dict[str, Any] = {
            "delivery_id": outcome.delivery_id,
            "lease_token": outcome.lease_token,
            "status": outcome.status,
            "attempts": outcome.attempts,
            "next_attempt_at": outcome.next_attempt_at,
            "last_attempt_at": outcome.last_attempt_at,
            "last_error": outcome.last_error,
            "updated_at": outcome.updated_at,
        }
        if attempt is None:
            return await self._db.one(_FINISH, **params) is not None
        params.update(
            attempt_id=attempt.id,
            attempted_at=attempt.attempted_at,
            duration_ms=attempt.duration_ms,
            http_status=attempt.http_status,
            error=attempt.error,
            response_body=attempt.response_body,
        )
        if WRITABLE_CTES[self._db.dialect]:  # one statement: attempt and outcome land together
            return await self._db.one(_FINISH_WITH_ATTEMPT, **params) is not None

        async def finish(x: Executor) -> bool:
            await x.count(_INSERT_ATTEMPT, **params)  # recorded whatever becomes of the lease
            return await x.one(_FINISH, **params) is not None

        return await self._db.transaction(finish)
