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
    host: str = Field(default="127.0.0.1", description="Interface `serve` listens on (--host)")
    port: int = Field(default=8000, ge=1, le=65_535, description="Port `serve` listens on (--port)")
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
    # The client API (issue 3): credential lifetime, one-time codes, the decision engine.
    client_token_ttl_seconds: int = Field(
        default=3600,
        ge=300,
        le=14_400,
        description="Lifetime of a client access token from its exchange (5 min to 4 h)",
    )
    otp_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    otp_sender_url: str | None = Field(
        default=None, description="Production: HTTPS endpoint that delivers one-time codes by SMS"
    )
    underwriter_url: str | None = Field(
        default=None, description="Production: an external underwriter replacing the rules engine"
    )
    underwriter_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    rules_min_income_amount: int = Field(default=1_200_000, ge=0)
    rules_max_housing_ratio: float = Field(default=0.5, gt=0)
    rules_min_age: int = Field(default=18, ge=18, le=120)
    rules_max_credit_limit_amount: int = Field(default=1_000_000, ge=10_000)
    rules_card_apr: str = Field(default="24.99", pattern=r"^\d{1,2}\.\d{2}$")
    rules_loan_apr: str = Field(default="9.99", pattern=r"^\d{1,2}\.\d{2}$")
    public_url: str | None = Field(default=None, description="Base URL the service is reached at")
    default_logo_url: str | None = Field(
        default=None,
        description="https:// URL of the logo the native SDKs show for partners without their own",
    )
    db_pool_size: int = Field(default=16, ge=1, le=500)
    # Overload and outages answer 503 quickly rather than queueing or hanging: a pooled
    # connection normally frees up in milliseconds, so 2 s of waiting means overload.
    db_pool_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Wait for a free pooled connection, then 503"
    )
    db_statement_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="Bound on every PostgreSQL statement (and on opening a connection), then 503",
    )
    # Load shedding (BENCHMARKS.md, "Overload"): at most max_in_flight requests at once per
    # process; one more waits up to max_queue_seconds for a place, then is answered 503 with
    # Retry-After. Waiting there costs no CPU, unlike waiting behind the database pool.
    max_in_flight: int = Field(
        default=128,
        ge=1,
        le=100_000,
        description="Requests a process works on at once; more wait, then 503",
    )
    max_queue_seconds: float = Field(
        default=0.5,
        ge=0,
        le=30,
        description="How long a request waits for one of max_in_flight places before its 503",
    )
    # The standard library's loop is fair to every connection when the process is saturated;
    # uvloop starved some past a 2 s timeout at 1,000 connections. At 64 the two overlap run to
    # run but for new-customer creates, a little faster on uvloop (BENCHMARKS.md, "Overload"):
    # uvloop stays available for a deployment that is never saturated.
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    max_body_bytes: int = Field(default=65_536, ge=1024)
    log_level: str = "INFO"
    access_log: bool = True
    # Partner API rate limits, per API key (GCRA: a sustained rate and a burst); 0 turns them off.
    rate_limit_per_second: float = Field(default=100.0, ge=0)
    rate_limit_burst: int = Field(default=200, ge=1)
    redis_url: SecretStr | None = Field(
        default=None, description="redis://host:6379/0: share rate limits between processes"
    )
    redis_prefix: str = Field(default="imprint:", description="Prefix of every Redis key written")
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60, le=7 * 86_400)
    # Webhooks (issue 4): delivery attempts, worker leases, secret rotation, the retry window.
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="Bound on each delivery attempt, end to end"
    )
    webhook_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="How long a worker holds a claimed delivery; longer than an attempt",
    )
    webhook_secret_grace_seconds: int = Field(
        default=86_400, ge=0, le=7 * 86_400, description="How long a rotated-out secret still signs"
    )
    webhook_retry_window_seconds: int = Field(
        default=3 * 86_400,
        ge=60,
        le=30 * 86_400,
        description="Retry a delivery this long, then dead",
    )
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    webhook_allow_private_targets: bool = Field(
        default=False,
        description=(
            "Whether webhook endpoints may resolve to private (RFC 1918, IPv6 ULA), shared "
            "(CGNAT) and other non-global addresses; loopback stays sandbox-only"
        ),
    )
    serve_webhook_worker: Literal["on", "off"] = Field(
        default="on",
        description="Whether `serve` delivers webhooks too (off: `imprint-sessions worker` does). "
        "On every store by default: the outbox is claimed with SKIP LOCKED and a lease, so any "
        "number of serve processes and dedicated workers share it",
    )
    # Observability (issue 18): /metrics and tracing.
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics requires (>= 32 chars); production serves /metrics "
        "only with it (without it, 404), the sandbox openly unless it is set",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP traces endpoint (http://collector:4318/v1/traces): tracing on",
    )
    otel_service_name: str = Field(
        default="imprint-sessions", min_length=1, description="service.name of every span"
    )
    # Tests only (the reliability battery's negative control): the exchange becomes a racy
    # read-then-write, so the exactly-once test can be seen to fail. Refused outside the sandbox.
    unsafe_racy_exchange: bool = Field(
        default=False,
        description="Tests only, sandbox only: a deliberately racy client-secret exchange",
    )

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
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            # A lease that ran out mid-attempt would let a second worker send the same delivery.
            raise ValueError(
                "IMPRINT_WEBHOOK_LEASE_SECONDS must be longer than IMPRINT_WEBHOOK_TIMEOUT_SECONDS"
            )
        if self.default_logo_url:
            from imprint_sessions.domain.partners import is_valid_logo_url  # no cycle at import

            if not is_valid_logo_url(self.default_logo_url):
                raise ValueError(
                    "IMPRINT_DEFAULT_LOGO_URL must be an absolute https:// URL "
                    "(http:// only for localhost)"
                )
        if (
            self.metrics_token is not None
            and len(self.metrics_token.get_secret_value()) < MIN_SECRET_KEY_CHARS
        ):
            raise ValueError(
                f"IMPRINT_METRICS_TOKEN must be at least {MIN_SECRET_KEY_CHARS} characters "
                "(make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if self.otel_exporter_otlp_endpoint and not self.otel_exporter_otlp_endpoint.startswith(
            ("http://", "https://")
        ):
            raise ValueError(
                "IMPRINT_OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s):// URL "
                "(OTLP over HTTP, e.g. http://127.0.0.1:4318/v1/traces)"
            )
        if self.unsafe_racy_exchange and self.env != "sandbox":
            raise ValueError(
                "IMPRINT_UNSAFE_RACY_EXCHANGE is a test switch: only with IMPRINT_ENV=sandbox"
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
