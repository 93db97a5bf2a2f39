"""``--dist loadgroup`` as tests/xdist_groups.py schedules it, in a pytest run of its own.

A small project of its own (tests/xdist_groups.py wired in by a conftest, as tests/conftest.py
does): tests of two xdist groups, one set by a module's ``pytestmark`` and one per parameter of a
module fixture (as the soak's), each test writing down its worker and each fixture set-up; and
plenty of ungrouped tests, fast and ``slow``. Each group must run on one worker, each module
fixture be set up once per parameter, and every group start before any ungrouped test, the slow
ones before the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

CONFTEST = """
import json, os
import pytest
import xdist_groups

def pytest_configure(config):
    config.addinivalue_line("markers", "slow: slow")

@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    xdist_groups.pass_dir_to_worker(node)

@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    return xdist_groups.make_scheduler(config, log)

@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session):
    xdist_groups.record_collection(session.config, session.items)

@pytest.fixture(autouse=True)
def _note(request):
    with open(os.environ["GROUPS_LOG"], "a") as log:
        log.write(json.dumps(["test", request.node.nodeid, os.environ["PYTEST_XDIST_WORKER"]]))
        log.write("\\n")
"""

GROUPED = """
import json, os
import pytest

pytestmark = pytest.mark.xdist_group("shared")

@pytest.fixture(scope="module")
def expensive():
    with open(os.environ["GROUPS_LOG"], "a") as log:
        log.write(json.dumps(["setup", "shared", os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")

@pytest.mark.parametrize("i", range(6))
def test_shared(expensive, i):
    pass
"""

PER_PARAMETER = """
import json, os
import pytest

@pytest.fixture(
    scope="module",
    params=[pytest.param(b, marks=pytest.mark.xdist_group(f"run-{b}")) for b in ("a", "b")],
)
def run(request):
    with open(os.environ["GROUPS_LOG"], "a") as log:
        log.write(json.dumps(["setup", request.param, os.environ["PYTEST_XDIST_WORKER"]]) + "\\n")
    return request.param

@pytest.mark.parametrize("i", range(5))
def test_run(run, i):
    pass
"""

UNGROUPED = """
import pytest

@pytest.mark.parametrize("i", range(30))
def test_quick(i):
    pass

@pytest.mark.slow
@pytest.mark.parametrize("i", range(4))
def test_slow(i):
    pass
"""


def test_each_group_runs_on_one_worker_and_the_groups_then_slow_tests_start_first(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_grouped.py").write_text(GROUPED)
    (project / "test_per_parameter.py").write_text(PER_PARAMETER)
    (project / "test_ungrouped.py").write_text(UNGROUPED)
    log = tmp_path / "log.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE_"))}
    env.update(
        GROUPS_LOG=str(log),
        PYTHONPATH=os.pathsep.join([str(TESTS), str(project)]),
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # only xdist: a quick start for three processes
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "xdist.plugin",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(project),
            "--basetemp",
            str(tmp_path / "basetemp"),
            "-q",
            str(project),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "50 passed" in result.stdout, result.stdout
    events = [json.loads(line) for line in log.read_text().splitlines()]
    ran = [(nodeid, worker) for kind, nodeid, worker in events if kind == "test"]
    assert len(ran) == 50

    def workers(prefix: str) -> set[str]:
        return {worker for nodeid, worker in ran if prefix in nodeid}

    for group in ("test_shared", "test_run[a-", "test_run[b-"):
        assert len(workers(group)) == 1, (group, ran)
    setups = sorted(name for kind, name, _ in events if kind == "setup")
    assert setups == ["a", "b", "shared"]  # once each, not once per worker

    # On each worker: its groups, then slow tests, then quick ones.
    def rank(nodeid: str) -> int:
        return 2 if "test_quick" in nodeid else 1 if "test_slow" in nodeid else 0

    for worker in {worker for _, worker in ran}:
        ranks = [rank(nodeid) for nodeid, w in ran if w == worker]
        assert ranks == sorted(ranks), (worker, ran)
    assert len({worker for _, worker in ran}) == 2, ran
