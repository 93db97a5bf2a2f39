"""``imprint-sessions serve`` for a measurement, and the first requests that check it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from imprint_bench.common import BIN, BenchError, free_port, http_json, session_body
from imprint_bench.proc import group_cpu

KEY_RE = re.compile(r"isk_test_[A-Za-z0-9_-]{43}")


class Server:
    """``imprint-sessions serve`` in its own process group; stopped (group and all) on exit."""

    def __init__(self, env: dict[str, str], workers: int, run_dir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.stdout_path = run_dir / "server.out"
        self.log_path = run_dir / "server.log"  # JSON logs, the access log included
        cmd = [str(BIN / "imprint-sessions"), "serve", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port), "--workers", str(workers)]
        with self.stdout_path.open("wb") as out, self.log_path.open("wb") as err:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=err, start_new_session=True
            )
        self.pgid = self.proc.pid
        self.api_key = ""

    @property
    def partner_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-2000:]
                raise BenchError(f"server exited with {self.proc.returncode}:\n{tail}")
            found = KEY_RE.search(self.stdout_path.read_text())
            if found:
                self.api_key = found.group(0)
                ready = f"{self.base_url}/readyz"
                with contextlib.suppress(OSError), urllib.request.urlopen(ready, timeout=2) as resp:
                    if resp.status == 200:
                        return
            time.sleep(0.2)
        raise BenchError(f"server not ready (or no API key printed) within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # Workers of a multi-worker server may outlive their parent by a moment.
        for _ in range(50):
            if not group_cpu(self.pgid):
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)

    def create_session(self) -> dict[str, Any]:
        """One real create-session with the benchmark's body: the key works, the answer is a
        customer session. Its stored row is the template of the retrieve and exchange pools
        and of pgbench's parameter values."""
        body = session_body("PREFLIGHT", "preflight@example.com", "+14155552671")
        status, answer = http_json(
            "POST", f"{self.base_url}/v2/customer_sessions", body=body, headers=self.partner_headers
        )
        if status != 200 or not {"id", "client_secret", "expires_at"} <= set(answer):
            raise BenchError(f"preflight: HTTP {status}: {answer}")
        return dict(answer)

    def get_session(self, session_id: str) -> dict[str, Any]:
        status, answer = http_json(
            "GET",
            f"{self.base_url}/v2/customer_sessions/{session_id}",
            headers=self.partner_headers,
        )
        if status != 200:
            raise BenchError(f"GET /v2/customer_sessions/{session_id}: HTTP {status}: {answer}")
        return dict(answer)
