"""Webhooks with real processes on loopback: the worker killed mid-batch, ``serve``'s in-process
worker (on by default on every store), a separate ``worker`` beside ``serve --no-worker``, and the
``webhooks`` CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from conftest import _REGISTRY
from e2e.conftest import BIN, Deployment, cli
from imprint_sessions.clock import SystemClock
from imprint_sessions.config import Settings
from imprint_sessions.domain.events import record_event
from imprint_sessions.storage.db import open_database
from webhook_receiver import Receiver, Reply, receiving


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        env="sandbox",
        data_dir=Path(env["IMPRINT_DATA_DIR"]),
        database_url=env.get("IMPRINT_DATABASE_URL"),
    )


def record_events(env: dict[str, str], partner_id: str, count: int) -> list[str]:
    """``count`` events written to the deployment's outbox, as its own code would."""

    async def work() -> list[str]:
        database = await open_database(settings_of(env))
        try:
            async with database.unit_of_work() as uow:
                ids = [
                    (
                        await record_event(
                            uow.repositories,
                            partner_id=partner_id,
                            event_type="APPLICATION",
                            data={"n": n, "status": "REJECTED"},
                            now=SystemClock().now_ms(),
                        )
                    ).id
                    for n in range(count)
                ]
                await uow.commit()
            return ids
        finally:
            await database.close()

    return asyncio.run(work())


def delivery_statuses(env: dict[str, str]) -> dict[str, str]:
    """Event id -> its delivery's status, read straight from the database."""

    async def work() -> dict[str, str]:
        database = await open_database(settings_of(env))
        try:
            repos = database.repositories
            found: dict[str, str] = {}
            for partner in await repos.list_partners():
                page = await repos.list_webhook_events(partner.id, _page(1000))
                assert page is not None
                for event in page.items:
                    for delivery in await repos.list_webhook_deliveries(event.id):
                        found[event.id] = delivery.status
            return found
        finally:
            await database.close()

    return asyncio.run(work())


def _page(limit: int) -> Any:
    from imprint_sessions.storage.records import PageRequest

    return PageRequest(limit=limit)


def cli_json(env: dict[str, str], *args: str) -> Any:
    result = cli(env, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def new_partner_with_endpoint(env: dict[str, str], url: str) -> tuple[str, str, str]:
    """``(partner id, endpoint id, secret)`` through the CLI."""
    partner = cli_json(env, "partners", "create", "--name", "Hooked")
    endpoint = cli_json(env, "webhooks", "add", "--partner", partner["id"], "--url", url)
    _REGISTRY.remember(endpoint["secret"])
    return partner["id"], endpoint["id"], endpoint["secret"]


def start_worker(
    deployment: Deployment, *args: str, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    err = deployment.tmp / f"worker-{time.monotonic_ns()}.err"
    with err.open("wb") as stderr:
        process = subprocess.Popen(
            [str(BIN), "worker", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    deployment_logs.append(err)
    return process


deployment_logs: list[Path] = []


@pytest.fixture(autouse=True)
def _collect_worker_logs() -> Any:
    yield
    for path in deployment_logs:
        if path.exists():
            _REGISTRY.extra_logs.append(path.read_text())
    deployment_logs.clear()


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_only_what_was_in_flight(
    deployment: Deployment,
) -> None:
    env = {
        **deployment.env,
        "IMPRINT_WEBHOOK_TIMEOUT_SECONDS": "2",
        "IMPRINT_WEBHOOK_LEASE_SECONDS": "3",
    }
    with receiving(lambda body, headers: Reply(delay_seconds=0.1)) as receiver:
        partner_id, _, secret = new_partner_with_endpoint(env, receiver.url)
        event_ids = record_events(env, partner_id, 150)
        first = start_worker(deployment, "--concurrency", "8", env=env)
        wait_for(lambda: receiver.started >= 40 and receiver.in_flight >= 4, 60, "a busy batch")
        os.killpg(first.pid, signal.SIGKILL)  # mid-batch: several requests are in flight
        first.wait(10)
        wait_for(lambda: receiver.in_flight == 0, 10, "the receiver to finish what it had")
        seen_before_restart = Counter(receiver.event_ids())
        recorded = delivery_statuses(env)
        in_flight = {e for e in seen_before_restart if recorded[e] != "delivered"}
        assert in_flight, "the kill should have caught attempts in flight"

        second = start_worker(deployment, "--concurrency", "8", env=env)
        try:
            wait_for(lambda: set(receiver.event_ids()) >= set(event_ids), 90, "every event")
            wait_for(lambda: set(delivery_statuses(env).values()) == {"delivered"}, 30, "records")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0
    received = Counter(receiver.event_ids())
    assert set(received) == set(event_ids)  # nothing lost
    duplicated = {e for e, n in received.items() if n > 1}
    assert duplicated <= in_flight  # repeated only where an attempt was in flight
    assert all(n <= 2 for n in received.values())
    webhook = Webhook(secret)
    by_event: dict[str, set[bytes]] = {}
    for request in receiver.received:
        assert webhook.verify(request.body, request.headers)["id"] == request.event_id
        by_event.setdefault(request.event_id, set()).add(request.body)
    assert all(len(b) == 1 for b in by_event.values())  # a repeat is the same event, same body


def _server_with_receiver(deployment: Deployment, receiver: Receiver, *args: str) -> Any:
    server = deployment.start(*args)
    key = server.api_key()
    created = httpx.post(
        f"{server.base_url}/v2/webhook_endpoints", json={"url": receiver.url}, auth=(key, "")
    )
    assert created.status_code == 200, created.text
    _REGISTRY.remember(created.json()["secret"])
    session = httpx.post(
        f"{server.base_url}/v2/customer_sessions",
        json={"partner_customer_id": "CUST_E2E"},
        auth=(key, ""),
    )
    assert session.status_code == 200, session.text
    _REGISTRY.remember(session.json()["client_secret"])
    return server, key, created.json()["secret"]


def _simulate(server: Any, key: str, status: str) -> None:
    response = httpx.post(
        f"{server.base_url}/v2/simulate_application",
        json={"partner_customer_id": "CUST_E2E", "status": status},
        auth=(key, ""),
        timeout=30,
    )
    assert response.status_code == 200, response.text


def test_serve_delivers_by_default_each_webhook_once_whatever_workers_says(
    deployment: Deployment,
) -> None:
    """Regression: ``serve`` on PostgreSQL used to deliver nothing unless given --with-worker.

    On PostgreSQL each of the two server processes runs a worker (SKIP LOCKED and leases share
    the outbox); on the embedded SQLite one process per database file delivers."""
    with receiving() as receiver:
        server, key, secret = _server_with_receiver(deployment, receiver, "--workers", "2")
        assert "Webhooks: delivered by this process" in server.stdout()
        for _ in range(5):
            _simulate(server, key, "OFFER_ACCEPTED")
        wait_for(lambda: len(receiver.received) >= 10, 30, "ten webhooks")
        time.sleep(1.5)  # anything more would be a duplicate
        assert server.stop() in (0, -signal.SIGTERM)
    assert len(receiver.received) == 10
    assert len(set(receiver.event_ids())) == 10
    kinds = Counter(json.loads(r.body)["object"] for r in receiver.received)
    assert kinds == {"APPLICATION": 5, "PAYMENT_METHOD": 5}
    for request in receiver.received:
        Webhook(secret).verify(request.body, request.headers)
    delivering = 2 if "IMPRINT_DATABASE_URL" in deployment.env else 1
    assert server.stderr().count('"msg":"webhook worker started"') == delivering


@pytest.mark.parametrize("deployment", ["postgresql"], indirect=True)
def test_serve_with_no_worker_leaves_delivery_to_the_worker_command(
    deployment: Deployment,
) -> None:
    with receiving() as receiver:
        server, key, _ = _server_with_receiver(deployment, receiver, "--no-worker")
        assert "Webhooks: NOT delivered by this process" in server.stdout()
        _simulate(server, key, "REJECTED")
        time.sleep(2)
        assert receiver.received == []  # --no-worker: this process delivers nothing
        worker = start_worker(deployment, env=deployment.env)
        try:
            wait_for(lambda: len(receiver.received) == 1, 30, "the webhook")
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(20) == 0
    assert json.loads(receiver.received[0].body)["data"]["status"] == "REJECTED"


def test_the_webhooks_cli_registers_lists_rotates_replays_disables_and_deletes(
    deployment: Deployment,
) -> None:
    env = deployment.env
    with receiving() as receiver:
        partner_id, endpoint_id, secret = new_partner_with_endpoint(env, receiver.url)
        assert secret.startswith("whsec_")
        (listed,) = cli_json(env, "webhooks", "list", "--partner", partner_id)
        assert listed["id"] == endpoint_id
        assert "secret" not in listed
        rotated = cli_json(env, "webhooks", "rotate-secret", endpoint_id, "--grace-seconds", "60")
        _REGISTRY.remember(rotated["secret"])
        assert rotated["secret"] != secret
        assert "previous_secret_expires_at" in rotated
        (event_id,) = record_events(env, partner_id, 1)
        once = cli(env, "worker", "--once")
        assert once.returncode == 0, once.stderr
        assert once.stdout.strip() == "handled 1 deliveries"
        (request,) = receiver.received
        for key in (secret, rotated["secret"]):  # the grace period: both sign
            Webhook(key).verify(request.body, request.headers)
        (delivery,) = cli_json(env, "webhooks", "deliveries", event_id)
        assert delivery["status"] == "DELIVERED"
        assert delivery["attempts"][0]["http_status"] == 200
        replay = cli_json(env, "webhooks", "replay", delivery["id"])
        assert (replay["replay_of"], replay["status"]) == (delivery["id"], "PENDING")
        events = cli_json(env, "webhooks", "events", "--partner", partner_id)
        assert [e["id"] for e in events["data"]] == [event_id]
        disabled = cli_json(env, "webhooks", "disable", endpoint_id)
        assert disabled["status"] == "DISABLED"
        deleted = cli_json(env, "webhooks", "delete", endpoint_id)
        assert deleted == {"id": endpoint_id, "deleted": True}
        assert cli_json(env, "webhooks", "list", "--partner", partner_id) == []
    refused = cli(env, "webhooks", "add", "--partner", partner_id, "--url", "ftp://x/")
    assert refused.returncode == 2
    assert "url: must be an http or https URL" in refused.stderr
