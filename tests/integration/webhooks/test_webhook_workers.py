"""Several workers on one database share the work without ever sending an event twice at once."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter

import pytest

from imprint_sessions.config import Settings
from imprint_sessions.storage.db import open_database
from imprint_sessions.storage.records import ClaimedDelivery
from imprint_sessions.webhooks.targets import TargetPolicy
from imprint_sessions.webhooks.worker import WebhookWorker
from webhook_receiver import Reply, receiving
from webhooks.conftest import Hooks


class CountingWorker(WebhookWorker):
    handled = 0

    async def _deliver(self, claimed: ClaimedDelivery) -> None:
        self.handled += 1
        await super()._deliver(claimed)


async def run_workers(hooks: Hooks, settings: Settings, *, workers: int, events: int) -> None:
    """``workers`` workers, each with its own connection pool (as on separate hosts), until
    every one of ``events`` events has been answered."""
    with receiving(lambda body, headers: Reply(delay_seconds=0.005)) as receiver:
        await hooks.register(receiver.url)
        event_ids = await hooks.emit(events)
        databases = [await open_database(settings) for _ in range(workers)]
        fleet = [
            CountingWorker(
                database,
                box=hooks.h.services.box,
                clock=hooks.h.services.clock,
                targets=TargetPolicy(production=False),
                timeout_seconds=5,
                lease_seconds=30,
                concurrency=8,
                rng=random.Random(n),
                poll_interval_seconds=0.05,
            )
            for n, database in enumerate(databases)
        ]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(worker.run(stop)) for worker in fleet]
        deadline = time.monotonic() + 120
        try:
            while len(receiver.received) < events and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for worker in fleet:
                await worker.aclose()
            for database in databases:
                await database.close()
    assert Counter(receiver.event_ids()) == Counter(event_ids)  # every event, exactly once
    assert max(receiver.max_in_flight_per_event.values()) == 1  # never twice at the same time
    assert sum(worker.handled for worker in fleet) == events
    assert all(worker.handled > 0 for worker in fleet), [w.handled for w in fleet]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.slow
async def test_two_workers_on_postgresql_over_500_events_never_send_one_twice(
    hooks: Hooks, settings: Settings
) -> None:
    await run_workers(hooks, settings, workers=2, events=500)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.slow
async def test_two_workers_on_sqlite_are_safe_too(hooks: Hooks, settings: Settings) -> None:
    await run_workers(hooks, settings, workers=2, events=200)
