"""Start-up checks for the CLI: each misconfiguration becomes one line naming the fix.

They run before ``serve`` or ``worker`` changes anything (no data directory made, no migration
applied, no sandbox partner created), in the order a newcomer meets them: settings, port, data
directory, database, schema, Redis. Messages never carry a password or a secret: URLs are shown
as host, port and database only.
"""

from __future__ import annotations

import asyncio
import difflib
import errno
import os
import socket
import sqlite3
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError

from imprint_sessions.config import Settings
from imprint_sessions.storage.urls import asyncpg_dsn, backend, sqlite_path

ENV_PREFIX = "IMPRINT_"
# Read by the test suite and the benchmarks, never by the service.
RESERVED_PREFIXES = ("IMPRINT_TEST_", "IMPRINT_BENCH_")
CONNECT_TIMEOUT_SECONDS = 5.0


class ConfigError(Exception):
    """A misconfiguration: ``str(exc)`` is the one line shown, with the fix."""


# -- settings -------------------------------------------------------------------------------------
def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """``Settings()`` from the environment, refusing unknown ``IMPRINT_`` names and bad values."""
    environ = dict(os.environ) if environ is None else environ
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        if name.startswith(RESERVED_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f"did you mean {close[0]}?" if close else "see Configuration in README.md"
        raise ConfigError(f"unknown setting {name}: {hint} (unset it to continue)")
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["loc"]:
            name = ENV_PREFIX + str(first["loc"][0]).upper()
            raise ConfigError(f"{name} is invalid: {message}") from None
        raise ConfigError(message) from None


# -- the port -------------------------------------------------------------------------------------
def check_port(host: str, port: int) -> None:
    """Bind the address the way uvicorn will, and let it go again."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use: stop what is using it, "
                    "or pass --port with a free one"
                ) from None
            if exc.errno == errno.EACCES:
                raise ConfigError(
                    f"no permission to listen on port {port}: pass --port 1024 or above"
                ) from None
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}): pass another --host or --port"
            ) from None


# -- the embedded database's directory ------------------------------------------------------------
def check_data_dir(settings: Settings) -> None:
    """The SQLite file's directory exists or can be made, and takes a file."""
    url = settings.resolved_database_url
    if backend(url) != "sqlite":
        return
    directory = sqlite_path(url).parent
    setting = "IMPRINT_DATABASE_URL" if settings.database_url else "IMPRINT_DATA_DIR"
    missing = [p for p in [directory, *directory.parents] if not p.exists()]
    probe = directory / f".imprint-write-probe-{uuid.uuid4().hex}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe.touch()
        probe.unlink()
    except OSError as exc:
        remove_made_dirs(missing)
        raise ConfigError(
            f"the data directory {directory} is not writable ({exc.strerror}): point {setting} "
            "at a directory this user can write"
        ) from None
    remove_made_dirs(missing)  # made by the probe only; setup makes it again when it runs


def remove_made_dirs(made: list[Path]) -> None:
    """Remove the directories the probe made, deepest first, so the check changes nothing; stop
    at the first that is no longer empty: another process starting at the same moment (several
    ``serve`` on one data directory) has already put its database there, and it stays."""
    for directory in made:
        try:
            directory.rmdir()
        except OSError:
            return


# -- the database and its schema ------------------------------------------------------------------
def _where(database_url: str) -> str:
    parts = urlsplit(asyncpg_dsn(database_url))
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


async def _postgres_revision(database_url: str) -> str | None:
    import asyncpg

    where = _where(database_url)
    try:
        connection = await asyncpg.connect(
            asyncpg_dsn(database_url), timeout=CONNECT_TIMEOUT_SECONDS
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise ConfigError(
            f"PostgreSQL at {where} refused the login ({exc}): fix the user and password in "
            "IMPRINT_DATABASE_URL"
        ) from None
    except asyncpg.InvalidCatalogNameError as exc:
        name = urlsplit(asyncpg_dsn(database_url)).path.lstrip("/")
        raise ConfigError(
            f"PostgreSQL at {where}: {exc}: create it (createdb {name}) or point "
            "IMPRINT_DATABASE_URL at an existing database"
        ) from None
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(
            f"cannot reach PostgreSQL at {where} ({reason}): start it, or fix the host and port "
            "in IMPRINT_DATABASE_URL"
        ) from None
    try:
        exists = await connection.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        if not exists:
            return None
        found: str | None = await connection.fetchval("SELECT version_num FROM alembic_version")
        return found
    finally:
        await connection.close()


def _sqlite_revision(database_url: str) -> str | None:
    path = sqlite_path(database_url)
    if not path.exists():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the SQLite database {path} ({exc})") from None
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return None
        raise ConfigError(
            f"{path} is not an imprint-sessions database ({exc}): point IMPRINT_DATA_DIR "
            "elsewhere, or move the file away"
        ) from None
    finally:
        connection.close()
    return str(row[0]) if row else None


def code_revisions() -> list[str]:
    """Every migration revision this code knows, oldest first."""
    from alembic.script import ScriptDirectory

    from imprint_sessions.storage.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite:///unused.db"))
    return [s.revision for s in reversed(list(scripts.walk_revisions()))]


def check_database(settings: Settings, *, migrates_itself: bool) -> None:
    """The database answers, and its schema is one this code can run on.

    ``migrates_itself``: the embedded SQLite is migrated by ``serve``, so a schema behind the
    code is fine there; PostgreSQL is ``db upgrade``'s job, so there it is an error.
    """
    url = settings.resolved_database_url
    if backend(url) == "postgresql":
        current = asyncio.run(_postgres_revision(url))
    else:
        current = _sqlite_revision(url)
    known = code_revisions()
    head = known[-1]
    if current is not None and current not in known:
        raise ConfigError(
            f"the database schema is at revision {current}, newer than this code knows (its "
            f"newest is {head}): run the imprint-sessions release that migrated it"
        )
    if current != head and not migrates_itself:
        state = "has no schema yet" if current is None else f"is at revision {current}"
        raise ConfigError(
            f"the database {state}; this code needs {head}: run `imprint-sessions db upgrade`"
        )


# -- Redis ----------------------------------------------------------------------------------------
async def _ping_redis(url: str) -> None:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=CONNECT_TIMEOUT_SECONDS
    )
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        reason = str(exc).split(". ")[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"cannot reach Redis at {where} ({reason}): start it, or unset IMPRINT_REDIS_URL "
            "(rate limits are then kept per process)"
        ) from None
    finally:
        await client.aclose()


def check_redis(settings: Settings) -> None:
    if settings.redis_url is not None:
        asyncio.run(_ping_redis(settings.redis_url.get_secret_value()))


def check_all(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """What a command needs before it changes anything. ``serve`` passes its address: only it
    listens, and only it uses Redis (shared rate limits), so only it checks those."""
    if host is not None and port is not None:
        check_port(host, port)
    check_data_dir(settings)
    check_database(settings, migrates_itself=backend(settings.resolved_database_url) == "sqlite")
    if host is not None:
        check_redis(settings)
