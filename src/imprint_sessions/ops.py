"""``/healthz`` (the process is up), ``/readyz`` (the database answers, a connection is free) and
``/metrics`` (Prometheus)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from typing import Literal

from fastapi import APIRouter, Request, Response
from prometheus_client.core import Metric
from pydantic import BaseModel

from imprint_sessions.client_api.auth import bearer_token
from imprint_sessions.deps import Svc
from imprint_sessions.domain.webhooks import outbox_health
from imprint_sessions.errors import ImprintError, Unauthorized
from imprint_sessions.observability import metrics as service_metrics
from imprint_sessions.partner_api.errors_doc import error_responses

log = logging.getLogger(__name__)

router = APIRouter(tags=["Operations"])
# Mounted in the sandbox, and in production only with IMPRINT_METRICS_TOKEN (else a 404).
metrics_router = APIRouter(tags=["Operations"])
METRICS_SECURITY_SCHEME = "metricsToken"


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]


@router.get(
    "/healthz",
    operation_id="healthz",
    response_model=Health,
    responses={200: {"description": "Up"}},
)
async def healthz() -> Response:
    """The process is up (it does not touch the database)."""
    return Response(b'{"status":"ok"}', media_type="application/json")


@router.get(
    "/readyz",
    operation_id="readyz",
    response_model=Readiness,
    responses={200: {"description": "Ready"}, **error_responses(503)},
)
async def readyz(services: Svc) -> Response:
    """The database answers and a connection is free; route here only when this is 200."""
    # Within about a second whatever the database does: 503 at once, naming the cause, when every
    # pooled connection is busy; 503 when the database does not answer within 1 s.
    await services.database.repositories.ping()
    return Response(b'{"status":"ready"}', media_type="application/json")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def _check_metrics_token(request: Request, expected: str) -> None:
    """``Authorization: Bearer <IMPRINT_METRICS_TOKEN>``, compared in constant time (digests of
    equal length, so not even the token's length shows)."""
    provided = bearer_token(request.headers.get("authorization"))
    if provided is None or not hmac.compare_digest(_digest(provided), _digest(expected)):
        raise Unauthorized("authorization: the metrics bearer token is required")


@metrics_router.get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The Prometheus text exposition (format 0.0.4) of every process",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(401),
    },
)
async def get_metrics(request: Request, services: Svc) -> Response:
    """Every process's metrics and the webhook outbox's depth and age, for Prometheus to scrape."""
    token = services.settings.metrics_token
    if token is not None:
        _check_metrics_token(request, token.get_secret_value())
    extra: Iterable[Metric] = ()
    try:
        health = await outbox_health(services.database.repositories, clock=services.clock)
    except ImprintError as exc:  # the database is down: every other metric still answers
        log.warning("metrics: webhook outbox unavailable", extra={"error": str(exc)})
    else:
        extra = service_metrics.OutboxGauges(
            depth=health.depth, oldest_age_seconds=health.oldest_age_seconds
        ).families()
    return Response(service_metrics.render(extra), media_type=service_metrics.CONTENT_TYPE)


def add_metrics_openapi(spec: dict[str, object], *, token_required: bool) -> None:
    """Document how ``/metrics`` is authenticated: the bearer token when one is configured,
    else nothing (the sandbox's open endpoint). Absent from the spec when not served."""
    paths = spec["paths"]
    assert isinstance(paths, dict)
    operation = paths.get("/metrics", {}).get("get")
    if operation is None:
        return
    if token_required:
        components = spec["components"]
        assert isinstance(components, dict)
        components["securitySchemes"][METRICS_SECURITY_SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <IMPRINT_METRICS_TOKEN>",
        }
        operation["security"] = [{METRICS_SECURITY_SCHEME: []}]
    else:  # open: nothing to refuse
        operation["responses"].pop("401", None)
