"""CPU and memory accounting from /proc, and waiting for a quiet machine."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

from imprint_bench.common import TICK, BenchError


def _stat(pid: int, task: str = "") -> tuple[int, int] | None:
    """(process group, utime + stime in ticks) of a live process (or one of its threads)."""
    try:
        path = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[2]), int(fields[11]) + int(fields[12])


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def group_cpu(pgid: int) -> dict[int, int]:
    """CPU ticks of every process in a process group (the server: uvicorn and its workers)."""
    found = {pid: _stat(pid) for pid in _pids()}
    return {pid: s[1] for pid, s in found.items() if s and s[0] == pgid}


def loop_thread_cpu(pids: list[int]) -> dict[int, int]:
    """CPU ticks of each server process's main thread: the event loop (requests, in Python)."""
    found = {pid: _stat(pid, str(pid)) for pid in pids}
    return {pid: s[1] for pid, s in found.items() if s}


def database_backends_cpu(dbname: str) -> dict[int, int]:
    """CPU ticks of the PostgreSQL backends connected to our database (their process titles
    name it), so other databases' work on a shared server is not counted as ours."""
    ticks = {}
    for pid in _pids():
        with contextlib.suppress(OSError):
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if title.startswith("postgres: ") and f" {dbname} " in title:
                s = _stat(pid)
                ticks[pid] = s[1] if s else 0
    return ticks


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """Ticks used between two snapshots by the processes alive at the second, in seconds."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / TICK


def rss_mb(pids: list[int]) -> float:
    total_kb = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024


def machine_busy_ticks() -> int:
    """Non-idle ticks of the whole machine since boot, all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values) - values[3] - values[4]  # less idle and iowait


def measure_cores(
    load: subprocess.Popen[str], seconds: int, server_pgid: int | None, dbname: str | None
) -> dict[str, float]:
    """CPU cores used while ``load`` (wrk, pgbench, the sqlite3 loop or the client-path driver)
    runs, from 1 s after its start to 1 s before its end (connections set up, none torn down):
    the server's processes and their event-loop threads, our database's backends, the load
    generator, the machine, and "other": the machine less all of ours (kernel threads,
    PostgreSQL's own background work, and anything else running, such as a test suite: near 0
    on a quiet machine)."""

    def snapshot() -> dict[str, dict[int, int]]:
        server = group_cpu(server_pgid) if server_pgid else {}
        return {
            "server": server,
            "event_loop": loop_thread_cpu(list(server)),
            "postgres": database_backends_cpu(dbname) if dbname else {},
            "load_generator": {load.pid: (_stat(load.pid) or (0, 0))[1]},
            "machine": {0: machine_busy_ticks()},
        }

    time.sleep(1)
    t0, before = time.monotonic(), snapshot()
    time.sleep(max(1, seconds - 2))
    after, wall = snapshot(), time.monotonic() - t0
    cores = {k: cpu_seconds(before[k], after[k]) / wall for k in before}
    ours = cores["server"] + cores["postgres"] + cores["load_generator"]
    cores["other"] = max(0.0, cores["machine"] - ours)
    cores["server_rss_mb"] = rss_mb(list(after["server"]))
    cores["load_generator_rss_mb"] = rss_mb([load.pid])
    return cores


def wait_for_quiet(max_cores: float, max_wait: float) -> None:
    """Wait (at most ``max_wait`` s; not at all if 0) until the machine, our server idle, uses
    under ``max_cores`` cores. Figures from a 2-core machine mean little while a test suite
    runs beside them."""
    if max_wait <= 0:
        return
    deadline = time.monotonic() + max_wait
    while True:
        t0, busy0 = time.monotonic(), machine_busy_ticks()
        time.sleep(2)
        busy = (machine_busy_ticks() - busy0) / TICK / (time.monotonic() - t0)
        if busy < max_cores or time.monotonic() > deadline:
            return
        print(f"   machine busy ({busy:.2f} cores used by other processes): waiting", flush=True)
        time.sleep(5)


def run_load(
    cmd: list[str],
    seconds: int,
    log_path: Path,
    *,
    env: dict[str, str] | None = None,
    server_pgid: int | None = None,
    dbname: str | None = None,
) -> tuple[str, dict[str, float]]:
    """Run a load generator for ``seconds``, measuring CPU mid-run; its output, and the cores."""
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )  # fmt: skip
    try:
        cores = measure_cores(proc, seconds, server_pgid, dbname)
        out = proc.communicate(timeout=seconds + 120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log_path.write_text(out)
    if proc.returncode != 0:
        raise BenchError(f"{Path(cmd[0]).name} failed (see {log_path}):\n{out[-2000:]}")
    return out, cores
