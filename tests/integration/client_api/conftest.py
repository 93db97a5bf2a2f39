"""Client API fixtures: every client credential a response carries joins the leak registry."""

from __future__ import annotations

import re

import httpx
import pytest

from conftest import _REGISTRY, Harness

_ACCESS_TOKEN_RE = re.compile(r'"access_token":"([^"]+)"')


async def _remember_access_tokens(response: httpx.Response) -> None:
    await response.aread()
    for match in _ACCESS_TOKEN_RE.finditer(response.text):
        _REGISTRY.remember(match.group(1))


@pytest.fixture(autouse=True)
def _register_client_credentials(harness: Harness) -> None:
    hooks = harness.client.event_hooks
    harness.client.event_hooks = {
        **hooks,
        "response": [*hooks["response"], _remember_access_tokens],
    }
