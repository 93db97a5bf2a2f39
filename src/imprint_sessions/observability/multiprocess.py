"""Where ``serve --workers N`` keeps its workers' metrics (Prometheus multi-process mode).

``serve`` prepares it before the workers start: the operator's ``PROMETHEUS_MULTIPROC_DIR`` if set
(emptied of a previous run's files: stale counters would be added to this run's), else a fresh
private directory of this run's own, removed when serve exits. A worker that dies is forgotten at
the next scrape: its live gauges (pool in use) are removed, its counters kept (they counted real
requests, and a counter must never go down).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_LIVE_GAUGE_FILE = re.compile(r"^gauge_live\w*?_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def forget_dead_processes(path: str) -> list[int]:
    """Remove the live gauges of every process of ``path`` that has exited; their pids."""
    from prometheus_client.multiprocess import mark_process_dead

    dead = []
    for name in os.listdir(path):
        match = _LIVE_GAUGE_FILE.match(name)
        if match and not _alive(pid := int(match.group(1))):
            mark_process_dead(pid, path)  # type: ignore[no-untyped-call]
            dead.append(pid)
    return dead


def clear(path: Path) -> None:
    """Remove a previous run's value files from ``path`` (nothing else in it)."""
    for stale in glob.glob(str(path / "*.db")):
        with contextlib.suppress(FileNotFoundError):
            os.remove(stale)


@contextlib.contextmanager
def multiprocess_metrics(workers: int) -> Iterator[Path | None]:
    """Set up multi-process metrics for a ``serve`` of ``workers`` processes (the directory, or
    None with one worker and no PROMETHEUS_MULTIPROC_DIR: then values stay in memory)."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        clear(path)
        yield path
        return
    if workers <= 1:
        yield None
        return
    path = Path(tempfile.mkdtemp(prefix="imprint-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)  # the workers inherit it
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)
