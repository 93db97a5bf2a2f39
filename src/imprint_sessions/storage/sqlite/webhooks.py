"""Webhook endpoints, the event outbox, deliveries and attempts on SQLite.

A claim runs inside ``BEGIN IMMEDIATE``, which admits one writer at a time across every process
on the file, so two workers (or a worker and ``serve``) never lease the same delivery.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

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
from imprint_sessions.storage.sqlite.paging import eq, fetch_page
from imprint_sessions.storage.sqlite.runner import LiteRepository

_ENDPOINT_COLUMNS = (
    "id, partner_id, url, event_types, status, secret_version, secret_key_id, "
    "previous_secret_version, previous_secret_key_id, previous_secret_expires_at, created_at, "
    "updated_at"
)
_NOT_DELETED = "status <> 'deleted'"
# A deleted endpoint keeps its id (its past deliveries name it) and nothing else worth having:
# no URL, and no secret version or master key id to re-derive a signing secret from.
_TOMBSTONE = (
    "UPDATE webhook_endpoints SET status = 'deleted', url = '', secret_version = 0, "
    "secret_key_id = '', previous_secret_version = NULL, previous_secret_key_id = NULL, "
    "previous_secret_expires_at = NULL, updated_at = ?"
)
# Dropping the lease too: a worker holding one can no longer record its attempt as delivered.
_CANCEL_PENDING = (
    "UPDATE webhook_deliveries SET status = 'dead', last_error = 'endpoint deleted', "
    "updated_at = ?, locked_until = NULL, lease_token = NULL "
    "WHERE endpoint_id = ? AND status = 'pending'"
)
_EVENT_COLUMNS = "id, partner_id, type, payload, created_at"
_DELIVERY_COLUMNS = (
    "id, event_id, endpoint_id, partner_id, status, attempts, next_attempt_at, last_attempt_at, "
    "last_error, replay_of, created_at, updated_at"
)
_ATTEMPT_COLUMNS = "id, delivery_id, attempted_at, duration_ms, http_status, error, response_body"
_INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, partner_id, status, attempts, "
    "next_attempt_at, replay_of, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_DUE = (
    "SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? "
    "AND (locked_until IS NULL OR locked_until <= ?) ORDER BY next_attempt_at LIMIT ?"
)
_CLAIMED = (
    "SELECT d.id, d.event_id, d.endpoint_id, d.partner_id, d.status, d.attempts, "
    "d.next_attempt_at, d.last_attempt_at, d.last_error, d.replay_of, d.created_at, "
    "d.updated_at, e.type AS event_type, e.payload AS event_payload, "
    "e.created_at AS event_created_at, ep.url AS ep_url, ep.event_types AS ep_event_types, "
    "ep.status AS ep_status, ep.secret_version AS ep_secret_version, "
    "ep.secret_key_id AS ep_secret_key_id, "
    "ep.previous_secret_version AS ep_previous_secret_version, "
    "ep.previous_secret_key_id AS ep_previous_secret_key_id, "
    "ep.previous_secret_expires_at AS ep_previous_secret_expires_at, "
    "ep.created_at AS ep_created_at, ep.updated_at AS ep_updated_at "
    "FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id "
    "JOIN webhook_endpoints ep ON ep.id = d.endpoint_id "
    "WHERE d.lease_token = ? ORDER BY d.next_attempt_at"
)


def _partner_scope(partner_id: str | None) -> tuple[str, tuple[Any, ...]]:
    return ("", ()) if partner_id is None else (" AND partner_id = ?", (partner_id,))


class LiteWebhooks(LiteRepository):
    # -- endpoints ------------------------------------------------------------------------------
    async def create_webhook_endpoint(self, endpoint: WebhookEndpoint) -> None:
        await self._runner.write(
            lambda c: c.execute(
                "INSERT INTO webhook_endpoints (id, partner_id, url, event_types, status, "
                "secret_version, secret_key_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    endpoint.id,
                    endpoint.partner_id,
                    endpoint.url,
                    json.dumps(list(endpoint.event_types)),
                    endpoint.status,
                    endpoint.secret_version,
                    endpoint.secret_key_id,
                    endpoint.created_at,
                    endpoint.updated_at,
                ),
            )
        )

    async def list_webhook_endpoints(self, partner_id: str) -> list[WebhookEndpoint]:
        rows = await self._runner.read(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE partner_id = ? "
            f"AND {_NOT_DELETED} ORDER BY created_at, id",
            partner_id,
        )
        return [_endpoint(dict(r)) for r in rows]

    async def get_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None
    ) -> WebhookEndpoint | None:
        scope, args = _partner_scope(partner_id)
        rows = await self._runner.read(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ? AND {_NOT_DELETED}"
            f"{scope}",
            endpoint_id,
            *args,
        )
        return _endpoint(dict(rows[0])) if rows else None

    async def disable_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None, now: int
    ) -> WebhookEndpoint | None:
        scope, args = _partner_scope(partner_id)
        row = await self._runner.write(
            lambda c: c.execute(
                "UPDATE webhook_endpoints SET status = 'disabled', updated_at = ? "
                f"WHERE id = ? AND {_NOT_DELETED}{scope} RETURNING {_ENDPOINT_COLUMNS}",
                (now, endpoint_id, *args),
            ).fetchone()
        )
        return _endpoint(dict(row)) if row else None

    async def delete_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None, now: int
    ) -> bool:
        scope, args = _partner_scope(partner_id)

        def work(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(
                f"{_TOMBSTONE} WHERE id = ? AND {_NOT_DELETED}{scope}",
                (now, endpoint_id, *args),
            )
            if deleted.rowcount != 1:
                return False
            conn.execute(_CANCEL_PENDING, (now, endpoint_id))
            return True

        return await self._runner.write(work)

    async def rotate_webhook_endpoint_secret(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        secret_key_id: str,
        previous_expires_at: int,
        now: int,
    ) -> WebhookEndpoint | None:
        scope, args = _partner_scope(partner_id)
        row = await self._runner.write(
            lambda c: c.execute(
                "UPDATE webhook_endpoints SET previous_secret_version = secret_version, "
                "previous_secret_key_id = secret_key_id, previous_secret_expires_at = ?, "
                "secret_version = secret_version + 1, secret_key_id = ?, updated_at = ? "
                f"WHERE id = ? AND {_NOT_DELETED}{scope} RETURNING {_ENDPOINT_COLUMNS}",
                (previous_expires_at, secret_key_id, now, endpoint_id, *args),
            ).fetchone()
        )
        return _endpoint(dict(row)) if row else None

    # -- events and deliveries ------------------------------------------------------------------
    async def insert_webhook_event(
        self, event: WebhookEvent, deliveries: list[WebhookDelivery]
    ) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO webhook_events (id, partner_id, type, payload, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (event.id, event.partner_id, event.type, event.payload, event.created_at),
            )
            conn.executemany(_INSERT_DELIVERY, [_delivery_args(d) for d in deliveries])

        await self._runner.write(work)

    async def insert_webhook_delivery(self, delivery: WebhookDelivery) -> None:
        await self._runner.write(lambda c: c.execute(_INSERT_DELIVERY, _delivery_args(delivery)))

    async def list_webhook_events(
        self, partner_id: str, page: PageRequest
    ) -> Page[WebhookEvent] | None:
        raw = await self._runner.run(
            lambda conn: fetch_page(
                conn,
                table="webhook_events",
                columns=_EVENT_COLUMNS,
                scope=[eq("partner_id", partner_id)],
                page=page,
            )
        )
        if raw is None:
            return None
        return raw.to_page(lambda r: WebhookEvent(**dict(r)))

    async def get_webhook_event(
        self, event_id: str, *, partner_id: str | None
    ) -> WebhookEvent | None:
        scope, args = _partner_scope(partner_id)
        rows = await self._runner.read(
            f"SELECT {_EVENT_COLUMNS} FROM webhook_events WHERE id = ?{scope}", event_id, *args
        )
        return WebhookEvent(**dict(rows[0])) if rows else None

    async def list_webhook_deliveries(self, event_id: str) -> list[WebhookDelivery]:
        rows = await self._runner.read(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE event_id = ? "
            "ORDER BY created_at, id",
            event_id,
        )
        return [WebhookDelivery(**dict(r)) for r in rows]

    async def list_webhook_attempts(self, delivery_ids: list[str]) -> list[WebhookAttempt]:
        if not delivery_ids:
            return []
        marks = ", ".join("?" * len(delivery_ids))
        rows = await self._runner.read(
            f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_attempts WHERE delivery_id IN ({marks}) "
            "ORDER BY attempted_at, id",
            *delivery_ids,
        )
        return [WebhookAttempt(**dict(r)) for r in rows]

    async def get_webhook_delivery(
        self, delivery_id: str, *, partner_id: str | None
    ) -> WebhookDelivery | None:
        scope, args = _partner_scope(partner_id)
        rows = await self._runner.read(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?{scope}",
            delivery_id,
            *args,
        )
        return WebhookDelivery(**dict(rows[0])) if rows else None

    # -- the worker -----------------------------------------------------------------------------
    async def claim_webhook_deliveries(
        self, *, now: int, limit: int, lease_until: int, lease_token: str
    ) -> list[ClaimedDelivery]:
        def work(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            due = [r[0] for r in conn.execute(_DUE, (now, now, limit)).fetchall()]
            if not due:
                return []
            marks = ", ".join("?" * len(due))
            conn.execute(
                "UPDATE webhook_deliveries SET locked_until = ?, lease_token = ? "
                f"WHERE id IN ({marks})",
                (lease_until, lease_token, *due),
            )
            return conn.execute(_CLAIMED, (lease_token,)).fetchall()

        rows = await self._runner.write(work)
        return [_claimed(dict(r), lease_token) for r in rows]

    async def finish_webhook_delivery(
        self, outcome: DeliveryOutcome, attempt: WebhookAttempt | None
    ) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            if attempt is not None:  # recorded whatever becomes of the lease: it happened
                conn.execute(
                    "INSERT INTO webhook_attempts (id, delivery_id, attempted_at, duration_ms, "
                    "http_status, error, response_body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        attempt.id,
                        attempt.delivery_id,
                        attempt.attempted_at,
                        attempt.duration_ms,
                        attempt.http_status,
                        attempt.error,
                        attempt.response_body,
                    ),
                )
            cursor = conn.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
                "last_attempt_at = ?, last_error = ?, updated_at = ?, locked_until = NULL, "
                "lease_token = NULL WHERE id = ? AND lease_token = ?",
                (
                    outcome.status,
                    outcome.attempts,
                    outcome.next_attempt_at,
                    outcome.last_attempt_at,
                    outcome.last_error,
                    outcome.updated_at,
                    outcome.delivery_id,
                    outcome.lease_token,
                ),
            )
            return cursor.rowcount == 1

        return await self._runner.write(work)


def _delivery_args(d: WebhookDelivery) -> tuple[Any, ...]:
    return (
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
    )


def _endpoint(values: dict[str, Any]) -> WebhookEndpoint:
    values["event_types"] = tuple(json.loads(values["event_types"]))
    return WebhookEndpoint(**values)


def _claimed(values: dict[str, Any], lease_token: str) -> ClaimedDelivery:
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
