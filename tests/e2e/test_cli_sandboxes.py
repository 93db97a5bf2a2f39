"""``sandboxes create|list|reset|delete``: the operator's view of throwaway sandboxes, on the
same rules as the API's (a served sandbox's key works, a reset empties it, a delete ends it)."""

from __future__ import annotations

import json

import httpx

from conftest import _REGISTRY
from e2e.conftest import Deployment, cli


def test_an_operator_creates_resets_and_deletes_a_sandbox(deployment: Deployment) -> None:
    assert cli(deployment.env, "db", "upgrade").returncode == 0
    made_parent = cli(deployment.env, "partners", "create", "--name", "Shop", "--json")
    parent = json.loads(made_parent.stdout)
    made = cli(
        deployment.env, "sandboxes", "create", "--parent", parent["id"], "--name", "ci", "--json"
    )
    assert made.returncode == 0, made.stderr
    sandbox = json.loads(made.stdout)
    _REGISTRY.remember(sandbox["api_key"])
    assert (sandbox["name"], sandbox["parent_id"]) == ("ci", parent["id"])
    listed = cli(deployment.env, "sandboxes", "list", "--parent", parent["id"], "--json")
    assert [s["id"] for s in json.loads(listed.stdout)] == [sandbox["id"]]

    server = deployment.start()
    auth = (sandbox["api_key"], "")
    created = httpx.post(f"{server.base_url}/v2/customer_sessions", json={}, auth=auth)
    assert created.status_code == 200, created.text
    _REGISTRY.remember(created.json()["client_secret"])
    assert httpx.get(f"{server.base_url}/v2/customers", auth=auth).json()["total"] == 1

    reset = cli(deployment.env, "sandboxes", "reset", sandbox["id"])
    assert reset.returncode == 0, reset.stderr
    assert httpx.get(f"{server.base_url}/v2/customers", auth=auth).json()["total"] == 0

    deleted = cli(deployment.env, "sandboxes", "delete", sandbox["id"])
    assert deleted.returncode == 0, deleted.stderr
    again = cli(deployment.env, "sandboxes", "delete", sandbox["id"])
    assert again.returncode == 2
    assert "Sandbox not found" in again.stderr
    listed = cli(deployment.env, "sandboxes", "list", "--parent", parent["id"], "--json")
    assert json.loads(listed.stdout) == []


def test_an_unknown_parent_is_one_clear_line(deployment: Deployment) -> None:
    assert cli(deployment.env, "db", "upgrade").returncode == 0
    refused = cli(
        deployment.env, "sandboxes", "create", "--parent", "2EE24580-B97B-4949-A65C-929CCB9B9B8D"
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "error: Partner not found for provided ID: 2EE24580-B97B-4949-A65C-929CCB9B9B8D"
    ]


def test_production_has_no_sandboxes(deployment: Deployment) -> None:
    secret = "a-production-master-key-of-32-chars-or-more"
    _REGISTRY.remember(secret)
    env = {**deployment.env, "IMPRINT_ENV": "production", "IMPRINT_SECRET_KEY": secret}
    refused = cli(env, "sandboxes", "list", "--parent", "2EE24580-B97B-4949-A65C-929CCB9B9B8D")
    assert refused.returncode == 2
    assert "only in the sandbox" in refused.stderr


def test_an_operator_gives_a_sandbox_a_test_clock_and_advances_it(deployment: Deployment) -> None:
    assert cli(deployment.env, "db", "upgrade").returncode == 0
    parent = json.loads(cli(deployment.env, "partners", "create", "--name", "S", "--json").stdout)
    made = cli(
        deployment.env,
        *("sandboxes", "create", "--parent", parent["id"], "--json"),
        *("--frozen-time", "2031-05-01T09:00:00Z"),
    )
    assert made.returncode == 0, made.stderr
    sandbox = json.loads(made.stdout)
    _REGISTRY.remember(sandbox["api_key"])
    assert sandbox["test_clock"]["frozen_time"] == "2031-05-01T09:00:00.000Z"

    advanced = cli(deployment.env, "sandboxes", "advance-clock", sandbox["id"], "--seconds", "90")
    assert advanced.returncode == 0, advanced.stderr
    assert advanced.stdout.strip() == (
        f"sandbox {sandbox['id']}: its test clock shows 2031-05-01T09:01:30.000Z"
    )
    server = deployment.start()
    session = httpx.post(
        f"{server.base_url}/v2/customer_sessions", json={}, auth=(sandbox["api_key"], "")
    )
    _REGISTRY.remember(session.json()["client_secret"])
    assert session.json()["expires_at"] == "2031-05-01T09:31:30.000Z"

    for args, line in (
        (("--to", "2031-05-01T09:00:00Z"), "only moves forward"),
        (("--to", "tomorrow"), "error: --to: must be an RFC-3339 date-time"),
        ((), "error: advance-clock: give exactly one of --seconds and --to"),
    ):
        refused = cli(deployment.env, "sandboxes", "advance-clock", sandbox["id"], *args)
        assert refused.returncode == 2, args
        (only,) = refused.stderr.strip().splitlines()
        assert line in only
    plain = json.loads(
        cli(deployment.env, "sandboxes", "create", "--parent", parent["id"], "--json").stdout
    )
    _REGISTRY.remember(plain["api_key"])
    assert "test_clock" not in plain
    none = cli(deployment.env, "sandboxes", "advance-clock", plain["id"], "--seconds", "1")
    assert none.returncode == 2
    assert "has no test clock" in none.stderr
