"""Dependencies point inward: domain and storage never import the web stack, and surfaces reach
the store only through domain functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "imprint_sessions"
WEB = ("fastapi", "starlette", "httpx", "uvicorn")
SURFACES = (
    "imprint_sessions.partner_api",
    "imprint_sessions.client_api",
    "imprint_sessions.console",
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
    "imprint_sessions.fault_injection",
)


@pytest.mark.parametrize("path", INNER, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_inner_layers_import_no_network_code_adapter_or_entry_point(path: Path) -> None:
    """Regression: domain/webhooks.py imported webhooks.targets (DNS resolution) directly."""
    bad = {name for name in imports_of(path) if name.startswith(OUTER)}
    assert not bad, f"{path.name} imports {bad}"


# The domain sees the store through its ports only: the repository protocols and the records
# they exchange, never a driver, SQLAlchemy or the store's implementation.
DRIVERS = ("sqlalchemy", "asyncpg", "sqlite3", "psycopg", "alembic")
STORAGE_PORTS = {"imprint_sessions.storage.repositories", "imprint_sessions.storage.records"}


def storage_beyond_the_ports(path: Path) -> set[str]:
    return {
        name
        for name in imports_of(path)
        if name.split(".")[0] in DRIVERS
        or (name.startswith("imprint_sessions.storage") and name not in STORAGE_PORTS)
    }


@pytest.mark.parametrize(
    "path", sorted((PACKAGE / "domain").rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_the_domain_reaches_storage_only_through_its_ports(path: Path) -> None:
    assert not storage_beyond_the_ports(path), path.name


def test_the_ports_check_sees_a_driver_and_an_implementation_module() -> None:
    assert "sqlalchemy" in storage_beyond_the_ports(PACKAGE / "storage" / "partners.py")
    assert "imprint_sessions.storage.sql" in storage_beyond_the_ports(
        PACKAGE / "storage" / "partners.py"
    )


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
        "console",
        "deps",
        "hosted",
        "hot_paths",
        "ops",
        "partner_api",
        "pytest_plugin",
        "served_contract",
    },
    "edge": {"fault_injection", "json_body", "middleware", "preflight", "validation"},
    # The published shapes and their generated serializers: used by the surfaces, the CLI too.
    "contract": {"wire"},
    "wiring": {"services", "config", "logs", "observability"},
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


# -- surfaces go through the domain ------------------------------------------------------------
# The CLI, the hosted page and both APIs call the same domain functions, so a rule written there
# (which key may be revoked, which endpoint may be listed) holds whichever way a request comes
# in. A surface may hand the repositories to a domain function; it never calls one of their
# methods itself.


def surface_files() -> list[Path]:
    files: list[Path] = []
    for name in sorted(LAYERS["surface"]):
        module = PACKAGE / f"{name}.py"
        files += [module] if module.exists() else sorted((PACKAGE / name).rglob("*.py"))
    return files


def _names_repositories(annotation: ast.expr | None) -> bool:
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value == "Repositories"
    if isinstance(annotation, ast.Attribute):
        return annotation.attr == "Repositories"
    return isinstance(annotation, ast.Name) and annotation.id == "Repositories"


def repository_calls(source: str) -> list[tuple[int, str]]:
    """``(line, method)`` of every call of a repository method: ``<x>.repositories.<method>(...)``,
    or ``<name>.<method>(...)`` where ``name`` is ``repos``, ``repositories``, a parameter
    annotated ``Repositories`` or a name assigned ``<x>.repositories`` anywhere in the module."""
    tree = ast.parse(source)
    holders = {"repos", "repositories"}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and _names_repositories(node.annotation):
            holders.add(node.arg)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            annotated = isinstance(node, ast.AnnAssign) and _names_repositories(node.annotation)
            if annotated or (isinstance(value, ast.Attribute) and value.attr == "repositories"):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                holders.update(t.id for t in targets if isinstance(t, ast.Name))
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (isinstance(owner, ast.Attribute) and owner.attr == "repositories") or (
                isinstance(owner, ast.Name) and owner.id in holders
            ):
                calls.append((node.lineno, node.func.attr))
    return sorted(calls)


# (surface module, repository method) -> why that surface may call it itself.
DIRECT_REPOSITORY_CALLS = {
    ("ops.py", "ping"): (
        "/readyz asks whether the store answers and has a free connection: a probe of the "
        "infrastructure, with no business rule to share, so a domain function would only forward"
    ),
}


@pytest.mark.parametrize("path", surface_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_surfaces_call_no_repository_method_directly(path: Path) -> None:
    where = str(path.relative_to(PACKAGE))
    direct = [
        f"{where}:{line} .{method}()"
        for line, method in repository_calls(path.read_text())
        if (where, method) not in DIRECT_REPOSITORY_CALLS
    ]
    assert not direct, f"call a domain function instead: {direct}"


def test_every_allowed_direct_repository_call_is_still_made() -> None:
    """An exception outlives its reason unnoticed otherwise."""
    for where, method in DIRECT_REPOSITORY_CALLS:
        assert method in {m for _, m in repository_calls((PACKAGE / where).read_text())}, where


def test_the_repository_call_check_sees_every_form_of_a_violation() -> None:
    source = """
async def command(database, uow, services):
    await database.repositories.list_partners()
    await uow.repositories.get_partner("P")
    await services.database.repositories.list_api_keys("P")
    await repos.revoke_api_key("K", at=1)
    found = services.database.repositories
    await found.get_partner_of_customer_session("S")

async def work(store: Repositories) -> None:
    await store.list_webhook_endpoints("P")
    await partners.list_partners(store)  # handing them to the domain is fine
    kept: Repositories = pick()
    await kept.ping()

async def fine(database, services):
    await partners.list_partners(database.repositories)
    await services.authenticator.authenticate(services.database.repositories, "key")
    async with database.unit_of_work() as uow:
        await uow.commit()
"""
    assert repository_calls(source) == [
        (3, "list_partners"),
        (4, "get_partner"),
        (5, "list_api_keys"),
        (6, "revoke_api_key"),
        (8, "get_partner_of_customer_session"),
        (11, "list_webhook_endpoints"),
        (14, "ping"),
    ]


def test_the_surfaces_checked_include_the_cli_the_hosted_page_and_both_apis() -> None:
    checked = {str(p.relative_to(PACKAGE)) for p in surface_files()}
    assert {"cli.py", "hosted/routes.py", "hosted/demo.py", "ops.py", "hot_paths.py"} <= checked
    assert {"partner_api/keys.py", "client_api/session.py", "app.py", "deps.py"} <= checked


WIRE = sorted((PACKAGE / "wire").glob("*.py"))
HTTP_SURFACES = (
    "imprint_sessions.partner_api",
    "imprint_sessions.client_api",
    "imprint_sessions.console",
    "imprint_sessions.hosted",
    "imprint_sessions.app",
    "imprint_sessions.hot_paths",
)


@pytest.mark.parametrize("path", WIRE, ids=lambda p: p.name)
def test_the_wire_shapes_import_no_web_framework_and_no_surface(path: Path) -> None:
    """The shapes are the contract every surface (the CLI too) presents: none of theirs."""
    bad = {
        name
        for name in imports_of(path)
        if name.split(".")[0] in WEB or name.startswith((*SURFACES, *HTTP_SURFACES, *OUTER))
    }
    assert not bad, f"wire/{path.name} imports {bad}"


def test_the_cli_imports_no_http_surface() -> None:
    """Regression: the CLI printed webhooks with the partner API's route-module renderers."""
    bad = {n for n in imports_of(PACKAGE / "cli.py") if n.startswith(HTTP_SURFACES)}
    assert not bad, bad
