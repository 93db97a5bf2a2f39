"""domain/faults.py on a real database: uses are taken atomically across processes' pools, the
oldest matching fault first; the per-process index asks the database at most once a second
(one query shared by concurrent requests) and sees its own declarations at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from conftest import Harness
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.domain import faults
from imprint_sessions.domain.faults import FaultDeclaration, FaultIndex
from imprint_sessions.storage.db import Database, open_database
from imprint_sessions.storage.records import FaultTarget
from imprint_sessions.storage.repositories import Repositories


@pytest.fixture
async def second_database(settings: Settings) -> AsyncIterator[Database]:
    """The same database through a pool of its own, as another ``serve`` process has."""
    database = await open_database(settings)
    yield database
    await database.close()


async def declare(h: Harness, partner_id: str, **fields: object) -> str:
    fault = await faults.declare_fault(
        h.services.database.repositories,
        clock=h.services.clock,
        partner_id=partner_id,
        declaration=FaultDeclaration(**fields),  # type: ignore[arg-type]
    )
    return fault.id


async def test_racing_pools_take_exactly_the_uses_a_fault_has(
    harness: Harness, second_database: Database
) -> None:
    partner_id, _ = await harness.new_partner()
    await declare(harness, partner_id, kind="error", operation="getSession", status=503, times=7)
    pools = [harness.services.database.repositories, second_database.repositories]
    taken = await asyncio.gather(
        *(pools[n % 2].consume_operation_fault(partner_id, "getSession") for n in range(40))
    )
    assert len([fault for fault in taken if fault is not None]) == 7
    assert sorted(f.remaining for f in taken if f is not None) == [0, 1, 2, 3, 4, 5, 6]
    assert await pools[1].consume_operation_fault(partner_id, "getSession") is None


async def test_the_oldest_matching_fault_is_used_first_and_only_by_its_kind(
    harness: Harness, clock: ManualClock
) -> None:
    partner_id, _ = await harness.new_partner()
    first = await declare(harness, partner_id, kind="drop", operation="createSession")
    clock.advance(ms=1)
    second = await declare(harness, partner_id, kind="delay", operation="createSession", delay_ms=5)
    clock.advance(ms=1)
    await declare(harness, partner_id, kind="hosted_outcome", outcome="IN_PROGRESS")
    repos = harness.services.database.repositories
    used = [await repos.consume_operation_fault(partner_id, "createSession") for _ in range(3)]
    assert [fault.id if fault else None for fault in used] == [first, second, None]
    assert await repos.consume_operation_fault(partner_id, "getSession") is None
    hosted = await repos.consume_hosted_fault(partner_id)
    assert hosted is not None
    assert hosted.outcome == "IN_PROGRESS"


class CountingRepositories:
    """The real repositories, counting the index's one query (a wrapper, not a stand-in)."""

    def __init__(self, repos: Repositories) -> None:
        self.repos = repos
        self.queries = 0

    async def list_fault_targets(self) -> list[FaultTarget]:
        self.queries += 1
        await asyncio.sleep(0.01)  # concurrent requests arrive while it runs
        return await self.repos.list_fault_targets()


async def test_the_index_asks_once_a_second_and_concurrent_requests_share_the_answer(
    harness: Harness,
) -> None:
    partner_id, _ = await harness.new_partner()
    now = [100.0]
    index = FaultIndex(ttl_seconds=1.0, monotonic=lambda: now[0])
    counting = CountingRepositories(harness.services.database.repositories)
    repos: Repositories = counting  # type: ignore[assignment]
    found = await asyncio.gather(*(index.targets(repos) for _ in range(20)))
    assert counting.queries == 1
    assert all(targets is found[0] for targets in found)
    assert partner_id not in found[0].operations
    # Declared elsewhere (another process, the CLI): unseen until the second is up.
    await declare(harness, partner_id, kind="error", operation="listCustomers", status=500)
    now[0] += 0.9
    assert partner_id not in (await index.targets(repos)).operations
    assert counting.queries == 1
    now[0] += 0.2
    assert (await index.targets(repos)).operations[partner_id] == {"listCustomers"}
    assert counting.queries == 2
    # Declared through this process: seen at once.
    await faults.declare_fault(
        harness.services.database.repositories,
        clock=harness.services.clock,
        partner_id=partner_id,
        declaration=FaultDeclaration(kind="hosted_outcome", outcome="IN_PROGRESS"),
        index=index,
    )
    assert partner_id in (await index.targets(repos)).hosted
    assert counting.queries == 3


async def test_a_partner_without_faults_costs_no_query_while_the_index_is_fresh(
    harness: Harness,
) -> None:
    partner_id, _ = await harness.new_partner()
    busy_partner, _ = await harness.new_partner()
    await declare(harness, busy_partner, kind="error", operation="getSession", status=503)
    index = FaultIndex()
    repos = harness.services.database.repositories
    assert (
        await faults.consume_operation_fault(
            repos, index, partner_id=busy_partner, operation="getSession"
        )
        is not None
    )
    counting = CountingRepositories(repos)
    for _ in range(100):
        assert (
            await faults.consume_operation_fault(
                counting,  # type: ignore[arg-type]
                index,
                partner_id=partner_id,
                operation="getSession",
            )
            is None
        )
    assert counting.queries == 0
