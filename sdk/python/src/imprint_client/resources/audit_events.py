"""``client.audit_events``: your audit trail, oldest first, filtered by type, object and time."""

from __future__ import annotations

from imprint_client import _operations as ops
from imprint_client._core import Call
from imprint_client.models import AuditEvent, AuditEventType, ListBody
from imprint_client.pagination import AsyncPage, SyncPage
from imprint_client.resources._base import AsyncResource, SyncResource


def _list_call(
    type: list[AuditEventType] | None,
    object_id: str | None,
    created_gte: str | None,
    created_lt: str | None,
    limit: int | None,
    starting_after: str | None,
) -> Call[ListBody[AuditEvent]]:
    # A string would be sent one character per type: refuse it before anything is sent.
    if type is not None and (
        not isinstance(type, list) or not all(isinstance(t, str) for t in type)
    ):
        raise TypeError("listAuditEvents: type must be a list of event types")
    return ops.LIST_AUDIT_EVENTS.call(
        query={
            "type": type or None,
            "object_id": object_id,
            "created_gte": created_gte,
            "created_lt": created_lt,
            "limit": limit,
            "starting_after": starting_after,
        }
    )


class AuditEvents(SyncResource):
    def list(
        self,
        *,
        type: list[AuditEventType] | None = None,
        object_id: str | None = None,
        created_gte: str | None = None,
        created_lt: str | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> SyncPage[AuditEvent]:
        """Your audit trail, oldest first: only entries of these types, about this object, at or
        after ``created_gte`` and before ``created_lt`` (RFC 3339), as given."""
        return self._client._page(
            _list_call(type, object_id, created_gte, created_lt, limit, starting_after)
        )


class AsyncAuditEvents(AsyncResource):
    async def list(
        self,
        *,
        type: list[AuditEventType] | None = None,
        object_id: str | None = None,
        created_gte: str | None = None,
        created_lt: str | None = None,
        limit: int | None = None,
        starting_after: str | None = None,
    ) -> AsyncPage[AuditEvent]:
        """Your audit trail, oldest first: only entries of these types, about this object, at or
        after ``created_gte`` and before ``created_lt`` (RFC 3339), as given."""
        return await self._client._page(
            _list_call(type, object_id, created_gte, created_lt, limit, starting_after)
        )
