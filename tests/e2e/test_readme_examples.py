"""Every example in the docs is run against a real server, or listed here with the reason it is not.

The fenced blocks of each file in ``DOCS`` are read at test time. Each must be claimed by exactly
one entry of ``EXAMPLES`` (by a marker string it contains): either a step of the tour that runs it
against ``imprint-sessions serve`` on a free loopback port with the banner's sandbox key, or a
reason it cannot run in a test. A block nobody claims fails, so a new example cannot be added
without being run or listed; an entry that claims nothing fails too.

Shell blocks run command by command through bash (``KEY``, the host, the example ids replaced by
real ones, and the webhook host ``partner.example.com`` by ``localhost``: nothing leaves the
machine). An answer the docs show (a ```json block right after the command's block, or a
``# {...}`` comment after the command) is compared with the real one: keys exactly, values exactly,
except ids, timestamps and secrets, which are compared by shape; ``...`` stands for the rest (a
``,...}`` for more keys, ``[...]`` for any list, ``"AD87..."`` for an id, ``"ics_..."`` for a
value with that prefix).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import _REGISTRY
from e2e.conftest import Deployment, Server, cli, open_deployment
from imprint_sessions.wire.audit import AuditEvent
from partner_suite import assert_partner_suite_passes
from webhook_receiver import receiving

ROOT = Path(__file__).resolve().parents[2]
# Markdown files whose blocks are not examples to run.
NOT_DOCS = {
    "CHANGELOG.md": "history: what changed, not how to use it",
    "tests/contract/seed_create_customer_session.md": "the seed's verbatim copy; "
    "tests/contract/test_openapi_matches_seed.py compares the served OpenAPI with it",
}


# Folders of generated output (.gitignore's), not documentation.
GENERATED = {"build", "dist", "test-artifacts", "benchmarks/results"}


def docs() -> list[str]:
    """Every markdown file of the repository (hidden and generated folders aside), but
    ``NOT_DOCS``."""
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        here = Path(folder).relative_to(ROOT)
        subfolders[:] = sorted(
            d
            for d in subfolders
            if not d.startswith((".", "__")) and (here / d).as_posix() not in GENERATED
        )
        for name in sorted(files):
            if name.endswith(".md"):
                found.append(str((Path(folder) / name).relative_to(ROOT)))
    missing = set(NOT_DOCS) - set(found)
    assert not missing, f"NOT_DOCS names files that do not exist: {missing}"
    return [doc for doc in found if doc not in NOT_DOCS]


DOCS = docs()
VENV_BIN = Path(sys.executable).parent
UUID_RE = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
README_HOST = "http://127.0.0.1:8000"
# The webhook examples' host, replaced by one that resolves without leaving the machine.
README_WEBHOOK_HOST = "partner.example.com"


# -- the blocks -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Block:
    doc: str
    line: int  # of the opening fence
    lang: str
    text: str
    answer: str | None = None  # a ```json block right after a shell block: what it prints

    def where(self) -> str:
        return f"{self.doc}:{self.line}"


FENCE = re.compile(r"^```(\S*)\s*$")


def read_blocks(doc: str) -> list[Block]:
    """The fenced blocks of ``doc``; a ```json block right after a ```sh one is its answer."""
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    raw: list[tuple[int, int, str, str]] = []  # (opening line, closing line, lang, text)
    i = 0
    while i < len(lines):
        opened = FENCE.match(lines[i])
        if opened is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```")
        raw.append((i + 1, end + 1, opened.group(1), "\n".join(lines[i + 1 : end]) + "\n"))
        i = end + 1
    blocks: list[Block] = []
    previous_close = -1
    for start, close, lang, text in raw:
        last = blocks[-1] if blocks else None
        if (
            lang == "json"
            and last is not None
            and last.lang in ("sh", "bash")
            and last.answer is None
            and previous_close == start - 1
        ):
            blocks[-1] = Block(doc, last.line, last.lang, last.text, answer=text)
        else:
            blocks.append(Block(doc, start, lang, text))
        previous_close = close
    return blocks


# -- what happens to each block -------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    doc: str
    marker: str  # a string only the claimed block contains
    step: str | None = None  # the tour step that runs it
    not_run: str | None = None  # or why it cannot run in a test


EXAMPLES = [
    Example(
        "README.md",
        "scripts/serve    # run the service",
        not_run="starts a server on port 8000 until interrupted, and scripts/test runs the whole "
        "suite (this test included); the banner they print is checked by the tour's first step",
    ),
    Example("README.md", "imprint-sessions 0.1.0 (sandbox) on", step="banner"),
    Example("README.md", '"transaction_amount": 34000,', step="create_session"),
    Example("README.md", "/v2/customer_sessions/2EE24580", step="retrieve_session"),
    Example("README.md", '"transaction_currency": "usd"', step="invalid_request"),
    Example("README.md", "Imprint.startApplication({", step="web_sdk"),
    Example("README.md", "/v2/webhook_endpoints", step="register_webhook"),
    Example("README.md", '"object":"APPLICATION"', step="events"),
    Example("README.md", "Webhook(secret).verify", step="verify_standard_webhooks"),
    Example("README.md", "def verify(secret", step="verify_hmac"),
    Example("README.md", "8000/v2/simulate_application", step="simulate_application"),
    Example("README.md", '{"name": "ci-build-4812"}', step="create_sandbox"),
    Example("README.md", "/test_clock/advance", step="test_clock"),
    Example("README.md", "test_imprint_integration.py", step="pytest_plugin"),
    Example("README.md", "/v2/audit_events?type=", step="audit_trail"),
    Example("README.md", "/v2/test_helpers/faults", step="test_faults"),
    Example("README.md", "/v2/test_helpers/webhook_events", step="fire_webhook_event"),
    Example("README.md", "from imprint_client import Imprint,", step="sdk_example"),
    Example("README.md", "from imprint_client import AsyncImprint", step="sdk_async"),
    Example("README.md", "def handle_imprint_webhook(", step="sdk_webhook_handler"),
    Example(
        "README.md",
        "IMPRINT_ENV=production",
        not_run="production setup: installs the package, needs a production PostgreSQL and "
        "master key, binds 0.0.0.0 and runs until stopped; its commands and options are checked "
        "to exist",
    ),
    Example(
        "README.md",
        "job_name: imprint-sessions",
        not_run="a Prometheus scrape configuration, not a command: tests/e2e/test_deploy_assets.py "
        "loads it and scrapes /metrics with a bearer token the way it says",
    ),
    Example(
        "README.md",
        "scripts/test --newest",
        not_run="re-resolves the locks from the network / runs the whole suite on the newest "
        "releases; its scripts are checked to exist",
    ),
    Example(
        "README.md",
        "scripts/test tests/unit -q",
        not_run="runs the whole suite (this test included); its commands are checked to exist",
    ),
    Example(
        "CONTRIBUTING.md",
        "src/imprint_sessions/\n",
        step="layout",
    ),
    Example(
        "benchmarks/README.md",
        "make bench ",
        not_run="starts benchmarks (minutes of load on every core); its make targets and "
        "benchmarks/run options are checked to exist",
    ),
    Example(
        "benchmarks/README.md",
        "ratio new 0.09",
        not_run="the output format of a benchmark run, not a command",
    ),
    Example(
        "BENCHMARKS.md",
        "make soak ",
        not_run="starts benchmarks and a 10-minute soak; its make targets are checked to exist",
    ),
    Example("BENCHMARKS.md", "ratio new 0.22", not_run="figures a benchmark run printed"),
    Example(
        "BENCHMARKS.md",
        "benchmarks/run --scenarios overload",
        not_run="starts benchmarks (minutes of load on every core); its benchmarks/run options "
        "are checked to exist",
    ),
    Example(
        "BENCHMARKS.md",
        ".ci/newcomer.py --sqlite-only",
        not_run=".ci/run runs .ci/newcomer.py itself, on both stores, before the suite",
    ),
    Example(
        "RELIABILITY.md",
        ".venv/bin/pytest tests/reliability",
        not_run="runs the reliability suite (minutes, a private PostgreSQL it crashes, Redis)",
    ),
]


def claims() -> tuple[dict[Example, list[Block]], list[Block]]:
    """Which blocks each example claims, and the blocks no example claims."""
    claimed: dict[Example, list[Block]] = {example: [] for example in EXAMPLES}
    unclaimed: list[Block] = []
    for doc in DOCS:
        for block in read_blocks(doc):
            owners = [e for e in EXAMPLES if e.doc == doc and e.marker in block.text]
            for owner in owners:
                claimed[owner].append(block)
            if not owners:
                unclaimed.append(block)
    return claimed, unclaimed


def block_of(step: str) -> Block:
    example = next(e for e in EXAMPLES if e.step == step)
    (block,) = claims()[0][example]
    return block


def test_every_docs_example_is_run_or_listed_with_a_reason() -> None:
    claimed, unclaimed = claims()
    problems = [
        f"{b.where()}: a ```{b.lang} block neither run by the tour nor listed as not run "
        f"(add it to EXAMPLES in {Path(__file__).name}):\n{b.text}"
        for b in unclaimed
    ]
    for example, blocks in claimed.items():
        if len(blocks) != 1:
            where = ", ".join(b.where() for b in blocks) or "no block"
            problems.append(f"{example.doc} {example.marker!r} claims {where}, not exactly one")
    for example in EXAMPLES:
        assert (example.step is None) != (example.not_run is None), example
    steps = {e.step for e in EXAMPLES if e.step}
    assert steps == set(STEPS) | STATIC_STEPS, "each step claims a block"
    multiply = [b for bs in claimed.values() for b in bs]
    assert len(multiply) == len({(b.doc, b.line) for b in multiply}), "a block claimed twice"
    assert not problems, "\n\n".join(problems)


# -- commands and the answers shown -------------------------------------------------------------
@dataclass
class Command:
    text: str
    shown: str | None  # the answer printed after it (a ``# {...}`` line), if any


def commands(text: str) -> list[Command]:
    """The shell commands of a block: backslash continuations and multi-line quotes joined;
    a ``# {...}`` comment right after a command is the answer it shows; other comments dropped."""
    found: list[Command] = []
    pending = ""
    for line in text.splitlines():
        if not pending and line.lstrip().startswith("#"):
            comment = line.lstrip()[1:].strip()
            if comment.startswith("{") and found:
                found[-1].shown = comment
            continue
        if not pending and not line.strip():
            continue
        pending += line + "\n"
        if pending.rstrip().endswith("\\") or pending.count("'") % 2:
            continue
        shlex.split(pending, comments=True)  # a complete command, else this raises
        found.append(Command(pending.strip(), None))
        pending = ""
    assert not pending, f"an unfinished command: {pending}"
    return found


def loads_shown(text: str) -> Any:
    """An answer as the docs show it: JSON, with ``[...]`` and ``,...}`` for elided parts."""
    text = text.replace("[...]", '["..."]').replace(",...}", ',"...":"..."}')
    return json.loads(text)


HEX_RUN = re.compile(r"[0-9a-f]{8}")


def compare(shown: Any, actual: Any, at: str, ids: dict[str, str]) -> list[str]:
    """Where ``actual`` differs from the answer the docs show; ``ids`` learns shown -> real ids."""
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{at}: an object is shown, {actual!r} was answered"]
        problems = []
        keys = set(shown) - {"..."}
        if "..." in shown:
            if missing := keys - set(actual):
                problems.append(f"{at}: keys shown but not answered: {sorted(missing)}")
        elif keys != set(actual):
            problems.append(
                f"{at}: keys shown {sorted(keys)} but answered {sorted(actual)} "
                f"(missing {sorted(keys - set(actual))}, extra {sorted(set(actual) - keys)})"
            )
        for key in sorted(keys & set(actual)):
            problems += compare(shown[key], actual[key], f"{at}.{key}", ids)
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return [f"{at}: a list is shown, {actual!r} was answered"]
        if shown == ["..."]:
            return []
        if len(shown) != len(actual):
            return [f"{at}: {len(shown)} items shown, {len(actual)} answered: {actual!r}"]
        return [
            p
            for i, (s, a) in enumerate(zip(shown, actual, strict=True))
            for p in compare(s, a, f"{at}[{i}]", ids)
        ]
    if isinstance(shown, str) and isinstance(actual, str):
        pattern = shape_of(shown)
        if pattern is None:
            return [] if shown == actual else [f"{at}: {shown!r} shown, {actual!r} answered"]
        if not pattern.fullmatch(actual):
            return [f"{at}: {actual!r} is not shaped like the {shown!r} shown"]
        if UUID_RE.fullmatch(shown):
            ids[shown] = actual
        return []
    return [] if shown == actual else [f"{at}: {shown!r} shown, {actual!r} answered"]


def shape_of(shown: str) -> re.Pattern[str] | None:
    """The shape a value the docs show stands for (an id, a timestamp, a secret), or None when
    it is meant exactly."""
    if shown == "...":
        return re.compile(r".*", re.DOTALL)
    if UUID_RE.fullmatch(shown):
        return UUID_RE
    if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)", shown):
        return re.compile(re.sub(r"\d", r"\\d", re.escape(shown)))
    if shown.endswith("..."):
        prefix = shown[:-3]
        if re.fullmatch(r"[0-9A-F-]{4,}", prefix):  # the start of an id
            return UUID_RE
        return re.compile(HEX_RUN.sub("[0-9a-f]{8}", re.escape(prefix)) + r".+")
    return None


@dataclass
class Ran:
    status: int | None  # HTTP status, for curl
    output: str

    def json(self) -> Any:
        return json.loads(self.output)


# -- the tour -------------------------------------------------------------------------------------
@dataclass
class Tour:
    deployment: Deployment
    server: Server
    key: str
    partner_id: str
    ids: dict[str, str] = field(default_factory=dict)  # example ids shown -> real ones
    answers: dict[str, Any] = field(default_factory=dict)
    received: list[Any] = field(default_factory=list)  # deliveries of the events step
    secret: str = ""  # the signing secret of the events step's endpoint

    def substitute(self, text: str) -> str:
        text = text.replace(README_HOST, self.server.base_url).replace("isk_test_...", self.key)
        text = text.replace("PARTNER_ID", self.partner_id)
        text = text.replace(README_WEBHOOK_HOST, "localhost")
        for shown, real in self.ids.items():
            text = text.replace(shown, real)
        return text

    def run(self, command: str, *, key: str | None = None) -> Ran:
        """One command of a block through bash, with ``KEY`` set; curl also prints the status."""
        text = self.substitute(command)
        if text.startswith("curl "):
            text = "curl --write-out '\\n%{http_code}' " + text[len("curl ") :]
        env = {
            **self.deployment.env,
            "KEY": key or self.key,
            "PATH": f"{VENV_BIN}{os.pathsep}{self.deployment.env.get('PATH', '')}",
        }
        done = subprocess.run(
            ["bash", "-c", text], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        _REGISTRY.extra_logs.append(done.stderr)
        assert done.returncode == 0, f"{command}\nfailed ({done.returncode}): {done.stderr}"
        if text.startswith("curl "):
            body, _, status = done.stdout.rpartition("\n")
            return Ran(int(status), body)
        return Ran(None, done.stdout)

    def check(self, shown: str, ran: Ran, where: str) -> None:
        shown_json = loads_shown(shown)
        if isinstance(shown_json, dict) and isinstance(shown_json.get("status"), int):
            assert ran.status == shown_json["status"], f"{where}: HTTP {ran.status}"
        problems = compare(shown_json, ran.json(), "answer", self.ids)
        assert not problems, f"{where}: the answer differs from the one shown:\n" + "\n".join(
            problems
        )


def step_banner(tour: Tour) -> None:
    """The banner the README shows is the one ``serve`` printed (the key and ``...`` elided)."""
    block = block_of("banner")
    shown = tour.substitute(block.text).replace("isk_test_2vQ...", tour.key).splitlines()
    printed = tour.server.stdout().rstrip("\n").splitlines()
    assert len(printed) >= len(shown), printed
    for want, got in zip(shown, printed, strict=False):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        assert re.fullmatch(pattern, got), f"{block.where()}: {want!r} shown, {got!r} printed"
    assert printed[len(shown) :] == [], f"lines printed but not shown: {printed[len(shown) :]}"


def step_create_session(tour: Tour) -> None:
    block = block_of("create_session")
    cmds = commands(block.text)
    assert [c.text.split()[0] for c in cmds] == ["KEY=isk_test_...", "curl"], cmds
    for command in cmds[:-1]:
        tour.run(command.text)
    ran = tour.run(cmds[-1].text)
    assert ran.status == 200, ran
    assert block.answer is not None
    tour.check(block.answer, ran, block.where())
    tour.answers["session"] = ran.json()
    _REGISTRY.remember(ran.json()["client_secret"])


def step_retrieve_session(tour: Tour) -> None:
    """No answer is shown: the README says it is the created session, secret identical."""
    block = block_of("retrieve_session")
    (command,) = commands(block.text)
    ran = tour.run(command.text)
    assert ran.status == 200, ran
    assert ran.json() == tour.answers["session"]


def step_invalid_request(tour: Tour) -> None:
    block = block_of("invalid_request")
    (command,) = commands(block.text)
    ran = tour.run(command.text)
    assert ran.status == 400, ran
    assert block.answer is not None
    tour.check(block.answer, ran, block.where())


def step_audit_trail(tour: Tour) -> None:
    """The entry shown is the session the tour created; the CSV export holds the sandbox's first
    key, with the API's field names."""
    block = block_of("audit_trail")
    api, export = commands(block.text)
    ran = tour.run(api.text)
    assert ran.status == 200, ran
    assert api.shown is not None
    tour.check(api.shown, ran, block.where())
    (entry,) = ran.json()["data"]
    assert entry["object_id"] == tour.answers["session"]["id"]
    assert tour.key.startswith(entry["actor_display"])
    header, *rows = tour.run(export.text).output.splitlines()
    assert header.split(",") == list(AuditEvent.model_fields)
    (row,) = rows
    assert ",api_key.created," in row
    assert ",system," in row


def step_web_sdk(tour: Tour) -> None:
    """An HTML fragment for a partner's page (tests/e2e/test_browser.py runs the SDK in a real
    browser): the script it loads is served and defines what the fragment calls."""
    block = block_of("web_sdk")
    (src,) = re.findall(r'<script src="([^"]+)"', tour.substitute(block.text))
    script = httpx.get(src, timeout=10)
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "startApplication" in script.text
    assert "onCompletion" in script.text


def step_register_webhook(tour: Tour) -> None:
    """The endpoints point at https://localhost (for partner.example.com): nothing listens there,
    and nothing is sent off the machine."""
    block = block_of("register_webhook")
    api, cli_add = commands(block.text)
    ran = tour.run(api.text)
    assert ran.status == 200, ran
    assert api.shown is not None
    tour.check(api.shown, ran, block.where())
    assert ran.json()["url"] == "https://localhost/imprint/webhooks"
    _REGISTRY.remember(ran.json()["secret"])
    added = tour.run(cli_add.text).json()
    _REGISTRY.remember(added["secret"])
    assert added["url"] == "https://localhost/hooks"
    assert added["secret"].startswith("whsec_")
    assert added["event_types"] == ["APPLICATION", "PAYMENT_METHOD"]
    listed = httpx.get(
        f"{tour.server.base_url}/v2/webhook_endpoints", auth=(tour.key, ""), timeout=10
    ).json()
    assert {e["id"] for e in listed["data"]} == {ran.json()["id"], added["id"]}


def step_simulate_application(tour: Tour) -> None:
    block = block_of("simulate_application")
    (command,) = commands(block.text)
    ran = tour.run(command.text)
    assert ran.status == 200, ran
    assert command.shown is not None
    tour.check(command.shown, ran, block.where())
    assert ran.json()["customer_id"] == customer_id(tour, tour.key, "CUST_03476998")


def step_create_sandbox(tour: Tour) -> None:
    """The README's sandbox: made with the tour's key, its own key works, and it is empty."""
    block = block_of("create_sandbox")
    (command,) = commands(block.text)
    ran = tour.run(command.text)
    assert ran.status == 200, ran
    sandbox = ran.json()
    _REGISTRY.remember(sandbox["api_key"])
    assert command.shown is not None
    tour.check(command.shown, ran, block.where())
    assert sandbox["parent_id"] == tour.partner_id
    base, auth = tour.server.base_url, (sandbox["api_key"], "")
    assert httpx.get(f"{base}/v2/customers", auth=auth, timeout=10).json()["total"] == 0
    deleted = httpx.delete(
        f"{base}/v2/test_helpers/sandboxes/{sandbox['id']}", auth=(tour.key, ""), timeout=10
    )
    assert deleted.status_code == 200, deleted.text


def step_test_clock(tour: Tour) -> None:
    """A sandbox made with a clock, advanced as shown; its sessions then live on the clock."""
    block = block_of("test_clock")
    made, advanced = commands(block.text)
    answers = []
    for command in (made, advanced):
        ran = tour.run(command.text)
        assert ran.status == 200, ran
        if command is made:
            _REGISTRY.remember(ran.json()["api_key"])
        assert command.shown is not None
        tour.check(command.shown, ran, block.where())
        answers.append(ran.json())
    sandbox = answers[0]
    base, auth = tour.server.base_url, (sandbox["api_key"], "")
    created = httpx.post(f"{base}/v2/customer_sessions", json={}, auth=auth, timeout=10)
    _REGISTRY.remember(created.json()["client_secret"])
    assert created.json()["expires_at"] == "2031-05-01T10:30:00.000Z"
    deleted = httpx.delete(
        f"{base}/v2/test_helpers/sandboxes/{sandbox['id']}", auth=(tour.key, ""), timeout=10
    )
    assert deleted.status_code == 200, deleted.text


def step_test_faults(tour: Tour) -> None:
    """Each command answers as shown; the forced errors carry the headers the README names, and
    the fault the CLI declared is the partner's (then deleted, so nothing is left behind)."""
    block = block_of("test_faults")
    cmds = commands(block.text)
    assert [c.text.split()[0] for c in cmds] == ["curl"] * 5 + ["imprint-sessions"], cmds
    for command in cmds:
        ran = tour.run(command.text)
        assert command.shown is not None, command.text
        tour.check(command.shown, ran, block.where())
    created = ran.json()  # the CLI's fault (the last command)
    base = tour.server.base_url
    listed = httpx.get(f"{base}/v2/test_helpers/faults", auth=(tour.key, ""), timeout=10).json()
    assert [f["id"] for f in listed["data"]] == [created["id"]]
    deleted = httpx.delete(
        f"{base}/v2/test_helpers/faults/{created['id']}", auth=(tour.key, ""), timeout=10
    )
    assert deleted.status_code == 200, deleted.text
    forced = httpx.get(
        f"{base}/v2/customers",
        auth=(tour.key, ""),
        headers={"Imprint-Test-Fault": "status=429; retry_after=5"},
        timeout=10,
    )
    assert (forced.status_code, forced.headers["retry-after"]) == (429, "5")
    assert forced.headers["request-id"].startswith("req_")


def step_fire_webhook_event(tour: Tour) -> None:
    """The event fired is the partner's, listed with its others (delivery and signatures:
    tests/integration/webhooks/test_fired_webhook_events.py)."""
    block = block_of("fire_webhook_event")
    (command,) = commands(block.text)
    ran = tour.run(command.text)
    assert ran.status == 200, ran
    assert command.shown is not None
    tour.check(command.shown, ran, block.where())
    events = httpx.get(
        f"{tour.server.base_url}/v2/webhook_events",
        params={"limit": 100},
        auth=(tour.key, ""),
        timeout=10,
    ).json()["data"]
    assert events[-1]["id"] == ran.json()["id"]
    assert events[-1]["data"]["customer_id"] == customer_id(tour, tour.key, "CUST_03476998")


def customer_id(tour: Tour, key: str, partner_customer_id: str) -> str:
    found = httpx.get(
        f"{tour.server.base_url}/v2/customers",
        params={"partner_customer_id": partner_customer_id},
        auth=(key, ""),
        timeout=10,
    ).json()
    assert found["total"] == 1, found
    value: str = found["data"][0]["id"]
    return value


def step_events(tour: Tour) -> None:
    """The events shown are what a partner with a product (``acme-card``) receives for a
    customer with metadata ``{"tier": "gold"}`` when the README's simulate command runs with its
    key: the same keys, the same fixed values, ids and times by shape."""
    base = tour.server.base_url
    env = tour.deployment.env
    created = cli(
        env, "partners", "create", "--name", "Acme", "--merchant-key", "acme-card", "--json"
    )
    assert created.returncode == 0, created.stderr
    partner = json.loads(created.stdout)
    issued = cli(env, "keys", "create", "--partner", partner["id"], "--json")
    assert issued.returncode == 0, issued.stderr
    key = json.loads(issued.stdout)["api_key"]
    _REGISTRY.remember(key)
    with receiving() as receiver:
        endpoint = httpx.post(
            f"{base}/v2/webhook_endpoints", auth=(key, ""), json={"url": receiver.url}, timeout=10
        ).json()
        tour.secret = endpoint["secret"]
        _REGISTRY.remember(tour.secret)
        session = httpx.post(
            f"{base}/v2/customer_sessions",
            auth=(key, ""),
            json={"partner_customer_id": "CUST_03476998"},
            timeout=10,
        )
        assert session.status_code == 200, session.text
        _REGISTRY.remember(session.json()["client_secret"])
        updated = httpx.post(
            f"{base}/v2/customers/{customer_id(tour, key, 'CUST_03476998')}",
            auth=(key, ""),
            json={"metadata": {"tier": "gold"}},
            timeout=10,
        )
        assert updated.status_code == 200, updated.text
        (command,) = commands(block_of("simulate_application").text)
        assert tour.run(command.text, key=key).status == 200
        deadline = time.monotonic() + 30  # serve's own delivery worker sends them
        while len(receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tour.received = list(receiver.received)
    assert [r.path for r in tour.received] == ["/hooks", "/hooks"], tour.received
    block = block_of("events")
    shown = [loads_shown(line) for line in block.text.splitlines() if line.strip()]
    # Deliveries run concurrently: pair each event shown with the one received of its type.
    by_object = {json.loads(r.body)["object"]: r for r in tour.received}
    assert sorted(by_object) == sorted(s["object"] for s in shown), by_object
    ids: dict[str, str] = {}
    for n, event in enumerate(shown):
        received = by_object[event["object"]]
        body = json.loads(received.body)
        problems = compare(event, body, f"event {n}", ids)
        assert not problems, (
            f"{block.where()}: the event differs from the one shown:\n" + "\n".join(problems)
        )
        # "compact JSON with sorted keys, exactly the bytes that are signed"
        assert received.body == json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def step_verify_standard_webhooks(tour: Tour) -> None:
    """The README's standardwebhooks snippet accepts a real delivery and refuses an altered one."""
    block = block_of("verify_standard_webhooks")
    delivery = tour.received[0]
    namespace: dict[str, Any] = {
        "secret": tour.secret,
        "raw_body": delivery.body,
        "request_headers": delivery.headers,
    }
    exec(block.text, namespace)
    assert namespace["event"] == json.loads(delivery.body)
    from standardwebhooks.webhooks import WebhookVerificationError

    namespace["raw_body"] = delivery.body.replace(b"CUST_03476998", b"CUST_03476999")
    with pytest.raises(WebhookVerificationError):
        exec(block.text, namespace)


def step_verify_hmac(tour: Tour) -> None:
    """The README's own verifier accepts every real delivery and refuses an altered body."""
    block = block_of("verify_hmac")
    namespace: dict[str, Any] = {}
    exec(block.text, namespace)
    verify: Callable[[str, str, bytes], bool] = namespace["verify"]
    for delivery in tour.received:
        header = delivery.headers["x-imprint-hmac-signature"]
        assert verify(tour.secret, header, delivery.body) is True
        assert verify(tour.secret, header, delivery.body + b" ") is False


def test_contributing_layout_names_files_that_exist() -> None:
    """Every file and folder CONTRIBUTING's tree names first on a line exists."""
    block = block_of("layout")
    base = None
    missing = []
    for line in block.text.splitlines():
        name = line.split()[0]
        if not line.startswith(" "):
            base = ROOT / name
            if not base.exists():
                missing.append(name)
            for folder in line.split()[1:]:  # tests/  unit/ integration/ ...
                if not (base / folder).is_dir():
                    missing.append(f"{name}{folder}")
            continue
        indented = line[: len(line) - len(line.lstrip())]
        if len(indented) == 2 and base is not None and not (base / name).exists():
            missing.append(f"{base.relative_to(ROOT)}/{name}")
    assert not missing, f"{block.where()}: named but missing: {missing}"


def run_python(tour: Tour, block: Block, **names: Any) -> tuple[str, dict[str, Any]]:
    """A Python block run as written (the README's host and key replaced by the tour's), with
    ``names`` defined; what it printed, and its names afterwards."""
    namespace: dict[str, Any] = {"__name__": "readme_example", **names}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(tour.substitute(block.text), block.where(), "exec"), namespace)
    return printed.getvalue(), namespace


def step_sdk_example(tour: Tour) -> None:
    """The SDK's complete program runs against the tour's server and prints what it says."""
    block = block_of("sdk_example")
    printed, names = run_python(tour, block)
    secret = names["for_the_browser"]
    _REGISTRY.remember(secret)
    _REGISTRY.remember(names["sandbox"].api_key)
    assert secret.startswith("ics_")
    assert secret not in printed
    assert names["sandbox"].api_key not in printed
    lines = printed.splitlines()
    assert re.fullmatch(r"id='[0-9A-F-]{36}' client_secret='ics_\*\*\*\*' .*", lines[0]), lines
    assert any(line.split()[1:2] == ["CUST_03476998"] for line in lines), printed
    details = (
        "[ErrorDetail(field='customer_history.email', message='must be a well-formed email "
        "address')]"
    )
    assert any(re.fullmatch(r"400 req_[0-9a-f]{24} " + re.escape(details), ln) for ln in lines)
    assert "CUSTOMER_NOT_FOUND_ERROR customer_id" in lines
    assert any(line.startswith("CARD ACTIVE last4=") for line in lines), printed
    # The two declared 503s were retried through; the session was made once, and audited.
    retried = names["retried"].id
    assert lines.count(f"customer_session.created {retried}") == 1, printed
    listed = httpx.get(
        f"{tour.server.base_url}/v2/test_helpers/sandboxes", auth=(tour.key, ""), timeout=10
    ).json()
    assert names["sandbox"].id not in {s["id"] for s in listed["data"]}  # deleted at the end


def step_sdk_async(tour: Tour) -> None:
    printed, _ = run_python(tour, block_of("sdk_async"))
    lines = printed.splitlines()
    assert {"CUST_0", "CUST_1", "CUST_2"} <= set(lines), printed
    assert lines[-1] == "3"


def step_sdk_webhook_handler(tour: Tour) -> None:
    """The README's handler accepts the events step's real deliveries, fulfils the accepted
    application once, and refuses an altered body."""
    printed, names = run_python(tour, block_of("sdk_webhook_handler"), secret=tour.secret)
    handle = names["handle_imprint_webhook"]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        for delivery in tour.received:
            assert handle(delivery.body, delivery.headers) == 200
            assert handle(delivery.body + b" ", delivery.headers) == 400
    (fulfilled,) = out.getvalue().splitlines()
    application = next(r for r in tour.received if json.loads(r.body)["object"] == "APPLICATION")
    assert fulfilled == f"fulfil the order of CUST_03476998 once per {application.event_id}"
    assert printed == ""


STEPS: dict[str, Callable[[Tour], None]] = {
    "banner": step_banner,
    "create_session": step_create_session,
    "retrieve_session": step_retrieve_session,
    "invalid_request": step_invalid_request,
    "audit_trail": step_audit_trail,
    "web_sdk": step_web_sdk,
    "register_webhook": step_register_webhook,
    "simulate_application": step_simulate_application,
    "create_sandbox": step_create_sandbox,
    "test_clock": step_test_clock,
    "events": step_events,
    "verify_standard_webhooks": step_verify_standard_webhooks,
    "verify_hmac": step_verify_hmac,
    "test_faults": step_test_faults,
    "fire_webhook_event": step_fire_webhook_event,
    "sdk_example": step_sdk_example,
    "sdk_async": step_sdk_async,
    "sdk_webhook_handler": step_sdk_webhook_handler,
}
# Steps that need no server, each a test of its own.
STATIC_STEPS = {"layout", "pytest_plugin"}


@pytest.fixture(params=["sqlite", "postgresql"])
def tour(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Tour]:
    with open_deployment(request.param, tmp_path) as deployment:
        # As the README runs it: serve delivers webhooks itself, on both backends.
        server = deployment.start()
        key = server.api_key()
        listed = cli(deployment.env, "partners", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        (partner,) = json.loads(listed.stdout)
        yield Tour(deployment, server, key, partner["id"])
        server.stop()


@pytest.mark.slow
def test_readme_examples_answer_as_shown(tour: Tour) -> None:
    """Every step, in order, on one server; all failures are reported together."""
    failures = []
    for name, step in STEPS.items():
        try:
            step(tour)
        except AssertionError as exc:
            failures.append(f"[{name}] {exc}")
            if name in ("create_session", "events"):
                break  # later steps need what this one made
    assert not failures, "\n\n".join(failures)


# -- blocks not run: the commands they name exist -------------------------------------------------
@pytest.mark.slow
def test_examples_not_run_name_commands_and_options_that_exist() -> None:
    """Each command of a not-run shell block names a make target, a script or an
    ``imprint-sessions`` command that exists, with options it accepts."""
    claimed, _ = claims()
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE))
    problems: list[str] = []
    checked = 0
    for example, blocks in claimed.items():
        if example.not_run is None:
            continue
        for block in blocks:
            if block.lang not in ("sh", "bash"):
                continue
            for command in commands(block.text):
                words = shlex.split(command.text, comments=True)
                while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                    words.pop(0)  # VAR=value prefixes
                if not words or words[0] in ("export", "pip"):
                    continue
                checked += 1
                problems += command_problems(words, targets, block)
    assert checked >= 10, checked
    assert not problems, "\n".join(problems)


def command_problems(words: list[str], targets: set[str], block: Block) -> list[str]:
    where = block.where()
    program, args = words[0], words[1:]
    if program == "make":
        return [f"{where}: no make target {t!r}" for t in args if t not in targets]
    options = [a.split("=", 1)[0] for a in args if a.startswith("--")]
    if program == "imprint-sessions":
        path = [a for a in args if not a.startswith("-")]
        # Subcommands come first; the rest are values (an id, a name).
        help_of = cli_help(path)
        while help_of is None and path:
            path = path[:-1]
            help_of = cli_help(path)
        assert help_of is not None
        return [
            f"{where}: imprint-sessions {' '.join(path)} has no {o}"
            for o in options
            if not offers(help_of, o)
        ]
    executable = ROOT / program.removeprefix("./")
    if not (executable.is_file() and os.access(executable, os.X_OK)):
        return [f"{where}: {program} is not an executable of the repository"]
    if program == "benchmarks/run":
        # Its parser, imported: the script itself would re-run under the repository's .venv.
        shown = subprocess.run(
            [sys.executable, "-c", BENCH_HELP],
            cwd=ROOT / "benchmarks",
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        return [f"{where}: benchmarks/run has no {o}" for o in options if not offers(shown, o)]
    return []


def offers(help_text: str, option: str) -> bool:
    """Whether a --help output lists ``option`` (``--merchant`` is not ``--merchant-key``)."""
    return re.search(re.escape(option) + r"(?![\w-])", help_text) is not None


BENCH_HELP = "from imprint_bench.cli import parse_args; parse_args(['--help'])"


def cli_help(path: list[str]) -> str | None:
    done = subprocess.run(
        [str(VENV_BIN / "imprint-sessions"), *path, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    return done.stdout if done.returncode == 0 else None


def test_the_pytest_plugin_example_passes_as_a_partner_runs_it(tmp_path: Path) -> None:
    """The README's partner test file, run by pytest in a fresh process with nothing but the
    installed plugin: it starts its own server, and its tests pass."""
    block = block_of("pytest_plugin")
    assert_partner_suite_passes(tmp_path, {"test_imprint_integration.py": block.text}, passed=3)
