"""Runs last: no secret the suite handled is in any log, error response, webhook or database.

Collected after every other directory (``zz_``), it scans what the whole run left behind: the
JSON log lines of the in-process app (at DEBUG, access log on), the stderr of every server and CLI
process the end-to-end tests started, every 4xx/5xx response the service gave (status, headers,
body), every webhook delivery a test receiver got, and a full dump of every SQLite and PostgreSQL
database. It looks for every API key, client secret, client access token, webhook signing secret,
operator credential and console session token (the operator console's), Authorization value
and master key in every encoding, and for one-time codes and SSNs in context
(``tests/leaks.py`` says how and why).

Under pytest-xdist no worker runs these: the controller runs them once, after every worker is
done, over all the workers' registries merged (``tests/sweep_across_workers.py``).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from conftest import PG_ADMIN_URL, LeakRegistry
from leaks import LeakScanner, kind_of, label

# Databases the suite kept for this dump (end-to-end deployments, databases a test broke on
# purpose); dropped once dumped.
KEPT_FOR_THE_SWEEP = ("imprint_e2e_", "imprint_sweep_")
_MAX_CELL = 11  # longest low-entropy value looked for in cells (an SSN with dashes)


@dataclass
class Dump:
    text: str
    cells: set[str] = field(default_factory=set)  # short text cells, compared exactly


def sqlite_dump(path: str) -> Dump:
    conn = sqlite3.connect(path)
    try:
        dump = Dump("\n".join(conn.iterdump()))
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                dump.cells.update(c for c in row if isinstance(c, str) and len(c) <= _MAX_CELL)
        return dump
    finally:
        conn.close()


def postgres_dump(url: str) -> Dump:
    import psycopg

    dump = Dump("")
    lines: list[str] = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
            lines.extend(row[0] for row in rows)
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                dump.cells.update(c for c in row if isinstance(c, str) and len(c) <= _MAX_CELL)
    dump.text = "\n".join(lines)
    return dump


@pytest.fixture(scope="module")
def dumps(leak_registry: LeakRegistry) -> Iterator[dict[str, Dump]]:
    found = {str(p): sqlite_dump(str(p)) for p in leak_registry.sqlite_paths if p.exists()}
    found.update({url: postgres_dump(url) for url in leak_registry.pg_urls})
    yield found
    if PG_ADMIN_URL:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            for url in leak_registry.pg_urls:
                name = url.rpartition("/")[2]
                if name.startswith(KEPT_FOR_THE_SWEEP):
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def scanner(leak_registry: LeakRegistry) -> LeakScanner:
    return LeakScanner(
        leak_registry.issued, {"one-time code": leak_registry.codes, "ssn": leak_registry.ssns}
    )


def leaks_in(scanner: LeakScanner, texts: list[str]) -> list[str]:
    """What ``scanner`` finds in ``texts`` (labels: kind and fingerprint, never the value)."""
    return sorted(scanner.find("\n".join(texts)))


def test_the_suite_issued_credentials_and_wrote_logs(leak_registry: LeakRegistry) -> None:
    """Guards the sweep itself: with nothing collected it would pass vacuously."""
    assert len(leak_registry.issued) >= 100
    assert any(c.startswith("isk_test_") for c in leak_registry.issued)
    assert any(c.startswith("ics_") for c in leak_registry.issued)
    assert leak_registry.logs().count("\n") > 1000
    assert "imprint_sessions.access" in leak_registry.logs()


def test_the_suite_handled_every_kind_of_secret_error_response_and_webhook(
    leak_registry: LeakRegistry, scanner: LeakScanner
) -> None:
    """Guards the sweep too: every kind of secret was in play, and errors and webhooks were seen."""
    kinds = {kind_of(c) for c in leak_registry.issued}
    assert {
        "api key",
        "client secret",
        "client access token",
        "webhook signing secret",
        "operator credential",
        "operator session token",
    } <= kinds
    assert scanner.counts["one-time code"] >= 1
    assert scanner.counts["ssn"] >= 2
    # Codes were really sent to the service while the log was captured.
    assert "/v2/client/phone/verification/confirm" in leak_registry.logs()
    assert len(leak_registry.error_bodies) >= 100
    statuses = {body.split("\n", 1)[0] for body in leak_registry.error_bodies}
    assert {"HTTP 400", "HTTP 401", "HTTP 404", "HTTP 500"} <= statuses
    assert len(leak_registry.webhook_payloads) >= 100
    # Events, not only the transport unit tests' bare ``{}`` (which may come first, by order).
    events = [p for p in leak_registry.webhook_payloads if '"type":' in p or '"object":' in p]
    assert len(events) >= 50


def test_no_issued_credential_appears_in_any_log_line(
    leak_registry: LeakRegistry, scanner: LeakScanner
) -> None:
    leaked = leaks_in(scanner, [leak_registry.logs()])
    assert leaked == [], f"{len(leaked)} secrets leaked into logs: {leaked[:5]}"


def test_no_issued_credential_appears_in_any_error_response(
    leak_registry: LeakRegistry, scanner: LeakScanner
) -> None:
    leaked = leaks_in(scanner, leak_registry.error_bodies)
    assert leaked == [], f"{len(leaked)} secrets in error responses: {leaked[:5]}"


def test_no_issued_credential_appears_in_any_webhook_payload(
    leak_registry: LeakRegistry, scanner: LeakScanner
) -> None:
    leaked = leaks_in(scanner, leak_registry.webhook_payloads)
    assert leaked == [], f"{len(leaked)} secrets in webhook deliveries: {leaked[:5]}"


def test_no_issued_credential_appears_in_any_database_dump(
    scanner: LeakScanner, dumps: dict[str, Dump]
) -> None:
    assert dumps, "no database was registered for the sweep"
    texts = [dump.text for dump in dumps.values()]
    assert sum(text.count("\n") for text in texts) > 1000, "too little to prove anything"
    leaked = leaks_in(scanner, texts)
    assert leaked == [], f"{len(leaked)} secrets found in database dumps: {leaked[:5]}"
    in_cells = {
        name: found for name, dump in dumps.items() if (found := scanner.find_in_cells(dump.cells))
    }
    assert in_cells == {}, f"codes or SSNs stored in plaintext: {sorted(in_cells)[:3]}"


# -- negative controls: the same matching sees a secret when one is there --------------------------


PLANTED_SSN = "536-22-8174"


@pytest.fixture(scope="module")
def control(leak_registry: LeakRegistry) -> LeakScanner:
    """The sweep's scanner, built the same way, knowing one more SSN to plant."""
    ssns = leak_registry.ssns | {PLANTED_SSN, PLANTED_SSN.replace("-", "")}
    return LeakScanner(leak_registry.issued, {"one-time code": leak_registry.codes, "ssn": ssns})


def _issued(leak_registry: LeakRegistry, prefix: str) -> str:
    return next(c for c in sorted(leak_registry.issued) if c.startswith(prefix))


def test_the_sweep_finds_a_planted_credential(
    leak_registry: LeakRegistry, control: LeakScanner
) -> None:
    """Each kind, hidden the way a careless log line would hide it, is found in a log line, at
    every offset (the scanner samples every 8th position)."""
    key = _issued(leak_registry, "isk_test_")
    secret = _issued(leak_registry, "ics_")
    token = _issued(leak_registry, "ict_")
    signing = next(c for c in sorted(leak_registry.issued) if c.startswith("whsec_") and "/" in c)
    operator = _issued(leak_registry, "ioc_")
    console_login = _issued(leak_registry, "iot_")
    plantings = [
        # a Basic header's payload inside a larger base64 blob, at an odd alignment
        (label("api key", key), "dump " + base64.b64encode(b"xy" + f"{key}:".encode()).decode()),
        (
            label("client secret", secret),
            "redirect=%2Fstart%3Fclient_secret%3D" + quote(secret, safe=""),
        ),
        (label("client access token", token), "token body " + token.removeprefix("ict_")),
        # a JSON encoder that escapes "/"
        (label("webhook signing secret", signing), '{"s":"' + signing.replace("/", "\\/") + '"}'),
        # the console's sign-in form body, and its cookie header, logged as they came
        (label("operator credential", operator), "form credential=" + quote(operator, safe="")),
        (
            label("operator session token", console_login),
            "headers cookie: imprint_console" + "=" + console_login,
        ),
        # a request body logged inside a message
        (label("one-time code", "888888"), json.dumps({"msg": json.dumps({"code": "888888"})})),
        (label("ssn", PLANTED_SSN), f"{{'ssn': '{PLANTED_SSN}'}}"),
    ]
    line = leak_registry.logs().partition("\n")[0]
    for expected, planted in plantings:
        for offset in range(8):
            assert expected in control.find(f"{line}\n{'.' * offset}{planted}\n{line}"), offset


def test_the_sweep_finds_a_credential_planted_in_an_error_response_or_a_webhook(
    leak_registry: LeakRegistry, control: LeakScanner
) -> None:
    secret = _issued(leak_registry, "ics_")
    expected = label("client secret", secret)
    error = 'HTTP 404\nrequest-id: req_1\n\n{"message":"Key not found for provided ID: %s"}'
    assert expected in leaks_in(control, [*leak_registry.error_bodies, error % secret])
    payload = 'POST /hooks\nwebhook-id: evt_1\n\n{"data":{"metadata":{"k":"%s"}}}'
    assert expected in leaks_in(control, [*leak_registry.webhook_payloads, payload % secret])


def test_the_sweep_finds_a_code_or_ssn_stored_in_a_cell_but_not_digits_that_merely_match(
    control: LeakScanner,
) -> None:
    """Codes and SSNs count in context or as a whole cell; the same digits inside a timestamp, an
    amount or a hash are not a leak (they would make a whole run's sweep flaky)."""
    in_cells = control.find_in_cells({"888888", "536228174"})
    assert len(in_cells) == 2
    assert in_cells <= control.find('"code":"888888" code=888888 "ssn":"536228174"')
    assert control.find_in_cells({"8888889", "x888888", "536-22-81745"}) == set()
    innocent = '{"ts":1739888888123,"amount":5362281740,"hash":"a888888f","path":"/v2/x/888888"}'
    assert control.find(innocent) == set()
