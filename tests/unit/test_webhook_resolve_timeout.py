"""A nameserver that does not answer costs a webhook registration (or a delivery's connect) a
bounded wait, never the OS resolver's 10 s or more.

Regression: the schemathesis CLI's fuzzing phase timed out (10 s) on `POST /v2/webhook_endpoints`
while the host it generated was being looked up. The resolver here is a stand-in for the
nameserver (outside the machine); the policy's own code runs.
"""

from __future__ import annotations

import asyncio

import pytest

from imprint_sessions.errors import InvalidRequest
from imprint_sessions.webhooks.targets import TargetPolicy, Unresolvable


async def never_answers(host: str, port: int) -> list[str]:
    await asyncio.Event().wait()  # a nameserver that never replies
    raise AssertionError("unreachable")


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
