"""``imprint-sessions serve`` as a newcomer and an operator use it: real processes, real HTTP."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx

from conftest import _REGISTRY
from e2e.conftest import Deployment, cli

# uvicorn finishes a graceful shutdown, then re-raises SIGTERM so supervisors see why it exited.
GRACEFUL = (0, -signal.SIGTERM)


def test_first_start_prints_a_working_key_and_curl_line(deployment: Deployment) -> None:
    server = deployment.start()
    key = server.api_key()
    curl_line = next(
        line.strip() for line in server.stdout().splitlines() if line.strip().startswith("curl ")
    )
    assert key in curl_line
    result = subprocess.run(
        curl_line + " --silent --show-error --fail-with-body",
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    created = json.loads(result.stdout)
    _REGISTRY.remember(created["client_secret"])
    fetched = httpx.get(f"{server.base_url}/v2/customer_sessions/{created['id']}", auth=(key, ""))
    assert fetched.json() == created
    assert server.stop() in GRACEFUL


def test_second_start_prints_no_new_key_and_the_first_still_works(deployment: Deployment) -> None:
    first = deployment.start()
    key = first.api_key()
    assert first.stop() in GRACEFUL
    second = deployment.start()
    assert re.search(r"isk_test_", second.stdout()) is None
    response = httpx.post(f"{second.base_url}/v2/customer_sessions", json={}, auth=(key, ""))
    assert response.status_code == 200
    _REGISTRY.remember(response.json()["client_secret"])


def test_sigterm_shuts_down_gracefully(deployment: Deployment) -> None:
    server = deployment.start()
    assert server.stop(signal.SIGTERM) in GRACEFUL
    assert "Application shutdown complete" in server.stderr()


def test_health_ready_openapi_and_docs_are_served(deployment: Deployment) -> None:
    server = deployment.start()
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    assert spec["paths"]["/v2/customer_sessions"]["post"]["operationId"] == "createSession"
    assert httpx.get(f"{server.base_url}/docs").status_code == 200


def test_every_response_carries_a_request_id_that_is_logged(deployment: Deployment) -> None:
    server = deployment.start()
    response = httpx.post(f"{server.base_url}/v2/customer_sessions", json={})
    request_id = response.headers["request-id"]
    server.stop()
    access = [json.loads(line) for line in server.stderr().splitlines() if request_id in line]
    assert access
    assert all(entry["request_id"] == request_id for entry in access)


def test_two_workers_serve_concurrent_creates_without_errors(deployment: Deployment) -> None:
    """Several processes on one database (SQLite: no "database is locked" reaches a client)."""
    server = deployment.start("--workers", "2")
    key = server.api_key()

    def create(i: int) -> int:
        body = {"partner_customer_id": f"CUST_{i % 10}", "metadata": {"i": i}}
        with httpx.Client(base_url=server.base_url, auth=(key, ""), timeout=30) as client:
            statuses = []
            for _ in range(10):
                response = client.post("/v2/customer_sessions", json=body)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    _REGISTRY.remember(response.json()["client_secret"])
            return sum(s == 200 for s in statuses)

    with ThreadPoolExecutor(16) as pool:
        successes = sum(pool.map(create, range(32)))
    assert successes == 320
    assert "database is locked" not in server.stderr()
    assert server.stop() in GRACEFUL


def test_cli_manages_partners_and_keys_and_revocation_takes_effect(deployment: Deployment) -> None:
    server = deployment.start()
    env = deployment.env
    created = cli(env, "partners", "create", "--name", "Shop", "--merchant-key", "m1", "--json")
    assert created.returncode == 0, created.stderr
    partner = json.loads(created.stdout)
    assert partner["name"] == "Shop"
    assert partner["merchant_keys"] == ["m1"]
    issued = cli(env, "keys", "create", "--partner", partner["id"], "--json")
    assert issued.returncode == 0, issued.stderr
    key = json.loads(issued.stdout)
    _REGISTRY.remember(key["api_key"])
    assert key["api_key"].startswith("isk_test_")
    assert set(key) >= {"id", "api_key", "partner_id", "created_at"}
    listed = json.loads(cli(env, "keys", "list", "--partner", partner["id"], "--json").stdout)
    assert [k["id"] for k in listed] == [key["id"]]
    assert key["api_key"] not in json.dumps(listed)
    revoked = cli(env, "keys", "revoke", key["id"], "--json")
    assert json.loads(revoked.stdout) == {"id": key["id"], "revoked": True}
    # Never used, so never cached: refused at once.
    response = httpx.post(
        f"{server.base_url}/v2/customer_sessions", json={}, auth=(key["api_key"], "")
    )
    assert response.status_code == 401
    again = cli(env, "keys", "revoke", key["id"])
    assert again.returncode == 1


def test_cli_rejects_an_unknown_partner(deployment: Deployment) -> None:
    result = cli(
        deployment.env, "keys", "create", "--partner", "00000000-0000-4000-8000-000000000000"
    )
    assert result.returncode == 2
    assert "not found" in result.stderr
