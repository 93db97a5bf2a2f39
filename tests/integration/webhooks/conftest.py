"""Webhook fixtures: a partner with its API key, event emission through the outbox, workers on
the harness's database and clock, and every signing secret a response shows in the leak registry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY, Harness
from imprint_sessions.domain.events import (
    APPLICATION,
    application_event_data,
    payment_method_event_data,
    record_event,
)
from imprint_sessions.webhooks.targets import TargetPolicy
from imprint_sessions.webhooks.worker import WebhookWorker

_SECRET_RE = re.compile(r'"secret":"(whsec_[^"]+)"')


async def _remember_webhook_secrets(response: httpx.Response) -> None:
    await response.aread()
    for match in _SECRET_RE.finditer(response.text):
        _REGISTRY.remember(match.group(1))


@pytest.fixture(autouse=True)
def _register_webhook_secrets(harness: Harness) -> None:
    hooks = harness.client.event_hooks
    harness.client.event_hooks = {
        **hooks,
        "response": [*hooks["response"], _remember_webhook_secrets],
    }


def event_data(event_type: str, n: int) -> dict[str, Any]:
    customer_id = f"AD87A18A-A4BE-49FF-BC46-{n:012d}"
    if event_type == APPLICATION:
        return application_event_data(
            customer_id=customer_id,
            partner_customer_id=f"CUST_{n}",
            status="OFFER_ACCEPTED" if n % 2 else "REJECTED",
            created_at=1_739_473_687_000,
            updated_at=1_739_473_791_000,
            merchant_key=None,
            customer_metadata={"n": n, "name": "Zoë"},
        )
    return payment_method_event_data(
        payment_method_id=f"5B1D2F3E-8A7C-4E6D-9F0A-{n:012d}",
        customer_id=customer_id,
        partner_customer_id=f"CUST_{n}",
        payment_method_type="CARD",
        card_type="VIRTUAL",
        previous_status=None,
        new_status="ACTIVE",
        created_at=1_739_473_791_000,
        updated_at=1_739_473_791_000,
        merchant_key="acme-card",
    )


def imprint_signature_ok(secret: str, header: str, body: bytes) -> bool:
    """``X-IMPRINT-HMAC-SIGNATURE`` verified independently of the service's code."""
    parts = [part.split("=", 1) for part in header.split(",")]
    t = next(v for k, v in parts if k == "t")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(k == "s" and hmac.compare_digest(v, expected) for k, v in parts)


def standard_signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """``webhook-signature`` checked by hand, without the library's clock tolerance (tests that
    move the service's clock far from the real one)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(entry == f"v1,{expected}" for entry in headers["webhook-signature"].split(" "))


@dataclass
class Hooks:
    """One partner's view of webhooks over the harness."""

    h: Harness
    partner_id: str
    api_key: str
    workers: list[WebhookWorker] = field(default_factory=list)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.api_key, "")

    async def register(self, url: str, events: list[str] | None = None) -> tuple[str, str]:
        """A new endpoint through the API: ``(endpoint id, secret)``."""
        body: dict[str, Any] = {"url": url}
        if events is not None:
            body["event_types"] = events
        response = await self.h.client.post("/v2/webhook_endpoints", json=body, auth=self.auth)
        assert response.status_code == 200, response.text
        created = response.json()
        return created["id"], created["secret"]

    async def emit(self, count: int = 1, event_type: str = APPLICATION) -> list[str]:
        """``count`` events through the outbox, in one unit of work; their ids."""
        ids = []
        services = self.h.services
        async with services.database.unit_of_work() as uow:
            for n in range(count):
                event = await record_event(
                    uow.repositories,
                    partner_id=self.partner_id,
                    event_type=event_type,
                    data=event_data(event_type, n),
                    now=services.clock.now_ms(),
                )
                ids.append(event.id)
            await uow.commit()
        return ids

    def worker(self, **overrides: Any) -> WebhookWorker:
        services = self.h.services
        options: dict[str, Any] = {
            "box": services.box,
            "clock": services.clock,
            "targets": TargetPolicy(production=False),
            "timeout_seconds": 5.0,
            "lease_seconds": 30.0,
            "concurrency": 16,
            "rng": random.Random(7),
        }
        options.update(overrides)
        worker = WebhookWorker(services.database, **options)
        self.workers.append(worker)
        return worker

    async def deliveries(self, event_id: str) -> list[dict[str, Any]]:
        response = await self.h.client.get(
            f"/v2/webhook_events/{event_id}/deliveries", auth=self.auth
        )
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["data"]
        return found


@pytest.fixture
async def hooks(harness: Harness) -> AsyncIterator[Hooks]:
    partner_id, api_key = await harness.new_partner()
    found = Hooks(harness, partner_id, api_key)
    yield found
    for worker in found.workers:
        await worker.aclose()


@pytest.fixture
async def other_hooks(harness: Harness) -> AsyncIterator[Hooks]:
    """A second partner on the same deployment."""
    partner_id, api_key = await harness.new_partner()
    found = Hooks(harness, partner_id, api_key)
    yield found
    for worker in found.workers:
        await worker.aclose()


def ms_of(rfc3339: str) -> int:
    """An API timestamp as epoch milliseconds."""
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp() * 1000)
