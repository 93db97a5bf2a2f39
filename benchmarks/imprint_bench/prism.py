"""Prism (Stoplight's OpenAPI mock server, Node) serving the seed's OpenAPI: the peer to beat.

Installed from npm into benchmarks/.prism/ (git-ignored) on first use. The seed's OpenAPI is the
yaml block of tests/contract/seed_create_customer_session.md, a byte-for-byte copy of the seed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from imprint_bench.common import BENCH_DIR, ROOT, BenchError, free_port, http_json, session_body, sh

PRISM_VERSION = "5.14.2"  # the last release that runs on Node 18/20 (5.16 wants Node 24)
PRISM_DIR = BENCH_DIR / ".prism"
PRISM_BIN = PRISM_DIR / "node_modules" / ".bin" / "prism"
SEED_FILE = ROOT / "tests" / "contract" / "seed_create_customer_session.md"
_YAML_BLOCK = re.compile(r"^````yaml[^\n]*\n(.*?)^````[ \t]*$", re.DOTALL | re.MULTILINE)


def unavailable() -> str | None:
    """Why Prism cannot run here (None if it can, installing it if needed)."""
    if PRISM_BIN.exists():
        return None
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node/npm not found (apt-get install nodejs npm), so no Prism comparison"
    major = sh(["node", "--version"]).stdout.strip().lstrip("v").split(".")[0]
    if int(major) < 18:
        return (
            f"Prism {PRISM_VERSION} needs Node 18 or newer (found {major}), so no Prism comparison"
        )
    print(f"installing Prism {PRISM_VERSION} into {PRISM_DIR} ...", flush=True)
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    (PRISM_DIR / ".gitignore").write_text("*\n")
    sh(
        ["npm", "install", "--prefix", str(PRISM_DIR), "--no-audit", "--no-fund",
         "--loglevel=error", f"@stoplight/prism-cli@{PRISM_VERSION}"],
        timeout=600,
    )  # fmt: skip
    return None if PRISM_BIN.exists() else f"npm installed no {PRISM_BIN}"


def seed_openapi(path: Path) -> Path:
    """Write the seed's OpenAPI document to ``path``."""
    found = _YAML_BLOCK.search(SEED_FILE.read_text(encoding="utf-8"))
    if found is None:
        raise BenchError(f"{SEED_FILE}: no ````yaml block")
    path.write_text(found.group(1))
    return path


class Prism:
    """``prism mock`` in its own process group, as it ships (info-level request logging)."""

    def __init__(self, spec: Path, run_dir: Path, verbosity: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = run_dir / "prism.log"
        cmd = [
            str(PRISM_BIN),
            "mock",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-v",
            verbosity,
            str(spec),
        ]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=PRISM_DIR
            )
        self.pgid = self.proc.pid

    def wait_ready(self, timeout: float = 60) -> None:
        body = session_body("PREFLIGHT", "preflight@example.com", "+14155552671")
        headers = {"Authorization": "Bearer isk_test_prism"}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"prism exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                status, answer = http_json(
                    "POST", f"{self.base_url}/v2/customer_sessions", body=body, headers=headers
                )
                if status == 200 and "client_secret" in answer:
                    return
                raise BenchError(f"prism answered {status}: {answer}")
            time.sleep(0.3)
        raise BenchError(f"prism not ready within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
