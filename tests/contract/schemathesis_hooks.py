"""Schemathesis hooks for the served-spec run (``test_schemathesis_served_spec.py``): state no
schema can describe, supplied to *positive* cases only.

A positive case is one schemathesis generated to satisfy the schema, and it then expects the
server to accept it. A few rules depend on what exists rather than on the shape of a value, or
go beyond what JSON Schema can say (a real calendar date, a dialable phone number, where a URL's
host resolves); for those, a schema-valid value is swapped for one that also satisfies the
rule, so that a positive case stays a valid request. Negative cases are never touched: each
invalid value still reaches the server and must be refused. Each rule has its own tests, named
beside it.

The run passes its state in environment variables: ``IMPRINT_ST_BASE_URL``,
``IMPRINT_ST_API_KEY`` and ``IMPRINT_ST_KNOWN`` (JSON: ``cursors``, operationId -> a real id
for its ``starting_after``; ``path``, path parameter -> the id of a real object).
"""

from __future__ import annotations

import itertools
import json
import os
import urllib.error
import urllib.request
import uuid
from collections.abc import MutableMapping
from typing import Any

import schemathesis
from schemathesis import GenerationMode

from integration.client_api.flow import CARD, PROFILE

_KNOWN: dict[str, dict[str, str]] = json.loads(os.environ.get("IMPRINT_ST_KNOWN", "{}"))
_CURSORS = _KNOWN.get("cursors", {})
_PATH_IDS = _KNOWN.get("path", {})
_ALTERNATE = itertools.cycle((True, False))
_PHONE_SUFFIXES = itertools.cycle(range(1000, 10000))  # +1 415 555 1000..9999 are all valid
# A number phonenumbers calls valid: a schema-valid E.164 string mostly is not a real number
# (validation.PhoneNumber; tests/unit/test_validation.py, "Phone").
_VALID_PHONE = "+14155552671"
_SANDBOX_CODE = "888888"  # reference, section 4


def _positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or meta.generation.mode is GenerationMode.POSITIVE


def _call(method: str, path: str, token: str | None, body: Any = None) -> dict[str, Any]:
    """One request of the run's own, to set up state; its JSON answer (an error's too)."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # the run's own loopback server
        f"{os.environ['IMPRINT_ST_BASE_URL']}{path}", data=data, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        answer = json.loads(exc.read() or b"{}")
    return answer


def _fresh_client_token(*, verified: bool) -> str:
    """A new customer session's client credential, its profile with a phone (verified if asked).

    The one-time code rules are per session (a code is used once; a session asks for a few):
    a positive request to them gets a session in the state the request needs.
    """
    api_key = os.environ["IMPRINT_ST_API_KEY"]
    secret = _call("POST", "/v2/customer_sessions", api_key, {})["client_secret"]
    exchanged = _call("POST", "/v2/client/exchange", None, {"client_secret": secret})
    token = str(exchanged["access_token"])
    # A complete profile (an application needs a name, an email and an address from it), and a
    # phone of its own: an open application of another session with the same phone would move
    # to this one when the phone is verified (README, "resumed").
    phone = f"+1415555{next(_PHONE_SUFFIXES):04d}"
    _call("POST", "/v2/client/profile", token, {**PROFILE, "phone": phone})
    if verified:
        _call("POST", "/v2/client/phone/verification", token)
        _call("POST", "/v2/client/phone/verification/confirm", token, {"code": _SANDBOX_CODE})
    return token


def _authorize(case: Any, token: str) -> None:
    headers = case.headers  # a case-insensitive mapping, not a dict
    for name in [n for n in headers if n.lower() == "authorization"]:
        del headers[name]
    headers["Authorization"] = f"Bearer {token}"


def _fix_values(node: Any) -> None:
    """Rules on values no JSON Schema keyword states, made to hold in a positive body."""
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "phone" and isinstance(value, str):
            node[key] = _VALID_PHONE
        elif key == "email" and isinstance(value, str):
            # email-validator is stricter than JSON Schema's "email" format (special-use
            # domains, quoted local parts; tests/unit/test_validation.py, "Email").
            node[key] = "customer@example.com"
        elif key == "date_of_birth" and isinstance(value, dict):
            # A real calendar date in the past (DateOfBirthInput, ProfileDateOfBirth: "must be a
            # real calendar date", "must not be in the future").
            if isinstance(value.get("day"), int | float) and value["day"] > 28:
                value["day"] = 28
            if isinstance(value.get("year"), int | float) and value["year"] > 2000:
                value["year"] = 2000
        elif key == "url" and isinstance(value, str):
            # The target policy's rules (webhooks/targets.py and its tests: scheme, host, no
            # credentials or fragment, and where the host resolves) are beyond a schema.
            node[key] = "https://partner.example.com/imprint/webhooks"
        else:
            _fix_values(value)


# The sandbox's test faults (``/v2/test_helpers/faults``): the fields each kind takes, beyond
# what the flat body's schema can say (tests/integration/partner_api/test_faults_api.py).
_FAULT_FIELDS = {
    "error": {"operation", "status", "retry_after", "delay_ms"},
    "delay": {"operation", "delay_ms"},
    "drop": {"operation", "delay_ms"},
    "webhook_failure": {"endpoint_id"},
    "hosted_outcome": {"outcome"},
}
_FAULT_HEADER = "imprint-test-fault"


def _valid_fault(body: dict[str, Any]) -> None:
    """A positive fault declaration as its kind needs it (the fault is deleted after the call,
    by ``after_call``, before it can touch another request)."""
    takes = _FAULT_FIELDS.get(body.get("kind", ""))
    if takes is None:
        return
    for name in ("operation", "status", "retry_after", "delay_ms", "endpoint_id", "outcome"):
        if name not in takes:
            body.pop(name, None)
    if "operation" in takes:
        body.setdefault("operation", "getSession")
    if "status" in takes:
        body.setdefault("status", 503)
        if body["status"] == 500:
            body.pop("retry_after", None)
    if body["kind"] == "delay":
        body.setdefault("delay_ms", 1)
    if "endpoint_id" in takes:
        body["endpoint_id"] = _PATH_IDS["endpoint_id"]  # one of the caller's
    if "outcome" in takes:
        body.setdefault("outcome", "IN_PROGRESS")
    if body.get("until_deleted") is True:
        body.pop("times", None)


def _valid_fired_event(body: dict[str, Any]) -> None:
    """A positive fireWebhookEvent body as its type needs it, for a customer named once."""
    if body.get("type") == "APPLICATION":
        for name in ("payment_method_id", "previous_status", "new_status"):
            body.pop(name, None)
        body.setdefault("status", "REJECTED")
    elif body.get("type") == "PAYMENT_METHOD":
        body.pop("status", None)
        body.setdefault("new_status", "ACTIVE")
    if ("customer_id" not in body and "partner_customer_id" not in body) or next(_ALTERNATE):
        body.pop("partner_customer_id", None)
        body["customer_id"] = _PATH_IDS["customer_id"]


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    """Whatever a generated request made of a test fault is deleted at once, in every mode."""
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id == "createFault" and response.status_code == 200:
        fault_id = json.loads(response.content)["id"]
        _call("DELETE", f"/v2/test_helpers/faults/{fault_id}", os.environ["IMPRINT_ST_API_KEY"])


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if not _positive(case):
        return
    operation_id = case.operation.definition.raw.get("operationId")
    # A valid test-fault header does what it says (drops the connection, answers 500): a
    # positive request goes without one. Negative cases keep theirs, to be refused (400).
    if case.headers is not None:
        for name in [n for n in case.headers if n.lower() == _FAULT_HEADER]:
            del case.headers[name]
    # A key is for one body only (a 422 for another; tests/integration/test_idempotency.py).
    if case.headers is not None:
        for name in [n for n in case.headers if n.lower() == "idempotency-key"]:
            case.headers[name] = str(uuid.uuid4())
    # Every other positive request on one object names a real one (the rest, a made-up id: a
    # 404). Which ids exist is state; the schema only says what an id looks like.
    if case.path_parameters and next(_ALTERNATE):
        for name in case.path_parameters:
            if name in _PATH_IDS:
                case.path_parameters[name] = _PATH_IDS[name]
    # A cursor must name one of the caller's objects in that list (400 otherwise;
    # tests/integration/partner_api/test_customers.py and the other list tests).
    query = case.query
    if isinstance(query, MutableMapping) and "starting_after" in query:
        path_ids = case.path_parameters or {}
        if operation_id in _CURSORS and all(_PATH_IDS.get(k) == v for k, v in path_ids.items()):
            query["starting_after"] = _CURSORS[operation_id]
        else:  # another object's list (reached through a link): no cursor of ours fits it
            del query["starting_after"]
    body = case.body
    if isinstance(body, dict):
        if operation_id == "searchCustomers" and "starting_after" in body:
            body["starting_after"] = _CURSORS["listCustomers"]
        if operation_id == "deleteKey" and isinstance(body.get("id"), str):
            # Deleting a key happens once: each positive request deletes a key made for it.
            body["id"] = _call("POST", "/v2/keys", os.environ["IMPRINT_ST_API_KEY"])["id"]
        # customer_id and partner_customer_id, when both are sent, must name one customer (400
        # otherwise; tests/integration/test_create_customer_session.py).
        if "customer_id" in body and "partner_customer_id" in body:
            del body["partner_customer_id"]
        if operation_id == "createFault":
            _valid_fault(body)
        if operation_id == "fireWebhookEvent":
            _valid_fired_event(body)
        if operation_id == "simulateApplication" and next(_ALTERNATE):
            body.pop("partner_customer_id", None)
            body["customer_id"] = _PATH_IDS["customer_id"]
        _fix_values(body)
    # A code needs a phone on the profile; confirming needs a code not yet used; applying needs
    # the phone verified (400 otherwise; tests/integration/client_api/test_phone_verification.py
    # and test_applications.py). The run's config gives these steps no credential: a positive
    # request gets a fresh session's, in the state the step needs; a negative one keeps the
    # generated (invalid) one, to be refused.
    if operation_id == "startPhoneVerification":
        _authorize(case, _fresh_client_token(verified=False))
    elif operation_id == "confirmPhoneVerification":
        token = _fresh_client_token(verified=False)
        _call("POST", "/v2/client/phone/verification", token)
        _authorize(case, token)
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            body["code"] = _SANDBOX_CODE
    elif operation_id == "createClientApplication":
        _authorize(case, _fresh_client_token(verified=True))
        if isinstance(body, dict):
            body.pop("phone", None)  # the profile's, verified (a phone sent must be that one)
    elif operation_id == "acceptClientApplicationOffer" and next(_ALTERNATE):
        # Every other positive request accepts an offer that is open (a fresh session's approved
        # application); the others name an application that is not there or not open (404, 409).
        token = _fresh_client_token(verified=True)
        application = _call("POST", "/v2/client/applications", token, CARD)
        case.path_parameters["application_id"] = application["id"]
        _authorize(case, token)
    elif operation_id == "acceptClientApplicationOffer":
        _authorize(case, os.environ["IMPRINT_ST_CLIENT_TOKEN"])
