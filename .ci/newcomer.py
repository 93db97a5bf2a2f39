#!/usr/bin/env python3
"""README command 1, run as a newcomer runs it, from a fresh clone with no test extras.

1. Clone this repository into a temporary folder; in it, run the README's first command exactly as
   the README writes it (read from the README, so changing it changes what this runs), on a free
   port (``IMPRINT_PORT``), wait for the banner and run the curl line it prints: a 200 with a
   ``client_secret``.
2. The same on PostgreSQL, following the README's "Running for real" steps (``db upgrade`` on a
   fresh database, then the same command), and one signed webhook delivered to a loopback
   receiver by ``serve`` itself (its delivery worker is on by default).

Standard library only: it runs before anything is installed. Prints one line per step, and each
step's seconds; exits non-zero with the server's output on any failure.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from base64 import b64decode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "IMPRINT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BANNER_SECONDS = 240  # a cold pip cache downloads every wheel


def fail(message: str, output: str = "") -> None:
    print(f"newcomer: FAILED: {message}", flush=True)
    if output:
        print("\n".join("    " + line for line in output.splitlines()[-40:]), flush=True)
    sys.exit(1)


def readme_command_1() -> str:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", readme, re.S)
    if not block:
        fail("README.md has no ```sh block of set-up commands")
    first = block.group(1).strip().splitlines()[0]
    return first.split("#", 1)[0].strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def newcomer_env(**settings: str) -> dict[str, str]:
    """A newcomer's shell: none of CI's IMPRINT_ settings, no active virtualenv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRINT_")}
    env.pop("VIRTUAL_ENV", None)
    env.update(settings)
    return env


class Server:
    def __init__(self, clone: Path, command: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.output = log.open("w+")
        self.process = subprocess.Popen(
            command,
            shell=True,
            cwd=clone,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for_curl_line(self) -> str:
        deadline = time.monotonic() + BANNER_SECONDS
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if line.strip().startswith("curl "):
                    return line.strip()
            if self.process.poll() is not None:
                fail(f"the command exited with {self.process.returncode}", self.text())
            time.sleep(0.2)
        fail(f"no banner with a curl line within {BANNER_SECONDS} s", self.text())
        raise AssertionError  # unreachable

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.output.close()


def assert_quiet_first_minute(output: str) -> None:
    """Before the banner: one progress line per install phase, nothing else (no pip or
    setuptools output, no warnings); the service's own JSON log lines may interleave."""
    before = re.split(r"^imprint-sessions \d\S* \(", output, maxsplit=1, flags=re.M)[0]
    progress = re.compile(
        r"^(imprint-sessions: installing into .*|  [a-z][a-z0-9 -]*\.\.\. done \(\d+ s\))$"
    )
    noise = [
        line
        for line in before.splitlines()
        if line.strip() and not progress.match(line) and not line.startswith('{"ts":')
    ]
    if noise:
        fail("the first start printed more than its progress lines", "\n".join(noise))


def run_curl_line(curl: str, server: Server) -> dict[str, object]:
    result = subprocess.run(
        f"{curl} --silent --show-error --max-time 30 --write-out '\\n%{{http_code}}'",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    body, _, status = result.stdout.rpartition("\n")
    if result.returncode != 0 or status != "200":
        fail(f"the banner's curl line answered {status or result.stderr.strip()}", server.text())
    created = json.loads(body)
    secret = created.get("client_secret", "") if isinstance(created, dict) else ""
    if not str(secret).startswith("ics_"):
        fail(f"the banner's curl line gave no client_secret: {body[:200]}", server.text())
    return created


def api(base_url: str, key: str, method: str, path: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "content-type": "application/json",
            "authorization": f"Bearer {key}",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200:
            fail(f"{method} {path} answered {response.status}")
        answer: dict[str, object] = json.loads(response.read())
        return answer


class Receiver:
    """A loopback webhook receiver that records each request."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_imprint_signature(headers: dict[str, str], body: bytes, secret: str) -> None:
    """The reference's X-IMPRINT-HMAC-SIGNATURE: t=<ms>,s=<hex HMAC-SHA256(key, "<t>.<body>")>."""
    header = headers.get("x-imprint-hmac-signature", "")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    encoded = secret.removeprefix("whsec_")
    key = b64decode(encoded + "=" * (-len(encoded) % 4))
    expected = hmac.new(key, parts.get("t", "").encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts.get("s", "")):
        fail(f"the webhook's signature does not verify: {header[:40]}...")


def step(message: str, started: float) -> None:
    print(f"newcomer: {message} ({time.monotonic() - started:.1f} s)", flush=True)


def sqlite_run(clone: Path, command: str, tmp: Path) -> None:
    started = time.monotonic()
    port = free_port()
    server = Server(clone, command, newcomer_env(IMPRINT_PORT=str(port)), tmp / "sqlite.log")
    try:
        curl = server.wait_for_curl_line()
        step(f"`{command}` printed its banner on port {port}", started)
        assert_quiet_first_minute(server.text())
        if f"127.0.0.1:{port}/" not in curl:
            fail(f"the curl line does not name the port it listens on: {curl}", server.text())
        run_curl_line(curl, server)
        step("the banner's curl line answered 200 with a client_secret (SQLite)", started)
    finally:
        server.stop()


def postgres_run(clone: Path, command: str, tmp: Path) -> None:
    started = time.monotonic()
    os.environ["PGOPTIONS"] = "-c client_min_messages=warning"  # psql's own NOTICEs
    name = f"imprint_newcomer_{os.getpid()}"
    base = PG_ADMIN_URL.rpartition("/")[0]
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", PG_ADMIN_URL, "-c"]
    subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}"'], check=True, timeout=60)
    subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, timeout=60)
    receiver = Receiver()
    port = free_port()
    env = newcomer_env(IMPRINT_DATABASE_URL=f"{base}/{name}", IMPRINT_PORT=str(port))
    server: Server | None = None
    try:
        upgraded = subprocess.run(
            [".venv/bin/imprint-sessions", "db", "upgrade"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if upgraded.returncode != 0:
            fail("imprint-sessions db upgrade failed", upgraded.stdout + upgraded.stderr)
        server = Server(clone, command, env, tmp / "postgresql.log")
        curl = server.wait_for_curl_line()
        if "Webhooks: delivered by this process" not in server.text():
            fail("the banner does not say this process delivers webhooks", server.text())
        key = shlex.split(curl)[shlex.split(curl).index("-u") + 1].rstrip(":")
        base_url = f"http://127.0.0.1:{port}"
        endpoint = api(base_url, key, "POST", "/v2/webhook_endpoints", {"url": receiver.url})
        run_curl_line(curl, server)
        step("the banner's curl line answered 200 with a client_secret (PostgreSQL)", started)
        api(
            base_url,
            key,
            "POST",
            "/v2/simulate_application",
            {"partner_customer_id": "CUST_03476998", "status": "OFFER_ACCEPTED"},
        )
        deadline = time.monotonic() + 30
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.1)
        if not receiver.received:
            fail("no webhook reached the loopback receiver within 30 s", server.text())
        headers, body = receiver.received[0]
        verify_imprint_signature(headers, body, str(endpoint["secret"]))
        kind = json.loads(body)["object"]
        step(f"serve delivered a signed {kind} webhook to a loopback receiver", started)
    finally:
        if server is not None:
            server.stop()
        receiver.close()
        subprocess.run([*psql, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], timeout=60)


def main() -> None:
    """``--cold-cache``: an empty pip cache (every wheel downloaded); ``--sqlite-only``: stop after
    the first 200 (what BENCHMARKS.md's newcomer time measures)."""
    started = time.monotonic()
    command = readme_command_1()
    tmp = Path(tempfile.mkdtemp(prefix="imprint-newcomer-"))
    if "--cold-cache" in sys.argv:
        os.environ["PIP_CACHE_DIR"] = str(tmp / "pip-cache")
    try:
        clone = tmp / "imprint-sessions"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
        step(f"cloned into {clone}; README command 1 is `{command}`", started)
        sqlite_run(clone, command, tmp)
        if "--sqlite-only" in sys.argv:
            return
        postgres_run(clone, command, tmp)
        extras = subprocess.run(
            [".venv/bin/python", "-m", "pip", "list", "--format=freeze"],
            cwd=clone,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if re.search(r"^(pytest|playwright|schemathesis)==", extras, re.M):
            fail("the newcomer's virtualenv has test extras in it", extras)
        step("done: no test extras were installed", started)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
