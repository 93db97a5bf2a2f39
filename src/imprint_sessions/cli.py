"""The admin CLI: ``serve``, ``db upgrade``, ``partners`` and ``keys``."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import typer

from imprint_sessions import __version__
from imprint_sessions.clock import SystemClock, rfc3339_ms
from imprint_sessions.config import Settings, get_settings
from imprint_sessions.domain import partners as partners_domain
from imprint_sessions.errors import ImprintError
from imprint_sessions.secrets import SecretBox
from imprint_sessions.storage import migrate
from imprint_sessions.storage.db import Database, open_database
from imprint_sessions.storage.records import ApiKey, Partner
from imprint_sessions.storage.urls import backend

T = TypeVar("T")

app = typer.Typer(
    help="imprint-sessions: Imprint's customer-session API, self-hosted.",
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.")
partners_app = typer.Typer(help="Partners (the businesses that call the API).")
keys_app = typer.Typer(help="API keys.")
app.add_typer(db_app, name="db")
app.add_typer(partners_app, name="partners")
app.add_typer(keys_app, name="keys")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def _migrate_embedded(settings: Settings) -> None:
    """The embedded default (SQLite) keeps itself migrated; PostgreSQL is ``db upgrade``'s job."""
    url = settings.resolved_database_url
    if backend(url) == "sqlite":
        migrate.upgrade(url)


def _with_database(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    settings = get_settings()
    _migrate_embedded(settings)

    async def run() -> T:
        database = await open_database(settings)
        try:
            return await work(database, settings)
        finally:
            await database.close()

    try:
        return asyncio.run(run())
    except ImprintError as exc:
        typer.echo(f"error: {'; '.join(exc.details)}", err=True)
        raise typer.Exit(2) from None


def _partner_json(partner: Partner) -> dict[str, Any]:
    return {
        "id": partner.id,
        "name": partner.name,
        "merchant_keys": list(partner.merchant_keys),
        "created_at": rfc3339_ms(partner.created_at),
    }


def _key_json(key: ApiKey) -> dict[str, Any]:
    data = asdict(key)
    data["created_at"] = rfc3339_ms(key.created_at)
    data["revoked_at"] = rfc3339_ms(key.revoked_at) if key.revoked_at else None
    return data


# -- db -----------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to run from several hosts at once)."""
    migrate.upgrade(get_settings().resolved_database_url)
    typer.echo("database is up to date")


# -- partners -----------------------------------------------------------------------------------
@partners_app.command("create")
def partners_create(
    name: Annotated[str, typer.Option("--name", help="The partner's display name.")],
    merchant_key: Annotated[
        list[str] | None,
        typer.Option("--merchant-key", help="A product's merchant key (repeatable)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a partner."""

    async def work(database: Database, settings: Settings) -> Partner:
        return await partners_domain.create_partner(
            database.repositories, clock=SystemClock(), name=name, merchant_keys=merchant_key or []
        )

    partner = _with_database(work)
    typer.echo(json.dumps(_partner_json(partner)) if as_json else f"created partner {partner.id}")


@partners_app.command("list")
def partners_list(as_json: JsonFlag = False) -> None:
    """List partners."""

    async def work(database: Database, settings: Settings) -> list[Partner]:
        return await database.repositories.list_partners()

    found = _with_database(work)
    if as_json:
        typer.echo(json.dumps([_partner_json(p) for p in found]))
    for partner in [] if as_json else found:
        typer.echo(f"{partner.id}  {partner.name}  {','.join(partner.merchant_keys)}")


# -- keys ---------------------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    partner: Annotated[str, typer.Option("--partner", help="The partner's id.")],
    as_json: JsonFlag = False,
) -> None:
    """Create an API key. It is printed once and stored only as a keyed hash."""

    async def work(database: Database, settings: Settings) -> partners_domain.IssuedApiKey:
        repos = database.repositories
        found = await repos.get_partner(partner.upper())
        if found is None:
            raise ImprintError(f"partner {partner} not found")
        return await partners_domain.create_api_key(
            repos,
            clock=SystemClock(),
            box=SecretBox(settings.master_keys()),
            env=settings.env,
            partner_id=found.id,
        )

    issued = _with_database(work)
    if as_json:
        typer.echo(json.dumps({**_key_json(issued.record), "api_key": issued.api_key}))
    else:
        typer.echo(f"created key {issued.record.id}\n{issued.api_key}\n(shown once: keep it now)")


@keys_app.command("list")
def keys_list(
    partner: Annotated[str, typer.Option("--partner", help="The partner's id.")],
    as_json: JsonFlag = False,
) -> None:
    """List a partner's keys (prefixes only; keys are never stored)."""

    async def work(database: Database, settings: Settings) -> list[ApiKey]:
        return await database.repositories.list_api_keys(partner.upper())

    found = _with_database(work)
    if as_json:
        typer.echo(json.dumps([_key_json(k) for k in found]))
    for key in [] if as_json else found:
        state = "revoked" if key.revoked_at else "active"
        typer.echo(f"{key.id}  {key.display_prefix}...  {state}")


@keys_app.command("revoke")
def keys_revoke(key_id: str, as_json: JsonFlag = False) -> None:
    """Revoke a key: every server refuses it within one second."""

    async def work(database: Database, settings: Settings) -> bool:
        return await database.repositories.revoke_api_key(key_id.upper(), at=SystemClock().now_ms())

    revoked = _with_database(work)
    if as_json:
        typer.echo(json.dumps({"id": key_id.upper(), "revoked": revoked}))
    else:
        typer.echo(f"revoked {key_id}" if revoked else f"{key_id}: no such active key")
    if not revoked:
        raise typer.Exit(1)


# -- serve --------------------------------------------------------------------------------------
async def _bootstrap_sandbox(settings: Settings) -> str | None:
    """On an empty sandbox database, create the sandbox partner and a key; return the key."""
    database = await open_database(settings)
    try:
        repos = database.repositories
        if await repos.list_partners():
            return None
        clock = SystemClock()
        partner = await partners_domain.create_partner(
            repos, clock=clock, name=partners_domain.SANDBOX_PARTNER_NAME, merchant_keys=[]
        )
        issued = await partners_domain.create_api_key(
            repos,
            clock=clock,
            box=SecretBox(settings.master_keys()),
            env="sandbox",
            partner_id=partner.id,
        )
        return issued.api_key
    finally:
        await database.close()


def _banner(settings: Settings, base_url: str, api_key: str | None) -> str:
    lines = [f"imprint-sessions {__version__} ({settings.env}) on {base_url}"]
    if api_key:
        body = '{"partner_customer_id": "CUST_03476998", "transaction_amount": 34000}'
        curl = (
            f"curl -u {api_key}: -H 'content-type: application/json' "
            f"-d {shlex.quote(body)} {base_url}/v2/customer_sessions"
        )
        lines += [
            "",
            "Sandbox API key (shown this once; only its hash is stored):",
            f"  {api_key}",
            "",
            "Create a customer session:",
            f"  {curl}",
        ]
    elif settings.sandbox:
        lines += [
            "The sandbox key was printed on the first start. Make another with:",
            "  imprint-sessions partners list && imprint-sessions keys create --partner ID",
        ]
    lines += [f"API docs: {base_url}/docs", ""]
    return "\n".join(lines)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the API. On the embedded default (SQLite) it applies migrations first."""
    import uvicorn

    settings = get_settings()
    _migrate_embedded(settings)
    api_key = asyncio.run(_bootstrap_sandbox(settings)) if settings.sandbox else None
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    sys.stdout.write(_banner(settings, f"http://{shown_host}:{port}", api_key) + "\n")
    sys.stdout.flush()
    uvicorn.run(
        "imprint_sessions.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,  # our RequestIdMiddleware writes a redacted access log
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


@app.callback()
def _main() -> None:
    """imprint-sessions: Imprint's customer-session API, self-hosted."""


def main() -> None:
    app()
