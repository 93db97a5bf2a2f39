"""``serve --workers 2``: /metrics adds up every worker's counts whichever worker answers the
scrape, keeps a killed worker's counts and forgets its live gauges, starts from a clean
directory, and removes the directory it made when it stops."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.parser import text_string_to_metric_families

from e2e.conftest import Deployment, Server
from reliability.test_worker_restarts import _started_workers

ROUTE = "/healthz"


def _wait_for(
    condition: Callable[[], bool], what: str, server: Server, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s:\n{server.stderr()}"
        time.sleep(0.2)


def healthz_total(server: Server) -> float:
    """The /healthz requests /metrics reports (one scrape, answered by any worker)."""
    text = httpx.get(f"{server.base_url}/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "imprint_http_request_duration_seconds_count"
                and sample.labels["route"] == ROUTE
            ):
                total += sample.value
    return total


def metrics_dir(pid: int) -> Path:
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    for entry in environ:
        if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
            return Path(entry.partition(b"=")[2].decode())
    raise AssertionError(f"worker {pid} has no PROMETHEUS_MULTIPROC_DIR")


def served_by(directory: Path, pid: int) -> float:
    """The /healthz requests worker ``pid`` wrote to its own file."""
    path = directory / f"histogram_{pid}.db"
    if not path.exists():
        return 0.0
    total = 0.0
    for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
        _, name, labels, _ = json.loads(key)  # buckets are stored apart: their sum is the count
        if name.endswith("_bucket") and labels.get("route") == ROUTE:
            total += value
    return total


def test_two_workers_metrics_add_up_whichever_answers_and_survive_a_killed_worker(
    deployment: Deployment,
) -> None:
    server = deployment.start("--workers", "2")
    _wait_for(lambda: len(_started_workers(server)) == 2, "two workers", server)
    workers = _started_workers(server)
    directory = metrics_dir(min(workers))
    assert directory == metrics_dir(max(workers))
    assert directory.name.startswith("imprint-metrics-")

    sent = 0
    # New connections until both workers have answered some (the kernel spreads them).
    while sent < 20 or not all(served_by(directory, pid) for pid in workers):
        assert sent < 2000, {pid: served_by(directory, pid) for pid in workers}
        assert httpx.get(f"{server.base_url}{ROUTE}", timeout=10).status_code == 200
        sent += 1
    # Each request is counted just after its response is sent: a moment later, all are.
    _wait_for(lambda: sum(served_by(directory, pid) for pid in workers) == sent, "counted", server)
    # Every scrape, whichever worker answers it, reports every worker's requests.
    for _ in range(10):
        assert healthz_total(server) == sent

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    _wait_for(lambda: len(_started_workers(server) - workers) == 1, "a replacement", server)
    assert healthz_total(server) == sent  # a counter never goes back
    # The dead worker's live gauges (its pool in use) are forgotten, not summed for ever.
    assert not list(directory.glob(f"gauge_live*_{victim}.db"))
    assert list(directory.glob(f"histogram_{victim}.db"))

    assert server.stop() == 0
    assert not directory.exists()  # the run's own directory goes with it


def test_an_operators_directory_is_emptied_of_a_previous_runs_values(
    deployment: Deployment, tmp_path: Path
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    # 1000 /healthz requests of a dead run's process 1: summed in, unless the file goes.
    stale = MmapedDict(str(directory / "histogram_1.db"))
    key = mmap_key(
        "imprint_http_request_duration_seconds",
        "imprint_http_request_duration_seconds_bucket",
        ["route", "method", "status", "le"],
        [ROUTE, "GET", "200", "0.001"],
        "stale",
    )
    stale.write_value(key, 1000.0, 0.0)
    stale.close()
    deployment.env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    server = deployment.start("--workers", "2")
    try:
        assert not (directory / "histogram_1.db").exists()
        for _ in range(3):
            httpx.get(f"{server.base_url}{ROUTE}", timeout=10)
        assert healthz_total(server) == 3
    finally:
        server.stop()
    assert directory.exists()  # the operator's: kept
