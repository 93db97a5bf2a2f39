"""Every operation the client calls, by the served spec's ``operationId``.

``tests/sdk/test_spec_agreement.py`` checks each against a freshly built server's OpenAPI: the
method and path, the query and header parameters (``Idempotency-Key`` exactly where the retry
rule is ``KEYED``, ``x-imprint-merchant-key`` and ``Imprint-Test-Fault`` where they are
declared), the request body and the 200 response's schema; and that every operation of the spec
that takes an API key is here.

``test_fault``: the sandbox documents the ``Imprint-Test-Fault`` header on every operation a test
fault may name, and on no test helper (they are never faulted): ``True`` unless said.
"""

from __future__ import annotations

from typing import Any

from imprint_client import params
from imprint_client._core import Operation, Retry
from imprint_client.models import (
    AuditEvent,
    CreatedApiKey,
    CreatedSandbox,
    Customer,
    CustomerSession,
    CustomerSessionSummary,
    DeletedApiKey,
    DeletedFault,
    DeletedSandbox,
    DeletedWebhookEndpoint,
    Fault,
    ListBody,
    PaymentMethod,
    Sandbox,
    SimulatedApplication,
    TestClock,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

PAGE = ("limit", "starting_after")

# -- customer sessions ---------------------------------------------------------------------------
CREATE_SESSION = Operation(
    "createSession",
    "POST",
    "/v2/customer_sessions",
    CustomerSession,
    Retry.KEYED,
    body=params.CreateCustomerSessionBody,
    merchant_key=True,
)
GET_SESSION = Operation(
    "getSession", "GET", "/v2/customer_sessions/{session_id}", CustomerSession, Retry.SAFE
)
LIST_CUSTOMER_SESSIONS = Operation(
    "listCustomerSessions",
    "GET",
    "/v2/customers/{customer_id}/customer_sessions",
    ListBody[CustomerSessionSummary],
    Retry.SAFE,
    query=PAGE,
    pages_by="query",
)
EXPIRE_SESSION = Operation(
    "expireSession",
    "POST",
    "/v2/customer_sessions/{session_id}/expire",
    CustomerSessionSummary,
    Retry.KEYED,
)

# -- customers -----------------------------------------------------------------------------------
LIST_CUSTOMERS = Operation(
    "listCustomers",
    "GET",
    "/v2/customers",
    ListBody[Customer],
    Retry.SAFE,
    query=("partner_customer_id", *PAGE),
    pages_by="query",
)
# A search changes nothing and ignores an Idempotency-Key (the spec declares none): always safe.
SEARCH_CUSTOMERS = Operation(
    "searchCustomers",
    "POST",
    "/v2/customers",
    ListBody[Customer],
    Retry.SAFE,
    body=params.SearchCustomersBody,
    pages_by="body",
)
GET_CUSTOMER = Operation("getCustomer", "GET", "/v2/customers/{customer_id}", Customer, Retry.SAFE)
UPDATE_CUSTOMER = Operation(
    "updateCustomer",
    "POST",
    "/v2/customers/{customer_id}",
    Customer,
    Retry.KEYED,
    body=params.UpdateCustomerBody,
)

# -- payment methods -----------------------------------------------------------------------------
LIST_PAYMENT_METHODS = Operation(
    "listPaymentMethods",
    "GET",
    "/v2/customers/{customer_id}/payment_methods",
    ListBody[PaymentMethod],
    Retry.SAFE,
    query=PAGE,
    pages_by="query",
)
GET_PAYMENT_METHOD = Operation(
    "getPaymentMethod",
    "GET",
    "/v2/payment_methods/{payment_method_id}",
    PaymentMethod,
    Retry.SAFE,
)

# -- API keys ------------------------------------------------------------------------------------
CREATE_KEY = Operation("createKey", "POST", "/v2/keys", CreatedApiKey, Retry.ONCE)
DELETE_KEY = Operation(
    "deleteKey", "DELETE", "/v2/keys", DeletedApiKey, Retry.SAFE, body=params.DeleteApiKeyBody
)

# -- webhooks ------------------------------------------------------------------------------------
CREATE_WEBHOOK_ENDPOINT = Operation(
    "createWebhookEndpoint",
    "POST",
    "/v2/webhook_endpoints",
    WebhookEndpoint,
    Retry.ONCE,
    body=params.CreateWebhookEndpointBody,
)
LIST_WEBHOOK_ENDPOINTS = Operation(
    "listWebhookEndpoints",
    "GET",
    "/v2/webhook_endpoints",
    ListBody[WebhookEndpoint],
    Retry.SAFE,
)
DISABLE_WEBHOOK_ENDPOINT = Operation(
    "disableWebhookEndpoint",
    "POST",
    "/v2/webhook_endpoints/{endpoint_id}/disable",
    WebhookEndpoint,
    Retry.KEYED,
)
DELETE_WEBHOOK_ENDPOINT = Operation(
    "deleteWebhookEndpoint",
    "DELETE",
    "/v2/webhook_endpoints/{endpoint_id}",
    DeletedWebhookEndpoint,
    Retry.SAFE,
)
ROTATE_WEBHOOK_SECRET = Operation(
    "rotateWebhookSecret",
    "POST",
    "/v2/webhook_endpoints/{endpoint_id}/rotate_secret",
    WebhookEndpoint,
    Retry.ONCE,
    body=params.RotateWebhookSecretBody,
)
LIST_WEBHOOK_EVENTS = Operation(
    "listWebhookEvents",
    "GET",
    "/v2/webhook_events",
    ListBody[WebhookEvent],
    Retry.SAFE,
    query=PAGE,
    pages_by="query",
)
LIST_WEBHOOK_EVENT_DELIVERIES = Operation(
    "listWebhookEventDeliveries",
    "GET",
    "/v2/webhook_events/{event_id}/deliveries",
    ListBody[WebhookDelivery],
    Retry.SAFE,
)
REPLAY_WEBHOOK_DELIVERY = Operation(
    "replayWebhookDelivery",
    "POST",
    "/v2/webhook_deliveries/{delivery_id}/replay",
    WebhookDelivery,
    Retry.KEYED,
)

# -- test helpers (sandbox only) -----------------------------------------------------------------
SIMULATE_APPLICATION = Operation(
    "simulateApplication",
    "POST",
    "/v2/simulate_application",
    SimulatedApplication,
    Retry.KEYED,
    body=params.SimulateApplicationBody,
    merchant_key=True,
)
CREATE_SANDBOX = Operation(
    "createSandbox",
    "POST",
    "/v2/test_helpers/sandboxes",
    CreatedSandbox,
    Retry.ONCE,
    body=params.CreateSandboxBody,
    test_fault=False,
)
LIST_SANDBOXES = Operation(
    "listSandboxes",
    "GET",
    "/v2/test_helpers/sandboxes",
    ListBody[Sandbox],
    Retry.SAFE,
    test_fault=False,
)
# Resetting twice leaves what resetting once does (an empty sandbox): safe to repeat.
RESET_SANDBOX = Operation(
    "resetSandbox",
    "POST",
    "/v2/test_helpers/sandboxes/{sandbox_id}/reset",
    Sandbox,
    Retry.SAFE,
    test_fault=False,
)
GET_TEST_CLOCK = Operation(
    "getTestClock",
    "GET",
    "/v2/test_helpers/sandboxes/{sandbox_id}/test_clock",
    TestClock,
    Retry.SAFE,
    test_fault=False,
)
# It takes no Idempotency-Key (the server ignores one), and advancing by ``seconds`` twice moves
# the clock twice as far: sent again only where it cannot have run. (Advancing to a
# ``frozen_time`` is safe to repeat, but the rule is the operation's, not the call's.)
ADVANCE_TEST_CLOCK = Operation(
    "advanceTestClock",
    "POST",
    "/v2/test_helpers/sandboxes/{sandbox_id}/test_clock/advance",
    TestClock,
    Retry.ONCE,
    body=params.AdvanceTestClockBody,
    test_fault=False,
)
DELETE_SANDBOX = Operation(
    "deleteSandbox",
    "DELETE",
    "/v2/test_helpers/sandboxes/{sandbox_id}",
    DeletedSandbox,
    Retry.SAFE,
    test_fault=False,
)
CREATE_FAULT = Operation(
    "createFault",
    "POST",
    "/v2/test_helpers/faults",
    Fault,
    Retry.KEYED,
    body=params.CreateFaultBody,
    test_fault=False,
)
LIST_FAULTS = Operation(
    "listFaults", "GET", "/v2/test_helpers/faults", ListBody[Fault], Retry.SAFE, test_fault=False
)
DELETE_FAULT = Operation(
    "deleteFault",
    "DELETE",
    "/v2/test_helpers/faults/{fault_id}",
    DeletedFault,
    Retry.SAFE,
    test_fault=False,
)
FIRE_WEBHOOK_EVENT = Operation(
    "fireWebhookEvent",
    "POST",
    "/v2/test_helpers/webhook_events",
    WebhookEvent,
    Retry.KEYED,
    body=params.FireWebhookEventBody,
    merchant_key=True,
    test_fault=False,
)

# -- the audit trail -----------------------------------------------------------------------------
LIST_AUDIT_EVENTS = Operation(
    "listAuditEvents",
    "GET",
    "/v2/audit_events",
    ListBody[AuditEvent],
    Retry.SAFE,
    query=("type", "object_id", "created_gte", "created_lt", *PAGE),
    pages_by="query",
)

_ALL: list[Operation[Any]] = [
    CREATE_SESSION,
    GET_SESSION,
    LIST_CUSTOMER_SESSIONS,
    EXPIRE_SESSION,
    LIST_CUSTOMERS,
    SEARCH_CUSTOMERS,
    GET_CUSTOMER,
    UPDATE_CUSTOMER,
    LIST_PAYMENT_METHODS,
    GET_PAYMENT_METHOD,
    CREATE_KEY,
    DELETE_KEY,
    CREATE_WEBHOOK_ENDPOINT,
    LIST_WEBHOOK_ENDPOINTS,
    DISABLE_WEBHOOK_ENDPOINT,
    DELETE_WEBHOOK_ENDPOINT,
    ROTATE_WEBHOOK_SECRET,
    LIST_WEBHOOK_EVENTS,
    LIST_WEBHOOK_EVENT_DELIVERIES,
    REPLAY_WEBHOOK_DELIVERY,
    SIMULATE_APPLICATION,
    CREATE_SANDBOX,
    LIST_SANDBOXES,
    RESET_SANDBOX,
    GET_TEST_CLOCK,
    ADVANCE_TEST_CLOCK,
    DELETE_SANDBOX,
    CREATE_FAULT,
    LIST_FAULTS,
    DELETE_FAULT,
    FIRE_WEBHOOK_EVENT,
    LIST_AUDIT_EVENTS,
]
OPERATIONS: dict[str, Operation[Any]] = {op.operation_id: op for op in _ALL}
