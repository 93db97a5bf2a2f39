"""A worker of ``serve --workers 2`` that dies is replaced, and the supervisor's log says so.

Found by the soak: on a starved machine uvicorn's supervisor replaced a worker that was slow to
answer its health check, and nothing in the server's log said so, because the supervisor
process never configured logging (its INFO records fell below the last-resort WARNING handler).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from e2e.conftest import Server, open_deployment

STARTED_RE = re.compile(r"^Started server process \[(\d+)\]$")


def _records(server: Server) -> list[dict[str, object]]:
    """The JSON lines of the server's stderr (every line is one; anything else fails)."""
    return [json.loads(line) for line in server.stderr().splitlines() if line.strip()]


def _started_workers(server: Server) -> set[int]:
    """Workers that logged their start and are still alive."""
    pids = set()
    for record in _records(server):
        found = STARTED_RE.match(str(record.get("msg", "")))
        if found and Path(f"/proc/{found.group(1)}").exists():
            pids.add(int(found.group(1)))
    return pids


def _wait_for(
    condition: Callable[[], bool], what: str, server: Server, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s:\n{server.stderr()}"
        time.sleep(0.2)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_supervisor_logs_it(tmp_path: Path) -> None:
    with open_deployment("sqlite", tmp_path) as deployment:
        server = deployment.start("--workers", "2")
        try:
            _wait_for(lambda: len(_started_workers(server)) == 2, "two workers", server)
            before = _started_workers(server)
            victim = min(before)
            os.kill(victim, signal.SIGKILL)

            def replaced() -> bool:
                return len(_started_workers(server) - before) == 1

            _wait_for(replaced, "a replacement worker", server)
            supervisor = [r for r in _records(server) if r.get("logger") == "uvicorn.error"]
            messages = [str(r["msg"]) for r in supervisor]
            assert f"Child process [{victim}] died" in messages, messages
            assert f"Started parent process [{server.process.pid}]" in messages, messages
            assert httpx.get(f"{server.base_url}/readyz", timeout=10).status_code == 200
        finally:
            server.stop()
        # Stopping is logged by the supervisor too (SIGTERM from stop()).
        messages = [str(r.get("msg")) for r in _records(server)]
        assert "Received SIGTERM, exiting." in messages, messages
