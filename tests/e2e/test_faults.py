"""Sandbox test faults against real ``serve`` processes on loopback: a dropped connection closes
the socket with no answer at all, faults declared with the CLI (or through one process) apply on
every process sharing the database, and production's CLI refuses them."""

from __future__ import annotations

import base64
import json
import socket
import time

import httpx
import pytest

from e2e.conftest import Deployment, Server, cli

RAW_TIMEOUT_SECONDS = 5.0


def sandbox_partner(server: Server) -> str:
    listed = cli(server.env, "partners", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (partner,) = json.loads(listed.stdout)
    partner_id: str = partner["id"]
    return partner_id


def raw_get(server: Server, path: str, key: str, *extra: str) -> bytes:
    """Everything the server sends back to one GET on a fresh connection, until it closes."""
    host, port = server.base_url.removeprefix("http://").split(":")
    token = base64.b64encode(f"{key}:".encode()).decode()
    request = "\r\n".join(
        [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            f"Authorization: Basic {token}",
            "Connection: close",
            *extra,
            "",
            "",
        ]
    )
    received = b""
    with socket.create_connection((host, int(port)), timeout=RAW_TIMEOUT_SECONDS) as sock:
        sock.sendall(request.encode())
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # closed without an answer, abruptly: the same to the client
    return received


def test_a_dropped_connection_gets_no_byte_and_the_server_carries_on(
    deployment: Deployment,
) -> None:
    server = deployment.start()
    key = server.api_key()
    path = "/v2/customer_sessions/2EE24580-B97B-4949-A65C-929CCB9B9B8D"
    assert raw_get(server, path, key, "Imprint-Test-Fault: drop") == b""
    delayed = time.monotonic()
    assert raw_get(server, path, key, "Imprint-Test-Fault: delay_ms=300; drop") == b""
    assert time.monotonic() - delayed >= 0.3
    # The same request without the header is answered (a 404: no such session).
    assert raw_get(server, path, key).startswith(b"HTTP/1.1 404 ")
    # A client library sees a connection closed before any answer.
    with pytest.raises(httpx.RemoteProtocolError, match=r"(?i)without sending|disconnected"):
        httpx.get(server.base_url + path, auth=(key, ""), headers={"Imprint-Test-Fault": "drop"})
    # Keep-alive: a dropped request takes its connection, and the next one gets a new one.
    with httpx.Client(base_url=server.base_url, auth=(key, "")) as client:
        assert client.get("/v2/webhook_endpoints").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/v2/webhook_endpoints", headers={"Imprint-Test-Fault": "drop"})
        assert client.get("/v2/webhook_endpoints").status_code == 200
    server.stop()
    stderr = server.stderr()
    assert "connection dropped on purpose (test fault)" in stderr
    assert "Exception in ASGI application" not in stderr
    assert "returned without starting response" not in stderr
    dropped = [
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and '"path": "/v2/customer_sessions/' in line.replace('":"', '": "')
    ]
    access = [line for line in dropped if line.get("logger") == "imprint_sessions.access"]
    assert [line["status"] for line in access].count(None) >= 2, access


def test_cli_faults_apply_on_every_server_and_are_used_once_between_them(
    deployment: Deployment,
) -> None:
    first = deployment.start()
    key = first.api_key()
    second = deployment.start()
    partner_id = sandbox_partner(first)
    for server in (first, second):  # each has looked: its fault index is fresh and empty
        assert httpx.get(f"{server.base_url}/v2/customers", auth=(key, "")).status_code == 200
    added = cli(
        first.env,
        "faults", "add", "--partner", partner_id, "--kind", "error",
        "--operation", "listCustomers", "--status", "503", "--retry-after", "4",
        "--times", "2", "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    fault = json.loads(added.stdout)
    assert (fault["kind"], fault["status"], fault["remaining"]) == ("error", 503, 2)
    answers: list[httpx.Response] = []
    deadline = time.monotonic() + 3
    while len([r for r in answers if r.status_code == 503]) < 2:
        assert time.monotonic() < deadline, [r.status_code for r in answers]
        for server in (first, second):
            answers.append(httpx.get(f"{server.base_url}/v2/customers", auth=(key, "")))
        time.sleep(0.05)
    forced = [r for r in answers if r.status_code == 503]
    assert {r.headers["retry-after"] for r in forced} == {"4"}
    assert {r.json()["details"][0] for r in forced} == {
        f"test fault: a forced 503 (fault {fault['id']})"
    }
    assert {r.status_code for r in answers} <= {200, 503}
    for server in (first, second):
        assert httpx.get(f"{server.base_url}/v2/customers", auth=(key, "")).status_code == 200
    listed = cli(first.env, "faults", "list", "--partner", partner_id, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(f["id"], f["remaining"]) for f in json.loads(listed.stdout)] == [(fault["id"], 0)]
    text = cli(first.env, "faults", "list", "--partner", partner_id)
    shown = [fault["id"], "error", "listCustomers", "status=503", "retry_after=4", "0", "left"]
    assert text.stdout.split() == shown
    deleted = cli(first.env, "faults", "delete", fault["id"], "--partner", partner_id, "--json")
    assert json.loads(deleted.stdout) == {"id": fault["id"], "deleted": True}
    again = cli(first.env, "faults", "delete", fault["id"], "--partner", partner_id)
    assert again.returncode == 2
    assert "Fault not found" in again.stderr
    refused = cli(
        first.env, "faults", "add", "--partner", partner_id, "--kind", "error",
        "--operation", "nope",
    )  # fmt: skip
    assert refused.returncode == 2
    assert "operation: must be the operationId" in refused.stderr


def test_production_refuses_the_faults_commands(deployment: Deployment) -> None:
    server = deployment.start()
    partner_id = sandbox_partner(server)
    server.stop()
    env = {**deployment.env, "IMPRINT_ENV": "production"}
    secret_key = (deployment.tmp / "data" / "secret_key").read_text().strip()
    env["IMPRINT_SECRET_KEY"] = secret_key
    for args in (
        ["faults", "list", "--partner", partner_id],
        ["faults", "add", "--partner", partner_id, "--kind", "drop", "--operation", "getSession"],
    ):
        result = cli(env, *args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "faults: sandbox only" in result.stderr
