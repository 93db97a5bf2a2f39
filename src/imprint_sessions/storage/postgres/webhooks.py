"""Webhook endpoints, the event outbox, deliveries and attempts on PostgreSQL.

Workers on any number of hosts claim due deliveries with ``FOR UPDATE SKIP LOCKED`` and a lease
(``locked_until``, ``lease_token``): a delivery is held by at most one worker at a time.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from imprint_sessions.storage.postgres.paging import Condition, fetch_page
from imprint_sessions.storage.postgres.runner import PgRepository
from imprint_sessions.storage.records import (
    ClaimedDelivery,
    DeliveryOutcome,
    Page,
    PageRequest,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

_ENDPOINT_COLUMNS = (
    "upper(id::text) AS id, upper(partner_id::text) AS partner_id, url, event_types, status, "
    "secret_version, secret_key_id, previous_secret_version, previous_secret_key_id, "
    "previous_secret_expires_at, created_at, updated_at"
)
_NOT_DELETED = "status <> 'deleted'"
# One statement: the endpoint becomes a tombstone (its id stays, named by its past deliveries;
# no URL, no secret version or master key id to re-derive a secret from) and its pending
# deliveries dead, their leases dropped so a worker holding one cannot record it as delivered.
# $1 endpoint id, $2 now, {scope} the partner ($3).
_DELETE = """
WITH deleted AS (
    UPDATE webhook_endpoints SET status = 'deleted', url = '', secret_version = 0,
        secret_key_id = '', previous_secret_version = NULL, previous_secret_key_id = NULL,
        previous_secret_expires_at = NULL, updated_at = $2
    WHERE id = $1 AND status <> 'deleted'{scope}
    RETURNING id
), cancelled AS (
    UPDATE webhook_deliveries d SET status = 'dead', last_error = 'endpoint deleted',
        updated_at = $2, locked_until = NULL, lease_token = NULL
    FROM deleted WHERE d.endpoint_id = deleted.id AND d.status = 'pending'
    RETURNING 1
)
SELECT (SELECT count(*) FROM cancelled) AS cancelled FROM deleted
"""
_EVENT_COLUMNS = (
    "upper(id::text) AS id, upper(partner_id::text) AS partner_id, type, payload, created_at"
)
_DELIVERY_COLUMNS = (
    "upper(id::text) AS id, upper(event_id::text) AS event_id, "
    "upper(endpoint_id::text) AS endpoint_id, upper(partner_id::text) AS partner_id, status, "
    "attempts, next_attempt_at, last_attempt_at, last_error, upper(replay_of::text) AS replay_of, "
    "created_at, updated_at"
)
_ATTEMPT_COLUMNS = (
    "upper(id::text) AS id, upper(delivery_id::text) AS delivery_id, attempted_at, duration_ms, "
    "http_status, error, response_body"
)
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, partner_id, status, attempts, "
    "next_attempt_at, replay_of, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)

# The event and one delivery per (id, endpoint id, next attempt) triple in $6..$8.
_INSERT_EVENT = """
WITH event AS (
    INSERT INTO webhook_events (id, partner_id, type, payload, created_at)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING id
)
INSERT INTO webhook_deliveries (id, event_id, endpoint_id, partner_id, status, attempts,
    next_attempt_at, created_at, updated_at)
SELECT d.id, event.id, d.endpoint_id, $2, 'pending', 0, d.next_attempt_at, $5, $5
FROM event, unnest($6::uuid[], $7::uuid[], $8::bigint[]) AS d(id, endpoint_id, next_attempt_at)
"""

_FINISH_UPDATE = """
UPDATE webhook_deliveries SET status = $3, attempts = $4, next_attempt_at = $5,
    last_attempt_at = $6, last_error = $7, updated_at = $8, locked_until = NULL,
    lease_token = NULL
WHERE id = $1 AND lease_token = $2
RETURNING 1
"""
_FINISH = _FINISH_UPDATE
# The attempt is inserted whatever becomes of the lease: it happened.
_FINISH_WITH_ATTEMPT = (
    """
WITH attempt AS (
    INSERT INTO webhook_attempts (id, delivery_id, attempted_at, duration_ms, http_status,
        error, response_body)
    VALUES ($9, $1, $10, $11, $12, $13, $14)
)"""
    + _FINISH_UPDATE
)

# $1 now, $2 limit, $3 lease_until, $4 lease_token. The inner SELECT locks the rows it picks and
# skips rows another worker is claiming this instant; the lease keeps them off everyone else's
# list until the attempt is recorded (or the lease runs out because the worker died).
_CLAIM = """
WITH due AS (
    SELECT id FROM webhook_deliveries
    WHERE status = 'pending' AND next_attempt_at <= $1
      AND (locked_until IS NULL OR locked_until <= $1)
    ORDER BY next_attempt_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE webhook_deliveries d SET locked_until = $3, lease_token = $4
    FROM due WHERE d.id = due.id
    RETURNING d.*
)
SELECT
    upper(c.id::text) AS id, upper(c.event_id::text) AS event_id,
    upper(c.endpoint_id::text) AS endpoint_id, upper(c.partner_id::text) AS partner_id,
    c.status, c.attempts, c.next_attempt_at, c.last_attempt_at, c.last_error,
    upper(c.replay_of::text) AS replay_of, c.created_at, c.updated_at,
    e.type AS event_type, e.payload AS event_payload, e.created_at AS event_created_at,
    ep.url AS ep_url, ep.event_types AS ep_event_types, ep.status AS ep_status,
    ep.secret_version AS ep_secret_version, ep.secret_key_id AS ep_secret_key_id,
    ep.previous_secret_version AS ep_previous_secret_version,
    ep.previous_secret_key_id AS ep_previous_secret_key_id,
    ep.previous_secret_expires_at AS ep_previous_secret_expires_at,
    ep.created_at AS ep_created_at, ep.updated_at AS ep_updated_at
FROM claimed c
JOIN webhook_events e ON e.id = c.event_id
JOIN webhook_endpoints ep ON ep.id = c.endpoint_id
ORDER BY c.next_attempt_at
"""


def _partner_scope(partner_id: str | None, first_arg: int) -> tuple[str, list[Any]]:
    if partner_id is None:
        return "", []
    return f" AND partner_id = ${first_arg}", [partner_id]


class PgWebhooks(PgRepository):
    # -- endpoints ------------------------------------------------------------------------------
    async def create_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self._execute(
            "INSERT INTO webhook_endpoints (id, partner_id, url, event_types, status, "
            "secret_version, secret_key_id, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            endpoint.id,
            endpoint.partner_id,
            endpoint.url,
            json.dumps(list(endpoint.event_types)),
            endpoint.status,
            endpoint.secret_version,
            endpoint.secret_key_id,
            endpoint.created_at,
            endpoint.updated_at,
        )

    async def list_webhook_endpoints(self, partner_id: str) -> list[WebhookEndpoint]:
        rows = await self._fetch(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE partner_id = $1 "
            f"AND {_NOT_DELETED} ORDER BY created_at, id",
            partner_id,
        )
        return [_endpoint(r) for r in rows]

    async def get_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None
    ) -> WebhookEndpoint | None:
        scope, args = _partner_scope(partner_id, 2)
        row = await self._fetchrow(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND {_NOT_DELETED}"
            f"{scope}",
            endpoint_id,
            *args,
        )
        return _endpoint(row) if row else None

    async def disable_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None, now: int
    ) -> WebhookEndpoint | None:
        scope, args = _partner_scope(partner_id, 3)
        row = await self._fetchrow(
            "UPDATE webhook_endpoints SET status = 'disabled', updated_at = $2 "
            f"WHERE id = $1 AND {_NOT_DELETED}{scope} RETURNING {_ENDPOINT_COLUMNS}",
            endpoint_id,
            now,
            *args,
        )
        return _endpoint(row) if row else None

    async def delete_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None, now: int
    ) -> bool:
        scope, args = _partner_scope(partner_id, 3)
        row = await self._fetchrow(_DELETE.format(scope=scope), endpoint_id, now, *args)
        return row is not None

    async def rotate_webhook_endpoint_secret(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        secret_key_id: str,
        previous_expires_at: int,
        now: int,
    ) -> WebhookEndpoint | None:
        scope, args = _partner_scope(partner_id, 5)
        row = await self._fetchrow(
            "UPDATE webhook_endpoints SET previous_secret_version = secret_version, "
            "previous_secret_key_id = secret_key_id, previous_secret_expires_at = $3, "
            "secret_version = secret_version + 1, secret_key_id = $2, updated_at = $4 "
            f"WHERE id = $1 AND {_NOT_DELETED}{scope} RETURNING {_ENDPOINT_COLUMNS}",
            endpoint_id,
            secret_key_id,
            previous_expires_at,
            now,
            *args,
        )
        return _endpoint(row) if row else None

    # -- events and deliveries ------------------------------------------------------------------
    async def insert_webhook_event(
        self, event: WebhookEvent, deliveries: list[WebhookDelivery]
    ) -> None:
        # One statement: the event and its deliveries are written together or not at all.
        await self._execute(
            _INSERT_EVENT,
            event.id,
            event.partner_id,
            event.type,
            event.payload,
            event.created_at,
            [d.id for d in deliveries],
            [d.endpoint_id for d in deliveries],
            [d.next_attempt_at for d in deliveries],
        )

    async def insert_webhook_delivery(self, delivery: WebhookDelivery) -> None:
        await self._execute(_INSERT_DELIVERY, *_delivery_args(delivery))

    async def list_webhook_events(
        self, partner_id: str, page: PageRequest
    ) -> Page[WebhookEvent] | None:
        raw = await self._run(
            lambda conn: fetch_page(
                conn,
                table="webhook_events",
                columns=_EVENT_COLUMNS,
                scope=[Condition("partner_id = {}", partner_id)],
                page=page,
            )
        )
        if raw is None:
            return None
        return raw.to_page(lambda r: WebhookEvent(**dict(r)))

    async def get_webhook_event(
        self, event_id: str, *, partner_id: str | None
    ) -> WebhookEvent | None:
        scope, args = _partner_scope(partner_id, 2)
        row = await self._fetchrow(
            f"SELECT {_EVENT_COLUMNS} FROM webhook_events WHERE id = $1{scope}", event_id, *args
        )
        return WebhookEvent(**dict(row)) if row else None

    async def list_webhook_deliveries(self, event_id: str) -> list[WebhookDelivery]:
        rows = await self._fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE event_id = $1 "
            "ORDER BY created_at, id",
            event_id,
        )
        return [WebhookDelivery(**dict(r)) for r in rows]

    async def list_webhook_attempts(self, delivery_ids: list[str]) -> list[WebhookAttempt]:
        rows = await self._fetch(
            f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_attempts WHERE delivery_id = ANY($1::uuid[]) "
            "ORDER BY attempted_at, id",
            delivery_ids,
        )
        return [WebhookAttempt(**dict(r)) for r in rows]

    async def get_webhook_delivery(
        self, delivery_id: str, *, partner_id: str | None
    ) -> WebhookDelivery | None:
        scope, args = _partner_scope(partner_id, 2)
        row = await self._fetchrow(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1{scope}",
            delivery_id,
            *args,
        )
        return WebhookDelivery(**dict(row)) if row else None

    # -- the worker -----------------------------------------------------------------------------
    async def claim_webhook_deliveries(
        self, *, now: int, limit: int, lease_until: int, lease_token: str
    ) -> list[ClaimedDelivery]:
        rows = await self._fetch(_CLAIM, now, limit, lease_until, lease_token)
        return [_claimed(r, lease_token) for r in rows]

    async def finish_webhook_delivery(
        self, outcome: DeliveryOutcome, attempt: WebhookAttempt | None
    ) -> bool:
        args: list[Any] = [
            outcome.delivery_id,
            outcome.lease_token,
            outcome.status,
            outcome.attempts,
            outcome.next_attempt_at,
            outcome.last_attempt_at,
            outcome.last_error,
            outcome.updated_at,
        ]
        sql = _FINISH
        if attempt is not None:  # one statement either way: attempt and outcome land together
            sql = _FINISH_WITH_ATTEMPT
            args += [
                attempt.id,
                attempt.attempted_at,
                attempt.duration_ms,
                attempt.http_status,
                attempt.error,
                attempt.response_body,
            ]
        row = await self._fetchrow(sql, *args)
        return row is not None


def _delivery_args(d: WebhookDelivery) -> list[Any]:
    return [
        d.id,
        d.event_id,
        d.endpoint_id,
        d.partner_id,
        d.status,
        d.attempts,
        d.next_attempt_at,
        d.replay_of,
        d.created_at,
        d.updated_at,
    ]


def _endpoint(row: asyncpg.Record | dict[str, Any]) -> WebhookEndpoint:
    values = dict(row)
    values["event_types"] = tuple(json.loads(values["event_types"]))
    return WebhookEndpoint(**values)


def _claimed(row: asyncpg.Record, lease_token: str) -> ClaimedDelivery:
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
    return ClaimedDelivery(
        delivery=WebhookDelivery(**values), event=event, endpoint=endpoint, lease_token=lease_token
    )
