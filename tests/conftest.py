"""Shared fixtures: real databases (SQLite and PostgreSQL), the app over ASGI, and a leak registry.

PostgreSQL tests run when ``IMPRINT_TEST_DATABASE_URL`` points at a server (a fresh database is
created for the run and dropped after); without it they skip, unless ``CI`` is set, where a
missing database fails the run instead.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import coverage_floor
import leaks
import sweep_across_workers
import xdist_groups
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.credentials import SecretBox
from imprint_sessions.domain import partners
from imprint_sessions.domain.phone_verification import SANDBOX_CODE
from imprint_sessions.services import Services
from imprint_sessions.storage import migrate

TEST_SECRET_KEY = "test-master-key-" + "x" * 32
IN_CI = bool(os.environ.get("CI"))
PG_ADMIN_URL = os.environ.get("IMPRINT_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"]


# -- the leak registry ----------------------------------------------------------------------------
@dataclass(repr=False)
class LeakRegistry:
    """Every credential the suite issued, every log line it produced, every database it wrote."""

    issued: set[str] = field(default_factory=set)
    log_stream: io.StringIO = field(default_factory=io.StringIO)
    sqlite_paths: set[Path] = field(default_factory=set)
    pg_urls: set[str] = field(default_factory=set)
    extra_logs: list[str] = field(default_factory=list)
    # Low-entropy secrets, looked for only in context (see tests/leaks.py): one-time codes, SSNs.
    codes: set[str] = field(default_factory=set)
    ssns: set[str] = field(default_factory=set)
    # Every 4xx/5xx the service answered (status, headers, body) and every webhook it delivered.
    error_bodies: list[str] = field(default_factory=list)
    webhook_payloads: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        """Counts only: a failing assertion that shows the registry must not print the secrets
        it holds (pytest renders the objects an assertion names)."""
        return (
            f"LeakRegistry({len(self.issued)} credentials, {len(self.codes)} codes, "
            f"{len(self.ssns)} SSNs, {len(self.logs())} log characters, "
            f"{len(self.error_bodies)} error bodies, {len(self.webhook_payloads)} webhook payloads)"
        )

    def remember(self, credential: str) -> None:
        self.issued.add(credential)

    def remember_code(self, code: str) -> None:
        if re.fullmatch(r"[0-9]{6}", code):
            self.codes.add(code)

    def remember_ssn(self, ssn: str) -> None:
        digits = ssn.replace("-", "")
        if re.fullmatch(r"[0-9]{9}", digits):
            self.ssns |= {digits, f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"}

    def forms(self, credential: str) -> list[str]:
        """The raw credential and the encodings it could hide in."""
        return sorted(leaks.credential_forms(credential))

    def logs(self) -> str:
        return self.log_stream.getvalue() + "\n".join(self.extra_logs)

    def save(self, path: Path, *, sweep_nodeids: list[str]) -> None:
        """All of it as JSON, for the sweep of a run split across xdist workers."""
        data = {
            "issued": sorted(self.issued),
            "logs": self.logs(),
            "sqlite_paths": sorted(str(p) for p in self.sqlite_paths),
            "pg_urls": sorted(self.pg_urls),
            "codes": sorted(self.codes),
            "ssns": sorted(self.ssns),
            "error_bodies": self.error_bodies,
            "webhook_payloads": self.webhook_payloads,
            "sweep_nodeids": sweep_nodeids,
        }
        path.write_text(json.dumps(data))

    def merge(self, path: Path) -> None:
        """Add what another process saved (see ``save``)."""
        data = json.loads(path.read_text())
        self.issued.update(data["issued"])
        self.extra_logs.append(data["logs"])
        self.sqlite_paths.update(Path(p) for p in data["sqlite_paths"])
        self.pg_urls.update(data["pg_urls"])
        self.codes.update(data["codes"])
        self.ssns.update(data["ssns"])
        self.error_bodies.extend(data["error_bodies"])
        self.webhook_payloads.extend(data["webhook_payloads"])


_REGISTRY = LeakRegistry()
_SECRET_RE = re.compile(r'"client_secret":"([^"]+)"')


# The master key the tests' apps run under, and the code every sandbox verification issues.
_REGISTRY.remember(TEST_SECRET_KEY)
_REGISTRY.remember_code(SANDBOX_CODE)

# The controller's sweep process of an xdist run: the registry is every worker's.
if registries := os.environ.get(sweep_across_workers.REGISTRIES_ENV):
    for _saved in sweep_across_workers.registry_files(Path(registries)):
        _REGISTRY.merge(_saved)


@pytest.fixture(scope="session")
def leak_registry() -> LeakRegistry:
    return _REGISTRY


@pytest.fixture(scope="session", autouse=True)
def _capture_http_exchanges() -> Iterator[None]:
    """Every exchange with the service joins the registry: the credentials requests carried and
    responses issued, and every error response (see ``leaks.capturing_http``)."""
    with leaks.capturing_http(_REGISTRY):
        yield


@pytest.fixture(scope="session", autouse=True)
def _capture_all_logs() -> Iterator[None]:
    """Every JSON log line of the suite goes to the registry too (at DEBUG)."""
    from imprint_sessions.logs import configure_logging

    configure_logging("DEBUG")
    for noisy in ("httpcore", "httpx", "hpack", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from imprint_sessions.logs import JsonFormatter

    class RegistryFormatter(logging.Formatter):
        """The service's own formatter (JSON, redacted), not pytest's capture handler's. Wrapped,
        not installed itself: tests of the logging setup remove every JsonFormatter handler
        they find, and this one must keep collecting."""

        json = JsonFormatter()

        def format(self, record: logging.LogRecord) -> str:
            return self.json.format(record)

    root = logging.getLogger()
    handler = logging.StreamHandler(_REGISTRY.log_stream)
    handler.setFormatter(RegistryFormatter())
    root.addHandler(handler)
    yield
    root.removeHandler(handler)


# -- databases ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    migrate.upgrade(f"sqlite:///{path}")
    return path


# -- the leak sweep across xdist workers (see tests/sweep_across_workers.py) ----------------------
_SWEEP_NODEIDS = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--domain-coverage-floor",
        type=float,
        default=None,
        metavar="PCT",
        help="fail the run if a module of src/imprint_sessions/domain/ has less branch coverage "
        "(with --cov; see tests/coverage_floor.py)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A worker sets the sweep aside: the controller runs it once, over every worker's registry."""
    if sweep_across_workers.is_worker(config):
        sweep = [item.nodeid for item in items if sweep_across_workers.is_sweep_item(item)]
        config.stash[_SWEEP_NODEIDS] = sweep
        items[:] = [i for i in items if not sweep_across_workers.is_sweep_item(i)]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    sweep_across_workers.pass_dir_to_worker(node)
    xdist_groups.pass_dir_to_worker(node)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` that honours ``xdist_group`` marks (see tests/xdist_groups.py)."""
    return xdist_groups.make_scheduler(config, log)


@pytest.hookimpl(tryfirst=True)  # before xdist's worker sends the collection to the controller
def pytest_collection_finish(session: pytest.Session) -> None:
    xdist_groups.record_collection(session.config, session.items)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if sweep_across_workers.is_worker(config):
        # Every fixture is torn down by now (databases dumped, servers' stderr read), and this
        # runs before xdist tells the controller this worker is done.
        workerid = config.workerinput["workerid"]  # type: ignore[attr-defined]
        path = sweep_across_workers.shared_dir(config) / f"{workerid}.json"
        _REGISTRY.save(path, sweep_nodeids=config.stash.get(_SWEEP_NODEIDS, []))
        return
    if sweep_across_workers.is_controller(config):
        try:
            sweep_across_workers.run_sweep(session)
        finally:
            _drop_databases_kept_for_the_sweep(
                sweep_across_workers.kept_pg_urls(sweep_across_workers.shared_dir(config))
            )
    floor = config.getoption("--domain-coverage-floor")
    if floor is not None:
        coverage_floor.check(session, floor)


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(sweep_across_workers.REPORTS_ENV):  # the controller's sweep process
        config.pluginmanager.register(sweep_across_workers.ReportWriter(config))


def _drop_databases_kept_for_the_sweep(urls: set[str]) -> None:
    """The workers' own databases and the e2e ones, once the sweep has dumped them."""
    if not PG_ADMIN_URL or os.environ.get("IMPRINT_TEST_KEEP_DATABASE"):
        return
    import psycopg

    server = PG_ADMIN_URL.rpartition("/")[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        for url in sorted(urls):
            base, _, name = url.rpartition("/")
            if base == server and name.startswith("imprint_"):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if not PG_ADMIN_URL:
        if IN_CI:
            pytest.fail("CI is set but IMPRINT_TEST_DATABASE_URL is not: PostgreSQL tests must run")
        pytest.skip("IMPRINT_TEST_DATABASE_URL is not set")
    import psycopg

    name = f"imprint_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"
    migrate.upgrade(url)
    _REGISTRY.pg_urls.add(url)
    yield url
    if os.environ.get("IMPRINT_TEST_KEEP_DATABASE"):
        return
    if sweep_across_workers.is_worker(request.config):
        return  # the controller drops it once its sweep has dumped it
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated database of each backend. PostgreSQL is shared by the run: tests isolate
    themselves by creating their own partner (every row belongs to one)."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_database_url")
        return url
    path = tmp_path / "imprint.sqlite3"
    shutil.copy(sqlite_template, path)
    _REGISTRY.sqlite_paths.add(path)
    return f"sqlite:///{path}"


def _pg_url(name: str) -> str:
    assert PG_ADMIN_URL
    return f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated PostgreSQL database to clone (``CREATE DATABASE ... TEMPLATE`` is quick)."""
    if not PG_ADMIN_URL:
        if IN_CI:
            pytest.fail("CI is set but IMPRINT_TEST_DATABASE_URL is not: PostgreSQL tests must run")
        pytest.skip("IMPRINT_TEST_DATABASE_URL is not set")
    import psycopg

    name = f"imprint_template_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate.upgrade(_pg_url(name))
        yield name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def dump_into_the_sweep(url: str) -> None:
    """Every row of a PostgreSQL database that is about to disappear, as text for the leak sweep."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
            _REGISTRY.extra_logs.append("\n".join(row[0] for row in rows))


def _dump_for_the_sweep_and_drop(name: str) -> None:
    """Dropped right away (not kept on the shared server); its rows join what the sweep scans."""
    import psycopg

    dump_into_the_sweep(_pg_url(name))
    with psycopg.connect(PG_ADMIN_URL or "", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def isolated_database(
    request: pytest.FixtureRequest, backend: str, directory: Path
) -> Iterator[str]:
    """A migrated database of ``backend`` no other test uses (SQLite: in ``directory``); on
    PostgreSQL dumped for the sweep and dropped on exit. ``isolated_database_url``'s, for a
    fixture of a wider scope."""
    if backend == "postgresql":
        template: str = request.getfixturevalue("pg_template")
        import psycopg

        name = f"imprint_own_{secrets.token_hex(4)}"
        with psycopg.connect(PG_ADMIN_URL or "", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        try:
            yield _pg_url(name)
        finally:
            _dump_for_the_sweep_and_drop(name)
        return
    path = directory / "imprint.sqlite3"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    _REGISTRY.sqlite_paths.add(path)
    yield f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def isolated_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A migrated database no other test uses, for a test that breaks it or leaves work behind
    (e.g. webhook deliveries another test's worker would drain). Override ``database_url`` with
    it in such a module."""
    with isolated_database(request, request.param, tmp_path) as url:
        yield url


def sandbox_settings(data_dir: Path, database_url: str) -> Settings:
    """The ``settings`` fixture's: a sandbox on ``database_url``, the suite's master key."""
    return Settings(
        env="sandbox",
        data_dir=data_dir,
        secret_key=TEST_SECRET_KEY,
        database_url=database_url,
        log_level="DEBUG",
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return sandbox_settings(tmp_path / "data", database_url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(time.time_ns() // 1_000_000)


# -- the app --------------------------------------------------------------------------------------
@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Harness:
    app: Any
    client: httpx.AsyncClient
    services: Services

    async def new_partner(self, *, merchant_keys: list[str] | None = None) -> tuple[str, str]:
        """A fresh partner and one API key for it: ``(partner_id, api_key)``."""
        repos = self.services.database.repositories
        partner = await partners.create_partner(
            repos,
            clock=self.services.clock,
            name=f"partner {secrets.token_hex(3)}",
            merchant_keys=merchant_keys or [],
        )
        issued = await partners.create_api_key(
            repos,
            clock=self.services.clock,
            box=self.services.box,
            env=self.services.settings.env,
            partner_id=partner.id,
        )
        _REGISTRY.remember(issued.api_key)
        return partner.id, issued.api_key


async def _remember_secrets(response: httpx.Response) -> None:
    await response.aread()
    for match in _SECRET_RE.finditer(response.text):
        _REGISTRY.remember(match.group(1))


@pytest.fixture
async def harness(settings: Settings, clock: ManualClock) -> AsyncIterator[Harness]:
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            event_hooks={"response": [_remember_secrets]},
        ) as client:
            yield Harness(app=app, client=client, services=app.state.services)


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([TEST_SECRET_KEY.encode()])


# -- inspecting what was written (tests read the database directly, never through the app) --------
class DatabaseInspector:
    def __init__(self, url: str) -> None:
        self.url = url

    def scalar(self, sql: str, *params: Any) -> Any:
        """Run one query with ``?`` placeholders on either backend and return the first value."""
        if self.url.startswith("postgresql"):
            import psycopg

            with psycopg.connect(self.url) as conn:
                row = conn.execute(sql.replace("?", "%s"), params).fetchone()
        else:
            import sqlite3

            lite = sqlite3.connect(self.url.split(":///", 1)[1])
            try:
                row = lite.execute(sql, params).fetchone()
            finally:
                lite.close()
        return row[0] if row else None

    def count(self, table: str, partner_id: str) -> int:
        # Table names come from the tests themselves, never from input.
        return int(self.scalar(f"SELECT count(*) FROM {table} WHERE partner_id = ?", partner_id))


@pytest.fixture
def inspector(database_url: str) -> DatabaseInspector:
    return DatabaseInspector(database_url)


# -- Redis (shared rate limits) -----------------------------------------------------------------
REDIS_TEST_URL = os.environ.get("IMPRINT_TEST_REDIS_URL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """``IMPRINT_TEST_REDIS_URL``, checked to answer. Without it (or if Redis does not answer) the
    test skips, except under ``CI``, where it fails. Tests share the server: each must use a key
    prefix of its own and flush nothing."""
    if not REDIS_TEST_URL:
        if IN_CI:
            pytest.fail("CI is set but IMPRINT_TEST_REDIS_URL is not: Redis tests must run")
        pytest.skip("IMPRINT_TEST_REDIS_URL is not set")
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"CI is set but Redis does not answer at IMPRINT_TEST_REDIS_URL: {exc}")
        pytest.skip(f"Redis does not answer at IMPRINT_TEST_REDIS_URL: {exc}")
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other test or run shares."""
    return f"imprint-test-{secrets.token_hex(6)}:"


# -- the network rule -----------------------------------------------------------------------------
@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse any TCP connect to an address off loopback (tests may only talk to 127/8, ::1).

    Used by tests that aim the service at private addresses: should a refusal regress, the
    connect fails before a packet is sent into someone's network. Returns the addresses refused,
    so a test can assert there were none even where the failure is caught (a worker records any
    exception as a failed attempt).
    """
    import ipaddress
    import socket

    refused: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def vet(address: Any) -> None:
        if isinstance(address, tuple):
            host = str(address[0]).split("%", 1)[0]
            if not ipaddress.ip_address(host).is_loopback:
                refused.append(host)
                raise AssertionError(f"a test tried to connect to {host}, off loopback")

    def connect(self: socket.socket, address: Any) -> None:
        vet(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        vet(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return refused
