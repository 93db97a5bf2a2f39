"""Misconfiguration as a newcomer or an operator meets it: one line naming the fix, a non-zero exit,
no traceback, and nothing changed (no data directory made, no migration applied, no partner)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import IN_CI, PG_ADMIN_URL
from e2e.conftest import BIN, cli, free_port

ROOT = Path(__file__).resolve().parents[2]


def newcomer_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRINT_")}
    env.update({"IMPRINT_DATA_DIR": str(tmp_path / "data"), **settings})
    return env


def serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), "serve", "--port", str(free_port()), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *phrases: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""  # no banner: nothing was started
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("imprint-sessions: ")
    assert "Traceback" not in line
    for phrase in phrases:
        assert phrase in line, line
    return line


@pytest.fixture
def pg_admin() -> str:
    if not PG_ADMIN_URL:
        if IN_CI:
            pytest.fail("CI is set but IMPRINT_TEST_DATABASE_URL is not")
        pytest.skip("IMPRINT_TEST_DATABASE_URL is not set")
    return PG_ADMIN_URL


@pytest.fixture
def empty_pg_database(pg_admin: str) -> Iterator[str]:
    import psycopg

    name = f"imprint_misconf_{secrets.token_hex(4)}"
    with psycopg.connect(pg_admin, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_admin.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_tables(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_port_in_use_names_the_port_and_changes_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(BIN), "serve", "--port", str(port)],
            env=newcomer_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert_one_clear_line(result, f"port {port}", "already in use", "--port")
    assert not (tmp_path / "data").exists()


def test_postgresql_unreachable_names_host_and_setting(tmp_path: Path) -> None:
    url = f"postgresql://imprint:hunter2-not-logged@127.0.0.1:{free_port()}/imprint"
    line = assert_one_clear_line(
        serve(newcomer_env(tmp_path, IMPRINT_DATABASE_URL=url)),
        "cannot reach PostgreSQL at 127.0.0.1:",
        "IMPRINT_DATABASE_URL",
    )
    assert "hunter2" not in line  # never the password


def test_postgresql_refusing_the_login_says_fix_the_credentials(
    tmp_path: Path, pg_admin: str
) -> None:
    host = pg_admin.split("@", 1)[1]
    url = f"postgresql://no_such_role_{secrets.token_hex(3)}:pw-not-logged@{host}"
    line = assert_one_clear_line(
        serve(newcomer_env(tmp_path, IMPRINT_DATABASE_URL=url)),
        "refused the login",
        "fix the user and password in IMPRINT_DATABASE_URL",
    )
    assert "pw-not-logged" not in line


def test_postgresql_database_missing_says_how_to_create_it(tmp_path: Path, pg_admin: str) -> None:
    name = f"imprint_missing_{secrets.token_hex(4)}"
    url = f"{pg_admin.rpartition('/')[0]}/{name}"
    assert_one_clear_line(
        serve(newcomer_env(tmp_path, IMPRINT_DATABASE_URL=url)),
        f'database "{name}" does not exist',
        f"createdb {name}",
    )


def test_postgresql_without_schema_says_run_db_upgrade_and_migrates_nothing(
    tmp_path: Path, empty_pg_database: str
) -> None:
    assert_one_clear_line(
        serve(newcomer_env(tmp_path, IMPRINT_DATABASE_URL=empty_pg_database)),
        "has no schema yet",
        "imprint-sessions db upgrade",
    )
    assert pg_tables(empty_pg_database) == set()


def test_postgresql_schema_behind_the_code_says_run_db_upgrade(
    tmp_path: Path, empty_pg_database: str
) -> None:
    from imprint_sessions.preflight import code_revisions
    from imprint_sessions.storage import migrate

    older = code_revisions()[-2]
    migrate.upgrade(empty_pg_database, older)
    assert_one_clear_line(
        serve(newcomer_env(tmp_path, IMPRINT_DATABASE_URL=empty_pg_database)),
        f"is at revision {older}",
        "imprint-sessions db upgrade",
    )
    env = newcomer_env(tmp_path, IMPRINT_DATABASE_URL=empty_pg_database)
    assert cli(env, "db", "upgrade").returncode == 0  # the fix it names works
    import psycopg

    with psycopg.connect(empty_pg_database) as connection:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    assert row is not None
    assert row[0] == code_revisions()[-1]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_schema_ahead_of_the_code_is_refused_by_serve_and_db_upgrade(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    from imprint_sessions.storage import migrate

    if backend == "postgresql":
        url = request.getfixturevalue("empty_pg_database")
        env = newcomer_env(tmp_path, IMPRINT_DATABASE_URL=url)
    else:
        url = f"sqlite:///{tmp_path / 'data' / 'imprint.sqlite3'}"
        env = newcomer_env(tmp_path)
    migrate.upgrade(url)
    _set_revision(url, "9999_from_the_future")
    for result in (serve(env), cli(env, "db", "upgrade")):
        assert_one_clear_line(result, "revision 9999_from_the_future", "newer than this code")
    if backend == "sqlite":
        partners = sqlite3.connect(tmp_path / "data" / "imprint.sqlite3").execute(
            "SELECT count(*) FROM partners"
        )
        assert partners.fetchone() == (0,)  # no sandbox partner was created


def _set_revision(url: str, revision: str) -> None:
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.split(":///", 1)[1])
        with connection:
            connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        connection.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("UPDATE alembic_version SET version_num = %s", (revision,))


def test_redis_configured_but_unreachable_names_the_setting(tmp_path: Path) -> None:
    url = f"redis://:redis-password-not-logged@127.0.0.1:{free_port()}/0"
    line = assert_one_clear_line(
        serve(newcomer_env(tmp_path, IMPRINT_REDIS_URL=url)),
        "cannot reach Redis at 127.0.0.1:",
        "IMPRINT_REDIS_URL",
    )
    assert "redis-password-not-logged" not in line
    assert not (tmp_path / "data" / "imprint.sqlite3").exists()


def test_unwritable_data_directory_names_the_setting_and_leaves_nothing(tmp_path: Path) -> None:
    # A regular file where a directory must go: unwritable even for root (tests may run as root,
    # where permission bits would not stop the write).
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    env = newcomer_env(tmp_path, IMPRINT_DATA_DIR=str(blocker / "data"))
    assert_one_clear_line(serve(env), f"{blocker / 'data'} is not writable", "IMPRINT_DATA_DIR")
    assert blocker.read_text() == ""


def test_unknown_setting_suggests_the_closest_name(tmp_path: Path) -> None:
    env = newcomer_env(tmp_path, IMPRINT_DATABSE_URL="postgresql://x/y")
    assert_one_clear_line(
        serve(env), "unknown setting IMPRINT_DATABSE_URL", "did you mean IMPRINT_DATABASE_URL?"
    )
    assert not (tmp_path / "data").exists()


def test_unknown_setting_with_no_close_name_points_at_the_docs(tmp_path: Path) -> None:
    env = newcomer_env(tmp_path, IMPRINT_FROBNICATE="1")
    assert_one_clear_line(serve(env), "unknown setting IMPRINT_FROBNICATE", "README.md")


@pytest.mark.parametrize(
    ("settings", "phrase"),
    [
        ({"IMPRINT_SESSION_TTL_SECONDS": "soon"}, "IMPRINT_SESSION_TTL_SECONDS is invalid"),
        ({"IMPRINT_SESSION_TTL_SECONDS": "5"}, "IMPRINT_SESSION_TTL_SECONDS is invalid"),
        ({"IMPRINT_ENV": "staging"}, "IMPRINT_ENV is invalid"),
        ({"IMPRINT_SERVE_WEBHOOK_WORKER": "auto"}, "IMPRINT_SERVE_WEBHOOK_WORKER is invalid"),
        ({"IMPRINT_ENV": "production"}, "IMPRINT_SECRET_KEY is required"),
        ({"IMPRINT_SECRET_KEY": "short-and-not-logged"}, "at least 32 characters"),
        (
            {"IMPRINT_METRICS_TOKEN": "short-and-not-logged"},
            "IMPRINT_METRICS_TOKEN must be at least 32 characters (make one with",
        ),
        (
            {"IMPRINT_OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"},
            "IMPRINT_OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s):// URL",
        ),
    ],
)
def test_bad_setting_value_names_the_setting(
    tmp_path: Path, settings: dict[str, str], phrase: str
) -> None:
    line = assert_one_clear_line(serve(newcomer_env(tmp_path, **settings)), phrase)
    assert "short-and-not-logged" not in line
    assert not (tmp_path / "data").exists()


def test_the_worker_command_checks_the_same_way(tmp_path: Path) -> None:
    url = f"postgresql://imprint@127.0.0.1:{free_port()}/imprint"
    result = subprocess.run(
        [str(BIN), "worker", "--once"],
        env=newcomer_env(tmp_path, IMPRINT_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_one_clear_line(result, "cannot reach PostgreSQL")


def copy_of_scripts(tmp_path: Path) -> Path:
    """The scripts of a checkout, with nothing installed beside them."""
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "scripts", clone / "scripts")
    shutil.copy(ROOT / "pyproject.toml", clone)
    shutil.copytree(ROOT / "requirements", clone / "requirements")
    return clone


@pytest.mark.parametrize("version", ["3.10", "3.9", "2.7"])
def test_scripts_serve_refuses_an_old_python_before_installing_anything(
    tmp_path: Path, version: str
) -> None:
    # A stand-in interpreter that answers the version probe as an old Python would: the check
    # must stop scripts/serve before any virtualenv is made or anything installed.
    fake = tmp_path / f"python{version}"
    fake.write_text(f"#!/bin/sh\necho {version}\n")
    fake.chmod(0o755)
    clone = copy_of_scripts(tmp_path)
    result = subprocess.run(
        [str(clone / "scripts" / "serve")],
        env={**newcomer_env(tmp_path), "PYTHON": str(fake)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"imprint-sessions needs Python 3.11 or newer; {fake} is {version} "
        "(set PYTHON=/path/to/python3.11)"
    )
    assert not (clone / ".venv").exists()


def test_scripts_serve_names_a_missing_interpreter(tmp_path: Path) -> None:
    clone = copy_of_scripts(tmp_path)
    result = subprocess.run(
        [str(clone / "scripts" / "serve")],
        env={**newcomer_env(tmp_path), "PYTHON": "python3.0-not-installed"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "python3.0-not-installed' was not found" in result.stderr
    assert not (clone / ".venv").exists()
