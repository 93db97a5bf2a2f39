"""The per-module branch-coverage floor of src/imprint_sessions/domain/ (--domain-coverage-floor).

Run at the end of a run measured with ``--cov`` (in the xdist controller once every worker's data
is combined, or in the only process), it reads the run's coverage data and reports one more test
result: failed, listing each module below the floor, if any domain module has less. The figure is
coverage.py's branch coverage (statements and branch destinations together, the ``Cover`` column
of the branch report); the share of branches alone is printed beside it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

DOMAIN = Path("src/imprint_sessions/domain")
NODEID = f"coverage::{DOMAIN}"


@dataclass
class ModuleCoverage:
    path: str
    percent: float  # coverage.py's: statements and branches together
    branches: int
    covered_branches: int

    @property
    def branch_percent(self) -> float:
        return 100.0 * self.covered_branches / self.branches if self.branches else 100.0


def measure(root: Path, data_file: Path, out: Path) -> list[ModuleCoverage]:
    """Every module under ``DOMAIN``, from the run's combined data (unimported ones at 0)."""
    import coverage

    cov = coverage.Coverage(data_file=str(data_file), config_file=str(root / "pyproject.toml"))
    cov.load()
    cov.json_report(outfile=str(out), include=[str(root / DOMAIN / "*.py")])
    files = json.loads(out.read_text())["files"]
    found = []
    for module in sorted((root / DOMAIN).glob("*.py")):
        summary = next(
            (f["summary"] for name, f in files.items() if Path(name).resolve() == module), None
        )
        relative = str(module.relative_to(root))
        if summary is None:  # never measured: it counts as nothing covered
            found.append(ModuleCoverage(relative, 0.0, 1, 0))
            continue
        found.append(
            ModuleCoverage(
                relative,
                summary["percent_covered"],
                summary["num_branches"],
                summary["covered_branches"],
            )
        )
    return found


def check(session: pytest.Session, floor: float) -> None:
    config = session.config
    plugin = config.pluginmanager.getplugin("_cov")
    controller = getattr(plugin, "cov_controller", None)
    if controller is None:
        report(session, f"--domain-coverage-floor needs coverage measured (--cov): {floor}%")
        return
    data_file = Path(controller.cov.get_data().data_filename())
    basetemp: Path = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    modules = measure(config.rootpath, data_file, basetemp / "domain-coverage.json")
    writer = config.pluginmanager.getplugin("terminalreporter")
    lines = [
        f"{m.path:55} {m.percent:5.1f}%  branches {m.covered_branches:3}/{m.branches:<3}"
        f" {m.branch_percent:5.1f}%"
        for m in modules
    ]
    if writer is not None:
        writer.write_sep("-", f"domain coverage (floor {floor:g}%)")
        for line in lines:
            writer.write_line(line)
    below = [m for m in modules if m.percent < floor]
    if below:
        report(
            session,
            f"{len(below)} domain modules below {floor:g}% branch coverage:\n"
            + "\n".join(line for m, line in zip(modules, lines, strict=True) if m in below),
        )
    else:
        report(session, None)


def report(session: pytest.Session, failure: str | None) -> None:
    """The floor as a test result of the run: counted in the closing line, failing it if unmet."""
    config = session.config
    location = (str(DOMAIN), None, "domain branch-coverage floor")
    config.hook.pytest_runtest_logstart(nodeid=NODEID, location=location)
    config.hook.pytest_runtest_logreport(
        report=pytest.TestReport(
            nodeid=NODEID,
            location=location,
            keywords={},
            outcome="failed" if failure else "passed",
            longrepr=failure,
            when="call",
        )
    )
    config.hook.pytest_runtest_logfinish(nodeid=NODEID, location=location)
    if failure:
        session.testsfailed += 1
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
