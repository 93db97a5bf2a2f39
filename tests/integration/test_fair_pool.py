"""Pooled connections go to requests in the order they asked for one, on both stores.

asyncpg's own pool, like an ``asyncio.Queue`` of SQLite connections, lets a request that asks
while the longest waiter is being woken take the connection first (the waiter goes back to the
end of the line); under load that put some requests behind hundreds of newer ones
(BENCHMARKS.md, "Fair turns for the pool"). ``FairPool`` and ``Handles`` hand them out in order.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from imprint_sessions.errors import ServiceUnavailable
from imprint_sessions.storage.postgres import _keep_session_state
from imprint_sessions.storage.postgres.runner import FairPool
from imprint_sessions.storage.sqlite.runner import Handle, Handles
from imprint_sessions.storage.urls import asyncpg_dsn

WAIT_SECONDS = 5.0


@pytest.fixture
async def one_connection(pg_database_url: str) -> asyncpg.Pool:
    # Released as the service's pool releases: no reset round trip, so the connection is back
    # in asyncpg's queue within the same step of the event loop.
    pool = await asyncpg.create_pool(
        asyncpg_dsn(pg_database_url), min_size=1, max_size=1, reset=_keep_session_state
    )
    try:
        yield pool
    finally:
        await pool.close()


async def take_turn(
    pool: FairPool, order: list[object], name: object, *, statement: str | None = None
) -> None:
    """Take a connection, note who got it, run ``statement`` on it if given, give it back."""
    connection = await pool.acquire(WAIT_SECONDS)
    order.append(name)
    if statement is not None:
        await connection.fetchval(statement)
    await pool.release(connection)


async def test_a_released_connection_goes_to_the_longest_waiter_not_to_a_newcomer(
    one_connection: asyncpg.Pool,
) -> None:
    pool = FairPool(one_connection)
    order: list[object] = []

    async def ask(name: str) -> None:
        await take_turn(pool, order, name)

    held = await pool.acquire(WAIT_SECONDS)
    waiter = asyncio.create_task(ask("waiter"))
    for _ in range(5):
        await asyncio.sleep(0)  # the waiter is now queued for the one connection
    assert order == []
    # Release, and let a newcomer ask in the very step where asyncpg has put the connection
    # back but the woken waiter has not run yet: asyncpg alone gives it to the newcomer.
    released = asyncio.create_task(pool.release(held))
    await asyncio.sleep(0)
    newcomer = asyncio.create_task(ask("newcomer"))
    await asyncio.wait_for(asyncio.gather(released, waiter, newcomer), WAIT_SECONDS)
    assert order == ["waiter", "newcomer"]


async def test_many_waiters_are_served_in_the_order_they_asked(
    one_connection: asyncpg.Pool,
) -> None:
    pool = FairPool(one_connection)
    order: list[object] = []

    async def ask(number: int) -> None:
        await take_turn(pool, order, number, statement="SELECT 1")
        # Straight back in line, as a busy client's next request would be.
        await take_turn(pool, order, number)

    held = await pool.acquire(WAIT_SECONDS)
    tasks = []
    for number in range(10):
        tasks.append(asyncio.create_task(ask(number)))
        await asyncio.sleep(0)
    await pool.release(held)
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT_SECONDS)
    assert order == [*range(10), *range(10)]
    assert pool.usage() == (0, 1)


async def test_a_waiter_that_times_out_gives_its_place_up_and_gets_a_503(
    one_connection: asyncpg.Pool,
) -> None:
    pool = FairPool(one_connection)
    held = await pool.acquire(WAIT_SECONDS)
    with pytest.raises(ServiceUnavailable, match=r"no connection available within 0\.05 s"):
        await pool.acquire(0.05)
    await pool.release(held)
    # Nothing is left owed: the connection is there at once for the next request.
    connection = await asyncio.wait_for(pool.acquire(WAIT_SECONDS), 1.0)
    assert await connection.fetchval("SELECT 1") == 1
    await pool.release(connection)
    assert pool.usage() == (0, 1)


async def test_a_connection_that_cannot_be_opened_gives_its_place_back(
    pg_database_url: str,
) -> None:
    missing = pg_database_url.rpartition("/")[0] + "/imprint_no_such_database"
    raw = await asyncpg.create_pool(asyncpg_dsn(missing), min_size=0, max_size=1)
    pool = FairPool(raw)
    try:
        for _ in range(3):  # each attempt gets the one place, fails, and hands it on
            with pytest.raises(asyncpg.InvalidCatalogNameError):
                await pool.acquire(WAIT_SECONDS)
    finally:
        await raw.close()


async def test_sqlite_a_connection_put_back_goes_to_the_longest_waiter(tmp_path: Path) -> None:
    handles = Handles([Handle(tmp_path / "imprint.sqlite3", "FULL")])
    order: list[str] = []

    async def ask(name: str) -> None:
        handle = await handles.checkout()
        order.append(name)
        handles.checkin(handle)

    held = await handles.checkout()
    waiter = asyncio.create_task(ask("waiter"))
    for _ in range(5):
        await asyncio.sleep(0)
    # A newcomer scheduled just before the connection comes back runs first: an asyncio.Queue
    # would give it the connection, ahead of the waiter.
    newcomer = asyncio.create_task(ask("newcomer"))
    handles.checkin(held)
    await asyncio.wait_for(asyncio.gather(waiter, newcomer), WAIT_SECONDS)
    assert order == ["waiter", "newcomer"]
    assert handles.usage() == (0, 1)
    for handle in handles.all:
        await handle.close()
