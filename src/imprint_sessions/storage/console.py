"""What the operator console reads across a partner's account: its newest rows first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from imprint_sessions.storage.applications import _COLUMNS as APPLICATION_COLUMNS
from imprint_sessions.storage.applications import _application
from imprint_sessions.storage.customer_sessions import SESSION_COLUMNS, customer_session_from_row
from imprint_sessions.storage.customers import PARTNER_CUSTOMER_COLUMNS, customer_from_row
from imprint_sessions.storage.records import (
    Application,
    Customer,
    CustomerSession,
    WebhookDelivery,
)
from imprint_sessions.storage.sql import Repository, Statement, bp
from imprint_sessions.storage.tables import (
    applications,
    customer_sessions,
    customers,
    webhook_deliveries,
    webhook_events,
)
from imprint_sessions.storage.webhooks import _DELIVERY_COLUMNS


def _newest(table: sa.Table, columns: Any, *, select_from: Any = None) -> Statement:
    t = table.c
    query = sa.select(*columns)
    if select_from is not None:
        query = query.select_from(select_from)
    return Statement(
        query.where(t.partner_id == bp("partner_id"))
        .order_by(t.created_at.desc(), t.id.desc())
        .limit(bp("limit"))
    )


_SESSIONS = _newest(customer_sessions, SESSION_COLUMNS)
_CUSTOMERS = _newest(customers, PARTNER_CUSTOMER_COLUMNS)
_APPLICATIONS = _newest(applications, APPLICATION_COLUMNS)
_DELIVERIES = _newest(
    webhook_deliveries,
    (*_DELIVERY_COLUMNS, webhook_events.c.type.label("event_type")),
    select_from=webhook_deliveries.join(
        webhook_events, webhook_events.c.id == webhook_deliveries.c.event_id
    ),
)


class ConsoleReads(Repository):
    async def list_recent_customer_sessions(
        self, partner_id: str, *, limit: int
    ) -> list[CustomerSession]:
        rows = await self._db.all(_SESSIONS, partner_id=partner_id, limit=limit)
        return [customer_session_from_row(row) for row in rows]

    async def list_recent_customers(self, partner_id: str, *, limit: int) -> list[Customer]:
        rows = await self._db.all(_CUSTOMERS, partner_id=partner_id, limit=limit)
        return [customer_from_row(row) for row in rows]

    async def list_recent_applications(self, partner_id: str, *, limit: int) -> list[Application]:
        rows = await self._db.all(_APPLICATIONS, partner_id=partner_id, limit=limit)
        return [_application(row) for row in rows]

    async def list_recent_webhook_deliveries(
        self, partner_id: str, *, limit: int
    ) -> list[tuple[WebhookDelivery, str]]:
        rows = await self._db.all(_DELIVERIES, partner_id=partner_id, limit=limit)
        found = []
        for row in rows:
            values = dict(row)
            event_type = values.pop("event_type")
            found.append((WebhookDelivery(**values), event_type))
        return found
