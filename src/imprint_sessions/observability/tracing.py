"""OpenTelemetry tracing, off unless ``IMPRINT_OTEL_EXPORTER_OTLP_ENDPOINT`` is set.

When on, every HTTP request is a span (named ``METHOD /route/{template}``, with the request id as
``imprint.request_id``), every SQL statement a child span (``db.system``, ``db.operation.name``
and the statement's text, which binds every value: never a value), and every webhook delivery
attempt a span of its own (``imprint.webhook.endpoint_id``, the status). Spans are batched to the
OTLP/HTTP endpoint. When off, nothing here is imported by a request and nothing is wrapped: the
service pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from imprint_sessions.config import Settings
from imprint_sessions.logs import redact_credentials
from imprint_sessions.middleware import REQUEST_ID_SCOPE_KEY
from imprint_sessions.observability.metrics import route_of

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

TRACER_NAME = "imprint_sessions"
# An exception's text can hold what a request carried (a driver's "Key (email)=(...) already
# exists"): spans record only its type, never its message or traceback.
_NO_EXCEPTION_TEXT: dict[str, Any] = {"record_exception": False, "set_status_on_exception": False}
REQUEST_ID_ATTRIBUTE = "imprint.request_id"


def tracer_provider(
    settings: Settings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """The provider spans go to: batched to ``exporter`` (the tests' in-memory one) or to the
    configured OTLP/HTTP endpoint; None when tracing is off."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if exporter is None and not endpoint:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": settings.otel_service_name})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


class TracingMiddleware:
    """One span per HTTP request; put it inside ``RequestIdMiddleware`` (it reads the id)."""

    def __init__(self, app: ASGIApp, *, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        method: str = scope["method"]
        attributes = {
            "http.request.method": method,
            "url.path": redact_credentials(scope["path"]),
            REQUEST_ID_ATTRIBUTE: scope.get(REQUEST_ID_SCOPE_KEY) or "",
        }
        with self.tracer.start_as_current_span(
            method, kind=SpanKind.SERVER, attributes=attributes, **_NO_EXCEPTION_TEXT
        ) as span:
            status = 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                route = route_of(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


@contextmanager
def _typed_errors(span_context: AbstractContextManager[Span]) -> Iterator[Span]:
    """The span; an exception leaving it marks it an error, naming only the exception's type."""
    from opentelemetry.trace import Status, StatusCode

    with span_context as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR))
            span.set_attribute("error.type", type(exc).__name__)
            raise


class SqlSpans:
    """``storage.traced.SpanFactory`` over a tracer: a client span per statement."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def __call__(self, name: str, attributes: dict[str, str]) -> AbstractContextManager[Any]:
        from opentelemetry.trace import SpanKind

        return _typed_errors(
            self._tracer.start_as_current_span(
                name, kind=SpanKind.CLIENT, attributes=attributes, **_NO_EXCEPTION_TEXT
            )
        )


@contextmanager
def webhook_span(
    tracer: Tracer | None, *, endpoint_id: str, event_id: str
) -> Iterator[Span | None]:
    """A span around one delivery attempt (nothing when tracing is off)."""
    if tracer is None:
        yield None
        return
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(
        "webhook delivery",
        kind=SpanKind.CLIENT,
        **_NO_EXCEPTION_TEXT,
        attributes={
            "imprint.webhook.endpoint_id": endpoint_id,
            "imprint.webhook.event_id": event_id,
        },
    ) as span:
        yield span
