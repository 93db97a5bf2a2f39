"""Partner API (issue 5) fixtures: a partner with customers, sessions and payment methods.

Every API key and client credential these tests are handed joins the leak registry, so the
end-of-suite sweep proves none reached a log line or a database.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY, Harness, _remember_secrets
from imprint_sessions.app import create_app
from imprint_sessions.clock import ManualClock
from imprint_sessions.config import Settings
from imprint_sessions.credentials import new_id
from imprint_sessions.storage.records import PaymentMethod

_CREDENTIAL_RE = re.compile(r'"(?:api_key|access_token)":"([^"]+)"')


async def _remember_credentials(response: httpx.Response) -> None:
    await response.aread()
    for match in _CREDENTIAL_RE.finditer(response.text):
        _REGISTRY.remember(match.group(1))


@pytest.fixture(autouse=True)
def _register_credentials(harness: Harness) -> None:
    hooks = harness.client.event_hooks
    harness.client.event_hooks = {**hooks, "response": [*hooks["response"], _remember_credentials]}


def random_id() -> str:
    return str(uuid.uuid4()).upper()


@dataclass
class Caller:
    """A partner and an API key of it, with shortcuts for requests made with that key."""

    harness: Harness
    partner_id: str
    api_key: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.api_key, "")

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.harness.client.get(url, auth=self.auth, **kwargs)

    async def post(self, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.harness.client.post(url, json=body, auth=self.auth, **kwargs)

    async def delete(self, url: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.harness.client.request("DELETE", url, json=body, auth=self.auth, **kwargs)

    async def new_session(self, **body: Any) -> dict[str, Any]:
        response = await self.post("/v2/customer_sessions", body)
        assert response.status_code == 200, response.text
        created: dict[str, Any] = response.json()
        return created

    async def new_customer(self, partner_customer_id: str | None = None, **body: Any) -> str:
        """A new customer (made by a session, the only way one comes to be); its id."""
        pcid = partner_customer_id or f"CUST_{uuid.uuid4().hex[:12]}"
        await self.new_session(partner_customer_id=pcid, **body)
        found = await self.get("/v2/customers", params={"partner_customer_id": pcid})
        assert found.status_code == 200, found.text
        [customer] = found.json()["data"]
        customer_id: str = customer["id"]
        return customer_id

    async def new_payment_method(
        self,
        customer_id: str,
        *,
        type_: str = "CARD",
        card: dict[str, Any] | None = None,
        loan: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """A payment method row, as accepting an offer writes one (through the repository)."""
        now = self.harness.services.clock.now_ms()
        if type_ == "CARD" and card is None:
            card = {"last4": "4242", "network": "VISA", "card_type": "VIRTUAL"}
        payment_method = PaymentMethod(
            id=new_id(),
            partner_id=self.partner_id,
            customer_id=customer_id,
            application_id=None,
            type=type_,
            status="ACTIVE",
            card_json=json.dumps(card) if card else None,
            loan_json=json.dumps(loan) if loan else None,
            metadata_json=json.dumps(metadata) if metadata else None,
            created_at=now,
            updated_at=now,
        )
        await self.harness.services.database.repositories.insert_payment_method(payment_method)
        return payment_method.id


NewCaller = Callable[[], Awaitable[Caller]]


@pytest.fixture
def new_caller(harness: Harness) -> NewCaller:
    async def make() -> Caller:
        partner_id, api_key = await harness.new_partner()
        return Caller(harness, partner_id, api_key)

    return make


@pytest.fixture
async def caller(new_caller: NewCaller) -> Caller:
    return await new_caller()


@pytest.fixture
async def intruder(new_caller: NewCaller) -> Caller:
    """Another partner, for isolation tests."""
    return await new_caller()


async def walk(caller: Caller, url: str, *, limit: int, **params: Any) -> list[dict[str, Any]]:
    """Every page of a GET list, to the end; checks the envelope of each page on the way."""
    pages: list[dict[str, Any]] = []
    starting_after: str | None = None
    while True:
        query = {**params, "limit": limit}
        if starting_after is not None:
            query["starting_after"] = starting_after
        response = await caller.get(url, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"data", "has_more", "total"}
        assert len(page["data"]) <= limit
        pages.append(page)
        if not page["has_more"]:
            return pages
        assert len(page["data"]) == limit
        starting_after = page["data"][-1]["id"]


@asynccontextmanager
async def other_app(settings: Settings, clock: ManualClock, **changes: Any) -> AsyncIterator[Any]:
    """A second app on the same database with different settings (a rotated master key, say)."""
    app = create_app(Settings(**{**settings.model_dump(), **changes}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            event_hooks={"response": [_remember_secrets, _remember_credentials]},
        ) as client:
            yield client
