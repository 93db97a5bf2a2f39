"""``/v2/webhook_endpoints``, ``/v2/webhook_events``, ``/v2/webhook_deliveries``: the partner's
webhooks, their events and every delivery attempt, and replays.

Creating and rotating return a signing secret once; they take no ``Idempotency-Key``, because a
recorded response would have to keep the secret (disabling and replaying do take one; deleting
needs none: a repeat finds nothing and is a 404). Every id is the caller's own: another
partner's is a 404 like a missing one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from imprint_sessions.deps import Svc, partner_actor
from imprint_sessions.domain import webhooks
from imprint_sessions.domain.webhooks import IssuedWebhookEndpoint
from imprint_sessions.json_body import JsonBody, into_record
from imprint_sessions.partner_api.auth import PartnerAuth
from imprint_sessions.partner_api.errors_doc import error_responses
from imprint_sessions.partner_api.idempotency import IDEMPOTENT_RESPONSES, Idempotency
from imprint_sessions.partner_api.params import DEFAULT_LIMIT, Limit, StartingAfter
from imprint_sessions.storage.records import (
    Page,
    WebhookEndpointFields,
)
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.wire.partner import ConflictError
from imprint_sessions.wire.webhooks import (
    ENDPOINT_LIST,
    CreateWebhookEndpointRequest,
    DeletedWebhookEndpoint,
    EndpointView,
    RotateWebhookSecretRequest,
    render_delivery,
    render_delivery_with_attempts,
    render_endpoint,
    render_event,
)
from imprint_sessions.wire.webhooks import WebhookDelivery as WireDelivery
from imprint_sessions.wire.webhooks import WebhookDeliveryList as WireDeliveryList
from imprint_sessions.wire.webhooks import WebhookEndpoint as WireEndpoint
from imprint_sessions.wire.webhooks import WebhookEndpointList as WireEndpointList
from imprint_sessions.wire.webhooks import WebhookEventList as WireEventList

router = APIRouter(tags=["Webhooks"])

# Bodies are read from raw bytes after the API key is checked (``JsonBody.read``): a request
# without a valid key gets the 401 whatever its body, as on every other partner route.
_CREATE = JsonBody(CreateWebhookEndpointRequest)
_ENDPOINT_FIELDS = into_record(CreateWebhookEndpointRequest, WebhookEndpointFields)
_ROTATE = JsonBody(RotateWebhookSecretRequest)

_JSON = "application/json"


def json_response(body: bytes | WireDelivery) -> Response:
    if not isinstance(body, bytes):
        body = body.model_dump_json(exclude_none=True).encode()
    return Response(body, media_type=_JSON)


def _issued(issued: IssuedWebhookEndpoint, now: int) -> Response:
    return json_response(render_endpoint(issued.endpoint, secret=issued.secret, now=now))


@router.post(
    "/v2/webhook_endpoints",
    operation_id="createWebhookEndpoint",
    summary="Register a webhook endpoint",
    response_model=WireEndpoint,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 409, 429, 503),
    openapi_extra=_CREATE.openapi,
)
async def create_webhook_endpoint(
    request: Request, services: Svc, principal: PartnerAuth
) -> Response:
    """Registers a URL to receive signed events; the response shows its signing secret once."""
    issued = await webhooks.create_webhook_endpoint(
        services.database.repositories,
        clock=services.clock,
        box=services.box,
        targets=services.webhook_targets,
        partner_id=principal.partner_id,
        fields=_ENDPOINT_FIELDS(await _CREATE.read(request)),
        audit=partner_actor(request, principal),
    )
    return _issued(issued, services.clock.now_ms())


@router.get(
    "/v2/webhook_endpoints",
    operation_id="listWebhookEndpoints",
    summary="List webhook endpoints",
    response_model=WireEndpointList,
    response_model_exclude_none=True,
    responses=error_responses(401, 429, 503),
)
async def list_webhook_endpoints(services: Svc, principal: PartnerAuth) -> Response:
    """Lists the caller's webhook endpoints, oldest first (secrets are never shown again)."""
    found = await webhooks.list_webhook_endpoints(
        services.database.repositories, partner_id=principal.partner_id
    )
    page = Page(items=found, has_more=False, total=len(found))
    return json_response(ENDPOINT_LIST(page, EndpointView(now=services.clock.now_ms())))


@router.post(
    "/v2/webhook_endpoints/{endpoint_id}/disable",
    operation_id="disableWebhookEndpoint",
    summary="Disable a webhook endpoint",
    response_model=WireEndpoint,
    response_model_exclude_none=True,
    responses={**error_responses(400, 401, 404, 429, 503), **IDEMPOTENT_RESPONSES},
)
async def disable_webhook_endpoint(
    endpoint_id: str,
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    idempotency: Idempotency,
) -> Response:
    """Stops sending to an endpoint; its pending deliveries are given up (marked dead)."""

    async def disable(repos: Repositories) -> Response:
        endpoint = await webhooks.disable_webhook_endpoint(
            repos,
            clock=services.clock,
            partner_id=principal.partner_id,
            endpoint_id=endpoint_id,
            audit=partner_actor(request, principal),
        )
        return json_response(render_endpoint(endpoint, now=services.clock.now_ms()))

    return await idempotency.run(disable)


@router.delete(
    "/v2/webhook_endpoints/{endpoint_id}",
    operation_id="deleteWebhookEndpoint",
    summary="Delete a webhook endpoint",
    response_model=DeletedWebhookEndpoint,
    responses=error_responses(401, 404, 429, 503),
)
async def delete_webhook_endpoint(
    endpoint_id: str, request: Request, services: Svc, principal: PartnerAuth
) -> DeletedWebhookEndpoint:
    """Deletes an endpoint: its URL and secret are erased and its pending deliveries cancelled."""
    deleted_id = await webhooks.delete_webhook_endpoint(
        services.database.repositories,
        clock=services.clock,
        partner_id=principal.partner_id,
        endpoint_id=endpoint_id,
        audit=partner_actor(request, principal),
    )
    return DeletedWebhookEndpoint(id=deleted_id, deleted=True)


@router.post(
    "/v2/webhook_endpoints/{endpoint_id}/rotate_secret",
    operation_id="rotateWebhookSecret",
    summary="Rotate a webhook endpoint's signing secret",
    response_model=WireEndpoint,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 404, 429, 503),
    openapi_extra=_ROTATE.openapi,
)
async def rotate_webhook_secret(
    endpoint_id: str, request: Request, services: Svc, principal: PartnerAuth
) -> Response:
    """Issues a new signing secret (shown once); the old one also signs for a grace period."""
    body = await _ROTATE.read(request)
    grace = body.grace_period_seconds
    issued = await webhooks.rotate_webhook_secret(
        services.database.repositories,
        clock=services.clock,
        box=services.box,
        partner_id=principal.partner_id,
        endpoint_id=endpoint_id,
        grace_seconds=grace
        if grace is not None
        else services.settings.webhook_secret_grace_seconds,
        audit=partner_actor(request, principal),
    )
    return _issued(issued, services.clock.now_ms())


@router.get(
    "/v2/webhook_events",
    operation_id="listWebhookEvents",
    summary="List webhook events",
    response_model=WireEventList,
    response_model_exclude_none=True,
    responses=error_responses(400, 401, 429, 503),
)
async def list_webhook_events(
    services: Svc,
    principal: PartnerAuth,
    limit: Limit = DEFAULT_LIMIT,
    starting_after: StartingAfter = None,
) -> WireEventList:
    """Lists the caller's events, oldest first, with the body each delivery sends."""
    page = await webhooks.list_webhook_events(
        services.database.repositories,
        partner_id=principal.partner_id,
        limit=limit,
        starting_after=starting_after,
    )
    return WireEventList(
        data=[render_event(e) for e in page.items], has_more=page.has_more, total=page.total
    )


@router.get(
    "/v2/webhook_events/{event_id}/deliveries",
    operation_id="listWebhookEventDeliveries",
    summary="List an event's deliveries and their attempts",
    response_model=WireDeliveryList,
    response_model_exclude_none=True,
    responses=error_responses(401, 404, 429, 503),
)
async def list_webhook_event_deliveries(
    event_id: str, services: Svc, principal: PartnerAuth
) -> WireDeliveryList:
    """Lists every delivery of one event (one per endpoint, plus replays) with each attempt."""
    found = await webhooks.list_event_deliveries(
        services.database.repositories, partner_id=principal.partner_id, event_id=event_id
    )
    return WireDeliveryList(
        data=[render_delivery_with_attempts(d) for d in found], has_more=False, total=len(found)
    )


@router.post(
    "/v2/webhook_deliveries/{delivery_id}/replay",
    operation_id="replayWebhookDelivery",
    summary="Replay a webhook delivery",
    response_model=WireDelivery,
    response_model_exclude_none=True,
    responses={
        **error_responses(400, 401, 404, 409, 429, 503),
        **IDEMPOTENT_RESPONSES,
        409: {
            "description": "The delivery is still pending (`WEBHOOK_DELIVERY_PENDING_ERROR`), its "
            "endpoint is disabled (`WEBHOOK_ENDPOINT_DISABLED_ERROR`), or a request with the same "
            "Idempotency-Key is still being processed (`IDEMPOTENCY_KEY_IN_USE`)",
            "model": ConflictError,
        },
    },
)
async def replay_webhook_delivery(
    delivery_id: str,
    request: Request,
    services: Svc,
    principal: PartnerAuth,
    idempotency: Idempotency,
) -> Response:
    """Sends a delivered or dead delivery's event again (same body, same event id)."""

    async def replay(repos: Repositories) -> Response:
        created = await webhooks.replay_webhook_delivery(
            repos,
            clock=services.clock,
            partner_id=principal.partner_id,
            delivery_id=delivery_id,
            audit=partner_actor(request, principal),
        )
        return json_response(render_delivery(created, []))

    return await idempotency.run(replay)
