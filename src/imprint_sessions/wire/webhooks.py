"""Partner API wire schemas for webhooks: endpoints, events, deliveries and the sandbox trigger.

Kept beside ``partner.py`` (same base models, same conventions: optional fields are omitted,
never null; timestamps RFC-3339 with milliseconds; statuses in capitals).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from imprint_sessions.clock import rfc3339_ms
from imprint_sessions.domain.events import PENDING
from imprint_sessions.domain.webhooks import MAX_GRACE_SECONDS, DeliveryWithAttempts
from imprint_sessions.storage import records
from imprint_sessions.validation import (
    Description,
    Identifier,
    JsonInteger,
)
from imprint_sessions.wire.partner import Timestamp, _RequestBody, _ResponseBody
from imprint_sessions.wire.serializers import From, serializer

EventType = Literal["APPLICATION", "PAYMENT_METHOD"]


class CreateWebhookEndpointRequest(_RequestBody):
    """The body of POST /v2/webhook_endpoints."""

    url: str = Field(
        description=(
            "Where events are POSTed. Production: https, resolving only to public addresses. "
            "The sandbox also accepts http and localhost."
        ),
        examples=["https://partner.example.com/imprint/webhooks"],
    )
    # At least one, none twice: checked by the domain (``domain/webhooks.py``), published here.
    event_types: list[EventType] | None = Field(
        default=None,
        description="The event types to send here, each at most once (default: all)",
        examples=[["APPLICATION", "PAYMENT_METHOD"]],
        json_schema_extra={"minItems": 1, "uniqueItems": True},
    )
    description: Description | None = Field(
        default=None,
        description="What the endpoint is for, in your own words (shown back, never sent)",
        examples=["Order service: card decisions"],
    )


class RotateWebhookSecretRequest(_RequestBody):
    """The (optional) body of POST /v2/webhook_endpoints/{endpoint_id}/rotate_secret."""

    # The bounds are checked by the domain (``rotate_webhook_secret``), published here.
    grace_period_seconds: Annotated[int, JsonInteger] | None = Field(
        default=None,
        strict=True,
        json_schema_extra={"minimum": 0, "maximum": MAX_GRACE_SECONDS},
        description=(
            "How long the replaced secret keeps signing beside the new one (0 to 604800; default "
            "the deployment's, 86400). 0 retires it at once (a leaked secret)."
        ),
        examples=[86400],
    )


@dataclass(frozen=True, slots=True)
class EndpointView:
    """What an endpoint's response shows besides the record: the time, and a secret just issued."""

    now: int
    secret: str | None = None


def _previous_secret_expires_at(endpoint: Any, view: EndpointView) -> str | None:
    expires_at = endpoint.previous_secret_expires_at
    return rfc3339_ms(expires_at) if expires_at and expires_at > view.now else None


PreviousSecretExpiry = Annotated[str | None, From(compute=_previous_secret_expires_at)]


class WebhookEndpoint(_ResponseBody):
    """A partner's webhook receiver."""

    id: str = Field(examples=["1B7E3C9A-4D2F-4E8B-9A6C-5F0D1E2A3B4C"])
    url: str = Field(examples=["https://partner.example.com/imprint/webhooks"])
    event_types: list[EventType] = Field(examples=[["APPLICATION", "PAYMENT_METHOD"]])
    description: str | None = Field(default=None, examples=["Order service: card decisions"])
    status: Annotated[Literal["ENABLED", "DISABLED"], From(convert=str.upper)]
    secret: Annotated[str | None, From(compute=lambda _, view: view.secret)] = Field(
        default=None,
        description=(
            "The signing secret (`whsec_` + base64), in the response that creates or rotates it "
            "and never again: it is not stored, and nobody can show it to you later"
        ),
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    previous_secret_expires_at: PreviousSecretExpiry = Field(
        default=None,
        description="Until then the secret replaced by the last rotation also signs every request",
        examples=["2025-02-14T19:08:07.000Z"],
    )
    created_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])
    updated_at: Timestamp = Field(examples=["2025-02-13T19:08:07.000Z"])


class DeletedWebhookEndpoint(_ResponseBody):
    """A deleted webhook endpoint: nothing more is sent to it, and it is never listed again."""

    id: str = Field(examples=["1B7E3C9A-4D2F-4E8B-9A6C-5F0D1E2A3B4C"])
    deleted: Literal[True]


class WebhookEndpointList(_ResponseBody):
    data: Annotated[list[WebhookEndpoint], From("items")]
    has_more: bool
    total: int


class WebhookEvent(_ResponseBody):
    """An event as it is sent: ``object`` and ``data`` are the body's; ``id`` is ``webhook-id``."""

    id: str = Field(
        description="The event id, the same in every attempt (`webhook-id` and the body's `id`)",
        examples=["8D5C1A2B-3E4F-4A5B-9C6D-7E8F9A0B1C2D"],
    )
    object: EventType
    created_at: str = Field(examples=["2025-02-13T19:08:07.000Z"])
    data: dict[str, Any] = Field(
        examples=[
            {
                "customer_id": "AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA",
                "partner_customer_id": "CUST_03476998",
                "status": "OFFER_ACCEPTED",
                "created_at": "2025-02-13T19:08:07.000Z",
                "updated_at": "2025-02-13T19:09:51.000Z",
            }
        ]
    )


class WebhookEventList(_ResponseBody):
    """One page of the partner's events, oldest first."""

    data: list[WebhookEvent]
    has_more: bool = Field(description="Whether a page follows (`starting_after` the last id)")
    total: int = Field(description="How many events there are, on every page")


class WebhookAttempt(_ResponseBody):
    """One POST to the endpoint."""

    id: str
    attempted_at: str = Field(examples=["2025-02-13T19:09:51.000Z"])
    duration_ms: int = Field(examples=[84])
    http_status: int | None = Field(
        default=None, description="Absent when no response came", examples=[200]
    )
    error: str | None = Field(
        default=None, examples=["ConnectError: [Errno 111] Connection refused"]
    )
    response_body: str | None = Field(
        default=None, description="The first 1 KiB of the response body", examples=["ok"]
    )


class WebhookDelivery(_ResponseBody):
    """One event on its way to one endpoint, with every attempt so far."""

    id: str
    event_id: str
    endpoint_id: str
    status: Literal["PENDING", "DELIVERED", "DEAD"] = Field(
        description="`DEAD`: retried for the whole retry window (3 days) without a 2xx"
    )
    attempt_count: int
    next_attempt_at: str | None = Field(default=None, description="While `PENDING`")
    last_attempt_at: str | None = None
    last_error: str | None = None
    replay_of: str | None = Field(default=None, description="The delivery this one replays")
    created_at: str
    updated_at: str
    attempts: list[WebhookAttempt]


class WebhookDeliveryList(_ResponseBody):
    data: list[WebhookDelivery]
    has_more: bool
    total: int


class SimulateApplicationRequest(_RequestBody):
    """The body of POST /v2/simulate_application (sandbox only): name the customer one way."""

    customer_id: Identifier | None = Field(
        default=None, examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"]
    )
    partner_customer_id: Identifier | None = Field(default=None, examples=["CUST_03476998"])
    status: Literal["OFFER_ACCEPTED", "REJECTED"] = Field(
        description="The decision to drive the customer's application to"
    )


# -- serialisation: the generated serializers, and the shapes built from records ------------------

ENDPOINT = serializer(WebhookEndpoint, record=records.WebhookEndpoint)
ENDPOINT_LIST = serializer(WebhookEndpointList, record=records.Page)


def render_endpoint(
    endpoint: records.WebhookEndpoint, *, secret: str | None = None, now: int
) -> bytes:
    """The endpoint's JSON; ``secret`` (shown once) when it was just created or rotated."""
    return ENDPOINT(endpoint, EndpointView(now=now, secret=secret))


def render_event(event: records.WebhookEvent) -> WebhookEvent:
    body = json.loads(event.payload)
    return WebhookEvent(
        id=event.id,
        object=body["object"],
        created_at=rfc3339_ms(event.created_at),
        data=body["data"],
    )


def render_delivery(
    delivery: records.WebhookDelivery, attempts: list[WebhookAttempt]
) -> WebhookDelivery:
    return WebhookDelivery(
        id=delivery.id,
        event_id=delivery.event_id,
        endpoint_id=delivery.endpoint_id,
        status=delivery.status.upper(),
        attempt_count=delivery.attempts,
        next_attempt_at=(
            rfc3339_ms(delivery.next_attempt_at) if delivery.status == PENDING else None
        ),
        last_attempt_at=rfc3339_ms(delivery.last_attempt_at) if delivery.last_attempt_at else None,
        last_error=delivery.last_error,
        replay_of=delivery.replay_of,
        created_at=rfc3339_ms(delivery.created_at),
        updated_at=rfc3339_ms(delivery.updated_at),
        attempts=attempts,
    )


def render_delivery_with_attempts(found: DeliveryWithAttempts) -> WebhookDelivery:
    return render_delivery(
        found.delivery,
        [
            WebhookAttempt(
                id=a.id,
                attempted_at=rfc3339_ms(a.attempted_at),
                duration_ms=a.duration_ms,
                http_status=a.http_status,
                error=a.error,
                response_body=a.response_body,
            )
            for a in found.attempts
        ],
    )
