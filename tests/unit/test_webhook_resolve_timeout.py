"""A nameserver that does not answer costs a webhook registration (or a delivery's connect) a
bounded wait, never the OS resolver's 10 s or more.

Regression: the schemathesis CLI's fuzzing phase timed out (10 s) on `POST /v2/webhook_endpoints`
while the host it generated was being looked up. The resolver here is a stand-in for the
nameserver (outside the machine); the policy's own code runs.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from imprint_sessions.errors import InvalidRequest
from imprint_sessions.webhooks.targets import MAX_LOOKUPS_IN_FLIGHT, TargetPolicy, Unresolvable


async def never_answers(host: str, port: int) -> list[str]:
    await asyncio.Event().wait()  # a nameserver that never replies
    raise AssertionError("unreachable")


@pytest.fixture
def released(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The OS resolver stuck on a nameserver that does not answer, until the event is set."""
    event = threading.Event()

    def stuck_nameserver(*args: object, **kwargs: object) -> list[object]:
        event.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", stuck_nameserver)
    return event


def policy(*, production: bool) -> TargetPolicy:
    return TargetPolicy(production=production, resolver=never_answers, resolve_timeout_seconds=0.05)


async def test_a_lookup_that_never_answers_counts_as_not_resolving() -> None:
    with pytest.raises(Unresolvable, match=r"host did not resolve within 0\.05 s"):
        await asyncio.wait_for(policy(production=True).resolve("hooks.example.com", 443), 5)


async def test_production_refuses_the_registration_naming_the_wait() -> None:
    with pytest.raises(InvalidRequest) as refused:
        await asyncio.wait_for(policy(production=True).check_url("https://hooks.example.com/"), 5)
    assert refused.value.details == ["url: host did not resolve within 0.05 s"]


async def test_the_sandbox_registers_it_and_leaves_the_check_to_the_worker() -> None:
    await asyncio.wait_for(policy(production=False).check_url("https://hooks.example.com/"), 5)


def test_an_abandoned_lookup_holds_up_neither_the_loop_nor_its_shutdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: lookups ran in the loop's default executor, so after the 2 s bound gave up on
    # them they still held its threads, and asyncio.run (uvicorn's shutdown) waited for every one
    # until the OS resolver gave up: the schemathesis CLI's server "did not shut down".
    released = threading.Event()
    finished = threading.Event()

    def stuck_nameserver(*args: object, **kwargs: object) -> list[object]:
        released.wait(30)  # the OS resolver, stuck on a nameserver that does not answer
        finished.set()
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", stuck_nameserver)
    checks = TargetPolicy(production=True, resolve_timeout_seconds=0.05)

    async def register_and_connect() -> None:
        with pytest.raises(Unresolvable):
            await checks.resolve("hooks.example.com", 443)
        # The default executor is free for everything else that needs it.
        loop = asyncio.get_running_loop()
        assert await asyncio.wait_for(loop.run_in_executor(None, lambda: 42), 5) == 42

    try:
        asyncio.run(register_and_connect())  # returns: its shutdown did not wait for the lookup
        assert not finished.is_set()
    finally:
        released.set()
    assert finished.wait(5)  # and the abandoned lookup ends on its own


def test_lookups_past_the_limit_are_refused_at_once(released: threading.Event) -> None:
    checks = TargetPolicy(production=True, resolve_timeout_seconds=60)

    async def flood() -> list[BaseException | list[str]]:
        lookups = [
            asyncio.ensure_future(checks.resolve(f"h{n}.example.com", 443))
            for n in range(MAX_LOOKUPS_IN_FLIGHT + 3)
        ]
        await asyncio.sleep(0.2)
        early = [t for t in lookups if t.done()]  # refused without waiting
        released.set()
        await asyncio.gather(*lookups, return_exceptions=True)
        return [t.exception() or t.result() for t in early]

    try:
        early = asyncio.run(flood())
    finally:
        released.set()
    assert len(early) == 3
    assert all(isinstance(e, Unresolvable) for e in early)


def test_an_ip_address_needs_no_lookup_even_when_every_lookup_is_taken(
    released: threading.Event,
) -> None:
    """Regression: a receiver on 127.0.0.1 was refused ('host did not resolve within 2 s') while
    sixteen lookups of other endpoints' names waited on a slow nameserver (the schemathesis CLI
    run registers such names)."""
    checks = TargetPolicy(production=False, resolve_timeout_seconds=60)

    async def with_every_slot_taken() -> tuple[list[str], list[str]]:
        names = [
            asyncio.ensure_future(checks.resolve(f"h{n}.example.com", 443))
            for n in range(MAX_LOOKUPS_IN_FLIGHT)
        ]
        await asyncio.sleep(0.1)
        try:
            return (
                await asyncio.wait_for(checks.resolve("127.0.0.1", 8080), 1),
                await asyncio.wait_for(checks.resolve("::1", 8080), 1),
            )
        finally:
            released.set()
            await asyncio.gather(*names, return_exceptions=True)

    try:
        assert asyncio.run(with_every_slot_taken()) == (["127.0.0.1"], ["::1"])
    finally:
        released.set()
