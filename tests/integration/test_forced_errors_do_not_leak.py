"""Real faults and error paths while credentials are in play leak none of them, in body or log.

Each test runs the app at DEBUG with the access log on, over a database of its own (a SQLite copy,
or a PostgreSQL database cloned from a migrated template), and breaks something real: a table the
route needs is renamed, or the database connection is cut. The 500s must be the documented
envelope with no traceback, and the log lines (which do hold the traceback) no credential in any
encoding. The other error paths put credentials where they do not belong.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_api.flow import PHONE, bearer, execute, update_profile

from conftest import _REGISTRY, PG_ADMIN_URL, Harness
from imprint_sessions.domain.phone_verification import SANDBOX_CODE
from leaks import LeakScanner

ENVELOPE = {"path", "details", "error", "status", "timestamp"}
UNEXPECTED = ["server: an unexpected error occurred"]
SSN = "371-54-9026"  # used only here
DOB = {"year": 1984, "month": 3, "day": 9}
# What a rendered traceback or a database error would bring into a response body.
INTERNALS = ("Traceback", 'File "', "sqlite3", "asyncpg", "OperationalError", "does not exist")


# -- a database of the test's own, so it can be broken ------------------------------------------
@pytest.fixture
def database_url(isolated_database_url: str) -> str:
    """Overrides conftest's: a database no other test uses (the shared PostgreSQL one must not be
    broken)."""
    return isolated_database_url


# -- helpers --------------------------------------------------------------------------------------
def log_mark() -> int:
    return len(_REGISTRY.log_stream.getvalue())


def logged_since(mark: int) -> list[dict[str, Any]]:
    lines = _REGISTRY.log_stream.getvalue()[mark:].splitlines()
    return [json.loads(line) for line in lines if line]


def assert_leaks_nothing(
    texts: list[str],
    credentials: list[str],
    *,
    codes: tuple[str, ...] = (),
    ssns: tuple[str, ...] = (),
) -> None:
    scanner = LeakScanner(credentials, {"one-time code": codes, "ssn": ssns})
    found = {
        f"{where(text, number)}: {name}"
        for text in texts
        for number, line in enumerate(text.split("\n"))
        for name in scanner.find(line)
    }
    assert found == set(), f"leaked: {sorted(found)}"


def where(text: str, line_number: int) -> str:
    """Where a leak is, without quoting it: a response's status line, or a log line's logger."""
    if text.startswith("HTTP "):
        return f"{text.partition(chr(10))[0]}, line {line_number}"
    try:
        logger = json.loads(text.split("\n")[line_number]).get("logger")
    except ValueError:
        logger = None
    return f"log line {line_number} ({logger})"


def rendered(response: httpx.Response) -> str:
    """A response as the sweep sees it: status, headers and body."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"HTTP {response.status_code}\n{headers}\n\n{response.text}"


def assert_unexpected_error(response: httpx.Response) -> None:
    """The documented 500: the flat envelope, one fixed detail, a request id, no internals."""
    assert response.status_code == 500, response.text
    body = response.json()
    assert set(body) == ENVELOPE
    assert (body["status"], body["error"], body["details"]) == (
        500,
        "Internal Server Error",
        UNEXPECTED,
    )
    assert response.headers["request-id"]
    assert not [word for word in INTERNALS if word in response.text]


def unhandled_errors(lines: list[dict[str, Any]], missing_table: str) -> list[dict[str, Any]]:
    """The ERROR lines logged for the fault, each with the real traceback naming the table."""
    found = [line for line in lines if line["msg"] == "unhandled error"]
    for line in found:
        assert line["level"] == "ERROR"
        assert "Traceback" in line["exc"]
        assert missing_table in line["exc"]
    return found


def break_table(database_url: str, table: str) -> None:
    """A real fault: the route's table is gone (renamed, as a botched migration would)."""
    execute(database_url, f"ALTER TABLE {table} RENAME TO {table}_gone")


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def new_session(h: Harness, key: str, **body: Any) -> dict[str, Any]:
    response = await h.client.post("/v2/customer_sessions", json=body, auth=(key, ""))
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


async def exchanged(h: Harness, secret: str) -> str:
    response = await h.client.post("/v2/client/exchange", json={"client_secret": secret})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


# -- genuine server-side faults ------------------------------------------------------------------
async def test_missing_sessions_table_gives_enveloped_500s_and_logs_no_key_secret_or_token(
    harness: Harness, database_url: str
) -> None:
    _, key = await harness.new_partner()
    created = await new_session(harness, key, partner_customer_id="CUST_FAULT")
    unused = await new_session(harness, key, partner_customer_id="CUST_FAULT")
    token = await exchanged(harness, created["client_secret"])
    break_table(database_url, "customer_sessions")
    mark = log_mark()
    client = harness.client
    responses = [
        await client.post("/v2/client/exchange", json={"client_secret": unused["client_secret"]}),
        await client.get(f"/v2/customer_sessions/{created['id']}", headers=basic(key)),
        await client.post(
            "/v2/customer_sessions",
            json={"partner_customer_id": "CUST_FAULT", "metadata": {"note": "retry"}},
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": secrets.token_hex(8)},
        ),
        await client.post(f"/v2/customer_sessions/{created['id']}/expire", auth=(key, "")),
        await client.get("/v2/client/session", headers=bearer(token)),
    ]
    for response in responses:
        assert_unexpected_error(response)
    lines = logged_since(mark)
    assert len(unhandled_errors(lines, "customer_sessions")) == len(responses)
    access = [line for line in lines if line["logger"] == "imprint_sessions.access"]
    assert [line["status"] for line in access] == [500] * len(responses)
    credentials = [key, created["client_secret"], unused["client_secret"], token]
    bodies = [rendered(response) for response in responses]
    assert_leaks_nothing([*bodies, _REGISTRY.log_stream.getvalue()[mark:]], credentials)


async def test_missing_otp_table_while_confirming_a_code_logs_neither_code_nor_token(
    harness: Harness, database_url: str
) -> None:
    _, key = await harness.new_partner()
    token = await exchanged(harness, (await new_session(harness, key))["client_secret"])
    assert (await update_profile(harness, token, {"phone": PHONE})).status_code == 200
    started = await harness.client.post("/v2/client/phone/verification", headers=bearer(token))
    assert started.status_code == 200, started.text
    break_table(database_url, "otp_challenges")
    mark = log_mark()
    confirm = await harness.client.post(
        "/v2/client/phone/verification/confirm",
        json={"code": SANDBOX_CODE},
        headers=bearer(token),
    )
    restart = await harness.client.post("/v2/client/phone/verification", headers=bearer(token))
    for response in (confirm, restart):
        assert_unexpected_error(response)
    lines = logged_since(mark)
    assert len(unhandled_errors(lines, "otp_challenges")) == 2
    assert_leaks_nothing(
        [rendered(confirm), rendered(restart), _REGISTRY.log_stream.getvalue()[mark:]],
        [key, token],
        codes=(SANDBOX_CODE,),
    )


async def test_missing_customers_table_while_an_ssn_is_sent_logs_no_ssn(
    harness: Harness, database_url: str
) -> None:
    _REGISTRY.remember(SSN)
    _, key = await harness.new_partner()
    await new_session(harness, key, partner_customer_id="CUST_SSN")
    listed = await harness.client.get(
        "/v2/customers", params={"partner_customer_id": "CUST_SSN"}, auth=(key, "")
    )
    customer_id = listed.json()["data"][0]["id"]
    break_table(database_url, "customers")
    mark = log_mark()
    update = await harness.client.post(
        f"/v2/customers/{customer_id}",
        json={"ssn": SSN, "date_of_birth": DOB, "first_name": "Ada"},
        auth=(key, ""),
    )
    search = await harness.client.post(
        "/v2/customers", json={"ssn": SSN.replace("-", ""), "date_of_birth": DOB}, auth=(key, "")
    )
    for response in (update, search):
        assert_unexpected_error(response)
    assert len(unhandled_errors(logged_since(mark), "customers")) == 2
    assert_leaks_nothing(
        [rendered(update), rendered(search), _REGISTRY.log_stream.getvalue()[mark:]],
        [key, SSN],
        ssns=(SSN, SSN.replace("-", "")),
    )


async def test_an_unhandled_error_with_a_forged_line_in_the_request_is_one_log_line(
    harness: Harness, database_url: str
) -> None:
    """The ERROR record (a multi-line traceback) of a request carrying line breaks and a forged
    JSON line in its path, query and headers is one physical line, like the access line."""
    forged = '{"level":"ERROR","logger":"imprint_sessions.app","msg":"forged"}'
    injected = f"\r\n{forged}\n\u2028"
    _, key = await harness.new_partner()
    created = await new_session(harness, key)
    break_table(database_url, "customer_sessions")
    request_id = f"probe-{secrets.token_hex(6)}"
    mark = log_mark()
    response = await harness.client.get(
        f"/v2/customer_sessions/{created['id']}",
        params={injected: injected},
        auth=(key, ""),
        headers={"Request-Id": request_id, "User-Agent": f"\r\n{forged}\n"},
    )
    assert_unexpected_error(response)
    text = _REGISTRY.log_stream.getvalue()[mark:]
    lines = logged_since(mark)  # every physical line parses as one JSON object
    assert not [line for line in lines if line["msg"] == "forged"]
    mine = [line for line in lines if line.get("request_id") == request_id]
    assert len(mine) == sum(request_id in line for line in text.split("\n"))
    (error,) = unhandled_errors(mine, "customer_sessions")
    assert error["exc"].count("\n") > 3  # a real, multi-line traceback, kept on one line
    (access,) = [line for line in mine if line["logger"] == "imprint_sessions.access"]
    assert any(forged in name for name in access["query_keys"])


async def test_a_cut_database_connection_fails_in_the_envelope_and_logs_no_credential(
    harness: Harness, database_url: str
) -> None:
    """PostgreSQL: every backend of the test's own database is terminated. SQLite: the file under
    the open connection is overwritten with garbage."""
    _, key = await harness.new_partner()
    created = await new_session(harness, key)
    token = await exchanged(harness, created["client_secret"])
    if database_url.startswith("postgresql"):
        import psycopg

        name = database_url.rpartition("/")[2]
        with psycopg.connect(PG_ADMIN_URL or "", autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            ).fetchone()
        assert terminated is not None
        assert terminated[0] >= 1
    else:
        path = Path(database_url.split(":///", 1)[1])
        # What was written so far joins the sweep now: the file will not be readable after.
        conn = sqlite3.connect(path)
        try:
            _REGISTRY.extra_logs.append("\n".join(conn.iterdump()))
        finally:
            conn.close()
        _REGISTRY.sqlite_paths.discard(path)
        with path.open("r+b") as handle:
            handle.write(secrets.token_bytes(4096))
    mark = log_mark()
    responses = [
        await harness.client.get(f"/v2/customer_sessions/{created['id']}", auth=(key, "")),
        await harness.client.post("/v2/customer_sessions", json={}, headers=basic(key)),
        await harness.client.get("/v2/client/profile", headers=bearer(token)),
    ]
    failed = [r for r in responses if r.status_code >= 500]
    assert failed, "cutting the database should have failed a request"
    for response in failed:
        assert response.status_code in (500, 503), response.text
        assert set(response.json()) == ENVELOPE
        assert not [word for word in INTERNALS if word in response.text]
    access = [line for line in logged_since(mark) if line["logger"] == "imprint_sessions.access"]
    assert [line["status"] for line in access] == [r.status_code for r in responses]
    assert_leaks_nothing(
        [*map(rendered, responses), _REGISTRY.log_stream.getvalue()[mark:]],
        [key, created["client_secret"], token],
    )


# -- credentials where they do not belong ---------------------------------------------------------
async def test_a_real_key_in_a_malformed_authorization_header_is_401_and_never_echoed(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    token = await exchanged(harness, (await new_session(harness, key))["client_secret"])
    b64 = base64.b64encode(f"{key}:".encode()).decode()
    malformed = [
        f"Bearer {key} extra",
        f"Basic {b64}!!",
        key,
        f"Token {key}",
        f"Basic {base64.b64encode(f':{key}'.encode()).decode()}",
        f"Bearer {key},",
        f"Bearer {token}",  # a client credential on the partner surface
    ]
    mark = log_mark()
    responses = [
        await harness.client.post(
            "/v2/customer_sessions", json={}, headers={"Authorization": value}
        )
        for value in malformed
    ]
    responses.append(
        await harness.client.get("/v2/client/profile", headers={"Authorization": f"Bearer {key}"})
    )
    for response in responses:
        assert response.status_code == 401, response.text
        assert set(response.json()) >= ENVELOPE
    assert_leaks_nothing(
        [*map(rendered, responses), _REGISTRY.log_stream.getvalue()[mark:]], [key, token, b64]
    )


async def test_a_client_secret_in_a_query_path_or_header_is_never_echoed_or_logged(
    harness: Harness,
) -> None:
    _, key = await harness.new_partner()
    created = await new_session(harness, key)
    secret = (await new_session(harness, key))["client_secret"]  # unused: still exchangeable
    mark = log_mark()
    client = harness.client
    auth = (key, "")
    errors = [
        await client.post("/v2/client/exchange", params={"client_secret": secret}),
        await client.get(f"/v2/customer_sessions/{secret}", auth=auth),
        await client.get(f"/v2/client/{secret}"),
        await client.get(f"/v2/customers/{secret}/customer_sessions", auth=auth),
        await client.post(
            "/v2/customer_sessions",
            json={"customer_id": secret},
            auth=auth,
            headers={"Idempotency-Key": secret},
        ),
        await client.request("DELETE", "/v2/keys", json={"id": key}, auth=auth),
        await client.post(
            "/v2/customer_sessions",
            content=b'{"client_secret": "' + secret.encode() + b'", ',
            headers={"content-type": "application/json"},
            auth=auth,
        ),
        await client.post(
            "/v2/customer_sessions",
            json={"metadata": {secret: "x", "k": secret}, "expires_in": 5},
            auth=auth,
        ),
        await client.post(
            "/v2/client/exchange",
            json={"client_secret": secret + "x"},
            headers={"X-Client-Secret": secret, "Request-Id": key, "User-Agent": secret},
        ),
    ]
    fine = await client.get(
        f"/v2/customer_sessions/{created['id']}", params={"client_secret": secret}, auth=auth
    )
    assert fine.status_code == 200
    for response in errors:
        assert 400 <= response.status_code < 500, response.text
        body = response.json()
        assert set(body) >= ENVELOPE or set(body) == {"type", "message", "param"}, body
    # The secret was still exchangeable: none of the above consumed it.
    assert (
        await client.post("/v2/client/exchange", json={"client_secret": secret})
    ).status_code == 200
    assert_leaks_nothing(
        [*map(rendered, errors), _REGISTRY.log_stream.getvalue()[mark:]], [key, secret]
    )
