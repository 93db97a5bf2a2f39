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
    PACKAGE / "secrets.py",
    PACKAGE / "clock.py",
]


@pytest.mark.parametrize("path", INNER, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_inner_layers_import_no_web_framework_or_surface(path: Path) -> None:
    bad = {
        name for name in imports_of(path) if name.split(".")[0] in WEB or name.startswith(SURFACES)
    }
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
