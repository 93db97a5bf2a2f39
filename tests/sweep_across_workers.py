"""The leak sweep across pytest-xdist workers, run once after all of them are done.

Each worker sees only its share of the run, so it does not run ``tests/zz_leak_sweep`` itself:
it takes the sweep's tests out of its collection, and at its session end writes its leak registry
(issued credentials, log lines, server stderr, error bodies, webhook payloads, SQLite paths,
PostgreSQL URLs) to a directory the controller shares with every worker (under the run's
basetemp). The controller, in its ``pytest_sessionfinish``, runs the selected sweep tests in one
``pytest -p no:xdist`` process whose registry is every worker's merged, and reports each of their
results as its own (so the closing line counts them, and a leak fails the run with its findings).
It then drops the PostgreSQL databases the workers kept for the sweep.

Without xdist (``-p no:xdist``, ``-n 0``) none of this happens: the sweep is collected last and
reads the in-process registry, as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SWEEP_DIR = "zz_leak_sweep"
# Set for the controller's sweep process: where the workers' registries are, where its reports go.
REGISTRIES_ENV = "IMPRINT_TEST_LEAK_REGISTRIES"
REPORTS_ENV = "IMPRINT_TEST_SWEEP_REPORTS"
_WORKERINPUT_KEY = "imprint_leak_registries"
_SWEEP_TIMEOUT_S = 600


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    return not is_worker(config) and config.pluginmanager.has_plugin("dsession")


def is_sweep_item(item: pytest.Item) -> bool:
    return SWEEP_DIR in item.path.parts


def shared_dir(config: pytest.Config) -> Path:
    """The controller's directory for the workers' registries (made on first use)."""
    if is_worker(config):
        return Path(config.workerinput[_WORKERINPUT_KEY])  # type: ignore[attr-defined]
    # The same basetemp xdist gives each worker a directory under (gw0, gw1, ...).
    root: Path = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    path = root / "leak-registries"
    path.mkdir(exist_ok=True)
    return path


def pass_dir_to_worker(node: Any) -> None:
    node.workerinput[_WORKERINPUT_KEY] = str(shared_dir(node.config))


def registry_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("gw*.json"))


def selected_sweep(directory: Path) -> list[str]:
    """The sweep tests the workers collected and set aside (the same on each)."""
    nodeids: set[str] = set()
    for path in registry_files(directory):
        nodeids.update(json.loads(path.read_text())["sweep_nodeids"])
    return sorted(nodeids)


def _failed_report(config: pytest.Config, nodeid: str, text: str) -> pytest.TestReport:
    return pytest.TestReport(
        nodeid=nodeid,
        location=(nodeid.partition("::")[0], None, nodeid),
        keywords={},
        outcome="failed",
        longrepr=text,
        when="call",
    )


def run_sweep(session: pytest.Session) -> None:
    """In the controller: the sweep over every worker's registry, its results reported here."""
    config = session.config
    directory = shared_dir(config)
    nodeids = selected_sweep(directory)
    if not nodeids:
        return
    reports_path = directory / "sweep-reports.jsonl"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")},
        REGISTRIES_ENV: str(directory),
        REPORTS_ENV: str(reports_path),
    }
    command = [
        sys.executable,
        "-m",
        "pytest",
        *nodeids,
        "-p",
        "no:xdist",
        "-p",
        "no:cov",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(config.rootpath),
        "--basetemp",
        str(directory / "sweep-tmp"),
        "-q",
    ]
    result = subprocess.run(
        command,
        cwd=config.rootpath,
        env=env,
        capture_output=True,
        text=True,
        timeout=_SWEEP_TIMEOUT_S,
        check=False,
    )
    reports: list[pytest.TestReport] = []
    if reports_path.exists():
        for line in reports_path.read_text().splitlines():
            report = config.hook.pytest_report_from_serializable(
                config=config, data=json.loads(line)
            )
            if isinstance(report, pytest.TestReport):
                reports.append(report)
    ran = {report.nodeid for report in reports}
    # Anything else (a crash, a collection error) fails the sweep loudly.
    if result.returncode not in (0, 1) or not set(nodeids) <= ran:
        missing = sorted(set(nodeids) - ran) or [f"{SWEEP_DIR} (exit {result.returncode})"]
        output = (
            f"the leak sweep process exited {result.returncode}:\n{result.stdout}{result.stderr}"
        )
        reports.extend(_failed_report(config, nodeid, output) for nodeid in missing)
    for report in reports:
        if report.when == "setup":
            config.hook.pytest_runtest_logstart(nodeid=report.nodeid, location=report.location)
        config.hook.pytest_runtest_logreport(report=report)
        if report.when == "teardown":
            config.hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=report.location)
    if any(report.failed for report in reports):
        session.testsfailed += 1
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


class ReportWriter:
    """In the sweep process: every report, serialized as xdist sends them, for the controller."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.path = Path(os.environ[REPORTS_ENV])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        with self.path.open("a") as out:
            out.write(json.dumps(data) + "\n")


def kept_pg_urls(directory: Path) -> set[str]:
    urls: set[str] = set()
    for path in registry_files(directory):
        urls.update(json.loads(path.read_text())["pg_urls"])
    return urls
