"""What requests send, as ``TypedDict``s: a type checker sees a misspelt or mistyped key, and the
client refuses one at run time too (``TypeError``, before anything is sent; ``_check.py``).

The nested ones are passed to the resource methods as plain dicts
(``customer_history={"email": ...}``); the bodies are built from the methods' keyword arguments.
Each body is the served spec's request schema (``tests/sdk`` compares them). The server checks
the rest (formats, lengths, ISO code lists) and reports every problem at once.
"""

# No `from __future__ import annotations` here: on Python 3.11 a TypedDict's Required[...] is
# only seen when its annotations are evaluated as the class is made.
from typing import Any, Literal, Required, TypedDict

__all__ = [
    "AddressParams",
    "CustomerAccountHistoryParams",
    "DateOfBirthParams",
    "NewTestClockParams",
]


class AddressParams(TypedDict, total=False):
    street_line1: str
    street_line2: str
    city: str
    state: str
    postal_code: str
    country: str  # ISO-3166-1 alpha-3 (``USA``)


class DateOfBirthParams(TypedDict):
    year: int
    month: int
    day: int


class CustomerAccountHistoryParams(TypedDict, total=False):
    """The customer's account history with the partner (fills the profile of a new customer)."""

    email: str
    phone: str  # E.164
    first_name: str
    last_name: str
    preferred_language: str  # ISO 639-1
    address: AddressParams
    account_tenure: int  # months
    ltv_amount: int  # minor units
    ltv_currency: str  # ISO-4217
    loyalty_tier: str
    account_created_at: str  # RFC 3339
    transaction_count: int


# -- request bodies (built by the resource methods) ----------------------------------------------


class CreateCustomerSessionBody(TypedDict, total=False):
    customer_id: str
    partner_customer_id: str
    transaction_amount: int
    transaction_currency: str
    customer_history: CustomerAccountHistoryParams
    source: str
    metadata: dict[str, Any]
    expires_in: int


class SearchCustomersBody(TypedDict, total=False):
    partner_customer_id: str
    date_of_birth: DateOfBirthParams
    ssn: str
    limit: int
    starting_after: str


class UpdateCustomerBody(TypedDict, total=False):
    email: str
    phone: str
    first_name: str
    last_name: str
    preferred_language: str
    address: AddressParams
    date_of_birth: DateOfBirthParams
    ssn: str
    partner_customer_id: str
    metadata: dict[str, Any]


class DeleteApiKeyBody(TypedDict):
    id: str


EventType = Literal["APPLICATION", "PAYMENT_METHOD"]


class CreateWebhookEndpointBody(TypedDict, total=False):
    url: Required[str]
    event_types: list[EventType]
    description: str


class RotateWebhookSecretBody(TypedDict, total=False):
    grace_period_seconds: int


class SimulateApplicationBody(TypedDict, total=False):
    customer_id: str
    partner_customer_id: str
    status: Required[Literal["OFFER_ACCEPTED", "REJECTED"]]


class NewTestClockParams(TypedDict, total=False):
    """A new sandbox's test clock: ``{}`` starts it at now; ``frozen_time`` (RFC 3339) at then."""

    frozen_time: str  # RFC 3339, 1970 to 9999


class CreateSandboxBody(TypedDict, total=False):
    name: str
    test_clock: NewTestClockParams


class AdvanceTestClockBody(TypedDict, total=False):
    frozen_time: str  # RFC 3339
    seconds: int


# The operationIds a fault may name (the served spec's enum; ``tests/sdk`` keeps them equal).
FaultOperation = Literal[
    "acceptClientApplicationOffer",
    "listAuditEvents",
    "confirmPhoneVerification",
    "createClientApplication",
    "createKey",
    "createSession",
    "createWebhookEndpoint",
    "deleteKey",
    "deleteWebhookEndpoint",
    "disableWebhookEndpoint",
    "exchangeClientSecret",
    "expireSession",
    "getClientProfile",
    "getClientSession",
    "getCurrentClientApplication",
    "getCustomer",
    "getPaymentMethod",
    "getSession",
    "listClientPaymentMethods",
    "listCustomerSessions",
    "listCustomers",
    "listPaymentMethods",
    "listWebhookEndpoints",
    "listWebhookEventDeliveries",
    "listWebhookEvents",
    "lockClientPaymentMethod",
    "replayWebhookDelivery",
    "rotateWebhookSecret",
    "searchCustomers",
    "simulateApplication",
    "startPhoneVerification",
    "unlockClientPaymentMethod",
    "updateClientProfile",
    "updateCustomer",
]
FaultKind = Literal["error", "delay", "drop", "webhook_failure", "hosted_outcome"]
FaultStatus = Literal[429, 500, 503]
HostedOutcome = Literal[
    "IN_PROGRESS",
    "ERROR:INVALID_CLIENT_SECRET",
    "ERROR:NETWORK_CONNECTION_FAILED",
    "ERROR:SERVER_ERROR",
    "ERROR:TIMEOUT_ERROR",
    "ERROR:UNKNOWN_ERROR",
]
PaymentMethodStatus = Literal["ACTIVE", "INACTIVE", "CANCELED"]


class CreateFaultBody(TypedDict, total=False):
    kind: Required[FaultKind]
    operation: FaultOperation
    status: FaultStatus
    retry_after: int
    delay_ms: int
    endpoint_id: str
    outcome: HostedOutcome
    times: int
    until_deleted: bool


class FireWebhookEventBody(TypedDict, total=False):
    type: Required[EventType]
    customer_id: str
    partner_customer_id: str
    status: Literal["OFFER_ACCEPTED", "REJECTED"]
    payment_method_id: str
    previous_status: PaymentMethodStatus
    new_status: PaymentMethodStatus
