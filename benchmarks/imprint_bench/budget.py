"""The CPU budget of a request (``benchmarks/run --budget``), measured during the measured run.

- **Where the server's CPU goes**: py-spy samples the server (only samples holding the GIL: its
  Python work, and the C it calls without releasing the GIL) and each sample is put in the
  category of the deepest frame on its stack that names one (``CATEGORIES``): a sample in
  asyncpg called from the route is "SQL client", a log record formatted from the access log is
  "logging". The samples' shares of the GIL-held time, times the server's Python CPU, give
  microseconds per request; what the server used beyond the GIL-held time (system calls made
  without the GIL, and C code that released it) is its own line.
- **System calls**: ``perf stat -e raw_syscalls:sys_enter`` on the server's processes (a
  counter, not a trace: it costs the server next to nothing), divided by the requests answered.
- **SQL round trips**: the server's own count of pooled database checkouts over the run
  (``imprint_db_pool_wait_seconds_count`` on ``/metrics``), divided by the requests. Each
  statement of the hot paths runs on its own (autocommit: one checkout, one round trip); a
  transaction of several statements would count once, and none of the measured paths has one.
  (PostgreSQL's ``pg_stat_database`` was tried first: its counters reach the view up to 10 s
  late, so a run's figures came out short.)
"""

from __future__ import annotations

import re
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

# (category, patterns): a frame matching any pattern (a regular expression searched in py-spy's
# "function (path:line)") belongs to the category. The deepest matching frame of a stack
# decides, but the event loop's frames (the root of every stack, and asyncio's helpers called by
# the rest, such as a pool's wait_for) only where no other category matched.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "logging",
        (r"\(logging/", r"imprint_sessions/logs\.py", r"^RequestIdMiddleware\._log "),
    ),
    ("metrics", ("prometheus_client", "imprint_sessions/observability/")),
    (
        "SQL client",
        ("asyncpg", "imprint_sessions/storage/", "sqlite3", "sqlalchemy"),
    ),
    (
        "validation",
        (
            "pydantic",
            "imprint_sessions/json_body.py",
            "imprint_sessions/validation.py",
            "email_validator",
            "phonenumbers",
        ),
    ),
    (
        "serialization",
        ("imprint_sessions/wire/", "orjson", "to_json", "starlette/responses.py"),
    ),
    (
        "auth and rate limit",
        (
            "imprint_sessions/partner_api/auth.py",
            "imprint_sessions/domain/api_keys.py",
            "imprint_sessions/ratelimit.py",
            "imprint_sessions/credentials.py",
            "imprint_sessions/client_api/auth.py",
            "hmac",
        ),
    ),
    (
        "HTTP server and event loop",
        ("uvicorn/", "httptools", "asyncio/", "uvloop", "granian", "selectors"),
    ),
)
OTHER = "framework and domain (the rest)"
OUTSIDE_GIL = "outside the GIL (system calls, C without the GIL)"
ORDER = [name for name, _ in CATEGORIES] + [OTHER, OUTSIDE_GIL]


LOOP = CATEGORIES[-1][0]
_COMPILED = [(name, [re.compile(p) for p in patterns]) for name, patterns in CATEGORIES]


def category_of(frames: list[str]) -> str:
    found: str | None = None
    in_loop = False
    for frame in frames:
        for name, patterns in _COMPILED:
            if any(p.search(frame) for p in patterns):
                if name == LOOP:
                    in_loop = True
                else:
                    found = name
                break
    return found or (LOOP if in_loop else OTHER)


def categorise(raw: Path) -> tuple[Counter[str], int]:
    """Samples per category from py-spy's raw (collapsed) output, and the total."""
    counts: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        counts[category_of(stack.split(";"))] += count
    return counts, total


def start_syscall_counter(pids: list[int], seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """``perf stat`` counting the system calls of ``pids`` for ``seconds``."""
    return subprocess.Popen(
        ["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-o", str(out),
         "-p", ",".join(map(str, pids)), "--", "sleep", str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def read_syscalls(out: Path) -> int | None:
    for line in out.read_text().splitlines() if out.exists() else []:
        fields = line.split(",")
        if len(fields) > 2 and fields[2] == "raw_syscalls:sys_enter" and fields[0].isdigit():
            return int(fields[0])
    return None


def perf_available() -> str | None:
    """None when ``perf`` can count system calls here, else why not."""
    try:
        proc = subprocess.run(
            ["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "--", "true"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"perf: {exc} (apt-get install linux-perf)"
    if proc.returncode != 0 or not re.search(r"^\d+,", proc.stderr, re.M):
        return f"perf cannot count system calls here: {proc.stderr.strip()[:200]}"
    return None


def pool_checkouts(base_url: str) -> float:
    """The server's pooled database checkouts so far (every process's, summed)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    found = re.search(r"^imprint_db_pool_wait_seconds_count(?:\{[^}]*\})? (\S+)$", text, re.M)
    if not found:
        raise ValueError("/metrics has no imprint_db_pool_wait_seconds_count")
    return float(found.group(1))


def budget(
    *,
    counts: Counter[str],
    total_samples: int,
    sample_rate: int,
    seconds: float,
    server_cores: float,
    rps: float,
    syscalls: int | None,
    requests: int,
    checkouts: float | None,
) -> dict[str, Any]:
    """Microseconds of server CPU per request by category, and the per-request counts."""
    gil_cores = min(server_cores, total_samples / sample_rate / seconds)
    per_request_us = server_cores / rps * 1e6
    python_us = gil_cores / rps * 1e6
    lines = {
        name: python_us * counts.get(name, 0) / total_samples if total_samples else 0.0
        for name in ORDER[:-1]
    }
    lines[OUTSIDE_GIL] = per_request_us - python_us
    return {
        "us_per_request": lines,
        "total_us": per_request_us,
        "syscalls_per_request": syscalls / requests if syscalls is not None else None,
        "sql_round_trips_per_request": checkouts / requests if checkouts is not None else None,
    }


def table(results: list[dict[str, Any]]) -> list[str]:
    """The budget of each measured scenario, a column each."""
    measured = [r for r in results if "budget" in r]
    if not measured:
        return []
    names = [f"{r['backend']} {r['scenario']}" for r in measured]
    lines = [
        "",
        "CPU budget per request (benchmarks/run --budget; microseconds of server CPU, py-spy's "
        "GIL-held samples by category, scaled to the CPU /proc counted):",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "--:|" * len(names),
    ]
    for name in ORDER:
        cells = [f"{r['budget']['us_per_request'][name]:.0f}" for r in measured]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        "| **total** | " + " | ".join(f"**{r['budget']['total_us']:.0f}**" for r in measured) + " |"
    )
    for key, label in (
        ("syscalls_per_request", "system calls per request"),
        ("sql_round_trips_per_request", "SQL round trips per request"),
    ):
        cells = ["-" if r["budget"][key] is None else f"{r['budget'][key]:.2f}" for r in measured]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines
