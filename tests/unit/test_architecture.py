"""Dependencies point inward: domain and storage never import the web stack."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "imprint_sessions"
WEB = ("fastapi", "starlette", "httpx", "uvicorn")
SURFACES = (
    "imprint_sessions.partner_api",
    "imprint_sessions.client_api",
    "imprint_sessions.hosted",
    "imprint_sessions.app",
    "imprint_sessions.deps",
    "imprint_sessions.ops",
)


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


INNER = [
    *sorted(p for layer in ("domain", "storage") for p in (PACKAGE / layer).rglob("*.py")),
    PACKAGE / "errors.py",
    PACKAGE / "credentials.py",
    PACKAGE / "clock.py",
]


@pytest.mark.parametrize("path", INNER, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_inner_layers_import_no_web_framework_or_surface(path: Path) -> None:
    bad = {
        name for name in imports_of(path) if name.split(".")[0] in WEB or name.startswith(SURFACES)
    }
    assert not bad, f"{path.name} imports {bad}"


# Infrastructure the service wires in through ports (Services): network code, adapters, the CLI.
OUTER = (
    "imprint_sessions.webhooks",
    "imprint_sessions.adapters",
    "imprint_sessions.ratelimit",
    "imprint_sessions.services",
    "imprint_sessions.cli",
    "imprint_sessions.preflight",
    "imprint_sessions.hot_paths",
    "imprint_sessions.middleware",
)


@pytest.mark.parametrize("path", INNER, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_inner_layers_import_no_network_code_adapter_or_entry_point(path: Path) -> None:
    """Regression: domain/webhooks.py imported webhooks.targets (DNS resolution) directly."""
    bad = {name for name in imports_of(path) if name.startswith(OUTER)}
    assert not bad, f"{path.name} imports {bad}"


def test_storage_does_not_import_domain() -> None:
    for path in (PACKAGE / "storage").rglob("*.py"):
        assert not any(n.startswith("imprint_sessions.domain") for n in imports_of(path)), path


def test_the_check_sees_a_violation() -> None:
    """The lint itself can fail: a module importing fastapi is caught."""
    assert "fastapi" in {n.split(".")[0] for n in imports_of(PACKAGE / "app.py")}


@pytest.mark.parametrize("path", INNER, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_inner_layers_do_not_import_redis(path: Path) -> None:
    """Redis is infrastructure for rate limits (ratelimit.py), injected through Services."""
    assert not {n for n in imports_of(path) if n.split(".")[0] == "redis"}, path.name


# Every top-level module and package of the service, by layer, so a new one cannot slip past the
# layering checks above unclassified (one did: webhooks/ was never looked at from domain/).
LAYERS = {
    "surface": {
        "app",
        "cli",
        "client_api",
        "deps",
        "hosted",
        "hot_paths",
        "ops",
        "partner_api",
        "served_contract",
    },
    "edge": {"json_body", "middleware", "preflight", "serializers", "validation"},
    "wiring": {"services", "config", "logs"},
    "infrastructure": {"adapters", "ratelimit", "webhooks"},
    "inner": {"domain", "storage", "errors", "credentials", "clock"},
}


def test_every_module_of_the_service_has_a_layer() -> None:
    found = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    classified = set().union(*LAYERS.values())
    assert found - classified == set(), "classify the new module in LAYERS"
    assert classified - found == set(), "a module in LAYERS no longer exists"
    inner_files = {
        p.stem if p.parent == PACKAGE else p.relative_to(PACKAGE).parts[0] for p in INNER
    }
    assert inner_files == LAYERS["inner"]
