"""The audit trail's published shapes: one entry and a page of them (``GET /v2/audit_events``;
``imprint-sessions audit export`` writes the same entries, by the same names)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field

from imprint_sessions.domain import audit
from imprint_sessions.storage import records
from imprint_sessions.wire.partner import Timestamp, _ResponseBody
from imprint_sessions.wire.serializers import From, serializer

AuditEventType = Literal[
    "api_key.created",
    "api_key.revoked",
    "customer_session.created",
    "customer_session.exchanged",
    "customer_session.exchange_refused",
    "customer_session.expired",
    "webhook_endpoint.created",
    "webhook_endpoint.disabled",
    "webhook_endpoint.secret_rotated",
    "webhook_endpoint.deleted",
    "webhook_delivery.replay_requested",
]
assert get_args(AuditEventType) == audit.EVENT_TYPES, "publish every type the domain records"


class AuditEvent(_ResponseBody):
    """One entry of your audit trail: what was done, by whom, to what, when and from where.

    Never a secret: ids, display prefixes and reasons only. Fields without a value are omitted.
    """

    id: str = Field(examples=["6F1C3B2A-0D9E-4E8F-A7B6-C5D4E3F2A1B0"])
    type: AuditEventType = Field(
        description="What happened: `<object type>.<action>`",
        examples=["customer_session.exchange_refused"],
    )
    created_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])
    actor_type: Literal["api_key", "client", "cli", "operator", "system"] = Field(
        description=(
            "Who acted: one of your API keys, the browser exchanging a client secret "
            "(`client`), an operator at the admin CLI (`cli`) or signed in to the operator "
            "console (`operator`), or the service itself (`system`)"
        ),
        examples=["api_key"],
    )
    actor_id: str | None = Field(
        default=None,
        description="The API key's id, when an API key acted; the operator's, in the console",
        examples=["7C3F5E0B-9E4A-4F3B-9B8E-2D8A1C6B5E4F"],
    )
    actor_display: str | None = Field(
        default=None,
        description=(
            "The API key's display prefix, the operator's login (`cli`) or name (`operator`)"
        ),
        examples=["isk_test_2vQa"],
    )
    object_type: Literal["api_key", "customer_session", "webhook_endpoint", "webhook_delivery"] = (
        Field(examples=["customer_session"])
    )
    object_id: str = Field(examples=["2EE24580-B97B-4949-A65C-929CCB9B9B8D"])
    details: Annotated[dict[str, Any], From("details_json", raw_json=True)] = Field(
        description=(
            "What else the action involved, by type: `customer_id` (a session created), "
            "`reason` (an exchange refused: `expired`, `already_used`, `revoked` or `unknown`), "
            "`display_prefix` (a key created or revoked), `event_types`, "
            "`grace_period_seconds`, `replay_id`, `event_id`, `endpoint_id`"
        ),
        examples=[{"reason": "already_used"}],
    )
    request_id: str | None = Field(
        default=None,
        description="The `Request-Id` of the request that did it",
        examples=["req_5f0c2a9d1e7b4c3a8f6e2d1b"],
    )
    client_address: str | None = Field(
        default=None,
        description="The IP address the request came from",
        examples=["203.0.113.7"],
    )
    partner_id: str = Field(examples=["0F5B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D"])


class AuditEventList(_ResponseBody):
    """One page of your audit trail, oldest first."""

    data: Annotated[list[AuditEvent], From("items")]
    has_more: bool = Field(description="Whether a page follows (`starting_after` the last id)")
    total: int = Field(description="How many entries match the filters, on every page")


AUDIT_EVENT = serializer(AuditEvent, record=records.AuditEvent)
AUDIT_EVENT_LIST = serializer(AuditEventList, record=records.Page)
AUDIT_EVENT_FIELDS = tuple(AuditEvent.model_fields)
"""The entry's field names, in order: the columns of a CSV export."""
