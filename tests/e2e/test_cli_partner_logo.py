"""``partners create --logo-url`` and ``partners update --logo-url``: validated and stored."""

from __future__ import annotations

import json

from e2e.conftest import Deployment, cli

LOGO = "https://cdn.shop.example/logo.png"


def test_a_partners_logo_is_set_changed_and_cleared_from_the_cli(deployment: Deployment) -> None:
    upgraded = cli(deployment.env, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    created = cli(
        deployment.env, "partners", "create", "--name", "Shop", "--logo-url", LOGO, "--json"
    )
    assert created.returncode == 0, created.stderr
    partner = json.loads(created.stdout)
    assert partner["logo_url"] == LOGO

    changed = cli(
        deployment.env,
        "partners",
        "update",
        "--partner",
        partner["id"].lower(),
        "--logo-url",
        "https://cdn.shop.example/new.png",
        "--json",
    )
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["logo_url"] == "https://cdn.shop.example/new.png"
    cleared = cli(
        deployment.env, "partners", "update", "--partner", partner["id"], "--logo-url", "", "--json"
    )
    assert json.loads(cleared.stdout)["logo_url"] is None
    listed = cli(deployment.env, "partners", "list", "--json")
    assert [p["logo_url"] for p in json.loads(listed.stdout) if p["id"] == partner["id"]] == [None]


def test_a_logo_url_that_is_not_https_is_refused(deployment: Deployment) -> None:
    refused = cli(
        deployment.env, "partners", "create", "--name", "Shop", "--logo-url", "http://a.example/l"
    )
    assert refused.returncode == 2
    assert "logo_url: must be an absolute https:// URL" in refused.stderr
    missing = cli(
        deployment.env,
        "partners",
        "update",
        "--partner",
        "2EE24580-B97B-4949-A65C-929CCB9B9B8D",
        "--logo-url",
        LOGO,
    )
    assert missing.returncode == 2
    assert "not found" in missing.stderr
