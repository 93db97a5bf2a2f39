"""The audit trail: what is recorded about each action on a partner's account, and reading it.

Each audited action builds its entry here (``new_event``) and hands it to the repository method
that performs the action, which writes both in one statement or transaction: an action and its
entry commit together, and a failed action leaves none. Entries hold ids, types, display
prefixes and reasons, never a secret (no client secret, API key, signing secret, SSN, nor a
webhook URL, which could carry one and is erased when its endpoint is deleted).

Who acted comes from the edge as an ``AuditContext``: an API key (``api_key``, with its id and
display prefix), the browser exchanging a client secret (``client``), an operator at the admin
CLI (``cli``) or signed in to the console (``operator``), or the service itself (``system``: the
sandbox's first key, the demo shop), with
the request's id and the client's address when there was a request.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from imprint_sessions.credentials import canonical_id
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.storage.records import (
    AuditContext,
    AuditEvent,
    AuditQuery,
    NewAuditEvent,
    Page,
    PageRequest,
    Principal,
)
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.validation import TIMESTAMP_MESSAGE, rfc3339_epoch_ms

API_KEY_CREATED = "api_key.created"
API_KEY_REVOKED = "api_key.revoked"
CUSTOMER_SESSION_CREATED = "customer_session.created"
CUSTOMER_SESSION_EXCHANGED = "customer_session.exchanged"
CUSTOMER_SESSION_EXCHANGE_REFUSED = "customer_session.exchange_refused"
CUSTOMER_SESSION_EXPIRED = "customer_session.expired"
WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created"
WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
WEBHOOK_ENDPOINT_SECRET_ROTATED = "webhook_endpoint.secret_rotated"  # noqa: S105 - a type
WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted"
WEBHOOK_DELIVERY_REPLAY_REQUESTED = "webhook_delivery.replay_requested"
EVENT_TYPES = (
    API_KEY_CREATED,
    API_KEY_REVOKED,
    CUSTOMER_SESSION_CREATED,
    CUSTOMER_SESSION_EXCHANGED,
    CUSTOMER_SESSION_EXCHANGE_REFUSED,
    CUSTOMER_SESSION_EXPIRED,
    WEBHOOK_ENDPOINT_CREATED,
    WEBHOOK_ENDPOINT_DISABLED,
    WEBHOOK_ENDPOINT_SECRET_ROTATED,
    WEBHOOK_ENDPOINT_DELETED,
    WEBHOOK_DELIVERY_REPLAY_REQUESTED,
)
OBJECT_TYPES = ("api_key", "customer_session", "webhook_endpoint", "webhook_delivery")
ACTOR_TYPES = ("api_key", "client", "cli", "operator", "system")

# Why an exchange was refused (``details.reason``): the session's state, or no session at all.
REFUSED_EXPIRED = "expired"
REFUSED_ALREADY_USED = "already_used"
REFUSED_REVOKED = "revoked"
REFUSED_UNKNOWN = "unknown"
REFUSAL_REASONS = (REFUSED_EXPIRED, REFUSED_ALREADY_USED, REFUSED_REVOKED, REFUSED_UNKNOWN)

SYSTEM = AuditContext(actor_type="system")
"""The service acting on its own (no request, no operator): the default of every action."""

MAX_PAGE_SIZE = 100
EXPORT_BATCH = 500


class _OrderedIds:
    """UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter within the
    millisecond (its start random), then 62 random bits. Each id this process makes sorts after
    the one before it, so entries written in one millisecond (a session created and exchanged at
    once) list in the order they were written; the trail sorts by ``(created_at, id)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = 0
        self._counter = 0

    def __call__(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms > self._ms:
                self._ms, self._counter = ms, secrets.randbelow(1 << 11)
            elif self._counter < (1 << 12) - 1:
                self._counter += 1
            else:  # 2048+ ids in one millisecond: borrow the next one
                self._ms, self._counter = self._ms + 1, 0
            ms, counter = self._ms, self._counter
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64
        value |= 0b10 << 62 | secrets.randbits(62)
        return str(uuid.UUID(int=value)).upper()


ordered_id = _OrderedIds()


def api_key_actor(
    principal: Principal, *, request_id: str | None = None, client_address: str | None = None
) -> AuditContext:
    """The API key a partner-API request authenticated with, and where the request came from."""
    return AuditContext(
        actor_type="api_key",
        actor_id=principal.api_key_id or None,
        actor_display=principal.api_key_display_prefix,
        request_id=request_id,
        client_address=client_address,
    )


def client_actor(
    *, request_id: str | None = None, client_address: str | None = None
) -> AuditContext:
    """The browser (the hosted page, the SDK) calling the client API."""
    return AuditContext(actor_type="client", request_id=request_id, client_address=client_address)


def operator_actor(login: str | None) -> AuditContext:
    """An operator at the admin CLI, named by their login on the machine (if known)."""
    return AuditContext(actor_type="cli", actor_display=login or None)


def console_operator_actor(
    operator_id: str,
    operator_name: str,
    *,
    request_id: str | None = None,
    client_address: str | None = None,
) -> AuditContext:
    """An operator signed in to the console (``operators create``), by id and name."""
    return AuditContext(
        actor_type="operator",
        actor_id=operator_id,
        actor_display=operator_name,
        request_id=request_id,
        client_address=client_address,
    )


def new_event(
    context: AuditContext,
    *,
    type: str,
    object_type: str,
    object_id: str,
    at: int,
    partner_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> NewAuditEvent:
    """An entry of ``type`` about ``object_id``, at ``at`` (the action's own time). ``partner_id``
    None leaves it to the repository: the partner of the row the action changes."""
    assert type in EVENT_TYPES, type
    assert object_type in OBJECT_TYPES, object_type
    return NewAuditEvent(
        id=ordered_id(),
        type=type,
        context=context,
        object_type=object_type,
        object_id=object_id,
        details_json=json.dumps(details or {}, separators=(",", ":"), sort_keys=True),
        created_at=at,
        partner_id=partner_id,
    )


# -- reading the trail --------------------------------------------------------------------------


def event_types(values: Iterable[str]) -> tuple[str, ...] | None:
    """The ``type`` filter: each value one type or several separated by commas (``type=a,b``,
    ``type=a&type=b``); None when none is given. An unknown type is a 400."""
    wanted = [part.strip() for value in values for part in value.split(",")]
    wanted = [part for part in wanted if part]
    if not wanted:
        return None
    if any(part not in EVENT_TYPES for part in wanted):
        raise InvalidRequest(f"type: must be among {', '.join(EVENT_TYPES)}")
    return tuple(t for t in EVENT_TYPES if t in wanted)


_API_NAMES = {name: name for name in ("type", "object_id", "created_gte", "created_lt")}


def audit_query(
    *,
    types: Iterable[str] = (),
    object_id: str | None = None,
    created_gte: str | None = None,
    created_lt: str | None = None,
    names: Mapping[str, str] = _API_NAMES,
) -> AuditQuery:
    """The filters of a list or an export, as sent, checked: every problem in one 400, each
    naming its parameter as ``names`` calls it (the CLI's ``--since`` is ``created_gte``).
    ``created_gte`` and ``created_lt``: RFC-3339 date-times."""
    problems = []
    try:
        wanted = event_types(types)
    except InvalidRequest:
        problems.append(f"{names['type']}: must be among {', '.join(EVENT_TYPES)}")
        wanted = None
    canonical = None
    if object_id is not None:
        canonical = canonical_id(object_id)
        if canonical is None:
            problems.append(f"{names['object_id']}: must be an id (a UUID)")
    moments: dict[str, int | None] = {}
    for name, value in (("created_gte", created_gte), ("created_lt", created_lt)):
        try:
            moments[name] = rfc3339_epoch_ms(value) if value is not None else None
        except ValueError:
            problems.append(f"{names[name]}: {TIMESTAMP_MESSAGE}")
    if problems:
        raise InvalidRequest(*problems)
    return AuditQuery(
        types=wanted,
        object_id=canonical,
        created_gte=moments["created_gte"],
        created_lt=moments["created_lt"],
    )


async def list_audit_events(
    repos: Repositories,
    *,
    partner_id: str,
    query: AuditQuery,
    limit: int,
    starting_after: str | None,
    newest_first: bool = False,
) -> Page[AuditEvent]:
    """The partner's entries matching ``query``, oldest first (newest first: the console),
    ``limit`` at a time (the partner API's list rules: ``starting_after`` one of its entries,
    filters aside)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit: must be 1 to {MAX_PAGE_SIZE}")
    cursor = canonical_id(starting_after) if starting_after is not None else None
    page = None
    if starting_after is None or cursor is not None:
        page = await repos.list_audit_events(
            partner_id,
            query,
            PageRequest(limit=limit, starting_after=cursor),
            newest_first=newest_first,
        )
    if page is None:
        raise InvalidRequest("starting_after: must be the id of one of your audit events")
    return page


async def export_audit_events(
    repos: Repositories, *, partner_id: str, query: AuditQuery, batch: int = EXPORT_BATCH
) -> AsyncIterator[AuditEvent]:
    """Every entry of the partner matching ``query``, oldest first, read ``batch`` at a time
    (one short statement each, however long the trail). The partner need not exist any more:
    a deleted partner's trail is kept, and exported like any other."""
    canonical = canonical_id(partner_id)
    if canonical is None:
        raise InvalidRequest("partner: must be an id (a UUID)")
    after: tuple[int, str] | None = None
    while True:
        found = await repos.scan_audit_events(canonical, query, after=after, limit=batch)
        for event in found:
            yield event
        if len(found) < batch:
            return
        after = (found[-1].created_at, found[-1].id)
