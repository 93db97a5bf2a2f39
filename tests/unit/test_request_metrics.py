"""The request histogram binds one child per (route, method label, status), whatever is sent."""

from __future__ import annotations

from imprint_sessions.observability.metrics import RequestMetrics


def test_invented_methods_share_one_child_so_memory_stays_bounded() -> None:
    # Regression: children were keyed by the method as sent, so each invented method (h11
    # accepts any token) kept one more entry in the process forever, though all were "OTHER".
    metrics = RequestMetrics()
    for n in range(500):
        metrics.observe("unmatched", f"BREW{n}", 404, 0.001)
    assert len(metrics) == 1
    metrics.observe("unmatched", "GET", 404, 0.001)
    metrics.observe("unmatched", "GET", 404, 0.001)
    assert len(metrics) == 2
