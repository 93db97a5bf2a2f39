"""Plain records passed between the domain and the repositories (no driver types leak out)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Generic, TypeVar


@dataclass(frozen=True, slots=True)
class Partner:
    id: str
    name: str
    merchant_keys: tuple[str, ...]
    created_at: int
    # Browser origins allowed to call the client API for this partner (CORS), normalised.
    allowed_origins: tuple[str, ...] = ()
    # An absolute https URL of the partner's logo (the native SDKs' title bar), or None.
    logo_url: str | None = None


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A throwaway sandbox: a partner of its own, made by (and answerable to) ``parent_id``."""

    id: str
    name: str
    parent_id: str
    created_at: int
    # The time its test clock shows (epoch ms); None: it has none and keeps real time.
    test_clock_at: int | None = None


@dataclass(frozen=True, slots=True)
class TestClock:
    """A sandbox's test clock: the time it shows (``domain/test_clocks.py``)."""

    __test__ = False  # not a pytest test class, despite the name

    sandbox_id: str
    frozen_at: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    partner_id: str
    display_prefix: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an API key speaks for: resolved once per request by authentication."""

    api_key_id: str
    partner_id: str
    merchant_keys: tuple[str, ...]
    # The key's display prefix (``isk_test_2vQa``), naming it in the audit trail.
    api_key_display_prefix: str | None = None
    # The partner is a sandbox with a test clock: its requests follow that clock's time (fixed
    # for the partner's life, so a cached principal never misstates it).
    test_clock: bool = False


@dataclass(frozen=True, slots=True)
class NewCustomer:
    """The profile of a customer a session creates (filled from ``customer_history``)."""

    id: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_language: str | None = None
    address_json: str | None = None
    account_history_json: str | None = None


@dataclass(frozen=True, slots=True)
class NewCustomerSession:
    id: str
    partner_id: str
    customer_id: str | None
    partner_customer_id: str | None
    new_customer: NewCustomer
    merchant_key: str | None
    secret_key_id: str
    transaction_amount: int | None
    transaction_currency: str | None
    customer_history_json: str | None
    source: str | None
    metadata_json: str | None
    created_at: int
    expires_at: int


class CreateOutcome(enum.Enum):
    CREATED = "created"
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CUSTOMER_MISMATCH = "customer_mismatch"


@dataclass(frozen=True, slots=True)
class CustomerSession:
    id: str
    partner_id: str
    customer_id: str
    secret_key_id: str
    source: str | None
    metadata_json: str | None
    created_at: int
    expires_at: int
    consumed_at: int | None
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response as kept for Idempotency-Key replays: ``body`` has every client secret cut out;
    ``secrets_json`` (``[[offset, kid, customer_session_id], ...]``) says where each goes back."""

    status: int
    headers_json: str
    body: str
    secrets_json: str | None


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """An attempt to take an Idempotency-Key for one request."""

    partner_id: str
    key: str
    request_hash: str
    created_at: int
    expires_at: int
    # An in-flight record created before this moment was abandoned (its process died).
    stale_before: int


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The live record holding a key: in flight, or completed with its response."""

    request_hash: str
    status: str  # in_flight | completed
    created_at: int
    response: StoredResponse | None


# -- the customer's side (client API) -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer's profile as the client API reads and edits it (the partner API reads it too)."""

    id: str
    partner_id: str
    partner_customer_id: str | None
    email: str | None
    phone: str | None
    phone_verified_at: int | None
    first_name: str | None
    last_name: str | None
    preferred_language: str | None
    date_of_birth: str | None  # YYYY-MM-DD
    address_json: str | None
    statuses_json: str
    created_at: int
    updated_at: int
    # Read by the partner API only (the client API never shows them); last so they can default.
    ssn4: str | None = None
    metadata_json: str | None = None


@dataclass(frozen=True, slots=True)
class ClientContext:
    """A live (not revoked) customer session with its partner and customer: one read per call."""

    customer_session_id: str
    partner_id: str
    partner_name: str
    merchant_key: str | None
    transaction_amount: int | None
    transaction_currency: str | None
    customer_history_json: str | None
    session_expires_at: int
    customer: Customer
    # The time the partner's test clock shows (a sandbox with one); None: real time.
    test_clock_at: int | None = None


@dataclass(frozen=True, slots=True)
class OtpChallenge:
    id: str
    customer_session_id: str
    customer_id: str
    phone: str
    code_hash: str
    attempts: int
    created_at: int
    expires_at: int
    verified_at: int | None
    locked_at: int | None


@dataclass(frozen=True, slots=True)
class OtpAttempt:
    """The outcome of one counted attempt at a challenge."""

    attempts: int
    verified: bool
    locked: bool
    phone_verified: bool  # the customer's phone still matched and is now verified


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    partner_id: str
    customer_id: str
    customer_session_id: str
    merchant_key: str | None
    type: str  # CARD | LOAN
    status: str  # PENDING_REVIEW | APPROVED | REJECTED | OFFER_ACCEPTED
    phone: str | None
    input_json: str
    customer_history_json: str | None
    offer_json: str | None
    decision_reason: str | None
    created_at: int
    updated_at: int
    decided_at: int | None
    payment_method_id: str | None = None  # read through payment_methods.application_id


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    id: str
    partner_id: str
    customer_id: str
    application_id: str | None
    type: str  # CARD | LOAN | BANK_ACCOUNT
    status: str  # ACTIVE | INACTIVE | CANCELED
    card_json: str | None
    loan_json: str | None
    metadata_json: str | None
    created_at: int
    updated_at: int


# -- the partner API's lists, searches and updates (issue 5) --------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list ordered by ``(created_at, id)``; ``total`` counts every matching row."""

    items: list[T]
    has_more: bool
    total: int


@dataclass(frozen=True, slots=True)
class PageRequest:
    """``limit`` rows after the row ``starting_after`` names (which must be in the listed set's
    owner's rows); the repository answers None when that row does not exist."""

    limit: int
    starting_after: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """A partner's customer search; every given filter must match (``ssn_hashes``: any of)."""

    partner_customer_id: str | None = None
    date_of_birth: str | None = None  # YYYY-MM-DD
    ssn_hashes: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class CustomerUpdate:
    """What a partner's update sends, by the body's field names; None leaves a field as it is.

    ``address`` replaces the whole address; ``date_of_birth`` is ``{year, month, day}``;
    ``metadata`` is merged (``domain.customers.METADATA_DELETE`` deletes a key); ``ssn`` is kept
    only as ``ssn4`` and a keyed hash. Every other field is its column's new value, as sent.
    """

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_language: str | None = None
    address: dict[str, Any] | None = None
    date_of_birth: dict[str, int] | None = None
    ssn: str | None = None
    partner_customer_id: str | None = None
    metadata: dict[str, Any] | None = None

    def __repr__(self) -> str:  # the SSN must not reach a log line through a repr
        return "CustomerUpdate(...)"


@dataclass(frozen=True, slots=True)
class CustomerChanges:
    """The columns a partner's update sets; None leaves a column as it is."""

    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    preferred_language: str | None = None
    address_json: str | None = None
    date_of_birth: str | None = None
    ssn4: str | None = None
    ssn_hash: str | None = None
    partner_customer_id: str | None = None
    metadata_json: str | None = None


class UpdateOutcome(enum.Enum):
    """Why an update changed nothing."""

    # No such row, or (compare-and-set) its metadata changed since it was read: read again.
    NOT_UPDATED = "not_updated"
    PARTNER_CUSTOMER_ID_TAKEN = "partner_customer_id_taken"


# -- webhooks (the outbox) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpointFields:
    """What a partner gives a webhook endpoint: the create body's fields, by the same names."""

    url: str
    event_types: tuple[str, ...] | None = None  # None: every type
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpoint(WebhookEndpointFields):
    """A partner's receiver. Its signing secret is never stored, only how to re-derive it."""

    id: str
    partner_id: str
    event_types: tuple[str, ...]
    status: str  # enabled | disabled
    secret_version: int
    secret_key_id: str
    previous_secret_version: int | None
    previous_secret_key_id: str | None
    previous_secret_expires_at: int | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str  # stable: every attempt of every delivery of the event repeats it
    partner_id: str
    type: str  # APPLICATION | PAYMENT_METHOD
    payload: str  # exactly the bytes sent (UTF-8)
    created_at: int


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One event on its way to one endpoint."""

    id: str
    event_id: str
    endpoint_id: str
    partner_id: str
    status: str  # pending | delivered | dead
    attempts: int
    next_attempt_at: int
    last_attempt_at: int | None
    last_error: str | None
    replay_of: str | None
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    id: str
    delivery_id: str
    attempted_at: int
    duration_ms: int
    http_status: int | None
    error: str | None
    response_body: str | None


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """The webhook outbox at one moment: deliveries still pending, and the oldest one's creation
    (None when none is pending)."""

    pending: int
    oldest_created_at: int | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a worker holds the lease of, with what it needs to send it."""

    delivery: WebhookDelivery
    event: WebhookEvent
    endpoint: WebhookEndpoint
    lease_token: str
    # The time of the partner's test clock (a sandbox with one): its retries are scheduled by it.
    test_clock_at: int | None = None


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What became of a claimed delivery: written with its attempt (if any) in one transaction."""

    delivery_id: str
    lease_token: str
    status: str  # pending (retry at next_attempt_at) | delivered | dead
    attempts: int
    next_attempt_at: int
    last_attempt_at: int | None
    last_error: str | None
    updated_at: int


# -- the audit trail ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who acts and from where, as the edge hands it to the domain with an action: the API key
    (``api_key``, its id and display prefix), the browser (``client``), an operator (``cli``, their
    login) or the service itself (``system``); the request's id and the client's address."""

    actor_type: str
    actor_id: str | None = None
    actor_display: str | None = None
    request_id: str | None = None
    client_address: str | None = None


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One entry of the audit trail, as stored (append-only) and listed. ``details_json`` is a
    small JSON object (a refusal's reason, the ids an action involved); never a secret."""

    id: str
    partner_id: str
    type: str
    actor_type: str
    actor_id: str | None
    actor_display: str | None
    request_id: str | None
    client_address: str | None
    object_type: str
    object_id: str
    details_json: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Fault:
    """A sandbox test fault a partner declared (``domain/faults.py`` says what each kind does)."""

    id: str
    partner_id: str
    kind: str
    operation: str | None
    status: int | None
    retry_after: int | None
    delay_ms: int | None
    endpoint_id: str | None
    outcome: str | None
    times: int | None  # None: until deleted
    remaining: int | None  # how many more requests it applies to; None: until deleted
    created_at: int


@dataclass(frozen=True, slots=True)
class NewAuditEvent:
    """An entry to write with its action, in the action's statement or transaction.

    ``partner_id`` None: the partner that owns the object acted on, read by the repository from
    the row the action changed (an operator acts by id, without naming the partner).
    """

    id: str
    type: str
    context: AuditContext
    object_type: str
    object_id: str
    details_json: str
    created_at: int
    partner_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which of a partner's entries to list: every given filter must match (``types``: any of;
    ``created_gte`` inclusive, ``created_lt`` exclusive, epoch ms)."""

    types: tuple[str, ...] | None = None
    object_id: str | None = None
    created_gte: int | None = None
    created_lt: int | None = None


@dataclass(frozen=True, slots=True)
class FaultTarget:
    """What one live fault applies to: the per-process index of who has faults (no details)."""

    partner_id: str
    kind: str
    operation: str | None
    endpoint_id: str | None


# -- the operator console -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operator:
    """Someone who may sign in to the console (``operators create``); never the credential."""

    id: str
    name: str
    display_prefix: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class OperatorSession:
    """A console login: the operator it speaks for, until ``expires_at`` or logout."""

    id: str
    operator_id: str
    operator_name: str
    created_at: int
    expires_at: int
