"""Real processes on loopback: the console script, started and stopped like an operator would."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY, IN_CI, PG_ADMIN_URL
from imprint_sessions.storage import migrate

BIN = Path(sys.executable).parent / "imprint-sessions"
KEY_RE = re.compile(r"isk_test_[A-Za-z0-9_-]{43}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every end-to-end test starts real processes (seconds each): all are ``slow``, so
    ``scripts/test --fast`` leaves the whole tier out, new modules included."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    stdout_path: Path
    stderr_path: Path
    env: dict[str, str]
    pids_seen: list[int] = field(default_factory=list)

    def stdout(self) -> str:
        return self.stdout_path.read_text()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def api_key(self) -> str:
        match = KEY_RE.search(self.stdout())
        assert match, self.stdout()
        _REGISTRY.remember(match.group(0))
        return match.group(0)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        _REGISTRY.extra_logs.append(self.stderr())
        return self.process.returncode


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(BIN), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    _REGISTRY.extra_logs.append(result.stderr)
    return result


@dataclass
class Deployment:
    """A data directory and a database of its own, and the environment naming them."""

    env: dict[str, str]
    tmp: Path
    servers: list[Server] = field(default_factory=list)

    def start(self, *args: str, wait: bool = True, port: int | None = None) -> Server:
        """``port``: a given one (to restart a killed server where its clients expect it)."""
        port = port or free_port()
        name = f"serve-{port}-{len(self.servers)}"
        out, err = self.tmp / f"{name}.out", self.tmp / f"{name}.err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [str(BIN), "serve", "--port", str(port), *args],
                env=self.env,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
        server = Server(process, f"http://127.0.0.1:{port}", out, err, self.env)
        self.servers.append(server)
        if wait:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                assert process.poll() is None, server.stderr()
                try:
                    ready = httpx.get(f"{server.base_url}/readyz", timeout=1).status_code == 200
                    # The banner follows as soon as the port accepts connections.
                    if ready and "API docs: " in server.stdout():
                        return server
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            raise AssertionError(f"server did not become ready:\n{server.stderr()}")
        return server


_template: list[str] = []  # this process's migrated database to clone (made on first use)


def _migrated_template(admin: Any) -> str:
    """A database at the migrations' head that this process clones for each PostgreSQL
    deployment (``CREATE DATABASE ... TEMPLATE``: a file copy, where ``db upgrade`` in a new
    process costs a second of CPU). Named like the e2e databases, so the sweep drops it too."""
    if not _template:
        assert PG_ADMIN_URL
        name = f"imprint_e2e_template_{secrets.token_hex(4)}"
        admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"
        # In a thread: its env.py runs an event loop of its own, and a caller may be in one.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(migrate.upgrade, url).result()
        _REGISTRY.pg_urls.add(url)
        _template.append(name)
    return _template[0]


@contextmanager
def open_deployment(
    backend: str, tmp_path: Path, *, database_url: str | None = None
) -> Iterator[Deployment]:
    """A sandbox deployment on ``backend`` in ``tmp_path``; its servers are killed on exit.

    ``database_url``: an empty PostgreSQL database to use instead of one on the shared server (a
    private cluster the test may crash); it is migrated here, and its owner dumps it for the
    leak sweep.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRINT_")}
    env.update(
        IMPRINT_ENV="sandbox",
        IMPRINT_DATA_DIR=str(tmp_path / "data"),
        IMPRINT_LOG_LEVEL="DEBUG",
    )
    dbname = None
    if database_url is not None:
        env["IMPRINT_DATABASE_URL"] = database_url
        upgraded = cli(env, "db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
    elif backend == "postgresql":
        if not PG_ADMIN_URL:
            if IN_CI:
                pytest.fail("CI is set but IMPRINT_TEST_DATABASE_URL is not")
            pytest.skip("IMPRINT_TEST_DATABASE_URL is not set")
        import psycopg

        dbname = f"imprint_e2e_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            template = _migrated_template(admin)
            admin.execute(f'CREATE DATABASE "{dbname}" TEMPLATE "{template}"')
        env["IMPRINT_DATABASE_URL"] = f"{PG_ADMIN_URL.rpartition('/')[0]}/{dbname}"
        _REGISTRY.pg_urls.add(env["IMPRINT_DATABASE_URL"])
    else:
        _REGISTRY.sqlite_paths.add(tmp_path / "data" / "imprint.sqlite3")
    deployment = Deployment(env=env, tmp=tmp_path)
    try:
        yield deployment
    finally:
        for server in deployment.servers:
            if server.process.poll() is None:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait(5)
        master_key = tmp_path / "data" / "secret_key"  # the sandbox's generated master key
        if master_key.exists():
            _REGISTRY.remember(master_key.read_text().strip())
    # PostgreSQL e2e databases are kept until the leak sweep has dumped them; it drops them.


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    with open_deployment(request.param, tmp_path) as deployment:
        yield deployment


# -- a real browser ------------------------------------------------------------------------------
# Debian's Chromium, driven by Playwright (whose own browser download is not reachable here).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_executable() -> str | None:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).exists() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (closed before the next module's async tests)."""
    executable = chromium_executable()
    missing = None if executable else "Debian's chromium is missing (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (pip install -e '.[test]')"
    if missing:
        if IN_CI:
            pytest.fail(f"CI is set but {missing}: the browser tests must run")
        pytest.skip(missing)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def browser_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One sandbox server per backend for a whole module of browser tests."""
    with open_deployment(request.param, tmp_path_factory.mktemp(f"browser-{request.param}")) as d:
        server = d.start()
        try:
            yield server
        finally:
            server.stop()  # its stderr joins the leak registry
