"""Signing in to the operator console as a browser does: an operator made by the domain (as
``operators create`` makes one), its credential in the leak registry, the login form's token
read from the page, the form posted."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from conftest import _REGISTRY, Harness
from imprint_sessions.domain import operators

_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Operator:
    id: str
    name: str
    credential: str


async def new_operator(harness: Harness, name: str = "Ada Operator") -> Operator:
    services = harness.services
    issued = await operators.create_operator(
        services.database.repositories, clock=services.clock, box=services.box, name=name
    )
    _REGISTRY.remember(issued.credential)
    return Operator(issued.record.id, issued.record.name, issued.credential)


def csrf_token(html: str) -> str:
    match = _CSRF_RE.search(html)
    assert match is not None, "no form token on the page"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, credential: str) -> httpx.Response:
    """GET the form, POST it: the response to the POST (303 to /console when it worked)."""
    form = await client.get("/console/login")
    assert form.status_code == 200, form.text
    return await client.post(
        "/console/login",
        data={"csrf_token": csrf_token(form.text), "credential": credential},
    )


async def signed_in(harness: Harness) -> Operator:
    operator = await new_operator(harness)
    response = await sign_in(harness.client, operator.credential)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console"
    return operator
