"""pytest fixtures for partners' test suites (``pip install 'imprint-sessions[pytest]'``).

Loaded by pytest automatically once the package is installed (an entry point), it gives each
test a throwaway sandbox of a real imprint-sessions server:

- ``imprint_server``: the server (one per test session): started embedded, on a free loopback
  port with its own SQLite database, unless ``--imprint-url`` names a running one (then
  ``--imprint-api-key`` is a sandbox key of a partner on it);
- ``imprint_sandbox``: a fresh sandbox for the test, with its own key and an ``httpx.Client``
  authenticated as it, deleted afterwards;
- ``imprint_webhooks``: a loopback receiver registered as the sandbox's webhook endpoint, which
  records every event delivered to it, signature checked;
- ``imprint_clock``: the sandbox's test clock. A test that asks for it gets a sandbox created
  with one (at ``@pytest.mark.imprint_clock("2031-05-01T09:00:00Z")``'s time, else now), frozen
  until the test advances it: sessions, secrets, codes, credentials, idempotency keys and
  webhook retries of the sandbox follow it.

A test sees only its own sandbox's customers, sessions and events, so tests may run in
parallel (pytest-xdist) against one server.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from imprint_sessions.webhooks.signing import (
    IMPRINT_SIGNATURE_HEADER,
    imprint_signature,
    signing_key,
)

_KEY = re.compile(r"\bisk_test_[A-Za-z0-9_-]+")
_START_SECONDS = 60.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "imprint_clock(frozen_time): the time the test's sandbox clock starts at (RFC 3339)",
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("imprint-sessions")
    group.addoption(
        "--imprint-url",
        default=None,
        help="Use the imprint-sessions server at this URL instead of starting one",
    )
    group.addoption(
        "--imprint-api-key",
        default=None,
        help="With --imprint-url: a sandbox API key of a partner on that server",
    )


@dataclass(frozen=True)
class ImprintServer:
    """A running imprint-sessions server and a key of the partner its sandboxes belong to."""

    url: str
    api_key: str


@dataclass
class ImprintSandbox:
    """One test's sandbox: a partner of its own on the server."""

    id: str
    api_key: str
    url: str
    client: httpx.Client
    test_clock: dict[str, Any] | None = None  # as created: {"sandbox_id", "frozen_time"}


@dataclass
class ImprintClock:
    """The test's sandbox clock: time stands still in the sandbox until you advance it."""

    sandbox: ImprintSandbox
    frozen_time: str  # RFC 3339, as the server last reported it

    @property
    def now(self) -> datetime:
        """The time the clock shows, as an aware ``datetime`` (UTC)."""
        return datetime.fromisoformat(self.frozen_time.replace("Z", "+00:00"))

    def advance(
        self, *, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> datetime:
        """Move the clock on by the given amount (whole seconds); the time it then shows."""
        total = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
        return self._advance({"seconds": int(total.total_seconds())})

    def advance_to(self, moment: datetime | str) -> datetime:
        """Move the clock to ``moment`` (not before the time it shows): an aware ``datetime``, or
        an RFC-3339 time in UTC (``2031-05-02T09:00:00Z``); the time it then shows."""
        if isinstance(moment, datetime):
            if moment.tzinfo is None:
                raise ValueError("advance_to: give an aware datetime (tzinfo=UTC), not a naive one")
            utc = moment.astimezone(UTC).isoformat(timespec="milliseconds")
            moment = utc.replace("+00:00", "Z")  # the API takes UTC as Z only
        return self._advance({"frozen_time": moment})

    def _advance(self, body: dict[str, Any]) -> datetime:
        path = f"/v2/test_helpers/sandboxes/{self.sandbox.id}/test_clock/advance"
        self.frozen_time = _ok(self.sandbox.client.post(path, json=body))["frozen_time"]
        return self.now


@dataclass(frozen=True)
class ReceivedEvent:
    """One webhook delivery as it arrived: the parsed event, the raw body, the headers."""

    type: str
    data: dict[str, Any]
    body: bytes
    headers: dict[str, str]


@dataclass
class ImprintWebhooks:
    """The sandbox's webhook endpoint, a receiver on this machine, and what it received."""

    endpoint_id: str
    secret: str
    url: str
    received: list[ReceivedEvent] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(
        self, predicate: Callable[[ReceivedEvent], bool] | None = None, *, timeout: float = 10.0
    ) -> ReceivedEvent:
        """The first event (matching ``predicate``) to arrive; ``AssertionError`` after
        ``timeout`` seconds without one."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for event in self.received:
                    if predicate is None or predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching webhook event within {timeout} s "
                        f"({len(self.received)} received)"
                    )
                self._arrived.wait(left)

    def _record(self, body: bytes, headers: dict[str, str]) -> bool:
        if not _signed_by(self.secret, body, headers):
            return False
        event = json.loads(body)
        with self._arrived:
            self.received.append(ReceivedEvent(event["object"], event["data"], body, headers))
            self._arrived.notify_all()
        return True


def _ok(response: httpx.Response) -> dict[str, Any]:
    if not response.is_success:
        raise AssertionError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
    answer: dict[str, Any] = response.json()
    return answer


def _signed_by(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """Whether ``X-IMPRINT-HMAC-SIGNATURE`` holds a signature of ``body`` under ``secret``."""
    parts = [p.split("=", 1) for p in headers.get(IMPRINT_SIGNATURE_HEADER.lower(), "").split(",")]
    fields = [(p[0], p[1]) for p in parts if len(p) == 2]
    stamps = [value for name, value in fields if name == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit():
        return False
    expected = imprint_signature(signing_key(secret), int(stamps[0]), body)
    return any(hmac.compare_digest(expected, v) for name, v in fields if name == "s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def imprint_server(request: pytest.FixtureRequest) -> Iterator[ImprintServer]:
    """The server every ``imprint_sandbox`` lives on (started once per test session)."""
    url = request.config.getoption("--imprint-url")
    if url:
        key = request.config.getoption("--imprint-api-key")
        if not key:
            raise pytest.UsageError("--imprint-url needs --imprint-api-key (a sandbox API key)")
        yield ImprintServer(url.rstrip("/"), key)
        return
    with _embedded_server() as server:
        yield server


class _Embedded:
    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="imprint-sessions-"))
        self.port = _free_port()
        # The partner's own IMPRINT_* settings are for its app, not for this server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRINT_")}
        env.update(
            IMPRINT_DATA_DIR=str(self.data_dir),
            IMPRINT_HOST="127.0.0.1",
            IMPRINT_LOG_LEVEL="WARNING",
        )
        self.log = (self.data_dir / "serve.log").open("wb")
        command = [sys.executable, "-c", "from imprint_sessions.cli import main; main()"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [*command, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )

    def key(self) -> str:
        """The sandbox key the first start prints (read until the banner's key line)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            found = _KEY.search(line.decode("utf-8", "replace"))
            if found:
                threading.Thread(target=self._drain, daemon=True).start()
                return found.group()
        self.stop()
        log = (self.data_dir / "serve.log").read_text(errors="replace")
        raise RuntimeError(f"imprint-sessions serve did not start; its log:\n{log}")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for _ in self.process.stdout:
            pass

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class _embedded_server:
    def __enter__(self) -> ImprintServer:
        self._server = _Embedded()
        key = self._server.key()
        return ImprintServer(f"http://127.0.0.1:{self._server.port}", key)

    def __exit__(self, *exc: object) -> None:
        self._server.stop()


@pytest.fixture
def imprint_sandbox(
    imprint_server: ImprintServer, request: pytest.FixtureRequest
) -> Iterator[ImprintSandbox]:
    """A throwaway sandbox for this test, deleted after it (with a test clock if the test asks
    for ``imprint_clock``)."""
    body: dict[str, Any] = {"name": request.node.nodeid[-200:]}
    if "imprint_clock" in request.fixturenames:
        marker = request.node.get_closest_marker("imprint_clock")
        start = None
        if marker is not None:
            start = marker.kwargs.get("frozen_time", marker.args[0] if marker.args else None)
        body["test_clock"] = {} if start is None else {"frozen_time": start}
    with httpx.Client(base_url=imprint_server.url, auth=(imprint_server.api_key, "")) as parent:
        made = _ok(parent.post("/v2/test_helpers/sandboxes", json=body))
        client = httpx.Client(base_url=imprint_server.url, auth=(made["api_key"], ""), timeout=30)
        try:
            yield ImprintSandbox(
                made["id"], made["api_key"], imprint_server.url, client, made.get("test_clock")
            )
        finally:
            client.close()
            parent.delete(f"/v2/test_helpers/sandboxes/{made['id']}")


@pytest.fixture
def imprint_webhooks(imprint_sandbox: ImprintSandbox) -> Iterator[ImprintWebhooks]:
    """A receiver on 127.0.0.1 registered as the sandbox's webhook endpoint (every event type).
    It answers 200 to a correctly signed delivery and 400 to anything else, which the server
    then retries."""
    holder: list[ImprintWebhooks] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            accepted = bool(holder) and holder[0]._record(body, headers)
            self.send_response(200 if accepted else 400)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/imprint/webhooks"
    try:
        made = _ok(imprint_sandbox.client.post("/v2/webhook_endpoints", json={"url": url}))
        holder.append(ImprintWebhooks(made["id"], made["secret"], url))
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def imprint_clock(imprint_sandbox: ImprintSandbox) -> ImprintClock:
    """The test sandbox's clock (the sandbox is created with one because the test asked)."""
    assert imprint_sandbox.test_clock is not None, "the sandbox was made without a clock"
    return ImprintClock(imprint_sandbox, imprint_sandbox.test_clock["frozen_time"])
