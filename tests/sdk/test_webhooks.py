"""``imprint_client.webhooks.verify`` on real deliveries (the service's own worker, to a real
receiver on loopback), on both signature schemes, through a secret's rotation; and every way a
request that is not a genuine, recent event is refused."""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from conftest import _REGISTRY
from imprint_client import (
    ApplicationEvent,
    ApplicationEventData,
    AsyncImprint,
    PaymentMethodEvent,
    PaymentMethodEventData,
    WebhookVerificationError,
    webhooks,
)
from imprint_sessions.webhooks.signing import signature_headers
from imprint_sessions.webhooks.targets import TargetPolicy
from imprint_sessions.webhooks.worker import WebhookWorker
from sdk.conftest import AsyncApp
from webhook_receiver import Received, receiving

SECRET = "whsec_" + base64.b64encode(b"k" * 24).decode()
OTHER = "whsec_" + base64.b64encode(b"o" * 24).decode()
BODY = json.dumps(
    {
        "data": {
            "created_at": "2025-02-13T19:08:07.000Z",
            "customer_id": "AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA",
            "customer_metadata": {"tier": "gold"},
            "merchant_key": None,
            "partner_customer_id": "CUST_03476998",
            "status": "OFFER_ACCEPTED",
            "updated_at": "2025-02-13T19:09:51.000Z",
        },
        "id": "8D5C1A2B-3E4F-4A5B-9C6D-7E8F9A0B1C2D",
        "object": "APPLICATION",
    },
    separators=(",", ":"),
    sort_keys=True,
).encode()
EVENT_ID = "8D5C1A2B-3E4F-4A5B-9C6D-7E8F9A0B1C2D"


def signed(
    body: bytes = BODY, *, secrets_: list[str] | None = None, age_s: float = 0
) -> dict[str, str]:
    """The headers the service's own signing code writes, ``age_s`` seconds ago."""
    now_ms = int((time.time() - age_s) * 1000)
    return signature_headers(
        event_id=EVENT_ID, body=body, now_ms=now_ms, secrets=secrets_ or [SECRET]
    )


def only(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() in {n.lower() for n in names}}


STANDARD = ("webhook-id", "webhook-timestamp", "webhook-signature")
IMPRINT = ("X-IMPRINT-HMAC-SIGNATURE",)


# -- real deliveries ------------------------------------------------------------------------------


@pytest.fixture
async def worker(async_app: AsyncApp) -> AsyncIterator[WebhookWorker]:
    services = async_app.services
    delivering = WebhookWorker(
        services.database,
        box=services.box,
        clock=services.clock,
        targets=TargetPolicy(production=False),
        timeout_seconds=5.0,
        lease_seconds=30.0,
        concurrency=4,
        rng=random.Random(7),
    )
    yield delivering
    await delivering.aclose()


async def deliver(worker: WebhookWorker, received: list[Received], count: int) -> list[Received]:
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        await worker.drain()
    assert len(received) == count, received
    return list(received)


async def test_real_deliveries_verify_and_read_as_typed_events(
    async_app: AsyncApp, worker: WebhookWorker
) -> None:
    client: AsyncImprint = await async_app.partner_client()
    pcid = f"CUST_{secrets.token_hex(4)}"
    with receiving() as receiver:
        endpoint = await client.webhook_endpoints.create(url=receiver.url)
        assert endpoint.secret is not None
        _REGISTRY.remember(endpoint.secret)
        await client.customer_sessions.create(partner_customer_id=pcid)
        customer = (await client.customers.list(partner_customer_id=pcid)).data[0]
        await client.customers.update(customer.id, metadata={"tier": "gold"})
        simulated = await client.test_helpers.simulate_application(
            partner_customer_id=pcid, status="OFFER_ACCEPTED"
        )
        received = await deliver(worker, receiver.received, 2)
        events = [webhooks.verify(r.body, r.headers, endpoint.secret) for r in received]
        by_type = {type(e): e for e in events}
        application = by_type[ApplicationEvent]
        assert isinstance(application, ApplicationEvent)
        assert isinstance(application.data, ApplicationEventData)
        assert (application.data.status, application.data.partner_customer_id) == (
            "OFFER_ACCEPTED",
            pcid,
        )
        assert application.data.customer_metadata == {"tier": "gold"}
        card = by_type[PaymentMethodEvent]
        assert isinstance(card, PaymentMethodEvent)
        assert isinstance(card.data, PaymentMethodEventData)
        assert (card.data.payment_method_id, card.data.new_status, card.data.previous_status) == (
            simulated.payment_method_id,
            "ACTIVE",
            None,
        )
        assert {e.id for e in events} == {r.headers["webhook-id"] for r in received}

        # Replayed through the SDK: the same event, the same body, verified again.
        (delivery,) = (await client.webhook_events.deliveries(application.id)).data
        assert delivery.status == "DELIVERED"
        assert delivery.attempts[0].http_status == 200
        replay = await client.webhook_deliveries.replay(delivery.id)
        assert (replay.replay_of, replay.status) == (delivery.id, "PENDING")
        again = (await deliver(worker, receiver.received, 3))[-1]
        assert again.body == next(r.body for r in received if r.event_id == application.id)
        assert webhooks.verify(again.body, again.headers, endpoint.secret) == application


async def test_during_a_rotation_both_secrets_verify_and_after_it_only_the_new(
    async_app: AsyncApp, worker: WebhookWorker
) -> None:
    client = await async_app.partner_client()
    pcid = f"CUST_{secrets.token_hex(4)}"
    with receiving() as receiver:
        endpoint = await client.webhook_endpoints.create(
            url=receiver.url, event_types=["APPLICATION"]
        )
        rotated = await client.webhook_endpoints.rotate_secret(
            endpoint.id, grace_period_seconds=3600
        )
        old, new = endpoint.secret, rotated.secret
        assert old is not None
        assert new is not None
        _REGISTRY.remember(old)
        _REGISTRY.remember(new)
        await client.customer_sessions.create(partner_customer_id=pcid)
        await client.test_helpers.simulate_application(partner_customer_id=pcid, status="REJECTED")
        (during,) = await deliver(worker, receiver.received, 1)
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        assert during.headers["x-imprint-hmac-signature"].count("s=") == 2
        assert webhooks.verify(during.body, during.headers, old) == webhooks.verify(
            during.body, during.headers, new
        )
        for scheme in (STANDARD, IMPRINT):  # each scheme alone carries both
            webhooks.verify(during.body, only(during.headers, *scheme), old)
            webhooks.verify(during.body, only(during.headers, *scheme), new)

        retired = await client.webhook_endpoints.rotate_secret(endpoint.id, grace_period_seconds=0)
        assert retired.secret is not None
        _REGISTRY.remember(retired.secret)
        await client.test_helpers.simulate_application(partner_customer_id=pcid, status="REJECTED")
        after = (await deliver(worker, receiver.received, 2))[-1]
        webhooks.verify(after.body, after.headers, retired.secret)
        for stale in (old, new):
            with pytest.raises(WebhookVerificationError):
                webhooks.verify(after.body, after.headers, stale)


# -- the rules, on the service's own signatures ---------------------------------------------------


def test_both_schemes_verify_alone_or_together_in_any_header_case() -> None:
    headers = signed()
    assert isinstance(webhooks.verify(BODY, headers, SECRET), ApplicationEvent)
    assert webhooks.verify(BODY, only(headers, *STANDARD), SECRET).id == EVENT_ID
    assert webhooks.verify(BODY, only(headers, *IMPRINT), SECRET).id == EVENT_ID
    shouted = {k.upper(): v for k, v in headers.items()}
    assert webhooks.verify(BODY, shouted, SECRET).id == EVENT_ID
    bare_key = SECRET.removeprefix("whsec_")  # the secret without its prefix works too
    assert webhooks.verify(BODY, headers, bare_key).id == EVENT_ID


def test_the_standard_webhooks_library_signature_verifies() -> None:
    """Signed by the standardwebhooks library, not the service: the same scheme."""
    stamp = datetime.now(UTC)
    signature = Webhook(SECRET).sign(EVENT_ID, stamp, BODY.decode())
    headers = {
        "webhook-id": EVENT_ID,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": signature,
    }
    assert webhooks.verify(BODY, headers, SECRET).id == EVENT_ID


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda body, headers: (body.replace(b"CUST_03476998", b"CUST_03476999"), headers),
            id="body",
        ),
        pytest.param(lambda body, headers: (body + b" ", headers), id="trailing-space"),
        pytest.param(
            lambda body, headers: (
                body,
                {**headers, "webhook-id": "other", "X-IMPRINT-HMAC-SIGNATURE": "t=1,s=00"},
            ),
            id="headers",
        ),
        pytest.param(lambda body, headers: (body, signed(secrets_=[OTHER])), id="another-secret"),
        pytest.param(lambda body, headers: (body, {}), id="no-headers"),
        pytest.param(
            lambda body, headers: (body, {"X-IMPRINT-HMAC-SIGNATURE": "s=" + "0" * 64}),
            id="no-timestamp",
        ),
        pytest.param(
            lambda body, headers: (body, {**only(headers, *STANDARD), "webhook-timestamp": "soon"}),
            id="bad-timestamp",
        ),
    ],
)
def test_anything_but_the_signed_request_is_refused(tamper: object) -> None:
    body, headers = tamper(BODY, signed())  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError) as refused:
        webhooks.verify(body, headers, SECRET)
    assert "webhook signature verification failed" in str(refused.value)
    assert SECRET.removeprefix("whsec_")[:12] not in str(refused.value) + repr(refused.value)


def test_an_old_or_future_timestamp_is_refused_outside_the_tolerance() -> None:
    with pytest.raises(WebhookVerificationError, match="outside the tolerance"):
        webhooks.verify(BODY, signed(age_s=301), SECRET)
    with pytest.raises(WebhookVerificationError, match="outside the tolerance"):
        webhooks.verify(BODY, signed(age_s=-301), SECRET)
    assert webhooks.verify(BODY, signed(age_s=290), SECRET).id == EVENT_ID
    assert webhooks.verify(BODY, signed(age_s=3600), SECRET, tolerance_seconds=3700).id == EVENT_ID
    with pytest.raises(WebhookVerificationError):  # each scheme checks its own clock
        webhooks.verify(BODY, only(signed(age_s=400), *IMPRINT), SECRET)


def test_a_secret_in_its_grace_period_verifies_beside_the_new_one() -> None:
    headers = signed(secrets_=[OTHER, SECRET])  # newest first
    assert webhooks.verify(BODY, headers, SECRET).id == EVENT_ID
    assert webhooks.verify(BODY, headers, OTHER).id == EVENT_ID


def test_a_genuine_request_that_is_not_a_known_event_is_refused() -> None:
    unknown = json.dumps({"data": {}, "id": EVENT_ID, "object": "REFUND"}).encode()
    with pytest.raises(WebhookVerificationError, match="unknown webhook event type 'REFUND'"):
        webhooks.verify(unknown, signed(unknown), SECRET)
    not_json = b"not json"
    with pytest.raises(WebhookVerificationError, match="not JSON"):
        webhooks.verify(not_json, signed(not_json), SECRET)
    missing = json.dumps(
        {"data": {"status": "OFFER_ACCEPTED"}, "id": EVENT_ID, "object": "APPLICATION"}
    ).encode()
    with pytest.raises(
        WebhookVerificationError, match=r"not a valid APPLICATION event: data\.customer_id"
    ):
        webhooks.verify(missing, signed(missing), SECRET)


def test_a_payload_or_secret_of_the_wrong_kind_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="raw request body, as bytes"):
        webhooks.verify(BODY.decode(), signed(), SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whsec_ \\+ base64"):
        webhooks.verify(BODY, signed(), "whsec_not base64!")
    with pytest.raises(ValueError, match="whsec_ \\+ base64"):
        webhooks.verify(BODY, signed(), "")
