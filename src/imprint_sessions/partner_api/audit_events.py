"""``/v2/audit_events``: the caller's audit trail, oldest first, filtered by type, object, time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import WithJsonSchema

from imprint_sessions.deps import Svc
from imprint_sessions.domain import audit
from imprint_sessions.partner_api.auth import PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.params import DEFAULT_LIMIT, Limit, StartingAfter
from imprint_sessions.partner_api.rendering import json_response
from imprint_sessions.validation import IDENTIFIER_MAX_LENGTH, TIMESTAMP_MAX_LENGTH
from imprint_sessions.wire.audit import AUDIT_EVENT_LIST, AuditEventList

router = APIRouter(tags=["Audit"])

_TYPES = Annotated[
    list[str] | None,
    WithJsonSchema({"type": "array", "items": {"type": "string", "enum": list(audit.EVENT_TYPES)}}),
    Query(
        alias="type",
        description=(
            "Only entries of these types: repeat the parameter (`type=a&type=b`) or separate "
            "types with commas (`type=a,b`)"
        ),
    ),
]
_UUID_PATTERN = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
_CREATED = "an RFC-3339 date-time with `Z` or an offset (`2025-02-13T19:08:07.000Z`)"
_AN_ID = WithJsonSchema({"type": "string", "format": "uuid", "pattern": _UUID_PATTERN})
# Checked with the other filters (``audit.audit_query``), so one 400 lists every bad one.
_MOMENT = WithJsonSchema(
    {"type": "string", "format": "date-time", "maxLength": TIMESTAMP_MAX_LENGTH}
)


@router.get(
    "/v2/audit_events",
    operation_id="listAuditEvents",
    summary="List audit events",
    response_model=AuditEventList,
    responses=error_responses(400, 401, 429, 503),
)
async def list_audit_events(
    services: Svc,
    principal: PartnerAuth,
    types: _TYPES = None,
    object_id: Annotated[
        str | None,
        _AN_ID,
        Query(
            max_length=IDENTIFIER_MAX_LENGTH,
            description="Only entries about this object (a session, key, endpoint or delivery id)",
        ),
    ] = None,
    created_gte: Annotated[
        str | None,
        _MOMENT,
        Query(
            max_length=TIMESTAMP_MAX_LENGTH,
            description=f"Only entries at or after this moment: {_CREATED}",
        ),
    ] = None,
    created_lt: Annotated[
        str | None,
        _MOMENT,
        Query(
            max_length=TIMESTAMP_MAX_LENGTH,
            description=f"Only entries before this moment: {_CREATED}",
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: StartingAfter = None,
) -> Response:
    """Lists your audit trail, oldest first: keys, sessions, exchanges and webhook changes."""
    page = await audit.list_audit_events(
        services.database.repositories,
        partner_id=principal.partner_id,
        query=audit.audit_query(
            types=types or (),
            object_id=object_id,
            created_gte=created_gte,
            created_lt=created_lt,
        ),
        limit=limit,
        starting_after=starting_after,
    )
    return json_response(AUDIT_EVENT_LIST(page))
