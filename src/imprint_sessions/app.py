"""The ASGI application: mounts the surfaces and renders every error in one place."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from pydantic_core import to_json
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from imprint_sessions import __version__, ops
from imprint_sessions.client_api import routes as client_api_routes
from imprint_sessions.client_api.cors import ClientCorsMiddleware
from imprint_sessions.client_api.routes import add_client_api_openapi
from imprint_sessions.clock import Clock, SystemClock
from imprint_sessions.config import Settings, get_settings
from imprint_sessions.console import routes as console_routes
from imprint_sessions.credentials import SecretBox
from imprint_sessions.errors import ImprintError, NotFound, RateLimited, ServiceUnavailable
from imprint_sessions.fault_injection import ConnectionDropMiddleware
from imprint_sessions.hosted import routes as hosted_routes
from imprint_sessions.hot_paths import HotPathMiddleware
from imprint_sessions.json_body import publish_body_schemas
from imprint_sessions.logs import configure_logging, redact_credentials
from imprint_sessions.middleware import (
    REQUEST_ID_SCOPE_KEY,
    BodySizeLimitMiddleware,
    LoadSheddingMiddleware,
    RequestIdMiddleware,
)
from imprint_sessions.observability import metrics as service_metrics
from imprint_sessions.observability import tracing
from imprint_sessions.partner_api import (
    audit_events,
    customer_sessions,
    customers,
    keys,
    payment_methods,
    sandboxes,
    simulate_application,
    test_helpers,
)
from imprint_sessions.partner_api import webhooks as partner_webhooks
from imprint_sessions.partner_api.openapi import add_partner_api_openapi
from imprint_sessions.ratelimit import build_rate_limiter
from imprint_sessions.served_contract import complete_served_contract
from imprint_sessions.services import Services
from imprint_sessions.storage.db import Database, open_database
from imprint_sessions.validation import error_details
from imprint_sessions.webhooks.worker import InProcessWorker, WebhookWorker

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

API_DESCRIPTION = """\
A self-hostable implementation of Imprint's customer-session API.

Authenticate with your API key as the HTTP Basic username and an empty password
(`curl -u KEY:`), or with `Authorization: Bearer KEY`.
"""


def error_timestamp() -> str:
    """Errors carry Spring's timestamp form, as in the seed's example: ``...22.923+00:00``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def render_error(path: str, status: int, details: list[str], **extra: Any) -> bytes:
    """The flat error body shared by 400, 401, 403, 413, 429 and 5xx."""
    error = _REASONS.get(status, "Error")
    # A path or a detail can echo what the caller sent; a credential there is never repeated.
    body = {
        "path": redact_credentials(path),
        "details": [redact_credentials(detail) for detail in details],
        "error": error,
        "status": status,
    }
    body["timestamp"] = error_timestamp()
    body.update(extra)
    return to_json(body)


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _error_response(request: Request, exc: ImprintError) -> Response:
    headers: dict[str, str] = {}
    if isinstance(exc, NotFound):  # the message names the id asked for: maybe a credential
        message = redact_credentials(exc.message)
        body = to_json({"type": exc.type, "message": message, "param": exc.param})
    elif hasattr(exc, "type") and hasattr(exc, "message"):  # Conflict: {type, message}
        body = to_json({"type": exc.type, "message": redact_credentials(exc.message)})
    else:
        body = render_error(request.url.path, exc.status, exc.details, **exc.body_extra())
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="imprint", Bearer'
    if isinstance(exc, RateLimited | ServiceUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    return Response(body, status_code=exc.status, media_type="application/json", headers=headers)


def client_disconnected_response(request: Request) -> Response:
    # Not a fault of ours (a client timed out or went away mid-body): no traceback at ERROR.
    log.info("client disconnected before its request body was read")
    return Response(
        render_error(request.url.path, 400, ["body: the client disconnected"]),
        400,
        media_type="application/json",
    )


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the served spec documents at ``path`` (empty for an undocumented path)."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def _install_error_handlers(app: FastAPI) -> None:
    async def imprint_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ImprintError)
        return _error_response(request, exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # The same wording as a body's errors; "query", "path", ... are not part of the name.
        details = error_details(
            {**err, "loc": tuple(err.get("loc", ()))[1:] or ("request",)} for err in exc.errors()
        )
        return Response(
            render_error(request.url.path, 400, details), 400, media_type="application/json"
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = "no such endpoint" if exc.status_code == 404 else str(exc.detail).lower()
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names the methods of the first route on the path only; a path served
            # by several routes (GET and POST /v2/customers) allows all of theirs.
            allowed = _allowed_methods(app, request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return Response(
            render_error(request.url.path, exc.status_code, [f"path: {detail}"]),
            exc.status_code,
            media_type="application/json",
            headers=headers,
        )

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        # Starlette runs this outside RequestIdMiddleware, which left the id in the scope.
        request_id: str | None = request.scope.get(REQUEST_ID_SCOPE_KEY)
        log.exception("unhandled error", extra={"request_id": request_id})
        return Response(
            render_error(request.url.path, 500, ["server: an unexpected error occurred"]),
            500,
            media_type="application/json",
            headers={"Request-Id": request_id} if request_id else None,
        )

    async def client_disconnected(request: Request, exc: Exception) -> Response:
        return client_disconnected_response(request)

    app.add_exception_handler(ClientDisconnect, client_disconnected)
    app.add_exception_handler(ImprintError, imprint_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)


def _install_openapi(app: FastAPI, *, sandbox: bool, metrics_token_required: bool) -> None:
    """Add what FastAPI cannot infer: the raw-bytes request body and both auth schemes (and, in
    the sandbox, the test-fault header and the statuses it forces)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        publish_body_schemas(spec)  # every route's JsonBody
        spec["components"]["securitySchemes"] = {
            "basicAuth": {
                "type": "http",
                "scheme": "basic",
                "description": "HTTP Basic: the API key as username, empty password",
            },
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "auth-scheme",
                "description": "Bearer HTTP authentication. Allowed headers-- "
                "Authorization: Bearer <api_key>",
            },
        }
        for path, operations in spec["paths"].items():
            if path.startswith("/v2/"):
                for operation in operations.values():
                    operation["security"] = [{"basicAuth": []}, {"bearerAuth": []}]
        add_client_api_openapi(spec)  # its own credential
        add_partner_api_openapi(spec)  # no FastAPI 422 on /v2/
        ops.add_metrics_openapi(spec, token_required=metrics_token_required)
        if sandbox:
            test_helpers.add_test_helpers_openapi(spec)  # Imprint-Test-Fault, what it forces
        complete_served_contract(spec)  # bodies' requiredness, response headers, links, webhooks
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


# FastAPI's own OpenTelemetry layer, off: the service traces with its own spans (tracing.py,
# redacted, off by default) and counts with its own metrics. Left on, it asked for the global
# providers on every request, each a failed lookup in os.environ (4.8 us a request timed alone,
# 6.5% of py-spy's samples of a saturated process: BENCHMARKS.md, "The CPU budget"), and
# FASTAPI_OTEL_AUTO_CONFIGURE=true in the environment would have exported exception messages
# that our log redaction never sees.
_NO_FASTAPI_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    webhook_worker: bool = False,
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    """Build the service. The database opens in the lifespan, one pool per process.

    ``webhook_worker``: also deliver webhooks from this process (``serve`` decides, from
    ``IMPRINT_SERVE_WEBHOOK_WORKER``). ``span_exporter``: trace to it (the tests' in-memory
    exporter) instead of ``IMPRINT_OTEL_EXPORTER_OTLP_ENDPOINT``.
    """
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    provider = tracing.tracer_provider(settings, span_exporter)
    tracer = provider.get_tracer(tracing.TRACER_NAME) if provider is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.unsafe_racy_exchange:
            log.warning(
                "IMPRINT_UNSAFE_RACY_EXCHANGE is on: client secrets may be exchanged more than "
                "once (a test switch; never use it outside tests)"
            )
        database: Database = await open_database(
            settings,
            database_url,
            sql_spans=tracing.SqlSpans(tracer) if tracer is not None else None,
            on_pool_wait=service_metrics.observe_pool_wait,
        )
        pool_sampler = asyncio.create_task(_sample_pool_usage(database))
        rate_limiter = build_rate_limiter(settings)
        app.state.services = Services(
            settings=settings,
            database=database,
            box=SecretBox(settings.master_keys()),
            clock=clock or SystemClock(),
            rate_limiter=rate_limiter,
        )
        worker = (
            InProcessWorker(
                WebhookWorker.from_settings(
                    database,
                    settings,
                    box=app.state.services.box,
                    clock=app.state.services.clock,
                    targets=app.state.services.webhook_targets,
                    fault_index=(
                        app.state.services.faults.index if app.state.services.faults else None
                    ),
                    tracer=tracer,
                ),
                database_url=database_url or settings.resolved_database_url,
            )
            if webhook_worker
            else None
        )
        _freeze_start_up_objects()
        try:
            yield
        finally:
            pool_sampler.cancel()
            if worker is not None:
                await worker.stop()
            if rate_limiter is not None:
                await rate_limiter.close()
            await database.close()
            if provider is not None:
                provider.shutdown()  # flushes the spans still batched

    app = FastAPI(
        title="Imprint customer sessions",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        telemetry=_NO_FASTAPI_TELEMETRY,
    )
    _install_error_handlers(app)
    _install_openapi(
        app, sandbox=settings.sandbox, metrics_token_required=settings.metrics_token is not None
    )
    app.include_router(customer_sessions.router)
    app.include_router(partner_webhooks.router)
    app.include_router(simulate_application.router)
    if settings.sandbox:  # test helpers: in production these paths do not exist (404)
        app.include_router(sandboxes.router)
    app.include_router(customers.router)
    app.include_router(payment_methods.router)
    app.include_router(keys.router)
    app.include_router(audit_events.router)
    if settings.sandbox:  # production: a 404 like any unknown path, and absent from the spec
        app.include_router(test_helpers.router)
    app.include_router(ops.router)
    if settings.sandbox or settings.metrics_token is not None:  # production without it: 404
        app.include_router(ops.metrics_router)
    app.include_router(hosted_routes.router)
    app.include_router(console_routes.router)
    app.include_router(client_api_routes.router)
    app.add_middleware(
        HotPathMiddleware,
        error_response=_error_response,
        client_disconnected_response=client_disconnected_response,
    )
    app.add_middleware(ClientCorsMiddleware, render_error=render_error)
    app.add_middleware(
        BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes, render_error=render_error
    )
    if settings.sandbox:  # test faults may drop a connection (fault_injection.py)
        app.add_middleware(ConnectionDropMiddleware)
    if tracer is not None:  # inside RequestIdMiddleware: each span carries the request id
        app.add_middleware(tracing.TracingMiddleware, tracer=tracer)
    app.add_middleware(
        LoadSheddingMiddleware,
        max_in_flight=settings.max_in_flight,
        max_queue_seconds=settings.max_queue_seconds,
        render_error=render_error,
        on_shed=service_metrics.SHED_REQUESTS.inc,
    )
    app.add_middleware(RequestIdMiddleware, access_log=settings.access_log)
    return app


POOL_SAMPLE_SECONDS = 1.0


def _freeze_start_up_objects() -> None:
    """Leave what start-up built (modules, models, schemas, compiled statements: most of the
    process's objects) out of every later garbage collection, once per process.

    A full collection walks every object the process holds; with start-up's in it, each took
    about 80 ms on the benchmark machine, about once a second under load, and every request
    in flight waited it out (BENCHMARKS.md, "Fair turns for the pool"). ``gc.freeze`` is how
    the standard library's documentation says to do this for a server. Once: the tests start
    hundreds of apps in one process, and each ``gc.collect`` here costs tens of milliseconds.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()  # first, so the garbage start-up left is not kept for good
        gc.freeze()


async def _sample_pool_usage(database: Database) -> None:
    """Keep this process's pool gauges current (sampled, so requests pay nothing for them)."""
    while True:
        service_metrics.set_pool_usage(*database.pool_usage())
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker process builds its own app)."""
    settings = get_settings()
    return create_app(settings, webhook_worker=settings.serve_webhook_worker == "on")
