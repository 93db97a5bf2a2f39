"""The SDK's retries under injected faults, against ``imprint-sessions serve`` as a real process
on loopback, on SQLite and on PostgreSQL.

Faults are the sandbox's own: declared ahead (``test_helpers.faults``, applied to the next
``times`` attempts) or sent on every attempt (the client's ``test_fault``, the
``Imprint-Test-Fault`` header). Each test works in a throwaway sandbox of its own, so its faults
and its data are its own. What the client sent and got is recorded by an ``httpx`` client of the
test's (event hooks: nothing of the SDK is replaced), the waits by the SDK's ``sleep`` hook
(recorded, not slept: the fault is spent by then, so a retry sent at once succeeds as one sent
later would), and what the server did is read back from it: the customer's sessions, the audit
trail, the fault's uses left.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY
from e2e.conftest import Server, open_deployment
from imprint_client import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AsyncImprint,
    Imprint,
    InvalidRequestError,
    RateLimitError,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("sdk-real-server")]


def pcid() -> str:
    return f"CUST_{secrets.token_hex(4)}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"sdk-faults-{request.param}")
    with open_deployment(request.param, Path(tmp)) as deployment:
        started = deployment.start("--no-worker")
        try:
            yield started
        finally:
            started.stop()


@dataclass
class Recorded:
    """Every attempt a client sent, every answer it got, every wait it was told to make."""

    requests: list[httpx.Request] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    def keys(self) -> list[str | None]:
        return [r.headers.get("idempotency-key") for r in self.requests]


@dataclass
class Sandbox:
    """A throwaway sandbox on the real server, and clients calling the API as it."""

    server: Server
    api_key: str
    opened: list[httpx.Client] = field(default_factory=list)

    def client(self, recorded: Recorded | None = None, **options: Any) -> Imprint:
        seen = recorded if recorded is not None else Recorded()
        http = httpx.Client(
            event_hooks={"request": [seen.requests.append], "response": [seen.responses.append]}
        )
        self.opened.append(http)
        return Imprint(
            self.api_key,
            base_url=self.server.base_url,
            http_client=http,
            sleep=seen.waits.append,
            **options,
        )

    def async_client(
        self, recorded: Recorded, http: httpx.AsyncClient, **options: Any
    ) -> AsyncImprint:
        """``http``: the test's own pool (it closes it), recording into ``recorded``."""

        async def on_request(request: httpx.Request) -> None:
            recorded.requests.append(request)

        async def on_response(response: httpx.Response) -> None:
            recorded.responses.append(response)

        async def sleep(seconds: float) -> None:
            recorded.waits.append(seconds)

        http.event_hooks = {"request": [on_request], "response": [on_response]}
        return AsyncImprint(
            self.api_key, base_url=self.server.base_url, http_client=http, sleep=sleep, **options
        )

    def sessions_of(self, partner_customer_id: str) -> list[str]:
        client = self.client()
        (customer,) = client.customers.list(partner_customer_id=partner_customer_id)
        return [s.id for s in client.customer_sessions.list(customer.id, limit=100)]

    def audited(self, event_type: Any) -> list[str]:
        """The object ids of the sandbox's audit entries of one type, oldest first."""
        return [e.object_id for e in self.client().audit_events.list(type=[event_type], limit=100)]

    def remaining(self, fault_id: str) -> int | None:
        (fault,) = [f for f in self.client().test_helpers.faults.list() if f.id == fault_id]
        return fault.remaining


@pytest.fixture
def sandbox(server: Server) -> Iterator[Sandbox]:
    with Imprint(server.api_key(), base_url=server.base_url) as parent:
        made = parent.test_helpers.sandboxes.create(name="sdk faults")
        _REGISTRY.remember(made.api_key)
        box = Sandbox(server, made.api_key)
        try:
            yield box
        finally:
            for http in box.opened:
                http.close()
            parent.test_helpers.sandboxes.delete(made.id)


# -- retried, with one Idempotency-Key, until the fault is spent ----------------------------------


def test_503s_on_a_create_are_retried_with_one_key_and_one_session_is_made(
    sandbox: Sandbox,
) -> None:
    recorded = Recorded()
    client = sandbox.client(recorded)
    fault = client.test_helpers.faults.create(
        kind="error", operation="createSession", status=503, retry_after=1, times=2
    )
    recorded.requests.clear()
    partner_customer_id = pcid()
    created = client.customer_sessions.create(partner_customer_id=partner_customer_id)
    assert [r.status_code for r in recorded.responses[-3:]] == [503, 503, 200]
    keys = recorded.keys()
    assert len(keys) == 3
    assert keys[0] is not None
    assert len(set(keys)) == 1  # one generated key for every attempt
    assert len(recorded.waits) == 2
    assert all(1.0 <= w <= 1.25 for w in recorded.waits), recorded.waits  # Retry-After: 1
    assert sandbox.remaining(fault.id) == 0
    assert sandbox.sessions_of(partner_customer_id) == [created.id]
    assert sandbox.audited("customer_session.created") == [created.id]


def test_a_429s_retry_after_is_waited_before_the_retry(sandbox: Sandbox) -> None:
    recorded = Recorded()
    client = sandbox.client(recorded)
    client.test_helpers.faults.create(
        kind="error", operation="listCustomers", status=429, retry_after=7, times=1
    )
    assert client.customers.list().data == []
    (wait,) = recorded.waits
    assert 7.0 <= wait <= 7.0 * 1.25  # never sooner than the server said; jittered a little
    assert [r.status_code for r in recorded.responses[-2:]] == [429, 200]
    assert recorded.responses[-2].headers["retry-after"] == "7"


def test_a_dropped_connection_on_a_keyed_create_is_retried_and_it_runs_once(
    sandbox: Sandbox,
) -> None:
    recorded = Recorded()
    client = sandbox.client(recorded)
    fault = client.test_helpers.faults.create(kind="drop", operation="createSession", times=1)
    recorded.requests.clear()
    partner_customer_id = pcid()
    created = client.customer_sessions.create(partner_customer_id=partner_customer_id)
    keys = recorded.keys()
    assert len(keys) == 2
    assert keys[0] is not None
    assert keys[0] == keys[1]
    assert len(recorded.waits) == 1  # the backoff: no Retry-After without an answer
    assert 0.25 <= recorded.waits[0] <= 0.5
    assert sandbox.remaining(fault.id) == 0
    assert sandbox.sessions_of(partner_customer_id) == [created.id]


def test_a_once_only_create_is_retried_after_a_503_and_one_key_is_made(sandbox: Sandbox) -> None:
    """createKey shows its key once, so takes no Idempotency-Key; a 503 means it did not run,
    so it is sent again (without a key) and exactly one key is made."""
    recorded = Recorded()
    client = sandbox.client(recorded)
    before = sandbox.audited("api_key.created")
    client.test_helpers.faults.create(kind="error", operation="createKey", status=503, times=1)
    recorded.requests.clear()
    made = client.api_keys.create()
    _REGISTRY.remember(made.api_key)
    assert len(recorded.requests) == 2
    assert recorded.keys() == [None, None]
    assert sandbox.audited("api_key.created") == [*before, made.id]


# -- not retried ----------------------------------------------------------------------------------


def test_a_dropped_connection_on_a_once_only_create_is_not_retried(sandbox: Sandbox) -> None:
    """After a dropped connection createKey may have run (here it had not: a drop fault closes
    the connection first), so the SDK does not send it again; the caller decides."""
    recorded = Recorded()
    client = sandbox.client(recorded)
    before = sandbox.audited("api_key.created")
    fault = client.test_helpers.faults.create(kind="drop", operation="createKey", times=2)
    recorded.requests.clear()
    with pytest.raises(APIConnectionError) as dropped:
        client.api_keys.create()
    assert "createKey" in str(dropped.value)
    assert (len(recorded.requests), recorded.waits) == (1, [])
    assert sandbox.remaining(fault.id) == 1  # one attempt took one use
    assert sandbox.audited("api_key.created") == before


def test_a_500_is_not_retried_and_nothing_is_made(sandbox: Sandbox) -> None:
    recorded = Recorded()
    client = sandbox.client(recorded)
    fault = client.test_helpers.faults.create(
        kind="error", operation="createSession", status=500, times=2
    )
    recorded.requests.clear()
    with pytest.raises(APIError) as failed:
        client.customer_sessions.create(partner_customer_id=pcid())
    assert type(failed.value) is APIError
    assert failed.value.status == 500
    assert failed.value.request_id == recorded.responses[-1].headers["request-id"]
    assert (len(recorded.requests), recorded.waits) == (1, [])
    assert sandbox.remaining(fault.id) == 1
    assert client.customers.list().total == 0
    assert sandbox.audited("customer_session.created") == []


def test_a_400_from_a_malformed_fault_header_is_not_retried(sandbox: Sandbox) -> None:
    recorded = Recorded()
    client = sandbox.client(recorded, test_fault="status=418")
    with pytest.raises(InvalidRequestError) as refused:
        client.customers.list()
    assert refused.value.details[0].field == "imprint-test-fault"
    assert (len(recorded.requests), recorded.waits) == (1, [])


# -- retries run out ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"), [(429, RateLimitError), (503, APIError)], ids=["429", "503"]
)
def test_when_retries_run_out_the_last_error_is_raised_with_its_request_id(
    sandbox: Sandbox, status: int, error: type[APIStatusError]
) -> None:
    recorded = Recorded()
    client = sandbox.client(recorded, max_retries=3)
    fault = client.test_helpers.faults.create(
        kind="error", operation="createSession", status=status, retry_after=2, until_deleted=True
    )
    recorded.requests.clear()
    recorded.responses.clear()
    partner_customer_id = pcid()
    with pytest.raises(error) as exhausted:
        client.customer_sessions.create(partner_customer_id=partner_customer_id)
    assert type(exhausted.value) is error
    assert exhausted.value.status == status
    assert exhausted.value.retry_after == 2.0
    ids = [r.headers["request-id"] for r in recorded.responses]
    assert len(ids) == 4
    assert len(set(ids)) == 4
    assert exhausted.value.request_id == ids[-1]  # the last attempt's
    assert len(set(recorded.keys())) == 1
    assert len(recorded.waits) == 3
    assert all(2.0 <= w <= 2.5 for w in recorded.waits), recorded.waits
    # Nothing ran; with the fault gone, the same key makes the session once.
    client.test_helpers.faults.delete(fault.id)
    key = recorded.keys()[0]
    assert key is not None
    created = client.customer_sessions.create(
        partner_customer_id=partner_customer_id, idempotency_key=key
    )
    assert sandbox.sessions_of(partner_customer_id) == [created.id]


def test_a_fault_header_on_every_attempt_runs_the_retries_out(sandbox: Sandbox) -> None:
    """``test_fault`` sends Imprint-Test-Fault on every attempt: a drop each time, retried (a
    read is safe to repeat) until max_retries, then the connection error."""
    recorded = Recorded()
    client = sandbox.client(recorded, test_fault="drop", max_retries=2)
    with pytest.raises(APIConnectionError):
        client.customers.list()
    assert [r.headers["imprint-test-fault"] for r in recorded.requests] == ["drop"] * 3
    assert len(recorded.waits) == 2
    assert client.with_options(test_fault=None).customers.list().data == []


# -- concurrency under faults ---------------------------------------------------------------------


def test_many_threads_retry_through_faults_and_each_makes_its_own_session(
    sandbox: Sandbox,
) -> None:
    recorded = Recorded()
    # More retries than the faults have uses: waits are recorded, not slept, so one thread may
    # meet several faults in a row.
    client = sandbox.client(recorded, max_retries=10)
    client.test_helpers.faults.create(
        kind="error", operation="createSession", status=503, retry_after=1, times=6
    )
    client.test_helpers.faults.create(kind="drop", operation="createSession", times=3)
    made: dict[int, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def work(n: int) -> None:
        try:
            barrier.wait()
            session = client.customer_sessions.create(partner_customer_id=f"THREAD_{n}")
            with lock:
                made[n] = session.id
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(set(made.values())) == 12
    assert all(f.remaining == 0 for f in client.test_helpers.faults.list())
    assert len(recorded.waits) == 9  # every fault's use was one retry
    for n, session_id in made.items():
        assert sandbox.sessions_of(f"THREAD_{n}") == [session_id]
    assert sorted(sandbox.audited("customer_session.created")) == sorted(made.values())


async def test_many_async_tasks_retry_through_faults_and_each_makes_its_own_session(
    sandbox: Sandbox,
) -> None:
    recorded = Recorded()
    async with httpx.AsyncClient() as http:
        client = sandbox.async_client(recorded, http, max_retries=10)
        await client.test_helpers.faults.create(
            kind="error", operation="createSession", status=429, retry_after=1, times=8
        )
        created = await asyncio.gather(
            *(client.customer_sessions.create(partner_customer_id=f"TASK_{n}") for n in range(20))
        )
        faults = (await client.test_helpers.faults.list()).data
    assert len({s.id for s in created}) == 20
    assert [f.remaining for f in faults] == [0]
    assert len(recorded.waits) == 8
    for n, session in enumerate(created):
        assert sandbox.sessions_of(f"TASK_{n}") == [session.id]
    assert sorted(sandbox.audited("customer_session.created")) == sorted(s.id for s in created)
