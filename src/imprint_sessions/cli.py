"""The admin CLI: ``serve``, ``worker``, ``db upgrade``, ``partners``, ``keys``, ``webhooks``,
``audit``, ``operators`` (the console's)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import enum
import fcntl
import getpass
import json
import logging
import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer

from imprint_sessions import __version__
from imprint_sessions.clock import SystemClock, rfc3339_ms
from imprint_sessions.config import Settings, get_settings
from imprint_sessions.credentials import SecretBox, canonical_id
from imprint_sessions.domain import audit as audit_domain
from imprint_sessions.domain import operators as operators_domain
from imprint_sessions.domain import partners as partners_domain
from imprint_sessions.errors import ImprintError, InvalidRequest
from imprint_sessions.preflight import (
    ConfigError,
    check_all,
    check_data_dir,
    check_database,
    load_settings,
)
from imprint_sessions.storage import migrate
from imprint_sessions.storage.db import Database, open_database
from imprint_sessions.storage.records import (
    ApiKey,
    AuditContext,
    Operator,
    Partner,
    WebhookEndpointFields,
)
from imprint_sessions.storage.repositories import Repositories
from imprint_sessions.storage.urls import backend, sqlite_path

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


@contextlib.contextmanager
def _embedded_setup(settings: Settings) -> Iterator[None]:
    """Migrate the embedded database (SQLite) and keep its set-up to ourselves until the block
    ends; on PostgreSQL (``db upgrade``'s job) do nothing.

    Several processes may start on one data directory at once (``serve`` started N times, a CLI
    command beside it): a lock file beside the database makes them migrate, and create the
    sandbox partner, one after the other, so the first does it and the rest find it done.
    """
    url = settings.resolved_database_url
    if backend(url) != "sqlite":
        yield
        return
    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".setup.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        migrate.upgrade(url)
        yield


def _migrate_embedded(settings: Settings) -> None:
    """The embedded default (SQLite) keeps itself migrated; PostgreSQL is ``db upgrade``'s job."""
    with _embedded_setup(settings):
        pass


def _checked_settings() -> Settings:
    """The settings, after every start-up check (``preflight``): a misconfiguration stops the
    command here, with one line naming the fix, before anything is changed."""
    settings = load_settings()
    check_all(settings)
    return settings


def _with_database(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    settings = _checked_settings()
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


def _operator() -> AuditContext:
    """Who a command acts as in the audit trail: the operator, by their login on this machine."""
    try:
        login: str | None = getpass.getuser()
    except (KeyError, OSError):  # no login name to be had (a container's unnamed user)
        login = None
    return audit_domain.operator_actor(login)


async def _existing_partner(repos: Repositories, partner_id: str) -> Partner:
    found = await partners_domain.get_partner(repos, partner_id=partner_id)
    if found is None:
        raise ImprintError(f"partner {partner_id} not found")
    return found


def _partner_json(partner: Partner) -> dict[str, Any]:
    return {
        "id": partner.id,
        "name": partner.name,
        "merchant_keys": list(partner.merchant_keys),
        "allowed_origins": list(partner.allowed_origins),
        "logo_url": partner.logo_url,
        "created_at": rfc3339_ms(partner.created_at),
    }


def _key_json(key: ApiKey) -> dict[str, Any]:
    data = asdict(key)
    data["created_at"] = rfc3339_ms(key.created_at)
    data["revoked_at"] = rfc3339_ms(key.revoked_at) if key.revoked_at else None
    return data


LogoUrlOption = Annotated[
    str | None,
    typer.Option(
        "--logo-url",
        help="An https:// URL of the partner's logo, shown by the native SDKs above the "
        "hosted page (default: IMPRINT_DEFAULT_LOGO_URL).",
    ),
]


# -- db -----------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to run from several hosts at once)."""
    settings = load_settings()
    check_data_dir(settings)
    check_database(settings, migrates_itself=True)  # reachable, and not ahead of this code
    migrate.upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


# -- partners -----------------------------------------------------------------------------------
@partners_app.command("create")
def partners_create(
    name: Annotated[str, typer.Option("--name", help="The partner's display name.")],
    merchant_key: Annotated[
        list[str] | None,
        typer.Option("--merchant-key", help="A product's merchant key (repeatable)."),
    ] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="A browser origin (https://shop.example[:port]) allowed to call the client "
            "API (repeatable).",
        ),
    ] = None,
    logo_url: LogoUrlOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a partner."""

    async def work(database: Database, settings: Settings) -> Partner:
        return await partners_domain.create_partner(
            database.repositories,
            clock=SystemClock(),
            name=name,
            merchant_keys=merchant_key or [],
            allowed_origins=origin or [],
            logo_url=logo_url,
        )

    partner = _with_database(work)
    typer.echo(json.dumps(_partner_json(partner)) if as_json else f"created partner {partner.id}")


@partners_app.command("update")
def partners_update(
    partner: Annotated[str, typer.Option("--partner", help="The partner's id.")],
    logo_url: Annotated[
        str, typer.Option("--logo-url", help='The logo for the native SDKs; "" clears it.')
    ],
    as_json: JsonFlag = False,
) -> None:
    """Change a partner's settings (its logo)."""

    async def work(database: Database, settings: Settings) -> Partner:
        updated = await partners_domain.set_logo_url(
            database.repositories, partner_id=partner.upper(), logo_url=logo_url
        )
        if updated is None:
            raise ImprintError(f"partner {partner} not found")
        return updated

    updated = _with_database(work)
    typer.echo(json.dumps(_partner_json(updated)) if as_json else f"updated partner {updated.id}")


@partners_app.command("list")
def partners_list(as_json: JsonFlag = False) -> None:
    """List partners."""

    async def work(database: Database, settings: Settings) -> list[Partner]:
        return await partners_domain.list_partners(database.repositories)

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
        found = await _existing_partner(repos, partner)
        return await partners_domain.create_api_key(
            repos,
            clock=SystemClock(),
            box=SecretBox(settings.master_keys()),
            env=settings.env,
            partner_id=found.id,
            audit=_operator(),
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
        return await partners_domain.list_api_keys(database.repositories, partner_id=partner)

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
        return await partners_domain.revoke_api_key(
            database.repositories, clock=SystemClock(), api_key_id=key_id, audit=_operator()
        )

    revoked = _with_database(work)
    if as_json:
        typer.echo(json.dumps({"id": key_id.upper(), "revoked": revoked}))
    else:
        typer.echo(f"revoked {key_id}" if revoked else f"{key_id}: no such active key")
    if not revoked:
        raise typer.Exit(1)


# -- operators (the console) --------------------------------------------------------------------
operators_app = typer.Typer(help="Operators of the console (/console): who may sign in to it.")
app.add_typer(operators_app, name="operators")


def _operator_json(operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id,
        "name": operator.name,
        "display_prefix": operator.display_prefix,
        "created_at": rfc3339_ms(operator.created_at),
        "revoked_at": rfc3339_ms(operator.revoked_at) if operator.revoked_at else None,
    }


@operators_app.command("create")
def operators_create(
    name: Annotated[str, typer.Option("--name", help="Who the operator is (shown in audits).")],
    as_json: JsonFlag = False,
) -> None:
    """Create an operator. Their credential is printed once and stored only as a keyed hash."""

    async def work(database: Database, settings: Settings) -> operators_domain.IssuedOperator:
        return await operators_domain.create_operator(
            database.repositories,
            clock=SystemClock(),
            box=SecretBox(settings.master_keys()),
            name=name,
        )

    issued = _with_database(work)
    if as_json:
        typer.echo(json.dumps({**_operator_json(issued.record), "credential": issued.credential}))
    else:
        typer.echo(
            f"created operator {issued.record.id} ({issued.record.name})\n{issued.credential}\n"
            "(shown once: sign in at /console with it)"
        )


@operators_app.command("list")
def operators_list(as_json: JsonFlag = False) -> None:
    """List the operators (display prefixes only; credentials are never stored)."""

    async def work(database: Database, settings: Settings) -> list[Operator]:
        return await operators_domain.list_operators(database.repositories)

    found = _with_database(work)
    if as_json:
        typer.echo(json.dumps([_operator_json(o) for o in found]))
    for operator in [] if as_json else found:
        state = "revoked" if operator.revoked_at else "active"
        typer.echo(f"{operator.id}  {operator.display_prefix}...  {state}  {operator.name}")


@operators_app.command("revoke")
def operators_revoke(operator_id: str, as_json: JsonFlag = False) -> None:
    """Revoke an operator: their credential stops working and every console login ends."""

    async def work(database: Database, settings: Settings) -> Operator | None:
        return await operators_domain.revoke_operator(
            database.repositories, clock=SystemClock(), operator_id=operator_id
        )

    revoked = _with_database(work)
    if as_json:
        typer.echo(json.dumps({"id": operator_id.upper(), "revoked": revoked is not None}))
    else:
        typer.echo(
            f"revoked {operator_id}" if revoked else f"{operator_id}: no such active operator"
        )
    if revoked is None:
        raise typer.Exit(1)


# -- serve --------------------------------------------------------------------------------------
async def _bootstrap_sandbox(settings: Settings) -> str | None:
    """On an empty sandbox database, create the sandbox partner and a key; return the key."""
    database = await open_database(settings)
    try:
        issued = await partners_domain.bootstrap_sandbox(
            database.repositories, clock=SystemClock(), box=SecretBox(settings.master_keys())
        )
        return issued.api_key if issued else None
    finally:
        await database.close()


def _banner(settings: Settings, base_url: str, api_key: str | None) -> str:
    lines = [f"imprint-sessions {__version__} ({settings.env}) on {base_url}"]
    if settings.serve_webhook_worker == "on":
        lines.append("Webhooks: delivered by this process (--no-worker to leave them to a worker)")
    else:
        lines.append("Webhooks: NOT delivered by this process: run `imprint-sessions worker`")
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
    if settings.sandbox:
        lines.append(f"Demo shop: {base_url}/demo")
    lines += [f"API docs: {base_url}/docs", ""]
    return "\n".join(lines)


def _print_when_listening(host: str, port: int, banner: str) -> None:
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    sys.stdout.write(banner + "\n")
    sys.stdout.flush()


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(help="Interface to listen on [default: IMPRINT_HOST or 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on [default: IMPRINT_PORT or 8000].")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    with_worker: Annotated[
        bool | None,
        typer.Option(
            "--with-worker/--no-worker",
            help="Deliver webhooks from this command too (the default, on every store: every "
            "process shares the outbox safely). --no-worker leaves delivery to "
            "`imprint-sessions worker` processes run separately.",
        ),
    ] = None,
) -> None:
    """Run the API. On the embedded default (SQLite) it applies migrations first."""
    import uvicorn

    if with_worker is not None:  # read by each server process's create_app_from_env
        os.environ["IMPRINT_SERVE_WEBHOOK_WORKER"] = "on" if with_worker else "off"
        get_settings.cache_clear()
    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    check_all(settings, host=host, port=port)
    with _embedded_setup(settings):
        api_key = asyncio.run(_bootstrap_sandbox(settings)) if settings.sandbox else None
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    banner = _banner(settings, f"http://{shown_host}:{port}", api_key)
    # Printed once the port accepts connections, so the curl line in it works when it appears.
    threading.Thread(
        target=_print_when_listening, args=(shown_host, port, banner), daemon=True
    ).start()
    # The supervisor of --workers N logs too (a worker that died and was replaced, the signals it
    # got): without this its records fell below logging's last-resort WARNING and were lost.
    from imprint_sessions.logs import configure_logging

    configure_logging(settings.log_level)
    from imprint_sessions.observability.multiprocess import multiprocess_metrics

    # --workers N: each worker writes its metrics to a directory of this run's, which any of them
    # sums when scraped (observability/multiprocess.py); the workers inherit it from here.
    with multiprocess_metrics(workers):
        uvicorn.run(
            "imprint_sessions.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop=settings.event_loop,
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
    try:
        app()
    except ConfigError as exc:
        sys.stderr.write(f"imprint-sessions: {exc}\n")
        sys.exit(2)


# -- webhooks -------------------------------------------------------------------------------------
webhooks_app = typer.Typer(help="Webhook endpoints, their events and deliveries.")
app.add_typer(webhooks_app, name="webhooks")

sandboxes_app = typer.Typer(
    help="Throwaway sandboxes (sandbox mode): each a partner of its own, reset or deleted at will."
)
app.add_typer(sandboxes_app, name="sandboxes")


def _sandbox_mode(settings: Settings) -> None:
    if not settings.sandbox:
        raise ImprintError("sandboxes: only in the sandbox (IMPRINT_ENV=sandbox)")


def _sandbox_json(sandbox: Any, api_key: str | None = None) -> dict[str, Any]:
    from imprint_sessions.wire.sandboxes import CREATED_SANDBOX, SANDBOX

    written = CREATED_SANDBOX(sandbox, api_key) if api_key else SANDBOX(sandbox)
    loaded: dict[str, Any] = json.loads(written)
    return loaded


@sandboxes_app.command("create")
def sandboxes_create(
    parent: Annotated[str, typer.Option("--parent", help="The partner it belongs to.")],
    name: Annotated[str | None, typer.Option("--name", help="What it is for.")] = None,
    test_clock: Annotated[
        bool, typer.Option("--test-clock", help="Give it a test clock, starting now.")
    ] = False,
    frozen_time: Annotated[
        str | None,
        typer.Option("--frozen-time", help="Give it a test clock starting at this RFC-3339 time."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a sandbox under a partner. Its API key is printed once."""
    from imprint_sessions.domain import sandboxes, test_clocks

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        _sandbox_mode(settings)
        clock = SystemClock()
        test_clock_at = (
            test_clocks.starting_time(_cli_timestamp("--frozen-time", frozen_time), clock=clock)
            if test_clock or frozen_time is not None
            else None
        )
        async with database.unit_of_work() as uow:
            issued = await sandboxes.create_sandbox(
                uow.repositories,
                clock=clock,
                box=SecretBox(settings.master_keys()),
                parent_id=parent,
                name=name,
                test_clock_at=test_clock_at,
            )
            await uow.commit()
        return _sandbox_json(issued.sandbox, issued.key.api_key)

    created = _with_database(work)
    if as_json:
        typer.echo(json.dumps(created))
    else:
        typer.echo(
            f"created sandbox {created['id']}\n{created['api_key']}\n(shown once: keep it now)"
        )


def _cli_timestamp(option: str, value: str | None) -> int | None:
    from imprint_sessions.validation import utc_epoch_ms

    if value is None:
        return None
    try:
        return utc_epoch_ms(value)
    except ValueError:
        raise InvalidRequest(
            f"{option}: must be an RFC-3339 date-time, e.g. 2025-02-13T19:08:07Z"
        ) from None


@sandboxes_app.command("advance-clock")
def sandboxes_advance_clock(
    sandbox_id: str,
    seconds: Annotated[
        int | None, typer.Option("--seconds", min=0, help="How far to move it on.")
    ] = None,
    to: Annotated[str | None, typer.Option("--to", help="The RFC-3339 time to move it to.")] = None,
) -> None:
    """Move a sandbox's test clock forward (give exactly one of --seconds and --to)."""
    from imprint_sessions.domain import test_clocks

    async def work(database: Database, settings: Settings) -> str:
        _sandbox_mode(settings)
        if (seconds is None) == (to is None):  # (the domain's check names the API's fields)
            raise InvalidRequest("advance-clock: give exactly one of --seconds and --to")
        async with database.unit_of_work() as uow:
            sandbox = await test_clocks.advance_test_clock(
                uow.repositories,
                caller_id=None,
                sandbox_id=sandbox_id,
                to=_cli_timestamp("--to", to),
                seconds=seconds,
            )
            await uow.commit()
        assert sandbox.test_clock_at is not None
        return f"sandbox {sandbox.id}: its test clock shows {rfc3339_ms(sandbox.test_clock_at)}"

    typer.echo(_with_database(work))


@sandboxes_app.command("list")
def sandboxes_list(
    parent: Annotated[str, typer.Option("--parent", help="The partner they belong to.")],
    as_json: JsonFlag = False,
) -> None:
    """List a partner's sandboxes, oldest first."""
    from imprint_sessions.domain import sandboxes

    async def work(database: Database, settings: Settings) -> list[dict[str, Any]]:
        _sandbox_mode(settings)
        found = await _existing_partner(database.repositories, parent)
        listed = await sandboxes.list_sandboxes(database.repositories, parent_id=found.id)
        return [_sandbox_json(sandbox) for sandbox in listed]

    found = _with_database(work)
    if as_json:
        typer.echo(json.dumps(found))
    for sandbox in [] if as_json else found:
        typer.echo(f"{sandbox['id']}  {sandbox['created_at']}  {sandbox['name']}")


@sandboxes_app.command("reset")
def sandboxes_reset(sandbox_id: str) -> None:
    """Delete everything in a sandbox; its keys keep working."""
    from imprint_sessions.domain import sandboxes

    async def work(database: Database, settings: Settings) -> str:
        _sandbox_mode(settings)
        async with database.unit_of_work() as uow:
            sandbox = await sandboxes.reset_sandbox(
                uow.repositories, caller_id=None, sandbox_id=sandbox_id
            )
            await uow.commit()
        return sandbox.id

    typer.echo(f"reset sandbox {_with_database(work)}")


@sandboxes_app.command("delete")
def sandboxes_delete(sandbox_id: str) -> None:
    """Delete a sandbox and its data; its keys stop working."""
    from imprint_sessions.domain import sandboxes

    async def work(database: Database, settings: Settings) -> str:
        _sandbox_mode(settings)
        async with database.unit_of_work() as uow:
            deleted = await sandboxes.delete_sandbox(
                uow.repositories, clock=SystemClock(), caller_id=None, sandbox_id=sandbox_id
            )
            await uow.commit()
        return deleted

    typer.echo(f"deleted sandbox {_with_database(work)}")


def _webhook_json(model: Any) -> dict[str, Any]:
    if isinstance(model, bytes):  # already the partner API's JSON
        loaded: dict[str, Any] = json.loads(model)
        return loaded
    dumped: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return dumped


@webhooks_app.command("add")
def webhooks_add(
    partner: Annotated[str, typer.Option("--partner", help="The partner's id.")],
    url: Annotated[str, typer.Option("--url", help="Where to POST events.")],
    events: Annotated[
        list[str] | None,
        typer.Option("--events", help="APPLICATION or PAYMENT_METHOD (repeatable; default all)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a webhook endpoint. Its signing secret is printed once and never stored."""
    from imprint_sessions.domain import webhooks as webhooks_domain
    from imprint_sessions.webhooks.targets import TargetPolicy
    from imprint_sessions.wire.webhooks import render_endpoint

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        repos = database.repositories
        found = await _existing_partner(repos, partner)
        clock = SystemClock()
        issued = await webhooks_domain.create_webhook_endpoint(
            repos,
            clock=clock,
            box=SecretBox(settings.master_keys()),
            targets=TargetPolicy.for_settings(settings),
            partner_id=found.id,
            fields=WebhookEndpointFields(
                url=url, event_types=tuple(events) if events is not None else None
            ),
            audit=_operator(),
        )
        wire = render_endpoint(issued.endpoint, secret=issued.secret, now=clock.now_ms())
        return _webhook_json(wire)

    created = _with_database(work)
    if as_json:
        typer.echo(json.dumps(created))
    else:
        typer.echo(
            f"created webhook endpoint {created['id']}\n{created['secret']}\n"
            "(the signing secret is shown once: keep it now)"
        )


@webhooks_app.command("list")
def webhooks_list(
    partner: Annotated[str, typer.Option("--partner", help="The partner's id.")],
    as_json: JsonFlag = False,
) -> None:
    """List a partner's webhook endpoints (secrets are never shown again)."""
    from imprint_sessions.domain import webhooks as webhooks_domain
    from imprint_sessions.wire.webhooks import render_endpoint

    async def work(database: Database, settings: Settings) -> list[dict[str, Any]]:
        found = await webhooks_domain.list_webhook_endpoints(
            database.repositories, partner_id=partner.upper()
        )
        now = SystemClock().now_ms()
        return [_webhook_json(render_endpoint(e, now=now)) for e in found]

    found = _with_database(work)
    if as_json:
        typer.echo(json.dumps(found))
    for endpoint in [] if as_json else found:
        types = ",".join(endpoint["event_types"])
        typer.echo(f"{endpoint['id']}  {endpoint['status']}  {types}  {endpoint['url']}")


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: str, as_json: JsonFlag = False) -> None:
    """Disable an endpoint: nothing more is sent to it; pending deliveries are given up."""
    from imprint_sessions.domain import webhooks as webhooks_domain
    from imprint_sessions.wire.webhooks import render_endpoint

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        clock = SystemClock()
        endpoint = await webhooks_domain.disable_webhook_endpoint(
            database.repositories,
            clock=clock,
            partner_id=None,
            endpoint_id=endpoint_id,
            audit=_operator(),
        )
        return _webhook_json(render_endpoint(endpoint, now=clock.now_ms()))

    disabled = _with_database(work)
    typer.echo(json.dumps(disabled) if as_json else f"disabled {disabled['id']}")


@webhooks_app.command("delete")
def webhooks_delete(endpoint_id: str, as_json: JsonFlag = False) -> None:
    """Delete an endpoint: its URL and secret are erased; pending deliveries are cancelled."""
    from imprint_sessions.domain import webhooks as webhooks_domain

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        deleted_id = await webhooks_domain.delete_webhook_endpoint(
            database.repositories,
            clock=SystemClock(),
            partner_id=None,
            endpoint_id=endpoint_id,
            audit=_operator(),
        )
        return {"id": deleted_id, "deleted": True}

    deleted = _with_database(work)
    typer.echo(json.dumps(deleted) if as_json else f"deleted {deleted['id']}")


@webhooks_app.command("rotate-secret")
def webhooks_rotate_secret(
    endpoint_id: str,
    grace_seconds: Annotated[
        int | None,
        typer.Option(
            "--grace-seconds",
            min=0,
            help="How long the old secret also signs (default: 86400 or the setting).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a new signing secret (printed once); the old one signs too for a grace period."""
    from imprint_sessions.domain import webhooks as webhooks_domain
    from imprint_sessions.wire.webhooks import render_endpoint

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        clock = SystemClock()
        issued = await webhooks_domain.rotate_webhook_secret(
            database.repositories,
            clock=clock,
            box=SecretBox(settings.master_keys()),
            partner_id=None,
            endpoint_id=endpoint_id,
            grace_seconds=(
                grace_seconds
                if grace_seconds is not None
                else settings.webhook_secret_grace_seconds
            ),
            audit=_operator(),
        )
        wire = render_endpoint(issued.endpoint, secret=issued.secret, now=clock.now_ms())
        return _webhook_json(wire)

    rotated = _with_database(work)
    if as_json:
        typer.echo(json.dumps(rotated))
    else:
        until = rotated.get("previous_secret_expires_at", "now")
        typer.echo(
            f"rotated {rotated['id']}\n{rotated['secret']}\n"
            f"(shown once; the previous secret also signs until {until})"
        )


@webhooks_app.command("events")
def webhooks_events(
    partner: Annotated[str, typer.Option("--partner", help="The partner's id.")],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    starting_after: Annotated[str | None, typer.Option("--starting-after")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List a partner's events, oldest first."""
    from imprint_sessions.domain import webhooks as webhooks_domain
    from imprint_sessions.wire.webhooks import render_event

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        page = await webhooks_domain.list_webhook_events(
            database.repositories,
            partner_id=partner.upper(),
            limit=limit,
            starting_after=starting_after,
        )
        return {
            "data": [_webhook_json(render_event(e)) for e in page.items],
            "has_more": page.has_more,
            "total": page.total,
        }

    page = _with_database(work)
    if as_json:
        typer.echo(json.dumps(page))
    for event in [] if as_json else page["data"]:
        typer.echo(f"{event['id']}  {event['created_at']}  {event['object']}")


@webhooks_app.command("deliveries")
def webhooks_deliveries(event_id: str, as_json: JsonFlag = False) -> None:
    """Show an event's deliveries and every attempt."""
    from imprint_sessions.domain import webhooks as webhooks_domain
    from imprint_sessions.wire.webhooks import render_delivery_with_attempts

    async def work(database: Database, settings: Settings) -> list[dict[str, Any]]:
        found = await webhooks_domain.list_event_deliveries(
            database.repositories, partner_id=None, event_id=event_id
        )
        return [_webhook_json(render_delivery_with_attempts(d)) for d in found]

    found = _with_database(work)
    if as_json:
        typer.echo(json.dumps(found))
    for delivery in [] if as_json else found:
        typer.echo(
            f"{delivery['id']}  {delivery['status']}  endpoint {delivery['endpoint_id']}  "
            f"{delivery['attempt_count']} attempt(s)"
        )
        for attempt in delivery["attempts"]:
            outcome = attempt.get("http_status") or attempt.get("error", "")
            typer.echo(f"    {attempt['attempted_at']}  {outcome}  {attempt['duration_ms']} ms")


@webhooks_app.command("replay")
def webhooks_replay(delivery_id: str, as_json: JsonFlag = False) -> None:
    """Send a delivered or dead delivery's event again (a new delivery, the same event id)."""
    from imprint_sessions.domain import webhooks as webhooks_domain
    from imprint_sessions.wire.webhooks import render_delivery

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        replay = await webhooks_domain.replay_webhook_delivery(
            database.repositories,
            clock=SystemClock(),
            partner_id=None,
            delivery_id=delivery_id,
            audit=_operator(),
        )
        return _webhook_json(render_delivery(replay, []))

    replay = _with_database(work)
    typer.echo(json.dumps(replay) if as_json else f"replaying as delivery {replay['id']}")


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=256, help="Deliveries in flight at once (IMPRINT_WEBHOOK_CONCURRENCY)."
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
) -> None:
    """Deliver webhooks until SIGTERM. Run any number, on any hosts, against PostgreSQL."""
    from imprint_sessions.logs import configure_logging
    from imprint_sessions.observability import tracing
    from imprint_sessions.webhooks.worker import WebhookWorker

    settings = _checked_settings()
    configure_logging(settings.log_level)
    _migrate_embedded(settings)
    # With IMPRINT_OTEL_EXPORTER_OTLP_ENDPOINT: each delivery attempt and its SQL are spans.
    provider = tracing.tracer_provider(settings)
    tracer = provider.get_tracer(tracing.TRACER_NAME) if provider is not None else None

    async def run() -> int:
        database = await open_database(
            settings, sql_spans=tracing.SqlSpans(tracer) if tracer is not None else None
        )
        delivery_worker = WebhookWorker.from_settings(
            database,
            settings,
            box=SecretBox(settings.master_keys()),
            clock=SystemClock(),
            concurrency=concurrency,
            tracer=tracer,
        )
        try:
            if once:
                return await delivery_worker.drain()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            logging.getLogger("imprint_sessions.webhooks.worker").info("webhook worker started")
            await delivery_worker.run(stop)
            return 0
        finally:
            await delivery_worker.aclose()
            await database.close()
            if provider is not None:
                provider.shutdown()  # flushes the spans still batched

    handled = asyncio.run(run())
    if once:
        typer.echo(f"handled {handled} deliveries")


# -- audit ----------------------------------------------------------------------------------------
audit_app = typer.Typer(help="The audit trail: who did what to a partner's account.")
app.add_typer(audit_app, name="audit")


class ExportFormat(enum.StrEnum):
    jsonl = "jsonl"
    csv = "csv"


# A spreadsheet runs a cell starting with one of these as a formula (OWASP's CSV injection); a
# request id may start with "-". Such a cell is written with a leading "'", which shows as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


@contextlib.contextmanager
def _export_target(output: Path | None) -> Iterator[IO[str]]:
    """Where the export goes: stdout, or ``output`` (0600: client addresses are personal data),
    written beside it and renamed into place only once complete."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    partial = output.with_name(output.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)


@audit_app.command("export")
def audit_export(
    partner: Annotated[str, typer.Option("--partner", help="The partner's id.")],
    output_format: Annotated[
        ExportFormat, typer.Option("--format", help="jsonl (one entry per line) or csv.")
    ] = ExportFormat.jsonl,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only entries at or after this RFC-3339 date-time."),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only entries before this RFC-3339 date-time.")
    ] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only entries of this type (repeatable, or comma-separated)."),
    ] = None,
    object_id: Annotated[
        str | None, typer.Option("--object-id", help="Only entries about this object.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Export a partner's audit trail, oldest first, with the API's field names. The partner
    may have been deleted: its trail is kept."""
    from imprint_sessions.wire.audit import AUDIT_EVENT, AUDIT_EVENT_FIELDS

    partner_id = canonical_id(partner)
    if partner_id is None:
        typer.echo(f"error: --partner: {partner} is not an id (a UUID)", err=True)
        raise typer.Exit(2)

    async def work(database: Database, settings: Settings) -> int:
        query = audit_domain.audit_query(
            types=event_type or (),
            object_id=object_id,
            created_gte=since,
            created_lt=until,
            names={
                "type": "--type",
                "object_id": "--object-id",
                "created_gte": "--since",
                "created_lt": "--until",
            },
        )
        exported = 0
        with _export_target(output) as stream:
            table = csv.writer(stream) if output_format is ExportFormat.csv else None
            if table is not None:
                table.writerow(AUDIT_EVENT_FIELDS)
            events = audit_domain.export_audit_events(
                database.repositories, partner_id=partner_id, query=query
            )
            async for event in events:
                line = AUDIT_EVENT(event).decode()
                if table is None:
                    stream.write(line + "\n")
                else:
                    entry = json.loads(line)
                    table.writerow([_csv_cell(entry.get(name)) for name in AUDIT_EVENT_FIELDS])
                exported += 1
        return exported

    exported = _with_database(work)
    if output is not None:
        typer.echo(f"exported {exported} audit events to {output}", err=True)


# -- faults (sandbox test helpers) ----------------------------------------------------------------
faults_app = typer.Typer(
    help="Sandbox test faults: make a partner's requests, webhook deliveries or hosted-page "
    "starts fail on purpose (every serve process applies them within a second)."
)
app.add_typer(faults_app, name="faults")
PartnerOption = Annotated[str, typer.Option("--partner", help="The partner's id.")]


def _sandbox_faults(settings: Settings) -> None:
    if not settings.sandbox:
        raise ImprintError("faults: sandbox only (IMPRINT_ENV=sandbox), none in production")


def _fault_line(fault: dict[str, Any]) -> str:
    what = fault.get("operation") or fault.get("endpoint_id") or fault.get("outcome")
    extra = [f"{k}={fault[k]}" for k in ("status", "retry_after", "delay_ms") if k in fault]
    uses = "until deleted" if "remaining" not in fault else f"{fault['remaining']} left"
    return "  ".join(str(part) for part in (fault["id"], fault["kind"], what, *extra, uses) if part)


@faults_app.command("add")
def faults_add(
    partner: PartnerOption,
    kind: Annotated[
        str,
        typer.Option("--kind", help="error, delay, drop, webhook_failure or hosted_outcome."),
    ],
    operation: Annotated[
        str | None,
        typer.Option("--operation", help="The operationId (error, delay, drop): createSession..."),
    ] = None,
    status: Annotated[int | None, typer.Option("--status", help="429, 500 or 503 (error).")] = None,
    retry_after: Annotated[
        int | None, typer.Option("--retry-after", help="Retry-After of a 429 or 503 (seconds).")
    ] = None,
    delay_ms: Annotated[
        int | None, typer.Option("--delay-ms", help="Wait first (delay; error and drop too).")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="A webhook endpoint's id (webhook_failure).")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option("--outcome", help="IN_PROGRESS or ERROR:<error_code> (hosted_outcome)."),
    ] = None,
    times: Annotated[
        int | None, typer.Option("--times", help="How many requests it applies to (default 1).")
    ] = None,
    until_deleted: Annotated[
        bool, typer.Option("--until-deleted", help="Apply until deleted (instead of --times).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Declare a fault for a partner's own traffic (as POST /v2/test_helpers/faults does)."""
    from imprint_sessions.domain import faults as faults_domain
    from imprint_sessions.wire.test_helpers import FAULT

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        _sandbox_faults(settings)
        repos = database.repositories
        found = await _existing_partner(repos, partner)
        fault = await faults_domain.declare_fault(
            repos,
            clock=SystemClock(),
            partner_id=found.id,
            declaration=faults_domain.FaultDeclaration(
                kind=kind,
                operation=operation,
                status=status,
                retry_after=retry_after,
                delay_ms=delay_ms,
                endpoint_id=endpoint,
                outcome=outcome,
                times=times,
                until_deleted=until_deleted or None,
            ),
        )
        loaded: dict[str, Any] = json.loads(FAULT(fault))
        return loaded

    created = _with_database(work)
    typer.echo(json.dumps(created) if as_json else f"created fault {_fault_line(created)}")


@faults_app.command("list")
def faults_list(partner: PartnerOption, as_json: JsonFlag = False) -> None:
    """List a partner's faults, oldest first, with the uses each has left."""
    from imprint_sessions.domain import faults as faults_domain
    from imprint_sessions.wire.test_helpers import FAULT

    async def work(database: Database, settings: Settings) -> list[dict[str, Any]]:
        _sandbox_faults(settings)
        repos = database.repositories
        found = await _existing_partner(repos, partner)
        listed = await faults_domain.list_faults(repos, partner_id=found.id)
        return [json.loads(FAULT(fault)) for fault in listed]

    found = _with_database(work)
    if as_json:
        typer.echo(json.dumps(found))
    for fault in [] if as_json else found:
        typer.echo(_fault_line(fault))


@faults_app.command("delete")
def faults_delete(fault_id: str, partner: PartnerOption, as_json: JsonFlag = False) -> None:
    """Delete one of a partner's faults."""
    from imprint_sessions.domain import faults as faults_domain

    async def work(database: Database, settings: Settings) -> dict[str, Any]:
        _sandbox_faults(settings)
        repos = database.repositories
        found = await _existing_partner(repos, partner)
        deleted = await faults_domain.delete_fault(repos, partner_id=found.id, fault_id=fault_id)
        return {"id": deleted.id, "deleted": True}

    deleted = _with_database(work)
    typer.echo(json.dumps(deleted) if as_json else f"deleted fault {deleted['id']}")
