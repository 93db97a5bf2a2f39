"""The SDK against ``imprint-sessions serve`` as real processes on loopback, SQLite and
PostgreSQL: the partner flow with a webhook delivered and verified, retries under real causes (the
server's own rate limit, a port that refuses connections until a server starts on it, calls
racing for one Idempotency-Key) and one client shared by many threads and tasks."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import _REGISTRY
from e2e.conftest import Deployment, Server, free_port, open_deployment
from imprint_client import (
    ApplicationEvent,
    AsyncImprint,
    Imprint,
    PaymentMethodEvent,
    RateLimitError,
    webhooks,
)
from sdk.conftest import RetryLog
from webhook_receiver import receiving

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sdk-real-server")]


def pcid() -> str:
    return f"CUST_{secrets.token_hex(4)}"


@dataclass
class Served:
    deployment: Deployment
    server: Server
    api_key: str
    limited: Server  # the same database, one request per second per key (burst 1)
    limited_key: str

    def client(self, **options: object) -> Imprint:
        return Imprint(self.api_key, base_url=self.server.base_url, **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"sdk-real-{request.param}")
    with open_deployment(request.param, tmp) as deployment:
        server = deployment.start()
        api_key = server.api_key()
        with Imprint(api_key, base_url=server.base_url) as client:
            limited_key = client.api_keys.create().api_key
        _REGISTRY.remember(limited_key)
        slow = Deployment(
            env={
                **deployment.env,
                "IMPRINT_RATE_LIMIT_PER_SECOND": "1",
                "IMPRINT_RATE_LIMIT_BURST": "1",
            },
            tmp=Path(tmp),
        )
        limited = slow.start("--no-worker")
        deployment.servers.append(limited)  # killed with the deployment's own
        try:
            yield Served(deployment, server, api_key, limited, limited_key)
        finally:
            limited.stop()
            server.stop()


def test_the_partner_flow_runs_on_a_real_server_and_its_webhooks_verify(served: Served) -> None:
    partner_customer_id = pcid()
    with served.client() as client, receiving() as receiver:
        endpoint = client.webhook_endpoints.create(url=receiver.url)
        assert endpoint.secret is not None
        _REGISTRY.remember(endpoint.secret)
        session = client.customer_sessions.create(
            partner_customer_id=partner_customer_id,
            transaction_amount=34000,
            customer_history={"email": "customer@example.com", "first_name": "John"},
            metadata={"store_number": "123"},
        )
        assert client.customer_sessions.retrieve(session.id) == session
        (customer,) = client.customers.list(partner_customer_id=partner_customer_id)
        client.customers.update(customer.id, metadata={"tier": "gold"})
        simulated = client.test_helpers.simulate_application(
            customer_id=customer.id, status="OFFER_ACCEPTED"
        )
        (card,) = client.payment_methods.list(customer.id)
        assert card.id == simulated.payment_method_id

        deadline = time.monotonic() + 30  # serve's own worker delivers
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        events = [webhooks.verify(r.body, r.headers, endpoint.secret) for r in receiver.received]
        assert sorted(type(e).__name__ for e in events) == [
            "ApplicationEvent",
            "PaymentMethodEvent",
        ]
        for event in events:
            if isinstance(event, ApplicationEvent):
                assert event.data.customer_metadata == {"tier": "gold"}
            else:
                assert isinstance(event, PaymentMethodEvent)
                assert event.data.payment_method_id == card.id
            while True:  # the receiver has the request before the worker records its answer
                (delivery,) = client.webhook_events.deliveries(event.id)
                if delivery.status == "DELIVERED" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert delivery.status == "DELIVERED"
        assert client.webhook_endpoints.delete(endpoint.id).deleted is True


def test_a_test_clock_advanced_through_one_server_is_the_time_on_another(served: Served) -> None:
    """Two ``serve`` processes on one database: a sandbox's test clock, advanced through one, is
    at once the time the sandbox's requests read on the other (each reads it from the sandbox's
    row, never a copy)."""
    with served.client() as parent:
        sandbox = parent.test_helpers.sandboxes.create(
            name="sdk clock", test_clock={"frozen_time": "2031-05-01T09:00:00Z"}
        )
        _REGISTRY.remember(sandbox.api_key)
        assert sandbox.test_clock is not None
        try:
            # The other server allows one request a second: its 429s are waited out.
            with Imprint(sandbox.api_key, base_url=served.limited.base_url, max_retries=4) as other:
                clocks = other.test_helpers.sandboxes
                assert clocks.retrieve_test_clock(sandbox.id) == sandbox.test_clock
                advanced = parent.test_helpers.sandboxes.advance_test_clock(
                    sandbox.id, seconds=3600
                )
                assert advanced.frozen_time == "2031-05-01T10:00:00.000Z"
                assert clocks.retrieve_test_clock(sandbox.id) == advanced
                session = other.customer_sessions.create(partner_customer_id=pcid(), expires_in=900)
                assert session.expires_at == "2031-05-01T10:15:00.000Z"
        finally:
            parent.test_helpers.sandboxes.delete(sandbox.id)


def test_the_servers_rate_limit_is_waited_out(served: Served, retry_log: RetryLog) -> None:
    with Imprint(served.limited_key, base_url=served.limited.base_url) as client:
        started = time.monotonic()
        for _ in range(4):
            client.customers.list(limit=1)
        elapsed = time.monotonic() - started
    assert elapsed >= 3.0  # one request a second: three Retry-After waits of at least 1 s
    assert sum("failed (HTTP 429)" in line for line in retry_log.lines()) >= 3

    def spend(client: Imprint) -> None:
        for _ in range(3):  # the budget is one a second: one of these is over it
            client.customers.list(limit=1)

    client = Imprint(served.limited_key, base_url=served.limited.base_url, max_retries=0)
    with client, pytest.raises(RateLimitError) as limited:
        spend(client)
    assert limited.value.retry_after is not None
    assert limited.value.retry_after >= 1


async def test_async_tasks_share_a_rate_limit_and_all_finish(served: Served) -> None:
    async with AsyncImprint(
        served.limited_key, base_url=served.limited.base_url, max_retries=6
    ) as client:
        pages = await asyncio.gather(*(client.customers.list(limit=1) for _ in range(3)))
    assert len(pages) == 3


def test_a_refused_port_is_retried_until_a_server_starts_on_it(
    served: Served, retry_log: RetryLog
) -> None:
    """createKey shows its key once, so it is retried only where it cannot have run: here, a
    connection refused, until ``serve`` starts on the port and answers."""
    port = free_port()
    starter = threading.Timer(
        1.0, lambda: served.deployment.start("--no-worker", port=port, wait=False)
    )
    starter.start()
    try:
        with Imprint(served.api_key, base_url=f"http://127.0.0.1:{port}", max_retries=10) as c:
            created = c.api_keys.create()
        _REGISTRY.remember(created.api_key)
    finally:
        starter.join()
    assert created.api_key.startswith("isk_test_")
    assert any("createKey failed (ConnectError)" in line for line in retry_log.lines())
    with served.client() as client:
        assert client.api_keys.delete(created.id).deleted is True


def test_calls_racing_for_one_key_on_a_real_server_all_get_one_session(
    served: Served, retry_log: RetryLog
) -> None:
    """Threads sending one call with one Idempotency-Key at once: one runs; the others meet 409
    IDEMPOTENCY_KEY_IN_USE while it does, retry, and get its recorded response. Rounds are tried
    until a 409 was met (it is a real race)."""
    met = 0
    with served.client(max_retries=6) as client:
        for _ in range(30):
            key = secrets.token_hex(8)
            partner_customer_id = pcid()
            results: list[tuple[str, str]] = []
            barrier = threading.Barrier(6)

            def call(key: str, partner_customer_id: str, barrier: threading.Barrier) -> None:
                barrier.wait()
                made = client.customer_sessions.create(
                    partner_customer_id=partner_customer_id, idempotency_key=key
                )
                results.append((made.id, made.client_secret))  # noqa: B023 (joined below)

            threads = [
                threading.Thread(target=call, args=(key, partner_customer_id, barrier))
                for _ in range(6)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert len(results) == 6
            assert len(set(results)) == 1
            (customer,) = client.customers.list(partner_customer_id=partner_customer_id)
            assert len(client.customer_sessions.list(customer.id).data) == 1
            met = sum("IDEMPOTENCY_KEY_IN_USE" in line for line in retry_log.lines())
            if met:
                break
    assert met, "no call met the key in flight in 30 rounds"


def test_one_client_serves_many_threads_on_a_real_server(served: Served) -> None:
    shared = pcid()
    made: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    with served.client() as client:

        def work(n: int) -> None:
            try:
                mine = client.customer_sessions.create(partner_customer_id=f"{shared}-{n}")
                client.customer_sessions.create(partner_customer_id=shared)
                assert client.customer_sessions.retrieve(mine.id) == mine
                with lock:
                    made.append(mine.id)
            except BaseException as exc:
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
        assert len(set(made)) == 24
        (customer,) = client.customers.list(partner_customer_id=shared)
        assert len(list(client.customer_sessions.list(customer.id, limit=5))) == 24


async def test_one_async_client_serves_many_tasks_on_a_real_server(served: Served) -> None:
    async with AsyncImprint(served.api_key, base_url=served.server.base_url) as client:
        created = await asyncio.gather(
            *(client.customer_sessions.create(partner_customer_id=pcid()) for _ in range(32))
        )
        fetched = await asyncio.gather(*(client.customer_sessions.retrieve(s.id) for s in created))
    assert fetched == created
    assert len({s.id for s in created}) == 32
