"""The app under uvicorn on a free loopback port, in a thread of the test process, and a partner
to call it with."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
import uvicorn

from conftest import _REGISTRY
from imprint_sessions.clock import Clock, SystemClock
from imprint_sessions.config import Settings
from imprint_sessions.credentials import SecretBox
from imprint_sessions.domain import partners
from imprint_sessions.domain.partners import IssuedApiKey
from imprint_sessions.logs import (
    API_KEY_RE,
    CLIENT_ACCESS_TOKEN_RE,
    CLIENT_SECRET_RE,
    WEBHOOK_SECRET_RE,
)
from imprint_sessions.storage.db import open_database
from imprint_sessions.storage.repositories import Repositories

SERVER_TIMEOUT_SECONDS = 15.0
CREDENTIAL_PATTERNS = [API_KEY_RE, CLIENT_ACCESS_TOKEN_RE, CLIENT_SECRET_RE, WEBHOOK_SECRET_RE]


@contextmanager
def serve_in_thread(app: Any, *, name: str = "live-uvicorn") -> Iterator[str]:
    """Serve ``app`` (lifespan and all) on ``127.0.0.1``; yield its base URL; stop it on exit.

    Its logs are the test process's own, so the leak registry's handler sees every line.
    """
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="on",
        ws="none",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            pytest.fail("uvicorn exited during startup (see the captured log)")
        if time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail(f"uvicorn did not start within {SERVER_TIMEOUT_SECONDS}s")
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_TIMEOUT_SECONDS)
        assert not thread.is_alive(), "uvicorn did not shut down"


def remember_credentials(content: bytes) -> None:
    """Every credential an answer carries goes to the leak registry (the sweep looks for it)."""
    text = content.decode("utf-8", "replace")
    for pattern in CREDENTIAL_PATTERNS:
        for match in pattern.finditer(text):
            _REGISTRY.remember(match.group(0))


async def new_partner(
    repos: Repositories, *, clock: Clock, box: SecretBox, env: str, name: str
) -> IssuedApiKey:
    """A fresh partner and one API key for it (remembered by the leak registry)."""
    partner = await partners.create_partner(
        repos, clock=clock, name=f"{name} {secrets.token_hex(3)}", merchant_keys=[]
    )
    issued = await partners.create_api_key(
        repos, clock=clock, box=box, env=env, partner_id=partner.id
    )
    _REGISTRY.remember(issued.api_key)
    return issued


async def _new_partner_api_key(settings: Settings, name: str) -> str:
    database = await open_database(settings)
    try:
        box = SecretBox(settings.master_keys())
        issued = await new_partner(
            database.repositories, clock=SystemClock(), box=box, env=settings.env, name=name
        )
    finally:
        await database.close()
    return issued.api_key


def new_partner_api_key(settings: Settings, *, name: str = "live") -> str:
    """A fresh partner and one API key for it, written straight to ``settings``' database."""
    return anyio.run(_new_partner_api_key, settings, name)
