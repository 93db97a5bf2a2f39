"""The overload driver: many connections creating sessions, every request accounted for.

wrk cannot judge overload: it times a request from when it was written, so a connection the
server never accepts or never reads from adds no sample at all, and it cannot tell the latency
of a refused request from an admitted one. This driver keeps ``--connections`` HTTP/1.1
keep-alive connections, each sending its next create-session (a new customer each time) as
soon as the last answer arrived, and times every request from the moment its connection wanted
to send it: connecting is included, and a connection that is never answered shows as a
timeout (no answer within ``--timeout``; the connection is then dropped and opened again).

    IMPRINT_API_KEY=isk_test_... python -m imprint_bench.overload --url URL --connections 1000

Work is spread over ``--processes`` processes (uvloop, asyncio streams, httptools). Prints one
``OVERLOAD_JSON {...}`` line: per status, the count, answers per second and p50/p99/max in ms;
timeouts and connection errors; and how many connections were answered at least once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
import uuid
from collections import defaultdict
from typing import Any

import httptools

from imprint_bench.common import session_body


class _Answer:
    """One response's status and whether the server asked to close the connection."""

    def __init__(self) -> None:
        self.status = 0
        self.done = False
        self.close = False
        self.retry_after: float | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"retry-after":
            self.retry_after = float(value)
        elif name == b"connection" and value.lower() == b"close":
            self.close = True

    def on_message_complete(self) -> None:
        self.done = True


async def _one_connection(
    host: str,
    port: int,
    key: str,
    deadline: float,
    budget: float,
    tag: str,
    results: dict[str, Any],
    honour_retry_after: bool,
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    answered = False
    n = 0
    head = (
        f"POST /v2/customer_sessions HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
    ).encode()
    while time.monotonic() < deadline:
        n += 1
        body = json.dumps(
            session_body(f"OV_{tag}_{n}", f"ov.{tag}.{n}@example.com", f"+14155{n % 10**6:06d}")
        ).encode()
        request = head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        started = time.monotonic()
        answer = _Answer()
        try:
            async with asyncio.timeout(budget):
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                assert reader is not None
                writer.write(request)
                parser = httptools.HttpResponseParser(answer)
                while not answer.done:
                    data = await reader.read(65536)
                    if not data:
                        raise ConnectionResetError("closed by the server")
                    parser.feed_data(data)
                answer.status = parser.get_status_code()
        except TimeoutError:
            if time.monotonic() < deadline:  # not cut off by the end of the run
                results["timeouts"] += 1
            _drop(writer)
            writer = None
            continue
        except (OSError, httptools.HttpParserError) as exc:
            results["errors"][type(exc).__name__] += 1
            _drop(writer)
            writer = None
            await asyncio.sleep(0.01)
            continue
        elapsed = time.monotonic() - started
        if not answered:
            answered = True
            results["answered_connections"] += 1
        if started >= results["measure_from"]:
            results["latencies"][answer.status].append(elapsed)
            if answer.status in (429, 503) and answer.retry_after is None:
                results["refused_without_retry_after"] += 1
        if answer.close:
            _drop(writer)
            writer = None
        if honour_retry_after and answer.status in (429, 503) and answer.retry_after:
            await asyncio.sleep(min(answer.retry_after, 5.0))  # as the SDKs do
    _drop(writer)


def _drop(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()


def _worker(
    url: str,
    key: str,
    connections: int,
    seconds: float,
    warmup: float,
    timeout: float,
    honour_retry_after: bool,
    out: Any,
) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - the project's venv has it
        pass
    host, _, port = url.removeprefix("http://").partition(":")
    results: dict[str, Any] = {
        "latencies": defaultdict(list),
        "timeouts": 0,
        "errors": defaultdict(int),
        "answered_connections": 0,
        "refused_without_retry_after": 0,
    }

    async def main() -> None:
        now = time.monotonic()
        results["measure_from"] = now + warmup
        deadline = now + warmup + seconds
        tags = [uuid.uuid4().hex[:12] for _ in range(connections)]
        await asyncio.gather(
            *(
                _one_connection(
                    host, int(port), key, deadline, timeout, tag, results, honour_retry_after
                )
                for tag in tags
            )
        )

    asyncio.run(main())
    cpu = os.times()
    out.put(
        {
            "latencies": {str(k): v for k, v in results["latencies"].items()},
            "timeouts": results["timeouts"],
            "errors": dict(results["errors"]),
            "answered_connections": results["answered_connections"],
            "refused_without_retry_after": results["refused_without_retry_after"],
            "cpu_s": cpu.user + cpu.system,
        }
    )


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def summarise(parts: list[dict[str, Any]], seconds: float, connections: int) -> dict[str, Any]:
    latencies: dict[str, list[float]] = defaultdict(list)
    for part in parts:
        for status, values in part["latencies"].items():
            latencies[status].extend(values)
    statuses = {}
    for status, values in sorted(latencies.items()):
        values.sort()
        statuses[status] = {
            "count": len(values),
            "per_s": len(values) / seconds,
            "p50_ms": 1000 * _percentile(values, 0.50),
            "p99_ms": 1000 * _percentile(values, 0.99),
            "max_ms": 1000 * (values[-1] if values else 0.0),
        }
    refused = sorted(v for s in ("429", "503") for v in latencies.get(s, []))
    errors: dict[str, int] = defaultdict(int)
    for part in parts:
        for name, count in part["errors"].items():
            errors[name] += count
    return {
        "connections": connections,
        "seconds": seconds,
        "statuses": statuses,
        "answers_per_s": sum(len(v) for v in latencies.values()) / seconds,
        "admitted_per_s": len(latencies.get("200", [])) / seconds,
        "refused": {
            "count": len(refused),
            "p50_ms": 1000 * _percentile(refused, 0.50),
            "p99_ms": 1000 * _percentile(refused, 0.99),
            "max_ms": 1000 * (refused[-1] if refused else 0.0),
        },
        "refused_without_retry_after": sum(p["refused_without_retry_after"] for p in parts),
        "timeouts": sum(p["timeouts"] for p in parts),
        "errors": dict(errors),
        "answered_connections": sum(p["answered_connections"] for p in parts),
        "driver_cpu_s": sum(p["cpu_s"] for p in parts),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m imprint_bench.overload", description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--connections", type=int, default=300)
    p.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (2)")
    p.add_argument("--timeout", type=float, default=2.0, help="a request's budget (2 s, as wrk)")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument(
        "--honour-retry-after",
        action="store_true",
        help="after a 429 or 503, wait its Retry-After (at most 5 s) as the SDKs do; without\n"
        "it each connection sends again at once, as wrk does",
    )
    args = p.parse_args(argv)
    key = os.environ.get("IMPRINT_API_KEY", "")
    if not key:
        print("set IMPRINT_API_KEY", file=sys.stderr)
        return 2
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    shares = [args.connections // args.processes] * args.processes
    shares[0] += args.connections - sum(shares)
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                args.url,
                key,
                n,
                args.seconds,
                args.warmup,
                args.timeout,
                args.honour_retry_after,
                out,
            ),
        )
        for n in shares
    ]
    for proc in procs:
        proc.start()
    parts = [out.get(timeout=args.seconds + args.warmup + args.timeout + 120) for _ in procs]
    for proc in procs:
        proc.join()
    print("OVERLOAD_JSON " + json.dumps(summarise(parts, args.seconds, args.connections)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
