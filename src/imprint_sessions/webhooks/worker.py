"""The outbox worker: claims due deliveries, signs and POSTs them, records every attempt.

- **Claims** take a lease (``locked_until``) in one atomic statement (PostgreSQL: ``FOR UPDATE
  SKIP LOCKED``; SQLite: ``BEGIN IMMEDIATE``), so any number of workers on any number of hosts
  share the work and never hold the same delivery at once. The lease is longer than an attempt
  can take (``IMPRINT_WEBHOOK_LEASE_SECONDS`` > ``IMPRINT_WEBHOOK_TIMEOUT_SECONDS``); a worker
  that dies mid-attempt leaves a lease that runs out, and the delivery is sent again (at least
  once; the receiver de-duplicates by event id).
- **Attempts** POST the stored body byte for byte with fresh signatures, never follow redirects,
  and are bounded end to end by the timeout. Each comes to an HTTP status or an error (a timeout,
  a refused connection or target), handed to the delivery rules as a plain ``AttemptResult``.
- **The rules are the domain's** (``domain/webhooks.py``): what acknowledges (any 2xx), what is
  retried and when (exponential backoff with jitter, ``RetrySchedule``), when a delivery is given
  up (past the retry window, or its endpoint disabled or deleted). This module does only the I/O.
- **Every attempt is recorded** (time, duration, status, error, the first 1 KiB of the response)
  with the delivery's new state, in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import random
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from imprint_sessions import __version__
from imprint_sessions.clock import Clock
from imprint_sessions.config import Settings
from imprint_sessions.credentials import SecretBox, new_id
from imprint_sessions.domain.faults import FaultIndex, consume_webhook_failure
from imprint_sessions.domain.webhooks import (
    AttemptResult,
    RetrySchedule,
    after_attempt,
    retire_for_endpoint,
    signing_secrets,
)
from imprint_sessions.errors import ImprintError
from imprint_sessions.observability import metrics as service_metrics
from imprint_sessions.observability.tracing import webhook_span
from imprint_sessions.storage.db import Database
from imprint_sessions.storage.records import ClaimedDelivery, DeliveryOutcome, WebhookAttempt
from imprint_sessions.storage.urls import backend, sqlite_path
from imprint_sessions.webhooks.signing import signature_headers
from imprint_sessions.webhooks.targets import TargetPolicy, TargetRefused
from imprint_sessions.webhooks.transport import VettedTransport

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer

log = logging.getLogger(__name__)

RESPONSE_BODY_LIMIT = 1024  # bytes of a response kept with its attempt
ERROR_LIMIT = 500  # characters of an error message kept with its attempt
USER_AGENT = f"imprint-sessions-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class _Sent:
    """One attempt as sent: its result for the rules, and what the attempt record keeps."""

    result: AttemptResult
    response_body: str | None
    duration_ms: int


class WebhookWorker:
    """Delivers due webhook deliveries from one database, ``concurrency`` at a time."""

    def __init__(
        self,
        database: Database,
        *,
        box: SecretBox,
        clock: Clock,
        targets: TargetPolicy,
        timeout_seconds: float = 10.0,
        lease_seconds: float = 60.0,
        concurrency: int = 16,
        schedule: RetrySchedule | None = None,
        rng: random.Random | None = None,
        poll_interval_seconds: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
        fault_index: FaultIndex | None = None,
        tracer: Tracer | None = None,
        test_clocks: bool = False,
    ) -> None:
        if lease_seconds <= timeout_seconds:
            raise ValueError("the lease must be longer than an attempt's timeout")
        self._database = database
        self._box = box
        self._clock = clock
        self._targets = targets
        self._timeout = timeout_seconds
        self._lease_ms = int(lease_seconds * 1000)
        self._concurrency = concurrency
        self.schedule = schedule or RetrySchedule()
        self._rng = rng or random.SystemRandom()
        self._poll = poll_interval_seconds
        # The sandbox's declared webhook failures (domain/faults.py); None: none ever apply.
        self._faults = fault_index
        self._tracer = tracer  # None: tracing is off
        # The sandbox: a partner's test clock (domain/test_clocks.py) says when its retries fall
        # due, and is the time its attempts are recorded at; signatures keep real time.
        self._test_clocks = test_clocks
        self._client = httpx.AsyncClient(
            transport=transport or VettedTransport(targets, max_connections=concurrency),
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_seconds),
            trust_env=False,
            headers={
                "user-agent": USER_AGENT,
                "content-type": "application/json",
                "accept-encoding": "identity",
            },
        )

    @classmethod
    def from_settings(
        cls,
        database: Database,
        settings: Settings,
        *,
        box: SecretBox,
        clock: Clock,
        concurrency: int | None = None,
        targets: TargetPolicy | None = None,
        fault_index: FaultIndex | None = None,
        tracer: Tracer | None = None,
    ) -> WebhookWorker:
        return cls(
            database,
            box=box,
            clock=clock,
            targets=targets or TargetPolicy.for_settings(settings),
            timeout_seconds=settings.webhook_timeout_seconds,
            lease_seconds=settings.webhook_lease_seconds,
            concurrency=concurrency or settings.webhook_concurrency,
            schedule=RetrySchedule(window_seconds=settings.webhook_retry_window_seconds),
            fault_index=(fault_index or FaultIndex()) if settings.sandbox else None,
            tracer=tracer,
            test_clocks=settings.sandbox,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- the loops ------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then let the attempts in flight finish (each is bounded
        by the timeout) and return. Claims as many deliveries as it has free slots."""
        in_flight: set[asyncio.Task[None]] = set()
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                claimed = await self._claim_safely(self._concurrency - len(in_flight))
                in_flight |= {asyncio.create_task(self._deliver(c)) for c in claimed}
                if claimed and len(in_flight) < self._concurrency:
                    continue  # more may be due right away
                await asyncio.wait(
                    {*in_flight, stopping}, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
                )
                for task in [t for t in in_flight if t.done()]:
                    in_flight.discard(task)
                    if not task.cancelled() and task.exception() is not None:
                        log.error("webhook delivery failed", exc_info=task.exception())
        finally:
            stopping.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def drain(self) -> int:
        """Deliver everything due now, until nothing is due; the number of deliveries handled."""
        handled = 0
        in_flight: set[asyncio.Task[None]] = set()
        while True:
            free = self._concurrency - len(in_flight)
            if free > 0:
                claimed = await self._claim(free)
                in_flight |= {asyncio.create_task(self._deliver(c)) for c in claimed}
            if not in_flight:
                return handled
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            handled += len(done)
            for task in done:
                task.result()  # surface a failure to record (the caller sees it)

    # -- one delivery ---------------------------------------------------------------------------
    async def _claim(self, limit: int) -> list[ClaimedDelivery]:
        if limit <= 0:
            return []
        now = self._clock.now_ms()
        return await self._database.repositories.claim_webhook_deliveries(
            now=now,
            limit=limit,
            lease_until=now + self._lease_ms,
            lease_token=secrets.token_hex(16),
            test_clocks=self._test_clocks,
        )

    async def _claim_safely(self, limit: int) -> list[ClaimedDelivery]:
        try:
            return await self._claim(limit)
        except ImprintError as exc:  # the database is unavailable or busy: try again later
            log.warning("webhook worker could not claim deliveries", extra={"error": str(exc)})
            return []
        except Exception:  # anything else: logged, and the worker keeps going after a pause
            log.exception("webhook worker could not claim deliveries")
            return []

    async def _deliver(self, claimed: ClaimedDelivery) -> None:
        delivery = claimed.delivery
        signed_at = self._clock.now_ms()
        now = self._partner_time(claimed, real=signed_at)
        attempt: WebhookAttempt | None = None
        decision = retire_for_endpoint(delivery, endpoint_status=claimed.endpoint.status)
        if decision is None:
            with webhook_span(
                self._tracer, endpoint_id=claimed.endpoint.id, event_id=claimed.event.id
            ) as span:
                sent = await self._attempt(claimed, now, signed_at=signed_at)
                if span is not None and sent.result.http_status is not None:
                    span.set_attribute("http.response.status_code", sent.result.http_status)
            service_metrics.webhook_attempt(
                claimed.endpoint.id,
                seconds=sent.duration_ms / 1000,
                acknowledged=sent.result.acknowledged,  # the domain's rule, as after_attempt's
            )
            attempt = WebhookAttempt(
                id=new_id(),
                delivery_id=delivery.id,
                attempted_at=now,
                duration_ms=sent.duration_ms,
                http_status=sent.result.http_status,
                error=sent.result.error,
                response_body=sent.response_body,
            )
            decision = after_attempt(
                delivery, sent.result, now=now, schedule=self.schedule, rng=self._rng
            )
        outcome = DeliveryOutcome(
            delivery_id=delivery.id,
            lease_token=claimed.lease_token,
            status=decision.status,
            attempts=decision.attempts,
            next_attempt_at=decision.next_attempt_at,
            last_attempt_at=now if attempt else delivery.last_attempt_at,
            last_error=decision.last_error,
            updated_at=self._partner_time(claimed, real=self._clock.now_ms()),
        )
        try:
            kept = await self._database.repositories.finish_webhook_delivery(outcome, attempt)
        except ImprintError as exc:
            # The lease runs out and the delivery is tried again: at least once, never lost.
            log.warning(
                "webhook attempt could not be recorded",
                extra={"delivery_id": delivery.id, "error": str(exc)},
            )
            return
        log.info(
            "webhook attempt",
            extra={
                "delivery_id": delivery.id,
                "event_id": claimed.event.id,
                "endpoint_id": claimed.endpoint.id,
                "attempt": decision.attempts,
                "http_status": attempt.http_status if attempt else None,
                "duration_ms": attempt.duration_ms if attempt else None,
                "outcome": decision.status,
                "lease_kept": kept,
            },
        )

    @staticmethod
    def _partner_time(claimed: ClaimedDelivery, *, real: int) -> int:
        """The partner's time: its test clock's (a sandbox with one), else ``real``."""
        return real if claimed.test_clock_at is None else claimed.test_clock_at

    async def _attempt(self, claimed: ClaimedDelivery, now: int, *, signed_at: int) -> _Sent:
        """Sign (at ``signed_at``, real time) and POST; the HTTP client's outcome mapped to a
        status or an error. ``now``: the partner's time, which a rotated secret expires by."""
        started = time.perf_counter()

        def failed(error: str) -> _Sent:
            return _Sent(AttemptResult(error=error[:ERROR_LIMIT]), None, _elapsed_ms(started))

        endpoint, event = claimed.endpoint, claimed.event
        if self._faults is not None:
            try:
                forced = await consume_webhook_failure(
                    self._database.repositories, self._faults, endpoint_id=endpoint.id
                )
            except ImprintError as exc:  # the database is busy: no fault is applied this time
                log.warning("webhook test faults unavailable", extra={"error": str(exc)})
                forced = None
            if forced is not None:  # declared by the partner: not sent, a failed attempt
                return failed(f"test fault {forced.id}: a forced failure (nothing was sent)")
        keys = signing_secrets(self._box, endpoint, now=now)
        if not keys:
            return failed("signing secret unavailable: its master key is no longer configured")
        try:
            self._targets.check_url_syntax(endpoint.url)
        except ImprintError as exc:
            return failed(f"target refused: {'; '.join(exc.details)}")
        body = event.payload.encode()
        headers = signature_headers(event_id=event.id, body=body, now_ms=signed_at, secrets=keys)
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.build_request(
                    "POST", endpoint.url, content=body, headers=headers
                )
                response = await self._client.send(request, stream=True)
                try:
                    prefix = await _read_prefix(response, RESPONSE_BODY_LIMIT)
                finally:
                    await response.aclose()
        except TargetRefused as exc:
            return failed(f"target refused: {exc}")
        except (TimeoutError, httpx.TimeoutException):
            return failed(f"timed out after {self._timeout:g} s")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        except Exception as exc:
            # Recorded and retried like any failure: a delivery that breaks the sender must still
            # follow its schedule to dead, not come back every time its lease runs out.
            log.exception("webhook attempt failed unexpectedly")
            return failed(f"unexpected error: {type(exc).__name__}")
        text = prefix.decode("utf-8", errors="replace") if prefix else None
        return _Sent(AttemptResult(http_status=response.status_code), text, _elapsed_ms(started))


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` raw bytes of the body (never decompressed: no zip bombs)."""
    kept = bytearray()
    async for chunk in response.aiter_raw():
        kept += chunk[: limit - len(kept)]
        if len(kept) >= limit:
            break
    return bytes(kept)


# -- the worker that `serve` runs -----------------------------------------------------------------


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[bool]:
    """Hold an exclusive advisory lock on ``path`` if it is free (True); released on exit or
    when the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def run_in_process(
    worker: WebhookWorker, *, database_url: str, stop: asyncio.Event, retry_seconds: float = 5.0
) -> None:
    """Run ``worker`` inside a ``serve`` process until ``stop``.

    On SQLite only one process per database file delivers (a lock file beside it), however many
    ``--workers`` serve runs; the others wait to take over should that process exit. On
    PostgreSQL every process that runs one shares the work.
    """
    if backend(database_url) != "sqlite":
        log.info("webhook worker started")
        await worker.run(stop)
        return
    lock = sqlite_path(database_url).with_name(sqlite_path(database_url).name + ".webhooks.lock")
    while not stop.is_set():
        with _exclusive(lock) as held:
            if held:
                log.info("webhook worker started")
                await worker.run(stop)
                return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), retry_seconds)


class InProcessWorker:
    """The delivery worker a ``serve`` process runs as a task of its own (``run_in_process``)."""

    def __init__(self, worker: WebhookWorker, *, database_url: str) -> None:
        self._worker = worker
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(
            run_in_process(worker, database_url=database_url, stop=self._stop)
        )

    async def stop(self) -> None:
        """Stop claiming, let the attempts in flight finish, close the HTTP client."""
        self._stop.set()
        try:
            await self._task
        finally:
            await self._worker.aclose()
