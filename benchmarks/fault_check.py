"""What the sandbox's test-fault check costs a request of a partner that declared none.

Two figures, on the embedded SQLite database in a temporary directory:

1. the check alone (``FaultInjector.before_operation``, the index fresh, no header): the extra
   work every authenticated sandbox request does;
2. retrieve-session end to end through the ASGI app in process (no sockets), with the sandbox's
   injector and with it switched off (``services.faults = None``, as in production), so the
   check's share of a whole request shows.

    .venv/bin/python benchmarks/fault_check.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from starlette.requests import Request

from imprint_sessions.app import create_app
from imprint_sessions.config import Settings
from imprint_sessions.domain import partners
from imprint_sessions.domain.faults import FaultDeclaration, declare_fault
from imprint_sessions.fault_injection import FaultInjector
from imprint_sessions.storage import migrate


async def check_alone(injector: FaultInjector, repos: object, partner_id: str, n: int) -> float:
    """Mean microseconds of one check (a request with a route named getSession)."""

    class Route:
        operation_id = "getSession"

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v2/customer_sessions/X",
        "headers": [(b"host", b"x"), (b"authorization", b"Basic eA=="), (b"accept", b"*/*")],
        "route": Route(),
    }
    request = Request(scope)
    await injector.before_operation(request, repos, partner_id=partner_id)  # type: ignore[arg-type]
    started = time.perf_counter()
    for _ in range(n):
        await injector.before_operation(request, repos, partner_id=partner_id)  # type: ignore[arg-type]
    return (time.perf_counter() - started) / n * 1e6


async def end_to_end(
    client: httpx.AsyncClient, url: str, key: str, n: int, services: Any, injector: FaultInjector
) -> tuple[float, float]:
    """Median microseconds of one retrieve with the check and without, over alternating rounds
    (so a machine that gets busier or quieter weighs on both alike)."""
    rounds: dict[bool, list[float]] = {True: [], False: []}
    size = max(1, n // 20)
    for round_number in range(40):
        checked = round_number % 2 == 0
        services.faults = injector if checked else None
        started = time.perf_counter()
        for _ in range(size):
            response = await client.get(url, auth=(key, ""))
            assert response.status_code == 200
        rounds[checked].append((time.perf_counter() - started) / size * 1e6)
    services.faults = injector
    return statistics.median(rounds[True]), statistics.median(rounds[False])


async def empty_call(n: int) -> float:
    """Mean microseconds of awaiting a coroutine that does nothing: the scale of the figures."""

    async def nothing() -> None:
        return None

    started = time.perf_counter()
    for _ in range(n):
        await nothing()
    return (time.perf_counter() - started) / n * 1e6


async def main(requests: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fault-bench-"))
    url = f"sqlite:///{tmp / 'imprint.sqlite3'}"
    migrate.upgrade(url)
    settings = Settings(
        env="sandbox",
        data_dir=tmp,
        secret_key="b" * 40,
        database_url=url,
        access_log=False,
        rate_limit_per_second=0,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services = app.state.services
        repos = services.database.repositories
        quiet = await partners.create_partner(
            repos, clock=services.clock, name="q", merchant_keys=[]
        )
        busy = await partners.create_partner(
            repos, clock=services.clock, name="b", merchant_keys=[]
        )
        # Another partner's fault: the index is not empty, this partner is just not in it.
        await declare_fault(
            repos,
            clock=services.clock,
            partner_id=busy.id,
            declaration=FaultDeclaration(kind="drop", operation="getSession", until_deleted=True),
        )
        injector = services.faults
        assert injector is not None
        alone = await check_alone(injector, repos, quiet.id, requests * 20)
        issued = await partners.create_api_key(
            repos, clock=services.clock, box=services.box, env="sandbox", partner_id=quiet.id
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            created = await client.post("/v2/customer_sessions", json={}, auth=(issued.api_key, ""))
            session_url = f"/v2/customer_sessions/{created.json()['id']}"
            await end_to_end(client, session_url, issued.api_key, requests // 5, services, injector)
            with_check, without = await end_to_end(
                client, session_url, issued.api_key, requests * 2, services, injector
            )
        baseline = await empty_call(requests * 20)
    print(f"fault check alone (no header, partner without faults): {alone:.2f} us")
    print(f"awaiting an empty coroutine, for scale: {baseline:.2f} us")
    print(
        f"retrieve-session in process (median of 20 rounds each): {with_check:.1f} us with the "
        f"check, {without:.1f} us without ({with_check - without:+.1f} us)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    asyncio.run(main(parser.parse_args().requests))
