"""Two real ``serve`` processes sharing one rate-limit budget through Redis."""

from __future__ import annotations

import httpx

from conftest import _REGISTRY
from e2e.conftest import Deployment

BURST = 10
PER_SECOND = 0.5  # one request back every two seconds: no refill to speak of during the test


def start_two(deployment: Deployment, env: dict[str, str]) -> tuple[str, list[str]]:
    deployment.env.update(env)
    first = deployment.start()
    api_key = first.api_key()
    second = deployment.start()
    return api_key, [first.base_url, second.base_url]


def send(base_urls: list[str], api_key: str, count: int) -> list[int]:
    """``count`` creates, alternating between the servers; the statuses in order."""
    statuses = []
    for i in range(count):
        response = httpx.post(
            f"{base_urls[i % 2]}/v2/customer_sessions", json={}, auth=(api_key, ""), timeout=30
        )
        statuses.append(response.status_code)
        if response.status_code == 200:
            _REGISTRY.remember(response.json()["client_secret"])
        else:
            assert response.status_code == 429, response.text
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["status"] == 429
    return statuses


def test_two_servers_share_one_budget_through_redis(
    deployment: Deployment, redis_url: str, redis_prefix: str
) -> None:
    api_key, base_urls = start_two(
        deployment,
        {
            "IMPRINT_REDIS_URL": redis_url,
            "IMPRINT_REDIS_PREFIX": redis_prefix,
            "IMPRINT_RATE_LIMIT_PER_SECOND": str(PER_SECOND),
            "IMPRINT_RATE_LIMIT_BURST": str(BURST),
        },
    )
    # 8 requests per server: under either server's burst alone, over the shared one.
    statuses = send(base_urls, api_key, 16)
    allowed = statuses.count(200)
    assert BURST <= allowed <= BURST + 1, statuses  # + at most one refill while sending
    assert statuses[:BURST] == [200] * BURST
    assert statuses[-1] == 429


def test_without_redis_each_server_has_its_own_budget(deployment: Deployment) -> None:
    """The control: the same traffic passes when each process keeps its own budget."""
    api_key, base_urls = start_two(
        deployment,
        {
            "IMPRINT_RATE_LIMIT_PER_SECOND": str(PER_SECOND),
            "IMPRINT_RATE_LIMIT_BURST": str(BURST),
        },
    )
    assert send(base_urls, api_key, 16) == [200] * 16
