"""The service's Prometheus metrics: every family it exports, the pre-bound children the hot paths
increment, and the text exposition (``/metrics``), correct across ``serve --workers N``.

Multi-process mode (``PROMETHEUS_MULTIPROC_DIR``, which ``serve --workers N`` sets up:
``multiprocess.py``): each process writes its values to memory-mapped files in that directory and
a scrape, answered by whichever worker, sums every process's files, the dead ones' counters
included. Without it (one process, the tests' in-process apps) values live in memory.

Cost on a request: one dictionary lookup and one histogram observation (two float additions, or
two memory-mapped writes in multi-process mode); no SQL, no allocation once a (route, method,
status) has been seen. Label values are bounded: route templates (never raw paths), a fixed set
of methods, HTTP statuses, refusal reasons, and webhook endpoint ids (never URLs).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import values
from prometheus_client.core import GaugeMetricFamily, Metric

from imprint_sessions.observability.multiprocess import MULTIPROC_ENV, forget_dead_processes

# prometheus_client picks in-memory or memory-mapped values once, when it is first imported. A
# process that imported it before ``serve`` set PROMETHEUS_MULTIPROC_DIR (one worker: uvicorn runs
# the app in the CLI's own process) would keep in-memory values that no scrape reads; pick again,
# before this module creates its first metric.
if (MULTIPROC_ENV in os.environ) != bool(getattr(values.ValueClass, "_multiprocess", False)):
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds. Hot paths answer in about a millisecond; a request past 10 s is already a failure.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A pooled connection is normally free at once; the pool gives up after IMPRINT_DB_POOL_TIMEOUT.
POOL_WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0)
WEBHOOK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

UNMATCHED_ROUTE = "unmatched"  # a path no route serves (a 404): never the raw path
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"

REQUEST_DURATION = Histogram(
    "imprint_http_request_duration_seconds",
    "HTTP requests by route template, method and status, and how long they took to answer "
    "(_count is the number of requests)",
    ("route", "method", "status"),
    buckets=LATENCY_BUCKETS,
)
SESSIONS_CREATED = Counter(
    "imprint_customer_sessions_created", "Customer sessions created (idempotent replays excluded)"
)
SESSIONS_EXCHANGED = Counter(
    "imprint_customer_sessions_exchanged",
    "Client secrets exchanged for a client credential (each session at most once)",
)
SESSIONS_EXPIRED = Counter(
    "imprint_customer_sessions_expired",
    "Customer sessions ended early by expireSession (a call on an already ended session is not "
    "counted)",
)
# Why an exchange was refused: ``invalid`` (malformed or forged: its MAC did not verify, so it never
# reached the database), else the audit trail's reasons (domain/audit.REFUSAL_REASONS).
EXCHANGE_REFUSAL_REASONS = ("invalid", "expired", "already_used", "revoked", "unknown")
EXCHANGE_REFUSALS = Counter(
    "imprint_exchange_refusals", "Client-secret exchanges refused, by reason", ("reason",)
)
_REFUSALS = {reason: EXCHANGE_REFUSALS.labels(reason) for reason in EXCHANGE_REFUSAL_REASONS}
RATE_LIMIT_REJECTIONS = Counter(
    "imprint_rate_limit_rejections", "Partner API requests refused 429 by the per-key rate limit"
)
SHED_REQUESTS = Counter(
    "imprint_shed_requests",
    "Requests answered 503 after waiting IMPRINT_MAX_QUEUE_SECONDS for one of the process's "
    "IMPRINT_MAX_IN_FLIGHT places",
)
WEBHOOK_ATTEMPTS = Counter(
    "imprint_webhook_delivery_attempts", "Webhook delivery attempts, by endpoint", ("endpoint_id",)
)
WEBHOOK_FAILURES = Counter(
    "imprint_webhook_delivery_failures",
    "Webhook delivery attempts that were not acknowledged with a 2xx, by endpoint",
    ("endpoint_id",),
)
WEBHOOK_DURATION = Histogram(
    "imprint_webhook_delivery_duration_seconds",
    "How long a webhook delivery attempt took, by endpoint",
    ("endpoint_id",),
    buckets=WEBHOOK_BUCKETS,
)
DB_POOL_IN_USE = Gauge(
    "imprint_db_pool_connections_in_use",
    "Pooled database connections checked out (sampled every second in each process)",
    multiprocess_mode="livesum",
)
DB_POOL_MAX = Gauge(
    "imprint_db_pool_connections_max",
    "Pooled database connections allowed, summed over the live processes",
    multiprocess_mode="livesum",
)
DB_POOL_WAIT = Histogram(
    "imprint_db_pool_wait_seconds",
    "How long a statement or transaction waited for a pooled database connection",
    buckets=POOL_WAIT_BUCKETS,
)
# Computed from the database at scrape time (one query), so correct across processes and hosts.
OUTBOX_DEPTH = "imprint_webhook_outbox_depth"
OUTBOX_OLDEST_AGE = "imprint_webhook_outbox_oldest_age_seconds"

# Every family name as it appears in the exposition (counters gain ``_total``), for deploy/'s test.
EXPORTED_FAMILIES = (
    "imprint_http_request_duration_seconds",
    "imprint_customer_sessions_created_total",
    "imprint_customer_sessions_exchanged_total",
    "imprint_customer_sessions_expired_total",
    "imprint_exchange_refusals_total",
    "imprint_rate_limit_rejections_total",
    "imprint_webhook_delivery_attempts_total",
    "imprint_webhook_delivery_failures_total",
    "imprint_webhook_delivery_duration_seconds",
    "imprint_db_pool_connections_in_use",
    "imprint_db_pool_connections_max",
    "imprint_db_pool_wait_seconds",
    OUTBOX_DEPTH,
    OUTBOX_OLDEST_AGE,
)


ROUTE_SCOPE_KEY = "imprint.route"  # set by the hot paths, which no Starlette route matches


def route_of(scope: MutableMapping[str, Any]) -> str:
    """The template of the route that served ``scope`` (bounded: never the raw path)."""
    route = scope.get("route")
    if route is not None:
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
    hot: str | None = scope.get(ROUTE_SCOPE_KEY)
    return hot or UNMATCHED_ROUTE


class RequestMetrics:
    """The request histogram's children, bound once per (route, method, status) and kept."""

    __slots__ = ("_children",)

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], Histogram] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        # Keyed by the method's label, not as sent: a client inventing methods adds no children.
        key = (route, method if method in _METHODS else OTHER_METHOD, status)
        child = self._children.get(key)
        if child is None:
            child = REQUEST_DURATION.labels(key[0], key[1], str(status))
            self._children[key] = child
        child.observe(seconds)

    def __len__(self) -> int:
        """How many (route, method, status) children are bound."""
        return len(self._children)


REQUESTS = RequestMetrics()


def exchange_refused(reason: str) -> None:
    """Count one refused exchange (an unknown reason counts as ``unknown``)."""
    (_REFUSALS.get(reason) or _REFUSALS["unknown"]).inc()


def webhook_attempt(endpoint_id: str, *, seconds: float, acknowledged: bool) -> None:
    WEBHOOK_ATTEMPTS.labels(endpoint_id).inc()
    WEBHOOK_DURATION.labels(endpoint_id).observe(seconds)
    if not acknowledged:
        WEBHOOK_FAILURES.labels(endpoint_id).inc()


def observe_pool_wait(seconds: float) -> None:
    DB_POOL_WAIT.observe(seconds)


def set_pool_usage(in_use: int, size: int) -> None:
    DB_POOL_IN_USE.set(in_use)
    DB_POOL_MAX.set(size)


@dataclass(frozen=True, slots=True)
class OutboxGauges:
    """The webhook outbox as one scrape saw it: deliveries waiting, and the oldest one's age."""

    depth: int
    oldest_age_seconds: float

    def families(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            OUTBOX_DEPTH, "Webhook deliveries waiting to be delivered (pending or retrying)"
        )
        depth.add_metric([], self.depth)
        age = GaugeMetricFamily(
            OUTBOX_OLDEST_AGE,
            "Age of the oldest webhook delivery still waiting (0 when none is)",
        )
        age.add_metric([], self.oldest_age_seconds)
        yield depth
        yield age


class _Scrape:
    """One scrape's collector: the process's (or every process's) families, then ``extra``."""

    def __init__(self, source: Iterable[Metric], extra: Iterable[Metric]) -> None:
        self._families = [*source, *extra]

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def render(extra: Iterable[Metric] = ()) -> bytes:
    """The Prometheus text exposition: every process's values in multi-process mode (dead
    workers' live gauges removed first), else this process's; then ``extra``."""
    path = multiprocess_dir()
    if path is not None:
        forget_dead_processes(path)
        collector = MultiProcessCollector(None, path=path)  # type: ignore[no-untyped-call]
        source: Iterable[Metric] = collector.collect()  # type: ignore[no-untyped-call]
    else:
        source = REGISTRY.collect()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(source, extra))
    return generate_latest(registry)
