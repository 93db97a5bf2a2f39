"""``imprint-sessions audit export``: a partner's trail as JSON lines or CSV, with the API's
field names and values, filtered like the API; operators' CLI actions are in it as ``cli``."""

from __future__ import annotations

import csv
import getpass
import io
import json
import stat
from pathlib import Path
from typing import Any

import httpx

from conftest import _REGISTRY
from e2e.conftest import Deployment, Server, cli


def trail_of(server: Server, key: str, **params: Any) -> list[dict[str, Any]]:
    found = httpx.get(
        f"{server.base_url}/v2/audit_events",
        params={"limit": 100, **params},
        auth=(key, ""),
        timeout=10,
    )
    assert found.status_code == 200, found.text
    assert found.json()["has_more"] is False
    data: list[dict[str, Any]] = found.json()["data"]
    return data


def act(server: Server, deployment: Deployment, key: str, partner_id: str) -> None:
    """A session (its request id shaped like a spreadsheet formula), exchanged twice, and a key
    an operator creates and revokes at the CLI."""
    session = httpx.post(
        f"{server.base_url}/v2/customer_sessions",
        json={"partner_customer_id": "CUST_EXPORT"},
        auth=(key, ""),
        headers={"Request-Id": "-2-3"},
        timeout=10,
    ).json()
    _REGISTRY.remember(session["client_secret"])
    for status in (200, 401):
        exchanged = httpx.post(
            f"{server.base_url}/v2/client/exchange",
            json={"client_secret": session["client_secret"]},
            timeout=10,
        )
        assert exchanged.status_code == status, exchanged.text
        if status == 200:
            _REGISTRY.remember(exchanged.json()["access_token"])
    created = cli(deployment.env, "keys", "create", "--partner", partner_id, "--json")
    assert created.returncode == 0, created.stderr
    new_key = json.loads(created.stdout)
    _REGISTRY.remember(new_key["api_key"])
    revoked = cli(deployment.env, "keys", "revoke", new_key["id"])
    assert revoked.returncode == 0, revoked.stderr


def serve(deployment: Deployment) -> tuple[Server, str, str]:
    server = deployment.start()
    key = server.api_key()
    listed = cli(deployment.env, "partners", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (partner,) = json.loads(listed.stdout)
    return server, key, partner["id"]


def test_jsonl_and_csv_exports_are_the_apis_entries(deployment: Deployment, tmp_path: Path) -> None:
    server, key, partner_id = serve(deployment)
    act(server, deployment, key, partner_id)
    listed = trail_of(server, key)
    assert [e["type"] for e in listed] == [
        "api_key.created",
        "customer_session.created",
        "customer_session.exchanged",
        "customer_session.exchange_refused",
        "api_key.created",
        "api_key.revoked",
    ]
    by_operator = [e for e in listed if e["actor_type"] == "cli"]
    assert len(by_operator) == 2
    assert {e.get("actor_display") for e in by_operator} == {getpass.getuser()}
    assert not any("request_id" in e or "client_address" in e for e in by_operator)

    jsonl = cli(deployment.env, "audit", "export", "--partner", partner_id.lower())
    assert jsonl.returncode == 0, jsonl.stderr
    assert [json.loads(line) for line in jsonl.stdout.splitlines()] == listed

    target = tmp_path / "trail.csv"
    exported = cli(
        deployment.env,
        "audit", "export", "--partner", partner_id, "--format", "csv", "--output", str(target),
    )  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert f"exported 6 audit events to {target}" in exported.stderr
    assert exported.stdout == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not target.with_name("trail.csv.partial").exists()
    header, *rows = list(csv.reader(io.StringIO(target.read_text(), newline="")))
    assert header == [
        "id", "type", "created_at", "actor_type", "actor_id", "actor_display", "object_type",
        "object_id", "details", "request_id", "client_address", "partner_id",
    ]  # fmt: skip
    assert len(rows) == len(listed)
    for row, entry in zip(rows, listed, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert json.loads(cells.pop("details")) == entry["details"]
        if entry.get("request_id") == "-2-3":  # never run as a formula by a spreadsheet
            assert cells["request_id"] == "'-2-3"
            cells["request_id"] = "-2-3"
        assert cells == {
            name: "" if entry.get(name) is None else str(entry[name])
            for name in header
            if name != "details"
        }


def test_an_export_is_filtered_like_the_api(deployment: Deployment, tmp_path: Path) -> None:
    server, key, partner_id = serve(deployment)
    act(server, deployment, key, partner_id)
    listed = trail_of(server, key)
    session_at = listed[1]["created_at"]
    keys_only = cli(
        deployment.env,
        "audit", "export", "--partner", partner_id,
        "--type", "api_key.created,api_key.revoked", "--since", session_at,
    )  # fmt: skip
    assert keys_only.returncode == 0, keys_only.stderr
    assert [json.loads(line) for line in keys_only.stdout.splitlines()] == trail_of(
        server, key, type=["api_key.created", "api_key.revoked"], created_gte=session_at
    )
    session_id = listed[1]["object_id"]
    about_the_session = cli(
        deployment.env,
        "audit", "export", "--partner", partner_id, "--object-id", session_id,
        "--type", "customer_session.exchanged", "--type", "customer_session.exchange_refused",
        "--until", "2999-01-01T00:00:00Z",
    )  # fmt: skip
    assert [json.loads(line)["type"] for line in about_the_session.stdout.splitlines()] == [
        "customer_session.exchanged",
        "customer_session.exchange_refused",
    ]
    nothing = cli(
        deployment.env,
        "audit",
        "export",
        "--partner",
        partner_id,
        "--until",
        listed[0]["created_at"],
    )
    assert (nothing.returncode, nothing.stdout) == (0, "")


def test_bad_options_are_refused_before_anything_is_written(
    deployment: Deployment, tmp_path: Path
) -> None:
    target = tmp_path / "never.jsonl"
    refused = cli(
        deployment.env,
        "audit", "export", "--partner", "2EE24580-B97B-4949-A65C-929CCB9B9B8D",
        "--since", "yesterday", "--type", "api_key.deleted", "--output", str(target),
    )  # fmt: skip
    assert refused.returncode == 2
    assert "--type: must be among" in refused.stderr
    assert "--since: must be an RFC-3339 timestamp" in refused.stderr
    assert not target.exists()
    not_an_id = cli(deployment.env, "audit", "export", "--partner", "acme")
    assert not_an_id.returncode == 2
    assert "--partner: acme is not an id" in not_an_id.stderr
    bad_format = cli(deployment.env, "audit", "export", "--partner", "x", "--format", "xml")
    assert bad_format.returncode == 2
