"""Every resource method of ``Imprint`` and ``AsyncImprint`` against the app in this process, on
SQLite and PostgreSQL: what it sends is what the server takes, and what it returns is the
server's answer as the SDK's model."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest

from conftest import _REGISTRY
from imprint_client import (
    APIError,
    AsyncImprint,
    AuditEvent,
    AuthenticationError,
    ConflictError,
    CreatedApiKey,
    CreatedSandbox,
    Customer,
    CustomerSession,
    CustomerSessionSummary,
    DeletedFault,
    ErrorDetail,
    Fault,
    Imprint,
    InvalidRequestError,
    NotFoundError,
    PaymentMethod,
    PermissionDeniedError,
    Sandbox,
    SyncPage,
    TestClock,
    WebhookEndpoint,
    WebhookEvent,
)
from sdk.conftest import AsyncApp, SyncApp

UUID_RE = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
HISTORY = {
    "email": "customer@example.com",
    "first_name": "John",
    "last_name": "Doe",
    "address": {"street_line1": "123 Main St", "city": "San Francisco", "country": "USA"},
    "ltv_amount": 34000,
    "ltv_currency": "USD",
}


def pcid() -> str:
    return f"CUST_{secrets.token_hex(4)}"


def test_sessions_and_customers_round_trip_through_the_sync_client(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    partner_customer_id = pcid()
    created = client.customer_sessions.create(
        partner_customer_id=partner_customer_id,
        transaction_amount=34000,
        transaction_currency="USD",
        customer_history=HISTORY,
        source="web_signup",
        metadata={"store_number": "123"},
        expires_in=900,
    )
    assert isinstance(created, CustomerSession)
    assert UUID_RE.fullmatch(created.id)
    assert created.client_secret.startswith("ics_")
    assert (created.metadata, created.source) == ({"store_number": "123"}, "web_signup")
    assert client.customer_sessions.retrieve(created.id) == created

    (customer,) = client.customers.list(partner_customer_id=partner_customer_id)
    assert isinstance(customer, Customer)
    assert (customer.email, customer.first_name, customer.last_name) == (
        "customer@example.com",
        "John",
        "Doe",
    )
    assert customer.address is not None
    assert customer.address.city == "San Francisco"
    assert client.customers.retrieve(customer.id) == customer
    found = client.customers.search(partner_customer_id=partner_customer_id)
    assert [c.id for c in found] == [customer.id]

    updated = client.customers.update(
        customer.id,
        first_name="Johnny",
        phone="+14155552671",
        date_of_birth={"year": 1990, "month": 4, "day": 15},
        ssn="123-45-6789",
        metadata={"tier": "gold"},
    )
    _REGISTRY.remember_ssn("123-45-6789")
    assert (updated.first_name, updated.last_name, updated.phone) == (
        "Johnny",
        "Doe",
        "+14155552671",
    )
    assert updated.ssn4 == "6789"
    assert updated.date_of_birth is not None
    assert updated.date_of_birth.year == 1990
    assert updated.metadata == {"tier": "gold"}
    by_ssn = client.customers.search(
        ssn="123456789", date_of_birth={"year": 1990, "month": 4, "day": 15}
    )
    assert [c.id for c in by_ssn] == [customer.id]

    (summary,) = client.customer_sessions.list(customer.id)
    assert isinstance(summary, CustomerSessionSummary)
    assert (summary.id, summary.state) == (created.id, "active")
    expired = client.customer_sessions.expire(created.id)
    assert (expired.id, expired.state) == (created.id, "revoked")
    assert expired.revoked_at is not None
    assert client.customer_sessions.expire(created.id) == expired  # changes nothing


async def test_sessions_and_customers_round_trip_through_the_async_client(
    async_app: AsyncApp,
) -> None:
    client = await async_app.partner_client()
    partner_customer_id = pcid()
    created = await client.customer_sessions.create(
        partner_customer_id=partner_customer_id, customer_history=HISTORY
    )
    assert await client.customer_sessions.retrieve(created.id) == created
    page = await client.customers.list(partner_customer_id=partner_customer_id)
    assert [c.partner_customer_id async for c in page] == [partner_customer_id]
    customer = page.data[0]
    assert await client.customers.retrieve(customer.id) == customer
    searched = await client.customers.search(partner_customer_id=partner_customer_id)
    assert [c.id for c in searched.data] == [customer.id]
    updated = await client.customers.update(customer.id, last_name="Smith")
    assert (updated.first_name, updated.last_name) == ("John", "Smith")
    sessions = await client.customer_sessions.list(customer.id)
    assert [s.id async for s in sessions] == [created.id]
    assert (await client.customer_sessions.expire(created.id)).state == "revoked"


def test_payment_methods_appear_after_a_simulated_acceptance(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    partner_customer_id = pcid()
    client.customer_sessions.create(partner_customer_id=partner_customer_id)
    rejected = client.test_helpers.simulate_application(
        partner_customer_id=partner_customer_id, status="REJECTED"
    )
    assert (rejected.status, rejected.payment_method_id) == ("REJECTED", None)
    accepted = client.test_helpers.simulate_application(
        customer_id=rejected.customer_id, status="OFFER_ACCEPTED"
    )
    assert accepted.status == "OFFER_ACCEPTED"
    assert accepted.payment_method_id
    (method,) = client.payment_methods.list(accepted.customer_id)
    assert isinstance(method, PaymentMethod)
    assert (method.id, method.type, method.status) == (accepted.payment_method_id, "CARD", "ACTIVE")
    assert method.card is not None
    assert len(method.card.last4 or "") == 4
    assert client.payment_methods.retrieve(method.id) == method
    assert client.customers.retrieve(accepted.customer_id).statuses == {"default": "OPEN"}


async def test_payment_methods_and_the_simulator_through_the_async_client(
    async_app: AsyncApp,
) -> None:
    client = await async_app.partner_client()
    partner_customer_id = pcid()
    await client.customer_sessions.create(partner_customer_id=partner_customer_id)
    accepted = await client.test_helpers.simulate_application(
        partner_customer_id=partner_customer_id, status="OFFER_ACCEPTED"
    )
    methods = await client.payment_methods.list(accepted.customer_id)
    assert [m.id for m in methods.data] == [accepted.payment_method_id]
    assert accepted.payment_method_id is not None
    method = await client.payment_methods.retrieve(accepted.payment_method_id)
    assert method == methods.data[0]


def test_the_merchant_key_goes_where_the_api_takes_it(sync_app: SyncApp) -> None:
    """A partner with several products must name one on createSession and
    simulateApplication: the client's default, or the call's own."""
    _, api_key = sync_app.new_partner(merchant_keys=["acme-card", "acme-travel"])
    without = sync_app.client(api_key)
    with pytest.raises(InvalidRequestError) as missing:
        without.customer_sessions.create(partner_customer_id=pcid())
    assert [d.field for d in missing.value.details] == ["x-imprint-merchant-key"]
    with pytest.raises(PermissionDeniedError):
        without.customer_sessions.create(partner_customer_id=pcid(), merchant_key="not-ours")
    partner_customer_id = pcid()
    without.customer_sessions.create(
        partner_customer_id=partner_customer_id, merchant_key="acme-travel"
    )
    client = sync_app.client(api_key, merchant_key="acme-card")
    assert client.merchant_key == "acme-card"
    client.customer_sessions.create(partner_customer_id=partner_customer_id)
    simulated = client.test_helpers.simulate_application(
        partner_customer_id=partner_customer_id, status="OFFER_ACCEPTED"
    )
    assert client.customers.retrieve(simulated.customer_id).statuses == {"acme-card": "OPEN"}
    # The customers API takes no merchant key; the client's default is not sent there.
    assert [c.id for c in client.customers.list()] == [simulated.customer_id]


def test_api_keys_rotate_through_the_client(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    created = client.api_keys.create()
    assert isinstance(created, CreatedApiKey)
    _REGISTRY.remember(created.api_key)
    assert created.api_key.startswith("isk_test_")
    as_new_key = client.with_options(api_key=created.api_key)
    assert list(as_new_key.customers.list()) == []
    deleted = client.api_keys.delete(created.id)
    assert (deleted.id, deleted.deleted) == (created.id, True)
    deadline = time.monotonic() + 5  # revoked everywhere within the one-second auth cache
    refused: AuthenticationError | None = None
    while refused is None:
        try:
            as_new_key.customers.list()
        except AuthenticationError as exc:
            refused = exc
        assert time.monotonic() < deadline, "the deleted key still works"
        time.sleep(0.2)
    assert refused.status == 401
    with pytest.raises(NotFoundError) as gone:
        client.api_keys.delete(created.id)
    assert gone.value.type == "KEY_NOT_FOUND_ERROR"


async def test_api_keys_through_the_async_client(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    created = await client.api_keys.create()
    _REGISTRY.remember(created.api_key)
    assert list((await client.with_options(api_key=created.api_key).customers.list()).data) == []
    assert (await client.api_keys.delete(created.id)).deleted is True


def test_webhook_endpoints_and_events_through_the_sync_client(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    endpoint = client.webhook_endpoints.create(
        url="http://127.0.0.1:9/hooks", event_types=["APPLICATION"], description="Order service"
    )
    assert isinstance(endpoint, WebhookEndpoint)
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    _REGISTRY.remember(endpoint.secret)
    assert (endpoint.event_types, endpoint.description, endpoint.status) == (
        ["APPLICATION"],
        "Order service",
        "ENABLED",
    )
    (listed,) = client.webhook_endpoints.list()
    assert (listed.id, listed.secret) == (endpoint.id, None)
    rotated = client.webhook_endpoints.rotate_secret(endpoint.id, grace_period_seconds=60)
    assert rotated.secret is not None
    assert rotated.secret != endpoint.secret
    _REGISTRY.remember(rotated.secret)
    assert rotated.previous_secret_expires_at is not None
    again = client.webhook_endpoints.rotate_secret(endpoint.id)  # no body: the default grace
    assert again.secret is not None
    _REGISTRY.remember(again.secret)

    partner_customer_id = pcid()
    client.customer_sessions.create(partner_customer_id=partner_customer_id)
    client.test_helpers.simulate_application(
        partner_customer_id=partner_customer_id, status="OFFER_ACCEPTED"
    )
    events = list(client.webhook_events.list())
    assert all(isinstance(e, WebhookEvent) for e in events)
    assert sorted(e.object for e in events) == ["APPLICATION", "PAYMENT_METHOD"]
    application = next(e for e in events if e.object == "APPLICATION")
    assert application.data["partner_customer_id"] == partner_customer_id
    (delivery,) = client.webhook_events.deliveries(application.id)
    assert (delivery.event_id, delivery.endpoint_id, delivery.status) == (
        application.id,
        endpoint.id,
        "PENDING",
    )
    disabled = client.webhook_endpoints.disable(endpoint.id)
    assert disabled.status == "DISABLED"
    assert client.webhook_endpoints.delete(endpoint.id).deleted is True
    assert list(client.webhook_endpoints.list()) == []
    with pytest.raises(NotFoundError) as gone:
        client.webhook_endpoints.delete(endpoint.id)
    assert gone.value.param == "endpoint_id"


async def test_webhook_endpoints_and_events_through_the_async_client(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    endpoint = await client.webhook_endpoints.create(url="http://127.0.0.1:9/hooks")
    assert endpoint.secret is not None
    _REGISTRY.remember(endpoint.secret)
    assert [e.id for e in (await client.webhook_endpoints.list()).data] == [endpoint.id]
    rotated = await client.webhook_endpoints.rotate_secret(endpoint.id, grace_period_seconds=0)
    assert rotated.secret is not None
    assert rotated.previous_secret_expires_at is None
    _REGISTRY.remember(rotated.secret)
    partner_customer_id = pcid()
    await client.customer_sessions.create(partner_customer_id=partner_customer_id)
    await client.test_helpers.simulate_application(
        partner_customer_id=partner_customer_id, status="REJECTED"
    )
    (event,) = [e async for e in await client.webhook_events.list()]
    assert event.object == "APPLICATION"
    assert event.data["status"] == "REJECTED"
    deliveries = await client.webhook_events.deliveries(event.id)
    assert [d.endpoint_id for d in deliveries.data] == [endpoint.id]
    assert (await client.webhook_endpoints.disable(endpoint.id)).status == "DISABLED"
    assert (await client.webhook_endpoints.delete(endpoint.id)).deleted is True


def test_sandboxes_are_made_used_reset_and_deleted_through_the_client(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    sandbox = client.test_helpers.sandboxes.create(name="ci-build-4812")
    assert isinstance(sandbox, CreatedSandbox)
    _REGISTRY.remember(sandbox.api_key)
    unnamed = client.test_helpers.sandboxes.create()
    _REGISTRY.remember(unnamed.api_key)
    assert unnamed.name == "Throwaway sandbox"
    listed = client.test_helpers.sandboxes.list()
    assert [s.id for s in listed] == [sandbox.id, unnamed.id]
    assert all(type(s) is Sandbox for s in listed)

    inside = client.with_options(api_key=sandbox.api_key)
    inside.customer_sessions.create(partner_customer_id=pcid())
    assert len(list(inside.customers.list())) == 1
    assert list(client.customers.list()) == []  # the parent sees none of it
    reset = client.test_helpers.sandboxes.reset(sandbox.id)
    assert (reset.id, reset.name) == (sandbox.id, "ci-build-4812")
    assert list(inside.customers.list()) == []  # emptied; its key still works
    assert client.test_helpers.sandboxes.delete(sandbox.id).deleted is True
    assert client.test_helpers.sandboxes.delete(unnamed.id).deleted is True
    with pytest.raises(NotFoundError) as gone:
        client.test_helpers.sandboxes.reset(sandbox.id)
    assert gone.value.type == "SANDBOX_NOT_FOUND_ERROR"


async def test_sandboxes_through_the_async_client(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    sandbox = await client.test_helpers.sandboxes.create(name="async")
    _REGISTRY.remember(sandbox.api_key)
    assert [s.id for s in (await client.test_helpers.sandboxes.list()).data] == [sandbox.id]
    assert (await client.test_helpers.sandboxes.reset(sandbox.id)).id == sandbox.id
    assert (await client.test_helpers.sandboxes.delete(sandbox.id)).deleted is True


# -- test clocks ----------------------------------------------------------------------------------

START = "2031-05-01T09:00:00.000Z"
ONE_OF = [ErrorDetail("frozen_time", "give exactly one of frozen_time and seconds")]


def rfc3339(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def test_a_sandboxs_test_clock_is_read_advanced_and_followed(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    sandbox = client.test_helpers.sandboxes.create(
        name="clocked", test_clock={"frozen_time": "2031-05-01T09:00:00Z"}
    )
    _REGISTRY.remember(sandbox.api_key)
    assert sandbox.test_clock == TestClock(sandbox_id=sandbox.id, frozen_time=START)
    assert client.test_helpers.sandboxes.retrieve_test_clock(sandbox.id) == sandbox.test_clock
    (listed,) = client.test_helpers.sandboxes.list()
    assert type(listed.test_clock) is TestClock
    assert listed.test_clock == sandbox.test_clock
    inside = client.with_options(api_key=sandbox.api_key)  # the sandbox reads its own clock
    assert inside.test_helpers.sandboxes.retrieve_test_clock(sandbox.id) == sandbox.test_clock
    partner_customer_id = pcid()
    session = inside.customer_sessions.create(
        partner_customer_id=partner_customer_id, expires_in=900
    )
    assert session.expires_at == "2031-05-01T09:15:00.000Z"  # by the sandbox's clock

    by = client.test_helpers.sandboxes.advance_test_clock(sandbox.id, seconds=90)
    assert by == TestClock(sandbox_id=sandbox.id, frozen_time="2031-05-01T09:01:30.000Z")
    later = "2031-05-02T09:00:00.000Z"
    to = inside.test_helpers.sandboxes.advance_test_clock(sandbox.id, frozen_time=later)
    assert to == TestClock(sandbox_id=sandbox.id, frozen_time=later)
    # To the time it shows: allowed, and nothing changes.
    assert client.test_helpers.sandboxes.advance_test_clock(sandbox.id, frozen_time=later) == to
    assert client.test_helpers.sandboxes.retrieve_test_clock(sandbox.id) == to
    (customer,) = inside.customers.list(partner_customer_id=partner_customer_id)
    (summary,) = inside.customer_sessions.list(customer.id)
    assert (summary.id, summary.state) == (session.id, "expired")  # a day on, by the clock

    with pytest.raises(ConflictError) as back:
        client.test_helpers.sandboxes.advance_test_clock(sandbox.id, frozen_time=START)
    assert back.value.status == 409
    assert back.value.type == "TEST_CLOCK_ADVANCE_ERROR"
    with pytest.raises(InvalidRequestError) as neither:
        client.test_helpers.sandboxes.advance_test_clock(sandbox.id)
    assert neither.value.details == ONE_OF
    with pytest.raises(InvalidRequestError) as both:
        client.test_helpers.sandboxes.advance_test_clock(sandbox.id, frozen_time=later, seconds=1)
    assert both.value.details == ONE_OF
    assert client.test_helpers.sandboxes.retrieve_test_clock(sandbox.id) == to  # none moved it
    assert client.test_helpers.sandboxes.delete(sandbox.id).deleted is True


def test_a_sandbox_without_a_test_clock_has_none_to_read_or_advance(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    plain = client.test_helpers.sandboxes.create(name="real time")
    _REGISTRY.remember(plain.api_key)
    assert plain.test_clock is None
    assert "test_clock" not in plain.model_fields_set  # left out of the answer, not null
    assert client.test_helpers.sandboxes.list().data[0].test_clock is None
    for attempt in (
        lambda: client.test_helpers.sandboxes.retrieve_test_clock(plain.id),
        lambda: client.test_helpers.sandboxes.advance_test_clock(plain.id, seconds=1),
    ):
        with pytest.raises(NotFoundError) as caught:
            attempt()
        assert (caught.value.status, caught.value.type, caught.value.param) == (
            404,
            "TEST_CLOCK_NOT_FOUND_ERROR",
            "sandbox_id",
        )
    stranger = sync_app.partner_client()  # another partner's sandbox is not found at all
    clocked = client.test_helpers.sandboxes.create(test_clock={})
    _REGISTRY.remember(clocked.api_key)
    with pytest.raises(NotFoundError) as hidden:
        stranger.test_helpers.sandboxes.retrieve_test_clock(clocked.id)
    assert hidden.value.type == "SANDBOX_NOT_FOUND_ERROR"


def test_a_test_clocks_arguments_are_checked_before_anything_is_sent(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    with pytest.raises(TypeError, match=r"createSandbox: test_clock\.frozen: is not a known field"):
        client.test_helpers.sandboxes.create(test_clock={"frozen": START})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(TypeError, match=r"createSandbox: test_clock: must be a dict"):
        client.test_helpers.sandboxes.create(test_clock=True)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"advanceTestClock: seconds: must be an integer"):
        client.test_helpers.sandboxes.advance_test_clock("any", seconds="60")  # type: ignore[arg-type]
    assert client.test_helpers.sandboxes.list().data == []


async def test_test_clocks_through_the_async_client(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    before = datetime.now(UTC).replace(microsecond=0)
    sandbox = await client.test_helpers.sandboxes.create(test_clock={})  # starting now
    _REGISTRY.remember(sandbox.api_key)
    assert sandbox.test_clock is not None
    started = datetime.fromisoformat(sandbox.test_clock.frozen_time)
    assert before <= started <= datetime.now(UTC)
    sandboxes = client.test_helpers.sandboxes
    assert await sandboxes.retrieve_test_clock(sandbox.id) == sandbox.test_clock
    hour_on = await sandboxes.advance_test_clock(sandbox.id, seconds=3600)
    assert hour_on.frozen_time == rfc3339(started + timedelta(hours=1))
    to = rfc3339(started + timedelta(days=30))
    assert (await sandboxes.advance_test_clock(sandbox.id, frozen_time=to)).frozen_time == to
    with pytest.raises(ConflictError) as back:
        await sandboxes.advance_test_clock(sandbox.id, frozen_time=sandbox.test_clock.frozen_time)
    assert back.value.status == 409
    assert (await sandboxes.retrieve_test_clock(sandbox.id)).frozen_time == to
    plain = await sandboxes.create()
    _REGISTRY.remember(plain.api_key)
    with pytest.raises(NotFoundError) as none:
        await sandboxes.advance_test_clock(plain.id, frozen_time=to)
    assert none.value.type == "TEST_CLOCK_NOT_FOUND_ERROR"
    listed = [s.test_clock for s in (await sandboxes.list()).data]
    assert listed == [TestClock(sandbox_id=sandbox.id, frozen_time=to), None]


# -- pagination -----------------------------------------------------------------------------------


def test_iterating_a_list_walks_every_page_in_order(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    made = [client.customer_sessions.create(partner_customer_id=f"P{n:02d}") for n in range(7)]
    first = client.customers.list(limit=3)
    assert isinstance(first, SyncPage)
    assert (len(first.data), first.has_more, first.total) == (3, True, 7)
    assert [c.partner_customer_id for c in first] == [f"P{n:02d}" for n in range(7)]
    assert [c.partner_customer_id for c in first.auto_paging_iter()] == [
        f"P{n:02d}" for n in range(7)
    ]
    second = first.next_page()
    assert second is not None
    assert [c.partner_customer_id for c in second.data] == [
        "P03",
        "P04",
        "P05",
    ]
    last = second.next_page()
    assert last is not None
    assert not last.has_more
    assert not last.has_next_page()
    assert last.next_page() is None
    # starting_after picks up anywhere; a search pages through its body.
    after = client.customers.list(limit=2, starting_after=first.data[-1].id)
    assert [c.partner_customer_id for c in after] == [f"P{n:02d}" for n in range(3, 7)]
    assert len(list(client.customers.search(limit=2))) == 7
    assert len(made) == 7


def test_a_customers_sessions_and_the_events_page_too(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    partner_customer_id = pcid()
    sessions = [
        client.customer_sessions.create(partner_customer_id=partner_customer_id) for _ in range(5)
    ]
    customer_id = client.customers.list(partner_customer_id=partner_customer_id).data[0].id
    walked = [s.id for s in client.customer_sessions.list(customer_id, limit=2)]
    assert walked == [s.id for s in sessions]
    for _ in range(2):  # four events: APPLICATION and PAYMENT_METHOD each time
        client.test_helpers.simulate_application(customer_id=customer_id, status="OFFER_ACCEPTED")
    assert len(list(client.webhook_events.list(limit=3))) == 4
    assert len(list(client.payment_methods.list(customer_id, limit=1))) == 2


async def test_async_iteration_walks_every_page(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    for n in range(5):
        await client.customer_sessions.create(partner_customer_id=f"A{n}")
    page = await client.customers.list(limit=2)
    assert [c.partner_customer_id async for c in page] == [f"A{n}" for n in range(5)]
    assert [c.partner_customer_id async for c in page.auto_paging_iter()] == [
        f"A{n}" for n in range(5)
    ]
    second = await page.next_page()
    assert second is not None
    assert [c.partner_customer_id for c in second.data] == ["A2", "A3"]
    assert len([c async for c in await client.customers.search(limit=2)]) == 5


# -- what the client refuses before sending -------------------------------------------------------


def test_a_wrong_type_or_unknown_field_is_refused_before_anything_is_sent(
    sync_app: SyncApp,
) -> None:
    client = sync_app.partner_client()
    with pytest.raises(TypeError, match=r"createSession: transaction_amount: must be an integer"):
        client.customer_sessions.create(transaction_amount="34000")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"customer_history\.emial: is not a known field"):
        client.customer_sessions.create(customer_history={"emial": "x@y.co"})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(TypeError) as ssn:
        client.customers.update("X", ssn=123456789)  # type: ignore[arg-type]
    assert "123456789" not in str(ssn.value)
    with pytest.raises(ValueError, match="customer_id must be a non-empty string"):
        client.customers.retrieve("")
    assert list(client.customers.list()) == []  # nothing was created


def test_a_path_id_cannot_reach_another_route(sync_app: SyncApp) -> None:
    """The server decodes ``%2F`` before routing (``X%2Fpayment_methods`` would list X's cards)
    and URLs drop dot segments: such an id is refused; any other character is quoted."""
    client = sync_app.partner_client()
    client.customer_sessions.create(partner_customer_id=pcid())
    customer_id = client.customers.list().data[0].id
    for bad in (f"{customer_id}/payment_methods", "..", "."):
        with pytest.raises(ValueError, match="customer_id is not an id"):
            client.customers.retrieve(bad)
    with pytest.raises(NotFoundError) as missing:
        client.customers.retrieve(f"{customer_id}?x=1#y")
    assert missing.value.type == "CUSTOMER_NOT_FOUND_ERROR"


def test_a_client_owns_only_the_pool_it_made(sync_app: SyncApp) -> None:
    http = sync_app.http_client()
    _, api_key = sync_app.new_partner()
    with Imprint(api_key, base_url="http://testserver", http_client=http) as client:
        client.customers.list()
        copy = client.with_options(max_retries=0)
        assert copy.max_retries == 0
        assert client.max_retries == 2
        copy.close()
        client.customers.list()  # the copy left the shared pool open
    assert not http.is_closed  # passed in: the caller closes it
    http.close()
    own = Imprint(api_key)
    own.close()
    assert own._http.is_closed


async def test_an_async_client_closes_only_its_own_pool(async_app: AsyncApp) -> None:
    _, api_key = await async_app.new_partner()
    async with AsyncImprint(api_key) as own:
        pass
    assert own._http.is_closed


# -- test faults, fired webhook events, the audit trail -------------------------------------------


def test_faults_are_declared_listed_applied_and_deleted_through_the_client(
    sync_app: SyncApp,
) -> None:
    client = sync_app.partner_client(max_retries=0)
    fault = client.test_helpers.faults.create(
        kind="error", operation="getCustomer", status=503, retry_after=2, times=2
    )
    assert isinstance(fault, Fault)
    assert UUID_RE.fullmatch(fault.id)
    assert (fault.kind, fault.operation, fault.status, fault.retry_after) == (
        "error",
        "getCustomer",
        503,
        2,
    )
    assert (fault.times, fault.remaining) == (2, 2)
    endless = client.test_helpers.faults.create(
        kind="delay", operation="listCustomers", delay_ms=1, until_deleted=True
    )
    assert (endless.times, endless.remaining, endless.delay_ms) == (None, None, 1)

    with pytest.raises(APIError) as unavailable:
        client.customers.retrieve("00000000-0000-4000-8000-000000000000")
    assert (unavailable.value.status, unavailable.value.retry_after) == (503, 2.0)
    assert unavailable.value.request_id is not None
    listed = client.test_helpers.faults.list()
    assert [(f.id, f.remaining) for f in listed] == [(fault.id, 1), (endless.id, None)]
    assert listed.has_more is False

    deleted = client.test_helpers.faults.delete(fault.id)
    assert isinstance(deleted, DeletedFault)
    assert (deleted.id, deleted.deleted) == (fault.id, True)
    with pytest.raises(NotFoundError):  # no fault left: the real answer
        client.customers.retrieve("00000000-0000-4000-8000-000000000000")
    assert client.test_helpers.faults.delete(endless.id).deleted is True
    assert client.test_helpers.faults.list().data == []
    with pytest.raises(NotFoundError):
        client.test_helpers.faults.delete(fault.id)


def test_a_fault_declared_wrongly_is_refused_by_the_client_or_the_server(
    sync_app: SyncApp,
) -> None:
    client = sync_app.partner_client()
    with pytest.raises(TypeError, match="status: must be one of 429, 500, 503"):
        client.test_helpers.faults.create(kind="error", operation="getSession", status=502)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="status: must be one of"):
        client.test_helpers.faults.create(kind="error", operation="getSession", status=503.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError) as refused:  # an error fault needs its status
        client.test_helpers.faults.create(kind="error", operation="getSession")
    assert refused.value.status == 400
    assert client.test_helpers.faults.list().data == []


async def test_faults_through_the_async_client(async_app: AsyncApp) -> None:
    client = await async_app.partner_client(max_retries=0)
    fault = await client.test_helpers.faults.create(
        kind="error", operation="listCustomers", status=500
    )
    with pytest.raises(APIError) as failed:
        await client.customers.list()
    assert failed.value.status == 500
    assert [f.remaining for f in (await client.test_helpers.faults.list()).data] == [0]
    assert (await client.customers.list()).data == []
    assert (await client.test_helpers.faults.delete(fault.id)).deleted is True


def test_webhook_events_are_fired_for_a_customer_and_listed(sync_app: SyncApp) -> None:
    client = sync_app.partner_client()
    partner_customer_id = pcid()
    client.customer_sessions.create(partner_customer_id=partner_customer_id)
    (customer,) = client.customers.list(partner_customer_id=partner_customer_id)
    fired = client.test_helpers.webhook_events.fire(
        type="APPLICATION", partner_customer_id=partner_customer_id, status="REJECTED"
    )
    assert isinstance(fired, WebhookEvent)
    assert (fired.object, fired.data["status"]) == ("APPLICATION", "REJECTED")
    assert fired.data["customer_id"] == customer.id
    assert [e.id for e in client.webhook_events.list()] == [fired.id]

    with pytest.raises(NotFoundError):  # no payment method to report on yet
        client.test_helpers.webhook_events.fire(
            type="PAYMENT_METHOD", customer_id=customer.id, new_status="ACTIVE"
        )
    accepted = client.test_helpers.simulate_application(
        customer_id=customer.id, status="OFFER_ACCEPTED"
    )
    changed = client.test_helpers.webhook_events.fire(
        type="PAYMENT_METHOD",
        customer_id=customer.id,
        previous_status="ACTIVE",
        new_status="INACTIVE",
    )
    assert changed.data["payment_method_id"] == accepted.payment_method_id
    assert (changed.data["previous_status"], changed.data["new_status"]) == ("ACTIVE", "INACTIVE")
    # One Idempotency-Key: fired once, the same event answered again.
    again = [
        client.test_helpers.webhook_events.fire(
            type="APPLICATION", customer_id=customer.id, status="REJECTED", idempotency_key="k1"
        )
        for _ in range(2)
    ]
    assert again[0] == again[1]
    assert sum(e.id == again[0].id for e in client.webhook_events.list()) == 1


async def test_webhook_events_are_fired_through_the_async_client(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    session = await client.customer_sessions.create(partner_customer_id="ASYNC_FIRE")
    assert session.id
    fired = await client.test_helpers.webhook_events.fire(
        type="APPLICATION", partner_customer_id="ASYNC_FIRE", status="OFFER_ACCEPTED"
    )
    assert [e.id for e in (await client.webhook_events.list()).data] == [fired.id]


def test_the_audit_trail_is_listed_filtered_and_paged_through_the_client(
    sync_app: SyncApp,
) -> None:
    client = sync_app.partner_client()
    made = [client.customer_sessions.create(partner_customer_id=pcid()) for _ in range(3)]
    key = client.api_keys.create()
    _REGISTRY.remember(key.api_key)
    created = client.audit_events.list(type=["customer_session.created"], limit=2)
    assert (created.total, len(created.data), created.has_more) == (3, 2, True)
    walked = list(created)  # the filter holds on every page
    assert all(isinstance(e, AuditEvent) for e in walked)
    assert [e.object_id for e in walked] == [s.id for s in made]
    assert {e.type for e in walked} == {"customer_session.created"}
    assert all(e.actor_type == "api_key" and e.request_id for e in walked)

    both = client.audit_events.list(type=["customer_session.created", "api_key.created"])
    assert both.total == 5  # and the partner's first key
    (about_key,) = client.audit_events.list(object_id=key.id)
    assert (about_key.type, about_key.details) == (
        "api_key.created",
        {"display_prefix": key.display_prefix},
    )
    assert key.api_key not in repr(about_key)
    later = client.audit_events.list(created_gte=walked[-1].created_at)
    assert walked[-1].id in {e.id for e in later}
    before = client.audit_events.list(
        type=["customer_session.created"], created_lt=walked[0].created_at
    )
    assert before.total == 0

    with pytest.raises(TypeError, match="type must be a list"):
        client.audit_events.list(type="api_key.created")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError) as bad:
        client.audit_events.list(created_gte="yesterday", object_id="nope")
    assert len(bad.value.details) == 2  # every bad filter at once


async def test_the_audit_trail_through_the_async_client(async_app: AsyncApp) -> None:
    client = await async_app.partner_client()
    made = [await client.customer_sessions.create(partner_customer_id=pcid()) for _ in range(3)]
    page = await client.audit_events.list(type=["customer_session.created"], limit=1)
    assert [e.object_id async for e in page] == [s.id for s in made]
