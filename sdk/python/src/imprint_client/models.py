"""The objects the API answers with, as pydantic models, one per schema of the served OpenAPI.

Field names, required fields, types and enums are the served spec's (``tests/sdk`` compares them
with a freshly built server's ``/openapi.json``). A field the server leaves out when it has no value
is ``None`` here. Fields a newer server adds are kept (``model_extra``), so an older client keeps
working. Times are the wire's RFC-3339 strings (``2025-02-13T19:08:07.000Z``).

Secrets (``client_secret``, ``api_key``, ``secret``) are in the objects, for you to hand on, but
never in their ``repr``: it shows ``client_secret='ics_****'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from imprint_client._redact import mask, redact

__all__ = [
    "Address",
    "ApplicationEvent",
    "ApplicationEventData",
    "AuditEvent",
    "ConflictErrorBody",
    "CreatedApiKey",
    "CreatedSandbox",
    "Customer",
    "CustomerSession",
    "CustomerSessionSummary",
    "DateOfBirth",
    "DeletedApiKey",
    "DeletedFault",
    "DeletedSandbox",
    "DeletedWebhookEndpoint",
    "ErrorBody",
    "Event",
    "Fault",
    "ImprintModel",
    "NotFoundErrorBody",
    "PaymentMethod",
    "PaymentMethodCard",
    "PaymentMethodEvent",
    "PaymentMethodEventData",
    "PaymentMethodLoan",
    "Sandbox",
    "SimulatedApplication",
    "TestClock",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]

# Fields holding a credential, whichever model they are in: masked in every repr.
SECRET_FIELDS = frozenset({"client_secret", "api_key", "secret"})

EventType = Literal["APPLICATION", "PAYMENT_METHOD"]
PaymentMethodType = Literal["CARD", "LOAN", "BANK_ACCOUNT"]
PaymentMethodStatus = Literal["ACTIVE", "INACTIVE", "CANCELED"]
CardType = Literal["VIRTUAL", "PHYSICAL", "UNIFIED"]


class ImprintModel(BaseModel):
    """Base of every object: unknown fields kept, secrets masked in ``repr`` and ``str``."""

    # hide_input_in_errors: a response that fails validation must not echo what it held (a
    # client_secret) in the error.
    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in SECRET_FIELDS and value is not None:
                yield name, mask(value)
            else:
                yield name, value

    def __repr__(self) -> str:
        return redact(super().__repr__())

    def __str__(self) -> str:
        return redact(super().__str__())


# -- customer sessions ----------------------------------------------------------------------------


class CustomerSession(ImprintModel):
    """A session for a customer; ``client_secret`` goes to client-side code only, never a log."""

    id: str
    client_secret: str
    expires_at: str
    metadata: dict[str, Any] | None = None
    source: str | None = None


class CustomerSessionSummary(ImprintModel):
    """A session's lifecycle, without its secret (a customer's sessions, and ``expire``)."""

    id: str
    state: Literal["active", "consumed", "expired", "revoked"]
    created_at: str
    expires_at: str
    consumed_at: str | None = None
    revoked_at: str | None = None
    source: str | None = None
    metadata: dict[str, Any] | None = None


# -- customers ------------------------------------------------------------------------------------


class Address(ImprintModel):
    street_line1: str | None = None
    street_line2: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO-3166-1 alpha-3 (``USA``)


class DateOfBirth(ImprintModel):
    year: int
    month: int
    day: int


class Customer(ImprintModel):
    """An Imprint customer, as its partner sees it; fields never set are ``None``."""

    id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_language: str | None = None
    ssn4: str | None = None
    date_of_birth: DateOfBirth | None = None
    address: Address | None = None
    partner_customer_id: str | None = None
    statuses: dict[str, Literal["OPEN", "CLOSED"]]
    metadata: dict[str, Any]
    created_at: str
    updated_at: str


# -- payment methods ------------------------------------------------------------------------------


class PaymentMethodCard(ImprintModel):
    last4: str | None = None
    network: str | None = None
    card_type: CardType | None = None
    card_design_id: str | None = None


class PaymentMethodLoan(ImprintModel):
    amount: int | None = None
    currency: str | None = None
    remaining_balance: int | None = None
    term_months: int | None = None
    apr: str | None = None
    loan_status: str | None = None


class PaymentMethod(ImprintModel):
    id: str
    type: PaymentMethodType
    customer_id: str
    status: PaymentMethodStatus
    metadata: dict[str, Any]
    card: PaymentMethodCard | None = None
    loan: PaymentMethodLoan | None = None
    created_at: str
    updated_at: str


# -- API keys -------------------------------------------------------------------------------------


class CreatedApiKey(ImprintModel):
    """A new API key; ``api_key`` is shown in this response only."""

    id: str
    api_key: str
    partner_id: str
    created_at: str
    display_prefix: str


class DeletedApiKey(ImprintModel):
    id: str
    deleted: Literal[True] = True
    display_prefix: str
    revoked_at: str


# -- webhooks -------------------------------------------------------------------------------------


class WebhookEndpoint(ImprintModel):
    """A webhook receiver; ``secret`` only in the response that creates or rotates it."""

    id: str
    url: str
    event_types: list[EventType]
    description: str | None = None
    status: Literal["ENABLED", "DISABLED"]
    secret: str | None = None
    previous_secret_expires_at: str | None = None
    created_at: str
    updated_at: str


class DeletedWebhookEndpoint(ImprintModel):
    id: str
    deleted: Literal[True]


class WebhookEvent(ImprintModel):
    """An event as listed: ``data`` is the body's (see ``ApplicationEventData`` and
    ``PaymentMethodEventData`` for what each type carries)."""

    id: str
    object: EventType
    created_at: str
    data: dict[str, Any]


class WebhookAttempt(ImprintModel):
    id: str
    attempted_at: str
    duration_ms: int
    http_status: int | None = None
    error: str | None = None
    response_body: str | None = None


class WebhookDelivery(ImprintModel):
    id: str
    event_id: str
    endpoint_id: str
    status: Literal["PENDING", "DELIVERED", "DEAD"]
    attempt_count: int
    next_attempt_at: str | None = None
    last_attempt_at: str | None = None
    last_error: str | None = None
    replay_of: str | None = None
    created_at: str
    updated_at: str
    attempts: list[WebhookAttempt]


# -- what a webhook delivers (imprint_client.webhooks.verify) -------------------------------------
# Every key is always present, ``None`` where the server has no value.


class ApplicationEventData(ImprintModel):
    customer_id: str
    partner_customer_id: str | None
    status: Literal["OFFER_ACCEPTED", "REJECTED"]
    created_at: str
    updated_at: str
    merchant_key: str | None
    customer_metadata: dict[str, Any] | None


class PaymentMethodEventData(ImprintModel):
    payment_method_id: str
    customer_id: str
    partner_customer_id: str | None
    type: PaymentMethodType
    card_type: CardType | None
    previous_status: PaymentMethodStatus | None
    new_status: PaymentMethodStatus
    created_at: str
    updated_at: str
    merchant_key: str | None


class ApplicationEvent(ImprintModel):
    """A terminal credit decision (``OFFER_ACCEPTED`` or ``REJECTED``). De-duplicate on ``id``."""

    id: str
    object: Literal["APPLICATION"]
    data: ApplicationEventData


class PaymentMethodEvent(ImprintModel):
    """A card or loan created, or its status changed. De-duplicate on ``id``."""

    id: str
    object: Literal["PAYMENT_METHOD"]
    data: PaymentMethodEventData


Event = ApplicationEvent | PaymentMethodEvent


# -- test helpers ---------------------------------------------------------------------------------


class SimulatedApplication(ImprintModel):
    customer_id: str
    partner_customer_id: str | None = None
    application_id: str
    status: str
    payment_method_id: str | None = None
    updated_at: str


class TestClock(ImprintModel):
    """A sandbox's test clock: the time everything in the sandbox reads as now (its sessions,
    secrets, codes, idempotency keys and webhook retries). It moves only when advanced."""

    __test__ = False  # not a pytest test class, despite the name

    sandbox_id: str
    frozen_time: str


class Sandbox(ImprintModel):
    """A throwaway sandbox: a partner of its own, with its own keys and data; ``test_clock``
    is ``None`` unless it was created with one."""

    id: str
    name: str
    parent_id: str
    created_at: str
    test_clock: TestClock | None = None


class CreatedSandbox(Sandbox):
    """A new sandbox; ``api_key`` is shown in this response only."""

    api_key: str


class DeletedSandbox(ImprintModel):
    id: str
    deleted: Literal[True]


FaultKind = Literal["error", "delay", "drop", "webhook_failure", "hosted_outcome"]


class Fault(ImprintModel):
    """A declared test fault (``test_helpers.faults``); a used-up one has ``remaining`` 0, and
    one declared ``until_deleted`` has neither ``times`` nor ``remaining``."""

    id: str
    kind: FaultKind
    operation: str | None = None
    status: int | None = None
    retry_after: int | None = None
    delay_ms: int | None = None
    endpoint_id: str | None = None
    outcome: str | None = None
    times: int | None = None
    remaining: int | None = None
    created_at: str


class DeletedFault(ImprintModel):
    id: str
    deleted: Literal[True] = True


# -- the audit trail ------------------------------------------------------------------------------

AuditEventType = Literal[
    "api_key.created",
    "api_key.revoked",
    "customer_session.created",
    "customer_session.exchanged",
    "customer_session.exchange_refused",
    "customer_session.expired",
    "webhook_endpoint.created",
    "webhook_endpoint.disabled",
    "webhook_endpoint.secret_rotated",
    "webhook_endpoint.deleted",
    "webhook_delivery.replay_requested",
]


class AuditEvent(ImprintModel):
    """One entry of your audit trail: what was done (``type``), by whom (``actor_*``), to what
    (``object_*``), when, and from which request; never a secret."""

    id: str
    type: AuditEventType
    created_at: str
    actor_type: Literal["api_key", "client", "cli", "operator", "system"]
    actor_id: str | None = None
    actor_display: str | None = None
    object_type: Literal["api_key", "customer_session", "webhook_endpoint", "webhook_delivery"]
    object_id: str
    details: dict[str, Any]
    request_id: str | None = None
    client_address: str | None = None
    partner_id: str


# -- error bodies (on the exceptions, as ``.body``) -----------------------------------------------


class ErrorBody(ImprintModel):
    """The flat shape of 400, 401, 403, 413, 422, 429 and 5xx: every problem at once. Some carry
    more (``error_code`` on a 401, say): see ``model_extra``."""

    path: str
    details: list[str]
    error: str
    status: int
    timestamp: str


class NotFoundErrorBody(ImprintModel):
    type: str
    message: str
    param: str


class ConflictErrorBody(ImprintModel):
    type: str
    message: str


# -- lists ----------------------------------------------------------------------------------------

ItemT = TypeVar("ItemT", bound=ImprintModel)


class ListBody(ImprintModel, Generic[ItemT]):
    """A list response as sent: one page (``imprint_client.pagination`` walks them)."""

    data: list[ItemT]
    has_more: bool
    total: int
