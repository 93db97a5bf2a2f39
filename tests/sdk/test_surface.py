"""The SDK's public surface, pinned: what ``imprint_client`` exports, every resource method's
signature (sync and async alike), the clients' constructors, ``webhooks.verify`` and the error
classes. A change here is a change partners see: make it on purpose, and say so in the CHANGELOG.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import imprint_client
from imprint_client import AsyncImprint, Imprint, webhooks

EXPORTS = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "Address",
    "ApplicationEvent",
    "ApplicationEventData",
    "AsyncImprint",
    "AsyncPage",
    "AuditEvent",
    "AuthenticationError",
    "ConflictError",
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
    "ErrorDetail",
    "Event",
    "Fault",
    "Imprint",
    "ImprintError",
    "InvalidRequestError",
    "NotFoundError",
    "PaymentMethod",
    "PaymentMethodCard",
    "PaymentMethodEvent",
    "PaymentMethodEventData",
    "PaymentMethodLoan",
    "PermissionDeniedError",
    "RateLimitError",
    "Sandbox",
    "SimulatedApplication",
    "SyncPage",
    "TestClock",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "WebhookVerificationError",
    "__version__",
    "webhooks",
]

M = "imprint_client.models"
P = "imprint_client.params"
PAGE = "imprint_client.pagination.SyncPage"
KEY = "idempotency_key: str | None = None"
LIMITS = "limit: int | None = None, starting_after: str | None = None"
PM_STATUS = "Literal['ACTIVE', 'INACTIVE', 'CANCELED']"
FAULT_OPERATION = (
    "Literal['acceptClientApplicationOffer', 'listAuditEvents', 'confirmPhoneVerification', "
    "'createClientApplication', 'createKey', 'createSession', 'createWebhookEndpoint', "
    "'deleteKey', 'deleteWebhookEndpoint', 'disableWebhookEndpoint', 'exchangeClientSecret', "
    "'expireSession', 'getClientProfile', 'getClientSession', 'getCurrentClientApplication', "
    "'getCustomer', 'getPaymentMethod', 'getSession', 'listClientPaymentMethods', "
    "'listCustomerSessions', 'listCustomers', 'listPaymentMethods', 'listWebhookEndpoints', "
    "'listWebhookEventDeliveries', 'listWebhookEvents', 'lockClientPaymentMethod', "
    "'replayWebhookDelivery', 'rotateWebhookSecret', 'searchCustomers', 'simulateApplication', "
    "'startPhoneVerification', 'unlockClientPaymentMethod', 'updateClientProfile', "
    "'updateCustomer']"
)

# Each sync method's signature; the async one is the same, AsyncPage for SyncPage.
METHODS = {
    "customer_sessions.create": "(*, customer_id: str | None = None, partner_customer_id: str "
    "| None = None, transaction_amount: int | None = None, transaction_currency: str | None = "
    f"None, customer_history: {P}.CustomerAccountHistoryParams | None = None, source: str | "
    "None = None, metadata: dict[str, typing.Any] | None = None, expires_in: int | None = None, "
    f"merchant_key: str | None = None, {KEY}) -> {M}.CustomerSession",
    "customer_sessions.expire": f"(session_id: str, *, {KEY}) -> {M}.CustomerSessionSummary",
    "customer_sessions.list": f"(customer_id: str, *, {LIMITS}) -> "
    f"{PAGE}[{M}.CustomerSessionSummary]",
    "customer_sessions.retrieve": f"(session_id: str) -> {M}.CustomerSession",
    "customers.list": f"(*, partner_customer_id: str | None = None, {LIMITS}) -> "
    f"{PAGE}[{M}.Customer]",
    "customers.retrieve": f"(customer_id: str) -> {M}.Customer",
    "customers.search": "(*, partner_customer_id: str | None = None, ssn: str | None = None, "
    f"date_of_birth: {P}.DateOfBirthParams | None = None, {LIMITS}) -> {PAGE}[{M}.Customer]",
    "customers.update": "(customer_id: str, *, email: str | None = None, phone: str | None = "
    "None, first_name: str | None = None, last_name: str | None = None, preferred_language: str "
    f"| None = None, address: {P}.AddressParams | None = None, date_of_birth: "
    f"{P}.DateOfBirthParams | None = None, ssn: str | None = None, partner_customer_id: str | "
    f"None = None, metadata: dict[str, typing.Any] | None = None, {KEY}) -> {M}.Customer",
    "payment_methods.list": f"(customer_id: str, *, {LIMITS}) -> {PAGE}[{M}.PaymentMethod]",
    "payment_methods.retrieve": f"(payment_method_id: str) -> {M}.PaymentMethod",
    "api_keys.create": f"() -> {M}.CreatedApiKey",
    "api_keys.delete": f"(key_id: str) -> {M}.DeletedApiKey",
    "audit_events.list": "(*, type: list[typing.Literal['api_key.created', 'api_key.revoked', "
    "'customer_session.created', 'customer_session.exchanged', "
    "'customer_session.exchange_refused', 'customer_session.expired', "
    "'webhook_endpoint.created', 'webhook_endpoint.disabled', 'webhook_endpoint.secret_rotated', "
    "'webhook_endpoint.deleted', 'webhook_delivery.replay_requested']] | None = None, object_id: "
    "str | None = None, created_gte: str | None = None, created_lt: str | None = None, "
    f"{LIMITS}) -> {PAGE}[{M}.AuditEvent]",
    "webhook_endpoints.create": "(*, url: str, event_types: list[typing.Literal['APPLICATION', "
    f"'PAYMENT_METHOD']] | None = None, description: str | None = None) -> {M}.WebhookEndpoint",
    "webhook_endpoints.delete": f"(endpoint_id: str) -> {M}.DeletedWebhookEndpoint",
    "webhook_endpoints.disable": f"(endpoint_id: str, *, {KEY}) -> {M}.WebhookEndpoint",
    "webhook_endpoints.list": f"() -> {PAGE}[{M}.WebhookEndpoint]",
    "webhook_endpoints.rotate_secret": "(endpoint_id: str, *, grace_period_seconds: int | None "
    f"= None) -> {M}.WebhookEndpoint",
    "webhook_events.deliveries": f"(event_id: str) -> {PAGE}[{M}.WebhookDelivery]",
    "webhook_events.list": f"(*, {LIMITS}) -> {PAGE}[{M}.WebhookEvent]",
    "webhook_deliveries.replay": f"(delivery_id: str, *, {KEY}) -> {M}.WebhookDelivery",
    "test_helpers.simulate_application": "(*, status: Literal['OFFER_ACCEPTED', 'REJECTED'], "
    "customer_id: str | None = None, partner_customer_id: str | None = None, merchant_key: str "
    f"| None = None, {KEY}) -> {M}.SimulatedApplication",
    "test_helpers.sandboxes.create": "(*, name: str | None = None, test_clock: "
    f"{P}.NewTestClockParams | None = None) -> {M}.CreatedSandbox",
    "test_helpers.sandboxes.delete": f"(sandbox_id: str) -> {M}.DeletedSandbox",
    "test_helpers.sandboxes.list": f"() -> {PAGE}[{M}.Sandbox]",
    "test_helpers.sandboxes.reset": f"(sandbox_id: str) -> {M}.Sandbox",
    "test_helpers.sandboxes.retrieve_test_clock": f"(sandbox_id: str) -> {M}.TestClock",
    "test_helpers.sandboxes.advance_test_clock": "(sandbox_id: str, *, frozen_time: str | None "
    f"= None, seconds: int | None = None) -> {M}.TestClock",
    "test_helpers.faults.create": "(*, kind: Literal['error', 'delay', 'drop', "
    f"'webhook_failure', 'hosted_outcome'], operation: Optional[{FAULT_OPERATION}] = None, "
    "status: Optional[Literal[429, 500, 503]] = None, retry_after: int | None = None, delay_ms: "
    "int | None = None, endpoint_id: str | None = None, outcome: Optional[Literal['IN_PROGRESS', "
    "'ERROR:INVALID_CLIENT_SECRET', 'ERROR:NETWORK_CONNECTION_FAILED', 'ERROR:SERVER_ERROR', "
    "'ERROR:TIMEOUT_ERROR', 'ERROR:UNKNOWN_ERROR']] = None, times: int | None = None, "
    f"until_deleted: bool | None = None, {KEY}) -> {M}.Fault",
    "test_helpers.faults.delete": f"(fault_id: str) -> {M}.DeletedFault",
    "test_helpers.faults.list": f"() -> {PAGE}[{M}.Fault]",
    "test_helpers.webhook_events.fire": "(*, type: Literal['APPLICATION', 'PAYMENT_METHOD'], "
    "customer_id: str | None = None, partner_customer_id: str | None = None, status: "
    "Optional[Literal['OFFER_ACCEPTED', 'REJECTED']] = None, payment_method_id: str | None = "
    f"None, previous_status: Optional[{PM_STATUS}] = None, new_status: Optional[{PM_STATUS}] = "
    "None, "
    f"merchant_key: str | None = None, {KEY}) -> {M}.WebhookEvent",
}

CONSTRUCTOR = (
    "(self, api_key: str, *, base_url: str = 'http://127.0.0.1:8000', timeout: float | "
    "httpx.Timeout = 30.0, max_retries: int = 2, merchant_key: str | None = None, http_client: "
    "httpx.{client} | None = None, test_fault: str | None = None, sleep: "
    "collections.abc.Callable[[float], {sleeps}] | None = None) -> None"
)
WITH_OPTIONS = (
    "(self, *, api_key: str = NOT_GIVEN, timeout: float | httpx.Timeout = NOT_GIVEN, "
    "max_retries: int = NOT_GIVEN, merchant_key: str | None = NOT_GIVEN, test_fault: str | None "
    "= NOT_GIVEN) -> imprint_client._client.{name}"
)
VERIFY = (
    "(payload: bytes, headers: collections.abc.Mapping[str, str], secret: str, *, "
    "tolerance_seconds: int = 300) -> imprint_client.models.ApplicationEvent | "
    "imprint_client.models.PaymentMethodEvent"
)
ERRORS = {
    "ImprintError": [],
    "APIStatusError": ["ImprintError"],
    "InvalidRequestError": ["APIStatusError", "ImprintError"],
    "AuthenticationError": ["APIStatusError", "ImprintError"],
    "PermissionDeniedError": ["APIStatusError", "ImprintError"],
    "NotFoundError": ["APIStatusError", "ImprintError"],
    "ConflictError": ["APIStatusError", "ImprintError"],
    "RateLimitError": ["APIStatusError", "ImprintError"],
    "APIError": ["APIStatusError", "ImprintError"],
    "APIConnectionError": ["ImprintError"],
    "APITimeoutError": ["APIConnectionError", "ImprintError"],
    "WebhookVerificationError": ["ImprintError"],
}


def resource_methods(client: Any) -> dict[str, Any]:
    """``"customers.list" -> bound method`` for every public method of every resource."""
    found = {}
    for path in (
        "customer_sessions",
        "customers",
        "payment_methods",
        "api_keys",
        "audit_events",
        "webhook_endpoints",
        "webhook_events",
        "webhook_deliveries",
        "test_helpers",
        "test_helpers.sandboxes",
        "test_helpers.faults",
        "test_helpers.webhook_events",
    ):
        resource = functools.reduce(getattr, path.split("."), client)
        for name in dir(type(resource)):
            attribute = getattr(resource, name)
            if not name.startswith("_") and inspect.ismethod(attribute):
                found[f"{path}.{name}"] = attribute
    return found


def signature(function: Any) -> str:
    return str(inspect.signature(function, eval_str=True))


def test_the_package_exports_exactly_its_public_names() -> None:
    assert sorted(imprint_client.__all__) == sorted(EXPORTS)
    for name in EXPORTS:
        assert getattr(imprint_client, name) is not None


def test_every_resource_method_has_its_pinned_signature() -> None:
    client = Imprint("isk_test_" + "x" * 43)
    methods = resource_methods(client)
    assert sorted(methods) == sorted(METHODS)
    for name, method in methods.items():
        assert signature(method) == METHODS[name], name
        assert not inspect.iscoroutinefunction(method), name
        assert method.__doc__, f"{name} has no docstring"
    client.close()


def test_the_async_client_has_the_same_methods_as_coroutines() -> None:
    client = AsyncImprint("isk_test_" + "x" * 43)
    methods = resource_methods(client)
    assert sorted(methods) == sorted(METHODS)
    for name, method in methods.items():
        expected = METHODS[name].replace(
            "imprint_client.pagination.SyncPage", "imprint_client.pagination.AsyncPage"
        )
        assert signature(method) == expected, name
        assert inspect.iscoroutinefunction(method), name


def test_the_clients_are_built_and_copied_the_same_way() -> None:
    assert signature(Imprint.__init__) == CONSTRUCTOR.format(client="Client", sleeps="None")
    assert signature(AsyncImprint.__init__) == CONSTRUCTOR.format(
        client="AsyncClient", sleeps="collections.abc.Awaitable[None]"
    )
    assert signature(Imprint.with_options) == WITH_OPTIONS.format(name="Imprint")
    assert signature(AsyncImprint.with_options) == WITH_OPTIONS.format(name="AsyncImprint")


def test_verify_has_its_pinned_signature() -> None:
    assert signature(webhooks.verify) == VERIFY
    assert webhooks.DEFAULT_TOLERANCE_SECONDS == 300


def test_the_error_classes_form_their_pinned_tree() -> None:
    for name, bases in ERRORS.items():
        cls = getattr(imprint_client, name)
        ours = [c.__name__ for c in cls.__mro__[1:] if c.__module__.startswith("imprint_client")]
        assert ours == bases, name
        assert issubclass(cls, Exception)
    exported = {
        n
        for n in EXPORTS
        if isinstance(getattr(imprint_client, n), type)
        and issubclass(getattr(imprint_client, n), BaseException)
    }
    assert exported == set(ERRORS)
