"""What the client retries, how long it waits, and what every attempt of one call sends.

Real causes where the service has them (its rate limit's 429, two calls racing for one
Idempotency-Key); a gateway in front of the real app (``gateway.py``) for the failures that come
from outside it (a 502, an answer lost after the service ran the request, a dropped connection).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from conftest import _REGISTRY
from imprint_client import (
    APIConnectionError,
    APIError,
    APIStatusError,
    ConflictError,
    Imprint,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    _core,
)
from imprint_client import _operations as ops
from imprint_client._core import MAX_RETRY_AFTER, MAX_RETRY_DELAY, parse_retry_after, retry_delay
from imprint_client.models import ConflictErrorBody
from sdk.conftest import AsyncApp, RetryLog, SyncApp
from sdk.gateway import AsyncGateway, Gateway, Script

UUID4_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def pcid() -> str:
    return f"CUST_{secrets.token_hex(4)}"


def gateway_client(
    sync_app: SyncApp, actions: list[str], **options: object
) -> tuple[Imprint, Script]:
    script = Script(list(actions))
    api_key = sync_app.new_partner()[1]
    client = sync_app.client(api_key, transport=Gateway(sync_app.transport(), script), **options)
    return client, script


# -- the backoff ----------------------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_is_jittered_and_capped() -> None:
    for retries_done in range(8):
        ceiling = min(MAX_RETRY_DELAY, 0.5 * 2**retries_done)
        low = retry_delay(retries_done, None, rand=lambda: 0.0)
        high = retry_delay(retries_done, None, rand=lambda: 0.999999)
        assert low == pytest.approx(ceiling / 2)
        assert high == pytest.approx(ceiling, rel=1e-5)
    assert retry_delay(30, None, rand=lambda: 0.999999) == pytest.approx(MAX_RETRY_DELAY, rel=1e-5)
    spread = {retry_delay(2, None) for _ in range(50)}
    assert len(spread) > 40  # jittered: clients retrying together do not stay together


def test_a_retry_after_is_waited_in_full_plus_a_little_jitter() -> None:
    assert retry_delay(0, 3.0, rand=lambda: 0.0) == 3.0
    assert retry_delay(5, 3.0, rand=lambda: 0.999999) == pytest.approx(3.75, rel=1e-5)
    assert retry_delay(0, MAX_RETRY_AFTER, rand=lambda: 0.0) == MAX_RETRY_AFTER
    assert retry_delay(0, MAX_RETRY_AFTER + 1) is None  # too long to wait inside a call


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(" 10 ") == 10.0
    in_five = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    parsed = parse_retry_after(in_five)
    assert parsed is not None
    assert 3.5 < parsed <= 5.0
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=5), usegmt=True)
    assert parse_retry_after(past) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# -- the gateway: 502/503/504, lost answers, dropped and refused connections ----------------------


def test_a_read_is_retried_through_502s_and_503s(sync_app: SyncApp) -> None:
    client, script = gateway_client(sync_app, ["502", "503"])
    assert client.customers.list().data == []
    assert [s.action for s in script.seen] == ["502", "503", "pass"]


def test_retries_stop_after_max_retries_with_the_last_error(sync_app: SyncApp) -> None:
    client, script = gateway_client(sync_app, ["502", "504", "502", "502"], max_retries=2)
    with pytest.raises(APIError) as failed:
        client.customers.list()
    assert failed.value.status == 502
    assert failed.value.body is None  # the gateway's page, not the API's JSON
    assert len(script.seen) == 3


def test_a_keyed_post_whose_answer_was_lost_is_replayed_not_run_twice(sync_app: SyncApp) -> None:
    """The service created the session, then the gateway lost the answer (504): the retry, with
    the same key, gets the recorded response; the customer has one session."""
    client, script = gateway_client(sync_app, ["504-after"])
    partner_customer_id = pcid()
    created = client.customer_sessions.create(partner_customer_id=partner_customer_id)
    first, second = script.seen
    assert (first.status, first.replayed) == (200, False)
    assert (second.status, second.replayed) == (200, True)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    customer = client.customers.list(partner_customer_id=partner_customer_id).data[0]
    assert [s.id for s in client.customer_sessions.list(customer.id)] == [created.id]


def test_a_keyed_post_whose_connection_dropped_is_replayed_not_run_twice(
    sync_app: SyncApp,
) -> None:
    client, script = gateway_client(sync_app, ["drop-after"])
    partner_customer_id = pcid()
    client.customer_sessions.create(partner_customer_id=partner_customer_id)
    assert [s.replayed for s in script.forwarded()] == [False, True]
    customer_id = client.customers.list(partner_customer_id=partner_customer_id).data[0].id
    assert len(client.customer_sessions.list(customer_id).data) == 1


def test_a_once_only_post_is_not_retried_after_it_may_have_run(sync_app: SyncApp) -> None:
    """createWebhookEndpoint returns its secret once: after a dropped connection it may exist
    (it does), so it is not sent again; the caller decides (list, delete, create)."""
    client, script = gateway_client(sync_app, ["drop-after"])
    with pytest.raises(APIConnectionError) as dropped:
        client.webhook_endpoints.create(url="http://127.0.0.1:9/hooks")
    assert "ReadError" in str(dropped.value)
    assert len(script.seen) == 1
    assert len(client.webhook_endpoints.list().data) == 1  # it had run
    for action in ("502", "504-after"):
        client, script = gateway_client(sync_app, [action])
        with pytest.raises(APIError) as lost:
            client.api_keys.create()
        assert lost.value.status in (502, 504)
        assert len(script.seen) == 1


def test_a_once_only_post_is_retried_when_it_cannot_have_run(sync_app: SyncApp) -> None:
    """Connection refused (nothing sent) and a 503 (nothing done): sent again; one sandbox."""
    client, script = gateway_client(sync_app, ["refuse", "503"])
    sandbox = client.test_helpers.sandboxes.create(name="once")
    _REGISTRY.remember(sandbox.api_key)
    assert [s.action for s in script.seen] == ["refuse", "503", "pass"]
    assert [s.id for s in client.test_helpers.sandboxes.list()] == [sandbox.id]
    assert all("idempotency-key" not in s.headers for s in script.seen)


def test_advancing_a_test_clock_is_sent_again_only_where_it_cannot_have_run(
    sync_app: SyncApp,
) -> None:
    """advanceTestClock takes no Idempotency-Key, and advancing by seconds twice moves the clock
    twice as far: after a dropped connection or a lost answer it is not sent again (it had run:
    the clock moved once); after a refused connection or a 503 (nothing ran) it is."""
    client, script = gateway_client(sync_app, [])
    sandbox = client.test_helpers.sandboxes.create(
        test_clock={"frozen_time": "2031-05-01T09:00:00Z"}
    )
    _REGISTRY.remember(sandbox.api_key)
    sandboxes = client.test_helpers.sandboxes
    for action in ("drop-after", "504-after"):
        script.actions[:] = [action]
        del script.seen[:]
        with pytest.raises((APIConnectionError, APIError)):
            sandboxes.advance_test_clock(sandbox.id, seconds=60)
        assert [s.action for s in script.seen] == [action]
    assert sandboxes.retrieve_test_clock(sandbox.id).frozen_time == "2031-05-01T09:02:00.000Z"
    script.actions[:] = ["refuse", "503"]
    del script.seen[:]
    advanced = sandboxes.advance_test_clock(sandbox.id, seconds=60)
    assert advanced.frozen_time == "2031-05-01T09:03:00.000Z"  # moved once more, not three times
    assert [s.action for s in script.seen] == ["refuse", "503", "pass"]
    assert all("idempotency-key" not in s.headers for s in script.seen)


def test_a_delete_is_retried_and_a_lost_answer_shows_as_not_found(sync_app: SyncApp) -> None:
    """A delete is safe to repeat; after a lost answer the repeat finds it gone (404)."""
    client, script = gateway_client(sync_app, [])
    endpoint = client.webhook_endpoints.create(url="http://127.0.0.1:9/hooks")
    assert endpoint.secret is not None
    _REGISTRY.remember(endpoint.secret)
    script.actions[:] = ["504-after"]
    with pytest.raises(NotFoundError):
        client.webhook_endpoints.delete(endpoint.id)
    assert [s.status for s in script.seen[-2:]] == [200, 404]
    assert client.webhook_endpoints.list().data == []


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (
            lambda c: c.customer_sessions.create(customer_history={"email": "nope"}),
            InvalidRequestError,
        ),
        (lambda c: c.customers.retrieve("00000000-0000-4000-8000-000000000000"), NotFoundError),
        (lambda c: c.api_keys.delete("00000000-0000-4000-8000-000000000000"), NotFoundError),
    ],
)
def test_an_error_that_cannot_succeed_is_not_retried(
    sync_app: SyncApp, call: object, error: type[Exception]
) -> None:
    client, script = gateway_client(sync_app, [])
    with pytest.raises(error):
        call(client)  # type: ignore[operator]
    assert len(script.seen) == 1


def test_a_409_conflict_other_than_a_key_in_flight_is_not_retried(sync_app: SyncApp) -> None:
    client, script = gateway_client(sync_app, [])
    first, second = pcid(), pcid()
    client.customer_sessions.create(partner_customer_id=first)
    client.customer_sessions.create(partner_customer_id=second)
    customer = client.customers.list(partner_customer_id=second).data[0]
    before = len(script.seen)
    with pytest.raises(ConflictError) as taken:
        client.customers.update(customer.id, partner_customer_id=first)
    assert taken.value.type == "CUSTOMER_CONFLICT_ERROR"
    assert len(script.seen) == before + 1


async def test_the_async_client_replays_a_lost_answer_with_the_same_key(
    async_app: AsyncApp,
) -> None:
    script = Script(["504-after", "502"])
    _, api_key = await async_app.new_partner()
    client = async_app.client(api_key, transport=AsyncGateway(async_app.transport(), script))
    partner_customer_id = pcid()
    await client.customer_sessions.create(partner_customer_id=partner_customer_id)
    assert [s.action for s in script.seen] == ["504-after", "502", "pass"]
    assert len({s.headers["idempotency-key"] for s in script.seen}) == 1
    assert script.seen[-1].replayed
    with pytest.raises(APIConnectionError):
        await async_app.client(
            api_key, transport=AsyncGateway(async_app.transport(), Script(["drop-after"]))
        ).api_keys.create()


# -- the sandbox's test faults: the test_fault option (Imprint-Test-Fault), the sleep hook ---------


def test_test_fault_is_sent_on_every_attempt_and_the_sleep_hook_gets_each_wait(
    sync_app: SyncApp,
) -> None:
    """A 429 with Retry-After 3 on every attempt: each retry waits 3 s (plus at most a quarter),
    handed to ``sleep`` instead of slept; the last 429 is raised with its request id."""
    waits: list[float] = []
    sent: list[httpx.Request] = []
    api_key = sync_app.new_partner()[1]
    client = sync_app.client(
        api_key, sent=sent, test_fault="status=429; retry_after=3", sleep=waits.append
    )
    assert client.test_fault == "status=429; retry_after=3"
    assert "test_fault='status=429; retry_after=3'" in repr(client)
    with pytest.raises(RateLimitError) as limited:
        client.customers.list()
    assert [r.headers["imprint-test-fault"] for r in sent] == ["status=429; retry_after=3"] * 3
    assert len(waits) == 2
    assert all(3.0 <= w <= 3.75 for w in waits), waits
    assert limited.value.retry_after == 3.0
    assert limited.value.request_id is not None
    assert limited.value.request_id.startswith("req_")
    # The test helpers are never faulted, and the client does not send them the header.
    assert client.test_helpers.faults.list().data == []
    assert "imprint-test-fault" not in sent[-1].headers
    # A copy keeps the hook; test_fault=None sends no header.
    plain = client.with_options(test_fault=None)
    assert plain.customers.list().data == []
    assert "imprint-test-fault" not in sent[-1].headers


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("status=500", APIError, 500),
        ("status=404", InvalidRequestError, 400),  # the header itself is malformed
    ],
)
def test_a_forced_500_or_a_malformed_fault_header_is_not_retried(
    sync_app: SyncApp, fault: str, error: type[APIStatusError], status: int
) -> None:
    waits: list[float] = []
    sent: list[httpx.Request] = []
    client = sync_app.client(
        sync_app.new_partner()[1], sent=sent, test_fault=fault, sleep=waits.append
    )
    with pytest.raises(error) as failed:
        client.customer_sessions.create(partner_customer_id=pcid())
    assert type(failed.value) is error
    assert failed.value.status == status
    assert (len(sent), waits) == (1, [])
    assert client.with_options(test_fault=None).customers.list().data == []  # nothing was made


def test_a_test_fault_is_checked_before_anything_is_sent() -> None:
    for wrong in ("status=503\r\nX-Other: 1", "délai"):
        with pytest.raises(ValueError, match="test_fault"):
            Imprint("isk_test_" + "x" * 43, test_fault=wrong)


async def test_the_async_clients_sleep_hook_is_awaited_for_each_wait(async_app: AsyncApp) -> None:
    """A declared fault: two 503s (Retry-After 1) on createSession, then the call runs; the
    waits went to the hook, and the customer has the one session."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    client = await async_app.partner_client(sleep=sleep)
    fault = await client.test_helpers.faults.create(
        kind="error", operation="createSession", status=503, times=2
    )
    partner_customer_id = pcid()
    created = await client.customer_sessions.create(partner_customer_id=partner_customer_id)
    assert len(waits) == 2
    assert all(1.0 <= w <= 1.25 for w in waits), waits
    (listed,) = (await client.test_helpers.faults.list()).data
    assert (listed.id, listed.remaining) == (fault.id, 0)
    customer = (await client.customers.list(partner_customer_id=partner_customer_id)).data[0]
    assert [s.id for s in (await client.customer_sessions.list(customer.id)).data] == [created.id]


# -- 409 IDEMPOTENCY_KEY_IN_USE: two calls racing for one key -------------------------------------


async def test_calls_racing_for_one_idempotency_key_all_get_the_one_session(
    async_app: AsyncApp, retry_log: RetryLog
) -> None:
    """Several concurrent calls with one key: one runs, the others meet 409
    IDEMPOTENCY_KEY_IN_USE while it does and retry until it is recorded, then get its response.
    Tried a few rounds until a 409 was met (the race is real, so not every round has one)."""
    client = await async_app.partner_client(max_retries=6)
    met_in_flight = 0
    for _ in range(30):
        key = secrets.token_hex(8)
        body = {"partner_customer_id": pcid(), "metadata": {"order": key}}
        created = await asyncio.gather(
            *(client.customer_sessions.create(**body, idempotency_key=key) for _ in range(6))
        )
        assert len({(s.id, s.client_secret) for s in created}) == 1
        customer = (
            await client.customers.list(partner_customer_id=body["partner_customer_id"])
        ).data[0]
        assert len((await client.customer_sessions.list(customer.id)).data) == 1
        met_in_flight = sum("IDEMPOTENCY_KEY_IN_USE" in line for line in retry_log.lines())
        if met_in_flight:
            break
    assert met_in_flight, "no call met the key in flight in 30 rounds"


def test_only_a_keyed_call_retries_a_key_in_flight() -> None:
    """IDEMPOTENCY_KEY_IN_USE means "this call's own first attempt is still running" only for a
    call that sent a key; a call without one never meets it (and would not retry it)."""
    in_use = ConflictError(
        "409 IDEMPOTENCY_KEY_IN_USE: in flight",
        status=409,
        body=ConflictErrorBody(type="IDEMPOTENCY_KEY_IN_USE", message="in flight"),
    )
    other = ConflictError(
        "409 CUSTOMER_CONFLICT_ERROR: taken",
        status=409,
        body=ConflictErrorBody(type="CUSTOMER_CONFLICT_ERROR", message="taken"),
    )
    keyed = ops.CREATE_SESSION.call()
    assert keyed.idempotency_key is not None
    assert _core.status_error_is_retryable(keyed, in_use)
    assert not _core.status_error_is_retryable(keyed, other)
    assert not _core.status_error_is_retryable(ops.CREATE_KEY.call(), in_use)
    read = ops.GET_SESSION.call(path={"session_id": "x"})
    assert not _core.status_error_is_retryable(read, in_use)


# -- one client, many threads and tasks -----------------------------------------------------------


def test_one_client_serves_many_threads_at_once(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    shared = pcid()
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        try:
            mine = client.customer_sessions.create(partner_customer_id=f"{shared}-{n}")
            theirs = client.customer_sessions.create(partner_customer_id=shared)
            fetched = client.customer_sessions.retrieve(mine.id)
            with lock:
                results.append((mine.id, theirs.id, fetched == mine))
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == 16
    assert all(same for _, _, same in results)  # type: ignore[misc]
    assert len({mine for mine, _, _ in results}) == 16  # type: ignore[misc]
    assert client.customers.list(limit=1).total == 17  # 16 customers of their own, one shared


async def test_one_async_client_serves_many_tasks_at_once(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    created = await asyncio.gather(
        *(client.customer_sessions.create(partner_customer_id=f"T{n}") for n in range(24))
    )
    assert len({s.id for s in created}) == 24
    fetched = await asyncio.gather(*(client.customer_sessions.retrieve(s.id) for s in created))
    assert fetched == created
    assert (await client.customers.list(limit=1)).total == 24
