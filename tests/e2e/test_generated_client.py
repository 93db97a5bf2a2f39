"""A Python client generated from the served OpenAPI drives the partner flow against a real server.

``openapi-python-client`` turns the ``/openapi.json`` a running ``imprint-sessions serve`` answers
into a package (offline: from a file, post-hooks run with this venv's ruff); the tests import it and
use only its functions and models, on SQLite and PostgreSQL. A spec a generated client cannot use
(a missing parameter, a wrong response schema) fails here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import secrets
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY
from e2e.conftest import Deployment, Server, cli, free_port, open_deployment

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
GENERATOR = VENV_BIN / "openapi-python-client"
MERCHANT_KEYS = ("acme-card", "acme-travel")
# The parameter openapi-python-client makes of a header parameter named x-imprint-merchant-key.
MERCHANT_KEY_PARAM = "x_imprint_merchant_key"
UUID_RE = r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}"
TIMESTAMP_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@dataclass
class Generated:
    """The imported client package: ``api("customers", "get_customer")``, ``model("Customer")``."""

    package: ModuleType
    opened: list[Any] = field(default_factory=list)

    def api(self, tag: str, operation: str) -> Any:
        return importlib.import_module(f"{self.package.__name__}.api.{tag}.{operation}")

    def model(self, name: str) -> Any:
        return getattr(importlib.import_module(f"{self.package.__name__}.models"), name)

    def client(self, server: Server, token: str) -> Any:
        """A client sending ``Authorization: Bearer <token>``; closed after the test."""
        return self._opened(
            self.package.AuthenticatedClient(
                base_url=server.base_url, token=token, raise_on_unexpected_status=True
            )
        )

    def anonymous(self, server: Server) -> Any:
        return self._opened(
            self.package.Client(base_url=server.base_url, raise_on_unexpected_status=True)
        )

    def _opened(self, client: Any) -> Any:
        self.opened.append(client)
        return client

    def close(self) -> None:
        while self.opened:
            self.opened.pop().get_httpx_client().close()


@dataclass
class Served:
    deployment: Deployment
    server: Server
    api_key: str  # the sandbox partner's (one product)

    def partner_with_products(self) -> str:
        """An API key of a new partner with several products (merchant keys)."""
        flags = [arg for key in MERCHANT_KEYS for arg in ("--merchant-key", key)]
        env = self.deployment.env
        name = f"Multi {secrets.token_hex(3)}"
        created = cli(env, "partners", "create", "--name", name, *flags, "--json")
        assert created.returncode == 0, created.stderr
        partner_id = json.loads(created.stdout)["id"]
        issued = cli(env, "keys", "create", "--partner", partner_id, "--json")
        assert issued.returncode == 0, issued.stderr
        api_key: str = json.loads(issued.stdout)["api_key"]
        _REGISTRY.remember(api_key)
        return api_key


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(f"generated-client-{request.param}")
    with open_deployment(request.param, tmp) as deployment:
        server = deployment.start()
        try:
            yield Served(deployment, server, server.api_key())
        finally:
            server.stop()


@pytest.fixture(scope="module")
def generated_package(
    served: Served, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """The client generated from the server's own /openapi.json, imported under a fresh name."""
    spec = httpx.get(f"{served.server.base_url}/openapi.json", timeout=10)
    assert spec.status_code == 200
    root = tmp_path_factory.mktemp("client")
    (root / "openapi.json").write_bytes(spec.content)
    # The default post-hooks call whatever `ruff` is on PATH; these name this venv's.
    ruff = shlex.quote(str(VENV_BIN / "ruff"))
    (root / "config.json").write_text(
        json.dumps(
            {"post_hooks": [f"{ruff} check --fix --no-cache .", f"{ruff} format --no-cache ."]}
        )
    )
    name = f"imprint_client_{secrets.token_hex(4)}"
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(root / "openapi.json"),
            "--output-path",
            str(root / name),
            "--config",
            str(root / "config.json"),
            "--meta",
            "none",
            "--fail-on-warning",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        f"openapi-python-client failed:\n{result.stdout}\n{result.stderr}"
    )
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[module]


@pytest.fixture
def generated(generated_package: ModuleType) -> Iterator[Generated]:
    """The generated package, and every client a test opens with it closed afterwards."""
    wrapped = Generated(generated_package)
    try:
        yield wrapped
    finally:
        wrapped.close()


def test_generated_client_drives_sessions_customers_payment_methods_and_webhooks(
    served: Served, generated: Generated
) -> None:
    g = generated
    partner = g.client(served.server, served.api_key)
    pcid = f"CUST_{secrets.token_hex(4)}"

    # Create a session (a partner with one product sends no merchant key). Bodies are built with
    # the models' from_dict, which also turns strings into the enums a spec may declare.
    body = g.model("CreateCustomerSessionRequest").from_dict(
        {
            "partner_customer_id": pcid,
            "transaction_amount": 34000,
            "transaction_currency": "USD",
            "customer_history": {
                "email": "customer@example.com",
                "first_name": "John",
                "last_name": "Doe",
            },
            "metadata": {"store_number": "123"},
            "source": "web_signup",
        }
    )
    created = g.api("customer_sessions", "create_session").sync_detailed(client=partner, body=body)
    assert created.status_code == 200, created.content
    customer_session = created.parsed
    assert isinstance(customer_session, g.model("CustomerSession"))
    assert re.fullmatch(UUID_RE, customer_session.id)
    assert re.fullmatch(TIMESTAMP_RE, customer_session.expires_at)
    assert customer_session.client_secret.startswith("ics_")
    assert customer_session.metadata.to_dict() == {"store_number": "123"}
    assert customer_session.source == "web_signup"
    _REGISTRY.remember(customer_session.client_secret)

    # Retrieve it: the same object, secret included.
    fetched = g.api("customer_sessions", "get_session").sync(customer_session.id, client=partner)
    assert isinstance(fetched, g.model("CustomerSession"))
    assert fetched.to_dict() == customer_session.to_dict()

    # An unknown session parses as the documented 404.
    missing = g.api("customer_sessions", "get_session").sync(
        "00000000-0000-4000-8000-000000000000", client=partner
    )
    assert isinstance(missing, g.model("NotFoundError"))
    assert str(missing.type_) == "SESSION_NOT_FOUND_ERROR"

    # A mistake parses as the documented 400, every invalid field listed.
    invalid = g.api("customer_sessions", "create_session").sync(
        client=partner,
        body=g.model("CreateCustomerSessionRequest").from_dict(
            {"customer_history": {"email": "nope"}}
        ),
    )
    assert isinstance(invalid, g.model("InvalidRequestError"))
    assert invalid.details == ["customer_history.email: must be a well-formed email address"]

    # Customers: list by partner_customer_id, search, get, update.
    listed = g.api("customers", "list_customers").sync(client=partner, partner_customer_id=pcid)
    assert isinstance(listed, g.model("CustomerList"))
    assert (listed.total, listed.has_more, len(listed.data)) == (1, False, 1)
    customer = listed.data[0]
    assert (customer.partner_customer_id, customer.email) == (pcid, "customer@example.com")

    found = g.api("customers", "search_customers").sync(
        client=partner,
        body=g.model("SearchCustomersRequest").from_dict({"partner_customer_id": pcid}),
    )
    assert isinstance(found, g.model("CustomerList"))
    assert [c.id for c in found.data] == [customer.id]

    got = g.api("customers", "get_customer").sync(customer.id, client=partner)
    assert isinstance(got, g.model("Customer"))
    assert got.to_dict() == customer.to_dict()

    updated = g.api("customers", "update_customer").sync(
        customer.id,
        client=partner,
        body=g.model("UpdateCustomerRequest").from_dict(
            {"first_name": "Johnny", "metadata": {"tier": "gold"}}
        ),
    )
    assert isinstance(updated, g.model("Customer"))
    assert (updated.first_name, updated.last_name) == ("Johnny", "Doe")
    assert updated.metadata.to_dict() == {"tier": "gold"}

    sessions = g.api("customer_sessions", "list_customer_sessions").sync(
        customer.id, client=partner
    )
    assert isinstance(sessions, g.model("CustomerSessionList"))
    assert [(s.id, str(s.state)) for s in sessions.data] == [(customer_session.id, "active")]

    # The client-secret exchange, once; the credential reads the session's context.
    anonymous = g.anonymous(served.server)
    exchange = g.api("client_api", "exchange_client_secret")
    secret_body = g.model("ExchangeRequest")(client_secret=customer_session.client_secret)
    exchanged = exchange.sync(client=anonymous, body=secret_body)
    assert isinstance(exchanged, g.model("ExchangeResponse"))
    assert exchanged.customer_session_id == customer_session.id
    _REGISTRY.remember(exchanged.access_token)
    browser = g.client(served.server, exchanged.access_token)
    context = g.api("client_api", "get_client_session").sync(client=browser)
    assert isinstance(context, g.model("ClientSession"))
    assert (context.customer_id, context.partner_customer_id) == (customer.id, pcid)
    assert (context.transaction_amount, str(context.transaction_currency)) == (34000, "USD")
    again = exchange.sync_detailed(client=anonymous, body=secret_body)
    assert again.status_code == 401
    # to_dict: error_code is a declared field or an additional property, as the spec says.
    assert again.parsed.to_dict().get("error_code") == "INVALID_CLIENT_SECRET"

    # Webhook endpoints: create (the secret shown once), list.
    hook_url = f"http://127.0.0.1:{free_port()}/imprint/webhooks"
    endpoint = g.api("webhooks", "create_webhook_endpoint").sync(
        client=partner,
        body=g.model("CreateWebhookEndpointRequest").from_dict(
            {"url": hook_url, "event_types": ["APPLICATION", "PAYMENT_METHOD"]}
        ),
    )
    assert isinstance(endpoint, g.model("WebhookEndpoint"))
    assert endpoint.secret.startswith("whsec_")
    _REGISTRY.remember(endpoint.secret)
    assert (endpoint.url, str(endpoint.status)) == (hook_url, "ENABLED")
    endpoints = g.api("webhooks", "list_webhook_endpoints").sync(client=partner)
    assert isinstance(endpoints, g.model("WebhookEndpointList"))
    assert [e.id for e in endpoints.data] == [endpoint.id]
    assert all(isinstance(e.secret, type(g.package.types.UNSET)) for e in endpoints.data)

    # Simulate an accepted application (sandbox helper): a card appears.
    simulated = g.api("sandbox", "simulate_application").sync(
        client=partner,
        body=g.model("SimulateApplicationRequest").from_dict(
            {"partner_customer_id": pcid, "status": "OFFER_ACCEPTED"}
        ),
    )
    assert isinstance(simulated, g.model("SimulatedApplication"))
    assert (simulated.customer_id, str(simulated.status)) == (customer.id, "OFFER_ACCEPTED")
    assert isinstance(simulated.payment_method_id, str)

    # Payment methods: the customer's list and the one card.
    methods = g.api("payment_methods", "list_payment_methods").sync(customer.id, client=partner)
    assert isinstance(methods, g.model("CustomerPaymentMethodList"))
    assert [m.id for m in methods.data] == [simulated.payment_method_id]
    card = g.api("payment_methods", "get_payment_method").sync(
        simulated.payment_method_id, client=partner
    )
    assert isinstance(card, g.model("PaymentMethod"))
    assert re.fullmatch(UUID_RE, card.id)
    assert (str(card.type_), str(card.status), card.customer_id) == ("CARD", "ACTIVE", customer.id)
    assert len(card.card.last4) == 4
    assert card.to_dict() == methods.data[0].to_dict()

    # The customer's statuses now show the open card.
    after = g.api("customers", "get_customer").sync(customer.id, client=partner)
    assert after.statuses.to_dict() == {"default": "OPEN"}


def test_generated_client_sends_the_merchant_key_a_partner_with_several_products_needs(
    served: Served, generated: Generated
) -> None:
    g = generated
    create_session = g.api("customer_sessions", "create_session")
    simulate = g.api("sandbox", "simulate_application")
    for operation in (create_session, simulate):
        if MERCHANT_KEY_PARAM not in inspect.signature(operation.sync_detailed).parameters:
            pytest.fail(
                "the served OpenAPI does not declare the x-imprint-merchant-key header on "
                f"{operation.__name__.rpartition('.')[2]}, so a generated client cannot send it "
                "(a partner with several products must)",
                pytrace=False,
            )
    partner = g.client(served.server, served.partner_with_products())
    pcid = f"CUST_{secrets.token_hex(4)}"
    body = g.model("CreateCustomerSessionRequest").from_dict({"partner_customer_id": pcid})

    # Without the header: 400, naming it.
    without = create_session.sync(client=partner, body=body)
    assert isinstance(without, g.model("InvalidRequestError"))
    assert without.details == [
        "x-imprint-merchant-key: required, this partner has several merchant keys"
    ]

    # A key that is not the partner's: 403.
    foreign = create_session.sync_detailed(
        client=partner, body=body, **{MERCHANT_KEY_PARAM: "someone-else"}
    )
    assert foreign.status_code == 403

    # With it: the session belongs to that product, as its client context shows.
    created = create_session.sync(
        client=partner, body=body, **{MERCHANT_KEY_PARAM: MERCHANT_KEYS[1]}
    )
    assert isinstance(created, g.model("CustomerSession"))
    _REGISTRY.remember(created.client_secret)
    exchanged = g.api("client_api", "exchange_client_secret").sync(
        client=g.anonymous(served.server),
        body=g.model("ExchangeRequest")(client_secret=created.client_secret),
    )
    assert isinstance(exchanged, g.model("ExchangeResponse"))
    _REGISTRY.remember(exchanged.access_token)
    context = g.api("client_api", "get_client_session").sync(
        client=g.client(served.server, exchanged.access_token)
    )
    assert isinstance(context, g.model("ClientSession"))
    assert context.merchant_key == MERCHANT_KEYS[1]

    # The sandbox helper takes it too.
    request = g.model("SimulateApplicationRequest").from_dict(
        {"partner_customer_id": pcid, "status": "REJECTED"}
    )
    assert simulate.sync_detailed(client=partner, body=request).status_code == 400
    simulated = simulate.sync(
        client=partner, body=request, **{MERCHANT_KEY_PARAM: MERCHANT_KEYS[0]}
    )
    assert isinstance(simulated, g.model("SimulatedApplication"))
    assert str(simulated.status) == "REJECTED"
