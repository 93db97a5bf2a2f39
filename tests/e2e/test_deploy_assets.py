"""deploy/: the Grafana dashboard and the Prometheus alert rules name only metrics a running
``serve`` exports (after it has been exercised so every family has samples), and cover them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from conftest import _REGISTRY
from e2e.conftest import Deployment
from e2e.test_webhooks import wait_for
from imprint_sessions.observability.metrics import EXPORTED_FAMILIES
from webhook_receiver import Reply, receiving

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
ALERTS = DEPLOY / "prometheus-alerts.yml"
# Identifiers in PromQL outside quoted label values; ours all start imprint_.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PROMQL_WORDS = {
    "sum", "max", "min", "avg", "rate", "by", "without", "histogram_quantile", "clamp_min",
    "le", "route", "status", "reason", "endpoint_id", "method", "e", "m", "s", "h",
}  # fmt: skip


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def alert_rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(ALERTS.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def metric_names(expression: str) -> set[str]:
    """Every metric an expression reads; anything else it names must be PromQL's own."""
    bare = _STRING.sub('""', expression)
    bare = re.sub(r"\[[0-9]+[smhd]\]", "", bare)  # range selectors
    bare = re.sub(r"\b[0-9.]+(?:e-?[0-9]+)?\b", "", bare)  # numbers
    names = set()
    for word in _IDENTIFIER.findall(bare):
        if word.startswith("imprint_"):
            names.add(word)
        else:
            assert word in _PROMQL_WORDS, f"{word!r} in {expression}"
    return names


def test_the_assets_load_and_every_alert_names_its_severity_and_summary() -> None:
    assert dashboard_expressions()
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {
        "ImprintWebhookOutboxStale",
        "ImprintHighErrorRate",
        "ImprintHotPathLatencyP99",
    }
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule
        assert rule["annotations"]["summary"], rule
        assert re.fullmatch(r"[0-9]+m", rule["for"]), rule
        assert metric_names(rule["expr"]), rule


def test_the_name_extraction_sees_a_metric_and_refuses_an_unknown_word() -> None:
    assert metric_names('sum(rate(imprint_x_total{route=~"imprint_y"}[5m])) > 0.5') == {
        "imprint_x_total"
    }
    with pytest.raises(AssertionError):
        metric_names("sum(rate(http_requests_total[5m]))")


def test_the_readmes_scrape_configuration_is_valid_yaml_with_a_bearer_credential() -> None:
    readme = (DEPLOY.parent / "README.md").read_text()
    (block,) = [
        b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "job_name: imprint" in b
    ]
    (job,) = yaml.safe_load(block)["scrape_configs"]
    assert job["authorization"]["credentials_file"]  # Prometheus sends it as Bearer
    assert job["static_configs"][0]["targets"]


def _samples(text: str) -> set[str]:
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


@pytest.mark.parametrize("deployment", ["postgresql"], indirect=True)
def test_every_metric_the_dashboard_and_alerts_read_is_exported_by_a_running_server(
    deployment: Deployment,
) -> None:
    deployment.env.update(IMPRINT_RATE_LIMIT_PER_SECOND="2", IMPRINT_RATE_LIMIT_BURST="10")
    with receiving() as good, receiving(lambda body, headers: Reply(status=500)) as bad:
        server = deployment.start("--workers", "2")
        base, key = server.base_url, server.api_key()
        auth = (key, "")
        for url in (good.url, bad.url):
            created = httpx.post(f"{base}/v2/webhook_endpoints", json={"url": url}, auth=auth)
            assert created.status_code == 200, created.text
            _REGISTRY.remember(created.json()["secret"])
        session = httpx.post(
            f"{base}/v2/customer_sessions", json={"partner_customer_id": "CUST_DEPLOY"}, auth=auth
        ).json()
        _REGISTRY.remember(session["client_secret"])
        exchange = {"client_secret": session["client_secret"]}
        assert httpx.post(f"{base}/v2/client/exchange", json=exchange).status_code == 200
        assert httpx.post(f"{base}/v2/client/exchange", json=exchange).status_code == 401
        expire = f"{base}/v2/customer_sessions/{session['id']}/expire"
        assert httpx.post(expire, auth=auth).status_code == 200
        simulated = httpx.post(
            f"{base}/v2/simulate_application",
            json={"partner_customer_id": "CUST_DEPLOY", "status": "REJECTED"},
            auth=auth,
            timeout=30,
        )
        assert simulated.status_code == 200, simulated.text
        wait_for(lambda: good.received and bad.received, 30, "both endpoints tried")
        statuses = [
            httpx.post(f"{base}/v2/customer_sessions", json={}, auth=auth).status_code
            for _ in range(40)  # two workers, each its own budget of 10: some are over it
        ]
        assert 429 in statuses
        wait_for(
            lambda: "imprint_db_pool_connections_max " in httpx.get(f"{base}/metrics").text,
            10,
            "the pool gauges sampled",
        )
        exported = _samples(httpx.get(f"{base}/metrics").text)
        server.stop()

    read = {name for e in dashboard_expressions() for name in metric_names(e)}
    read |= {name for rule in alert_rules() for name in metric_names(rule["expr"])}
    assert read - exported == set(), sorted(exported)
    # And the dashboard shows every family the service exports.
    shown = {name for e in dashboard_expressions() for name in metric_names(e)}
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in shown}
    assert set(EXPORTED_FAMILIES) - families == set()
