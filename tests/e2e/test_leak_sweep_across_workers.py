"""The leak sweep sees a secret logged on any xdist worker, and fails the run with its finding.

Each case runs pytest itself (a run of its own, in a basetemp of its own): ``leak_plant.py``
remembers a fresh secret as issued and, when told, logs it the careless way (no prefix the
redaction knows); then ``tests/zz_leak_sweep``. Across two workers the plant runs on one of them
and the sweep once in the controller, over both workers' registries; without xdist the sweep runs
in the same process. The run's other sweep tests fail too (their guards want a whole suite's
traffic): only the log sweep's own outcome is judged here.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from leaks import label

ROOT = Path(__file__).resolve().parents[2]
LOG_SWEEP = (
    "tests/zz_leak_sweep/test_leak_sweep.py::test_no_issued_credential_appears_in_any_log_line"
)
XDIST = ["-n", "2"]
NO_XDIST = ["-p", "no:xdist"]


def run_with_plant(tmp_path: Path, mode: list[str], secret: str, *, log_it: bool) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_"))}
    env.update(
        IMPRINT_TEST_PLANTED_SECRET=secret, IMPRINT_TEST_PLANT_IN_LOG="yes" if log_it else "no"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/e2e/leak_plant.py",
            "tests/zz_leak_sweep",
            *mode,
            "-p",
            "no:cacheprovider",
            "-p",
            "no:cov",
            "--basetemp",
            str(tmp_path / ("leaked" if log_it else "clean")),
            "-rA",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # the guards fail in so small a run, whatever the plant
    assert "PASSED tests/e2e/leak_plant.py::" in output, output
    if mode == XDIST:
        assert "2 workers [" in output, output
    return output


@pytest.mark.slow
@pytest.mark.parametrize("mode", [XDIST, NO_XDIST], ids=["xdist", "no-xdist"])
def test_a_secret_logged_on_a_worker_fails_the_log_sweep_with_its_label(
    tmp_path: Path, mode: list[str]
) -> None:
    secret = secrets.token_urlsafe(32)
    output = run_with_plant(tmp_path, mode, secret, log_it=True)
    assert f"FAILED {LOG_SWEEP}" in output, output
    assert "1 secrets leaked into logs" in output, output
    assert label("other credential", secret) in output, output


@pytest.mark.slow
def test_the_same_secret_handled_but_not_logged_passes_the_log_sweep(tmp_path: Path) -> None:
    output = run_with_plant(tmp_path, XDIST, secrets.token_urlsafe(32), log_it=False)
    assert f"PASSED {LOG_SWEEP}" in output, output
