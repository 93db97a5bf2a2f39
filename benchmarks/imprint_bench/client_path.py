"""The client_path driver: customers walking the client API as the hosted page does.

Each of ``--concurrency`` virtual customers repeats: the partner creates a session (partner
API), then the page exchanges the client_secret, reads the session and the profile (at once),
saves the profile, starts and confirms phone verification (the sandbox code), applies for a
card (last name "approve": approved at once), accepts the offer and lists the customer's
payment methods. Every answer must be 2xx. The first second's paths are not counted.

    IMPRINT_API_KEY=isk_test_... python -m imprint_bench.client_path --url URL --seconds 20

Prints one ``PATH_JSON {...}`` line: completed paths, requests, and per step count/p50/p99 (ms).

The HTTP client is a few lines over asyncio streams and httptools (uvicorn's parser), HTTP/1.1
keep-alive, two connections per customer (the page reads session and profile at once): a
general-purpose client (httpx) cost as much CPU per request as the server itself, and the
driver shares the machine's 2 cores with the server and the database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

import httptools

from imprint_bench.common import session_body

STEPS = [
    "create_session",
    "exchange",
    "session",
    "profile",
    "profile_update",
    "phone_start",
    "phone_confirm",
    "apply",
    "accept",
    "payment_methods",
]
ADDRESS = {
    "street_line1": "123 Main St",
    "city": "San Francisco",
    "state": "CA",
    "postal_code": "94105",
    "country": "USA",
}
CARD = {
    "type": "CARD",
    "ssn4": "1234",
    "housing_type": "RENT",
    "housing_cost": 150_000,
    "income_type": "EMPLOYED",
    "income_amount": 9_000_000,
}


class PathFailed(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._body: list[bytes] = []
        self._complete = False

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._complete = True

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        parser = httptools.HttpResponseParser(self)
        self._body, self._complete = [], False
        while not self._complete:
            data = await self.reader.read(65536)
            if not data:
                raise PathFailed(f"{method} {path}: the server closed the connection")
            parser.feed_data(data)
        if not parser.should_keep_alive():
            self.writer.close()
            self.reader = self.writer = None
        return parser.get_status_code(), b"".join(self._body)


class Customer:
    """One virtual customer: its two connections, and the shared figures."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.connections = [Connection(driver.host, driver.port) for _ in range(2)]

    async def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        connection: int = 0,
    ) -> Any:
        d = self.driver
        headers = d.partner if token is None else {"Authorization": f"Bearer {token}"}
        data = None if body is None else json.dumps(body).encode()
        started = time.perf_counter()
        status, answer = await self.connections[connection].request(method, path, headers, data)
        done = time.perf_counter()
        if not 200 <= status < 300:
            raise PathFailed(f"{step}: {method} {path}: HTTP {status}: {answer[:300]!r}")
        if started >= d.counted_from:
            d.latencies[step].append((done - started) * 1000)
            d.requests += 1
        return json.loads(answer)

    async def one_path(self) -> None:
        d = self.driver
        d.customers += 1
        n = d.customers
        # A phone of its own per customer: applications resume by phone.
        phone = f"+1415{2_000_000 + (int(d.run, 16) + n) % 7_000_000:07d}"
        email = f"p.{d.run}.{n}@example.com"
        started = time.perf_counter()
        body = session_body(f"PATH_{d.run}_{n}", email, phone)
        session = await self.call("create_session", "POST", "/v2/customer_sessions", body=body)
        secret = {"client_secret": session["client_secret"]}
        exchanged = await self.call("exchange", "POST", "/v2/client/exchange", body=secret)
        token = exchanged["access_token"]
        await asyncio.gather(
            self.call("session", "GET", "/v2/client/session", token=token),
            self.call("profile", "GET", "/v2/client/profile", token=token, connection=1),
        )
        profile = {
            "email": email,
            "first_name": "Ada",
            "last_name": "approve",  # the sandbox approves at once
            "phone": phone,
            "date_of_birth": {"year": 1990, "month": 7, "day": 14},
            "address": ADDRESS,
        }
        await self.call("profile_update", "POST", "/v2/client/profile", token=token, body=profile)
        await self.call(
            "phone_start", "POST", "/v2/client/phone/verification", token=token, body={}
        )
        confirm = "/v2/client/phone/verification/confirm"
        await self.call("phone_confirm", "POST", confirm, token=token, body={"code": d.code})
        application = await self.call(
            "apply", "POST", "/v2/client/applications", token=token, body=CARD
        )
        if application["status"] != "APPROVED":
            raise PathFailed(f"apply: expected APPROVED, got {application['status']}")
        accept = f"/v2/client/applications/{application['id']}/accept"
        await self.call("accept", "POST", accept, token=token, body={})
        await self.call("payment_methods", "GET", "/v2/client/payment_methods", token=token)
        if started >= d.counted_from:
            d.paths += 1


class Driver:
    """What the customers share: where, who, and the figures."""

    def __init__(self, url: str, api_key: str, code: str, counted_from: float) -> None:
        hostport = url.removeprefix("http://").rstrip("/")
        host, _, port = hostport.partition(":")
        self.host, self.port = host, int(port or 80)
        self.partner = {"Authorization": f"Bearer {api_key}"}
        self.code = code
        self.counted_from = counted_from
        self.latencies: dict[str, list[float]] = {step: [] for step in STEPS}
        self.paths = 0
        self.requests = 0
        self.run = uuid.uuid4().hex[:8]
        self.customers = 0


async def run(url: str, seconds: float, concurrency: int) -> dict[str, Any]:
    from imprint_sessions.domain.phone_verification import SANDBOX_CODE

    start = time.perf_counter()
    deadline = start + seconds
    driver = Driver(url, os.environ["IMPRINT_API_KEY"], SANDBOX_CODE, start + 1)

    async def customer() -> None:
        walker = Customer(driver)
        while time.perf_counter() < deadline:
            await walker.one_path()

    try:
        await asyncio.gather(*(customer() for _ in range(concurrency)))
    except PathFailed as exc:
        return {"error": str(exc)}
    elapsed = time.perf_counter() - start - 1
    steps = {}
    for step, values in driver.latencies.items():
        values.sort()
        steps[step] = {
            "count": len(values),
            "p50_ms": values[len(values) // 2] if values else 0.0,
            "p99_ms": values[int(len(values) * 0.99)] if values else 0.0,
        }
    return {"paths": driver.paths, "requests": driver.requests, "seconds": elapsed, "steps": steps}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--seconds", type=float, required=True)
    p.add_argument("--concurrency", type=int, default=16)
    args = p.parse_args()
    work = run(args.url, args.seconds, args.concurrency)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print("PATH_JSON " + json.dumps(result), flush=True)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
