"""A careless log line carrying a secret, for ``test_leak_sweep_across_workers.py``.

Not named ``test_*.py``: it is collected only when a run names it, never by the suite itself.
"""

from __future__ import annotations

import logging
import os

from conftest import _REGISTRY


def test_a_secret_is_handled_and_maybe_logged() -> None:
    secret = os.environ["IMPRINT_TEST_PLANTED_SECRET"]
    _REGISTRY.remember(secret)
    if os.environ.get("IMPRINT_TEST_PLANT_IN_LOG") == "yes":
        logging.getLogger("imprint_sessions.careless").warning("retrying with %s", secret)
