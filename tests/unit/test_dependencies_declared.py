"""Declared = imported: every third-party module the code imports is a declared dependency.

``src/`` may import only the runtime dependencies; ``tests/`` and ``benchmarks/`` may also import
the ``test`` extra. A module counts as provided by a distribution when that distribution's
installed metadata says so (``importlib.metadata.packages_distributions``), so ``yaml`` is PyYAML
and ``pydantic_core`` is pydantic-core. Transitive availability does not count: SQLAlchemy 2.1
stopped pulling greenlet in, and Playwright happened to, which hid a broken first start.

The Python SDK (``sdk/python``, a distribution of its own) imports only httpx, pydantic and the
standard library, and never the server package.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    found = set()
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
        assert match, requirement
        found.add(_normalise(match.group(1)))
    return found


RUNTIME = _names(PYPROJECT["project"]["dependencies"])
TEST = _names(PYPROJECT["project"]["optional-dependencies"]["test"])
# The fixtures for partners' suites, installed with ``imprint-sessions[pytest]``.
PYTEST_EXTRA = _names(PYPROJECT["project"]["optional-dependencies"]["pytest"])
PLUGIN = ROOT / "src" / "imprint_sessions" / "pytest_plugin.py"
SDK = ROOT / "sdk" / "python"
SDK_PACKAGE = "imprint_client"
SDK_PYPROJECT = tomllib.loads((SDK / "pyproject.toml").read_text())


def _local_modules(*roots: Path) -> set[str]:
    """Names importable from the repository itself (tests/ is on pytest's pythonpath)."""
    names = {"imprint_sessions", SDK_PACKAGE}  # the SDK is this repository's too (sdk/python)
    for root in roots:
        for path in root.rglob("*"):
            if "__pycache__" in path.parts:
                continue
            if path.suffix == ".py":
                names.add(path.stem)
            elif path.is_dir():
                names.add(path.name)
    return names


def imported_top_level(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, set[str]]:
    """Top-level module name -> the files under ``root`` (or ``root`` itself, a file) importing
    it (absolute imports), leaving out the files ``skip`` names."""
    found: dict[str, set[str]] = {}
    paths = [root] if root.is_file() else sorted(root.rglob("*.py"))
    for path in (p for p in paths if p not in skip):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            for module in modules:
                where = path.name if root.is_file() else str(path.relative_to(root))
                found.setdefault(module.split(".")[0], set()).add(where)
    return found


def undeclared(
    root: Path, allowed: set[str], local: set[str], skip: tuple[Path, ...] = ()
) -> list[str]:
    providers = packages_distributions()
    problems = []
    for module, files in sorted(imported_top_level(root, skip).items()):
        if module in sys.stdlib_module_names or module in local:
            continue
        distributions = {_normalise(d) for d in providers.get(module, [])}
        if not distributions:
            problems.append(f"{module}: no installed distribution provides it ({sorted(files)})")
        elif not distributions & allowed:
            problems.append(
                f"{module} (from {', '.join(sorted(distributions))}) is imported by "
                f"{sorted(files)[:3]} but not declared"
            )
    return problems


def test_src_imports_only_declared_runtime_dependencies() -> None:
    assert undeclared(ROOT / "src", RUNTIME, {"imprint_sessions"}, skip=(PLUGIN,)) == []


def test_the_pytest_plugin_imports_only_runtime_and_its_extras_dependencies() -> None:
    assert undeclared(PLUGIN, RUNTIME | PYTEST_EXTRA, {"imprint_sessions"}) == []
    assert "pytest" in imported_top_level(PLUGIN)  # what the extra is for


@pytest.mark.parametrize("tree", ["tests", "benchmarks"])
def test_tests_and_benchmarks_import_only_runtime_and_test_dependencies(tree: str) -> None:
    local = _local_modules(ROOT / "tests", ROOT / "benchmarks")
    assert undeclared(ROOT / tree, RUNTIME | TEST, local) == []


def dynamic_imports(root: Path) -> dict[str, set[str]]:
    """Modules named to ``importlib.import_module`` or ``__import__`` as a literal."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            first = node.args[0]
            if name in ("import_module", "__import__") and isinstance(first, ast.Constant):
                found.setdefault(str(first.value).split(".")[0], set()).add(path.name)
    return found


def test_the_sdk_imports_only_httpx_pydantic_and_the_standard_library() -> None:
    """The SDK's own distribution depends on httpx and pydantic alone, and nothing in it imports
    the server (``imprint_sessions``): partners install it without the service."""
    source = SDK / "src"
    imported = imported_top_level(source)
    for module, files in dynamic_imports(source).items():
        imported.setdefault(module, set()).update(files)
    assert "imprint_sessions" not in imported, imported.get("imprint_sessions")
    third_party = {
        module: sorted(files)
        for module, files in imported.items()
        if module not in sys.stdlib_module_names and module != SDK_PACKAGE
    }
    assert set(third_party) <= {"httpx", "pydantic"}, third_party
    assert {"httpx", "pydantic"} <= set(third_party)  # the scan saw the SDK's imports


def test_the_sdk_declares_httpx_and_pydantic_in_the_servers_tested_ranges() -> None:
    """The SDK's two requirements are exactly the server's own, whose ranges the locks pin and
    the suite tests; no other requirement."""
    declared = SDK_PYPROJECT["project"]["dependencies"]
    assert _names(declared) == {"httpx", "pydantic"}
    server = {
        _normalise(re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0]): d
        for d in PYPROJECT["project"]["dependencies"]
    }
    assert sorted(declared) == sorted([server["httpx"], server["pydantic"]])
    assert SDK_PYPROJECT["project"]["name"] == "imprint-sessions-client"


def test_the_sdk_scan_sees_a_server_import(tmp_path: Path) -> None:
    """The SDK check can fail: an import of the server, static or dynamic, is seen."""
    (tmp_path / "probe.py").write_text(
        "import importlib\nfrom imprint_sessions.app import create_app\n"
        "importlib.import_module('imprint_sessions.wire')\n"
    )
    assert "imprint_sessions" in imported_top_level(tmp_path)
    assert "imprint_sessions" in dynamic_imports(tmp_path)


def test_the_scan_sees_an_undeclared_import(tmp_path: Path) -> None:
    """The check itself can fail: a module importing an undeclared package is reported."""
    (tmp_path / "probe.py").write_text("import greenlet\nfrom yaml import safe_load\nimport json\n")
    problems = undeclared(tmp_path, RUNTIME, set())
    assert any(p.startswith("greenlet (from greenlet)") for p in problems), problems
    assert any(p.startswith("yaml (from pyyaml)") for p in problems), problems


def test_sqlalchemy_is_declared_with_its_asyncio_extra() -> None:
    """Regression: ``sqlalchemy>=2.0`` without ``[asyncio]``: no greenlet on a fresh machine."""
    declared = [d for d in PYPROJECT["project"]["dependencies"] if d.startswith("sqlalchemy")]
    assert len(declared) == 1
    assert declared[0].startswith("sqlalchemy[asyncio]")


def test_every_declared_dependency_is_in_the_locks() -> None:
    """The locks pin what pyproject.toml declares (scripts/lock refreshes them)."""
    for lock, wanted in (("runtime.txt", RUNTIME), ("test.txt", RUNTIME | TEST | PYTEST_EXTRA)):
        text = (ROOT / "requirements" / lock).read_text()
        pinned = {_normalise(m) for m in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)", text, re.M)}
        assert wanted - pinned == set(), lock
        assert "--hash=sha256:" in text


def _pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    return {
        _normalise(name): version
        for name, version in re.findall(
            r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^]]*\])?==(\S+)", text, re.M
        )
    }


def test_the_runtime_lock_pins_the_versions_the_suite_tests() -> None:
    """What serve installs is what the tests ran on (scripts/lock constrains one by the other)."""
    runtime, test = _pins("runtime.txt"), _pins("test.txt")
    assert {
        name: (version, test.get(name))
        for name, version in runtime.items()
        if test.get(name) != version
    } == {}
