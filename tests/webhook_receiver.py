"""A real HTTP receiver for webhook tests: a threaded stdlib server on 127.0.0.1, port 0.

Every request is recorded (headers, raw body, when it started and ended) and joins the leak
registry's webhook payloads. ``respond`` decides each answer; it may sleep (a slow receiver) or
return a redirect. Loopback only: tests never send anything anywhere else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import _REGISTRY


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    started: float  # time.monotonic()
    finished: float

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


def _rendered(path: str, headers: dict[str, str], body: bytes) -> str:
    """A delivery as the leak sweep scans it: path, headers and body."""
    lines = "\n".join(f"{name}: {value}" for name, value in headers.items())
    return f"POST {path}\n{lines}\n\n{body.decode('utf-8', 'replace')}"


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


Responder = Callable[[bytes, dict[str, str]], Reply]


class Receiver:
    def __init__(self, respond: Responder | None = None, port: int = 0) -> None:
        self.respond: Responder = respond or (lambda body, headers: Reply())
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self.in_flight = 0
        self.started = 0  # requests begun (``received`` holds those answered or answering)
        self.max_in_flight_per_event: dict[str, int] = {}
        self._in_flight_per_event: dict[str, int] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                started = time.monotonic()
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                event_id = headers.get("webhook-id", "")
                with receiver._lock:
                    receiver.started += 1
                    receiver.in_flight += 1
                    now = receiver._in_flight_per_event.get(event_id, 0) + 1
                    receiver._in_flight_per_event[event_id] = now
                    best = receiver.max_in_flight_per_event.get(event_id, 0)
                    receiver.max_in_flight_per_event[event_id] = max(best, now)
                try:
                    reply = receiver.respond(body, headers)
                    if reply.delay_seconds:
                        time.sleep(reply.delay_seconds)
                finally:
                    # Recorded before the answer goes out, so a sender that has its answer
                    # always finds its request here.
                    with receiver._lock:
                        receiver.in_flight -= 1
                        receiver._in_flight_per_event[event_id] -= 1
                        receiver.received.append(
                            Received(self.path, headers, body, started, time.monotonic())
                        )
                    _REGISTRY.webhook_payloads.append(_rendered(self.path, headers, body))
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the tests read ``received``

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # the stdlib's 5 drops connections under concurrency

        self.server = Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def event_ids(self) -> list[str]:
        with self._lock:
            return [r.event_id for r in self.received]


@contextmanager
def receiving(respond: Responder | None = None, port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(respond, port).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
