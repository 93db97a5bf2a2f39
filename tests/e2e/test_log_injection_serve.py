"""A real ``serve`` process: injected line breaks and a forged JSON line, and a forced 500 with
credentials in play, leave one JSON line per log event on stderr and no credential in it."""

from __future__ import annotations

import json
import secrets
import socket
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from e2e.conftest import Deployment, Server
from leaks import LeakScanner

FORGED = '{"level":"ERROR","logger":"imprint_sessions.access","msg":"forged"}'
ENCODED = quote(f"\r\n{FORGED}\n\u2028{FORGED}", safe="")


def raw_exchange(server: Server, request: bytes) -> bytes:
    """Send bytes exactly as given (no client library cleans them up); the whole answer."""
    parts = urlsplit(server.base_url)
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=15) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request_bytes(
    method: str, target: str, headers: list[tuple[str, bytes]], body: bytes = b""
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    lines += [name.encode() + b": " + value for name, value in headers]
    lines += [b"Connection: close", f"Content-Length: {len(body)}".encode()]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.split("\n"):
        if line.strip():
            record = json.loads(line)  # a line that is not one JSON object fails here
            assert isinstance(record, dict), line
            records.append(record)
    return records


@pytest.mark.parametrize("deployment", ["sqlite"], indirect=True)
def test_a_real_server_writes_one_json_line_per_event_whatever_the_request_holds(
    deployment: Deployment,
) -> None:
    server = deployment.start()
    key = server.api_key()
    created = httpx.post(
        f"{server.base_url}/v2/customer_sessions",
        json={"partner_customer_id": "CUST_PROBE"},
        auth=(key, ""),
        timeout=15,
    )
    assert created.status_code == 200, created.text
    session = created.json()
    auth = ("Authorization", f"Bearer {key}".encode())
    ids = {name: f"probe-{name}-{secrets.token_hex(4)}" for name in ("path", "body", "fault")}

    # Line breaks and a forged line in the path, a query key, and header values (NEL and U+2028
    # as raw bytes: CR and LF themselves cannot be sent inside a header).
    odd_header = f"a\x85{FORGED}".encode("latin-1") + "\u2028".encode() + FORGED.encode()
    path_probe = raw_exchange(
        server,
        request_bytes(
            "GET",
            f"/v2/customer_sessions/{ENCODED}?{ENCODED}=1&q={ENCODED}",
            [auth, ("Request-Id", ids["path"].encode()), ("User-Agent", odd_header)],
        ),
    )
    assert status_of(path_probe) == 404
    body = json.dumps(
        {"partner_customer_id": f"CUST\r\n{FORGED}", "metadata": {f"\n{FORGED}"[:40]: FORGED}}
    ).encode()
    body_probe = raw_exchange(
        server,
        request_bytes(
            "POST",
            "/v2/customer_sessions",
            [auth, ("Request-Id", ids["body"].encode()), ("Content-Type", b"application/json")],
            body,
        ),
    )
    assert status_of(body_probe) == 200
    # A raw CR LF inside a header value: the HTTP parser refuses the request outright.
    split_header = raw_exchange(
        server, request_bytes("GET", "/healthz", [("User-Agent", f"a\r\n{FORGED}".encode())])
    )
    assert status_of(split_header) == 400

    # A genuine fault with the key and a client secret in play: the sessions table disappears.
    database = Path(deployment.env["IMPRINT_DATA_DIR"]) / "imprint.sqlite3"
    with sqlite3.connect(database) as conn:
        conn.execute("ALTER TABLE customer_sessions RENAME TO customer_sessions_gone")
    fault = raw_exchange(
        server,
        request_bytes(
            "POST",
            f"/v2/client/exchange?{ENCODED}=1",
            [("Request-Id", ids["fault"].encode()), ("Content-Type", b"application/json")],
            json.dumps({"client_secret": session["client_secret"]}).encode(),
        ),
    )
    assert status_of(fault) == 500
    fault_body = json.loads(fault.partition(b"\r\n\r\n")[2])
    assert fault_body["details"] == ["server: an unexpected error occurred"]
    assert b"Traceback" not in fault

    server.stop()
    stderr = server.stderr()
    records = json_lines(stderr)
    assert not [r for r in records if r.get("msg") == "forged"]
    for request_id in ids.values():
        mine = [r for r in records if r.get("request_id") == request_id]
        assert len(mine) == sum(request_id in line for line in stderr.split("\n"))
        assert [r["logger"] for r in mine].count("imprint_sessions.access") == 1
    path_access = next(r for r in records if r.get("request_id") == ids["path"])
    assert FORGED in path_access["path"]  # the probe reached the log, as data
    (unhandled,) = [r for r in records if r.get("msg") == "unhandled error"]
    assert unhandled["request_id"] == ids["fault"]
    assert unhandled["level"] == "ERROR"
    assert "Traceback" in unhandled["exc"]
    assert "customer_sessions" in unhandled["exc"]
    # The parser's complaint about the split header is one line too.
    assert [r["msg"] for r in records].count("Invalid HTTP request received.") == 1
    scanner = LeakScanner([key, session["client_secret"]])
    assert scanner.find(stderr + fault.decode("utf-8", "replace")) == set()
