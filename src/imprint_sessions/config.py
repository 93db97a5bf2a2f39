"""Settings, read from ``IMPRINT_*`` environment variables; one ``get_settings()``."""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_KEY_CHARS = 32


class Settings(BaseSettings):
    """Every knob of a deployment. Defaults are the embedded sandbox."""

    model_config = SettingsConfigDict(env_prefix="IMPRINT_", extra="ignore")

    env: Literal["sandbox", "production"] = "sandbox"
    data_dir: Path = Field(default=Path(".imprint"))
    database_url: str | None = Field(
        default=None, description="sqlite:///path or postgresql://...; default: SQLite in data_dir"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Master key for client secrets and key hashes (>= 32 chars)"
    )
    previous_secret_keys: str = Field(
        default="",
        description="Comma-separated retired master keys still accepted for verification",
    )
    session_ttl_seconds: int = Field(default=1800, ge=60, le=86_400)
    public_url: str | None = Field(default=None, description="Base URL the service is reached at")
    db_pool_size: int = Field(default=16, ge=1, le=500)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    max_body_bytes: int = Field(default=65_536, ge=1024)
    log_level: str = "INFO"
    access_log: bool = True

    @model_validator(mode="after")
    def _production_needs_a_key(self) -> Settings:
        if self.env == "production" and self.secret_key is None:
            raise ValueError("IMPRINT_SECRET_KEY is required when IMPRINT_ENV=production")
        if (
            self.secret_key is not None
            and len(self.secret_key.get_secret_value()) < MIN_SECRET_KEY_CHARS
        ):
            raise ValueError(
                f"IMPRINT_SECRET_KEY must be at least {MIN_SECRET_KEY_CHARS} characters"
            )
        return self

    @property
    def sandbox(self) -> bool:
        return self.env == "sandbox"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'imprint.sqlite3').resolve()}"

    def master_keys(self) -> list[bytes]:
        """The current master key first, then retired ones (for verifying old secrets)."""
        current = (
            self.secret_key.get_secret_value()
            if self.secret_key is not None
            else _sandbox_secret_key(self.data_dir)
        )
        previous = [k.strip() for k in self.previous_secret_keys.split(",") if k.strip()]
        return [k.encode() for k in [current, *previous]]


def _sandbox_secret_key(data_dir: Path) -> str:
    """Generate the sandbox master key once and keep it in a 0600 file in the data directory.

    Written to a temporary file and hard-linked into place, so concurrent first starts agree on
    one key and nobody ever reads a half-written file.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        tmp = data_dir / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
