"""Parsing database URLs: which backend, and the form each driver wants."""

from __future__ import annotations

from pathlib import Path


def backend(database_url: str) -> str:
    """``"postgresql"`` or ``"sqlite"``; anything else is a configuration error."""
    scheme = database_url.split(":", 1)[0].split("+", 1)[0]
    if scheme in ("postgresql", "postgres"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    raise ValueError(f"unsupported database URL scheme {scheme!r}: use sqlite:/// or postgresql://")


def sqlalchemy_url(database_url: str) -> str:
    if backend(database_url) == "postgresql":
        return "postgresql+asyncpg://" + database_url.split("://", 1)[1]
    return database_url


def asyncpg_dsn(database_url: str) -> str:
    return "postgresql://" + database_url.split("://", 1)[1]


def sqlite_path(database_url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////abs/path.db`` to a filesystem path."""
    rest = database_url.split(":///", 1)[1] if ":///" in database_url else ""
    if not rest or rest == ":memory:":
        raise ValueError("SQLite needs a file (sqlite:///path): several connections share it")
    return Path(rest)
