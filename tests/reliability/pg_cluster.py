"""A private PostgreSQL server for tests that crash, restart or pause it.

The machine's shared server (``IMPRINT_TEST_DATABASE_URL``) must never be stopped by a test, so the
crash and outage tests get a cluster of their own: ``initdb`` into a temporary directory, started
on a free loopback port with ``fsync`` and ``synchronous_commit`` on (the durability under test),
run as the ``postgres`` user when the suite runs as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import IN_CI, dump_into_the_sweep


def _bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        path = Path(out.stdout.strip())
        if (path / "initdb").exists():
            return path
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
    return candidates[0].parent if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """One PostgreSQL server in a directory of its own; every method waits until it is done."""

    def __init__(self, bindir: Path, root: Path) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = _free_port()
        self._as_postgres = os.geteuid() == 0

    # -- processes -------------------------------------------------------------------------------
    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), *args, check=check)

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-instructions",
            "-E",
            "UTF8",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# imprint-sessions reliability tests\n"
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = on\n"
                "synchronous_commit = on\n"
                "full_page_writes = on\n"
                "shared_buffers = 16MB\n"
                "max_connections = 60\n"
            )

    def start(self) -> None:
        self._pg_ctl("-l", str(self.log), "-w", "-t", "60", "start")

    def first_start(self, attempts: int = 5) -> None:
        """Start; if the port was taken between picking it and now (initdb takes seconds: another
        xdist worker's server, or any process on the machine), pick another and try again."""
        for _ in range(attempts - 1):
            try:
                self.start()
                return
            except RuntimeError:
                if "Address already in use" not in self.log.read_text(errors="replace"):
                    raise
            self.port = _free_port()
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {self.port}\n")  # the last setting wins
        self.start()

    def stop(self, mode: str = "fast") -> None:
        """``mode="immediate"`` is a crash: no checkpoint, recovery replays the WAL at start."""
        self._pg_ctl("-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self) -> None:
        self.stop("fast")
        self.start()

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, walwriter...)."""
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return []
        postmaster = int(pid_file.read_text().split()[0])
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True
        ).stdout.split()
        return [postmaster, *(int(pid) for pid in children)]

    def pause(self) -> None:
        """SIGSTOP the whole server: connections stay open and nothing answers."""
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    # -- databases -------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, dbname: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{dbname}"')
        return self.url(dbname)

    def terminate_backends(self, dbname: str) -> int:
        """``pg_terminate_backend`` every other connection to ``dbname``; returns how many."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            row = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchone()
        return int(row[0]) if row else 0

    def connections(self, dbname: str) -> int:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (dbname,)
            ).fetchone()
        return int(row[0]) if row else 0

    def dump_for_leak_sweep(self) -> None:
        """Every table of every database as text, for the leak sweep (the cluster is gone then)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as admin:
            names = [
                r[0]
                for r in admin.execute(
                    "SELECT datname FROM pg_database WHERE datname NOT IN "
                    "('postgres', 'template0', 'template1')"
                ).fetchall()
            ]
        for name in names:
            dump_into_the_sweep(self.url(name))


@contextlib.contextmanager
def private_cluster() -> Iterator[PgCluster]:
    """A started cluster; stopped and removed on exit (after a dump for the leak sweep)."""
    bindir = _bindir()
    if bindir is None:
        message = "PostgreSQL's server binaries (initdb, pg_ctl) are not installed"
        if IN_CI:
            pytest.fail(f"CI is set but {message}")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="imprint-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    cluster = PgCluster(bindir, root)
    try:
        cluster.init()
        cluster.first_start()
        yield cluster
    finally:
        cluster.resume()  # a paused server cannot be stopped
        if cluster.pids():
            with contextlib.suppress(Exception):
                cluster.dump_for_leak_sweep()
        cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    with private_cluster() as cluster:
        yield cluster


def wait_until(predicate: object, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``predicate()`` until it is truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        time.sleep(interval)
    return False
