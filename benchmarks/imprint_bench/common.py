"""What every part of the suite shares: paths, the one error type, running a command."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH_DIR = ROOT / "benchmarks"
BIN = ROOT / ".venv" / "bin"
TICK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


def sh(cmd: list[str], *, timeout: float = 120, **kw: Any) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; raise BenchError with its output if it fails."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(cmd[:3])} ... failed:\n{proc.stdout}{proc.stderr}")
    return proc


def marked_json(output: str, marker: str, what: str, log: Path | str = "") -> dict[str, Any]:
    """The JSON object a tool printed on its one ``<marker> {...}`` line; BenchError naming
    ``what`` (and the log) with the output's tail if it printed none."""
    found = re.search(rf"^{marker} (.*)$", output, re.M)
    if not found:
        where = f" (see {log})" if log else ""
        raise BenchError(f"{what} printed no figures{where}:\n{output[-2000:]}")
    figures: dict[str, Any] = json.loads(found.group(1))
    return figures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(
    method: str, url: str, *, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """One HTTP request with a JSON body (or none); the status and the decoded answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:500].decode(errors="replace")


# The create-session body every scenario sends: the seed's example (~1 KB), as
# create_session.lua's BODY (keep the two alike).
def session_body(pcid: str, email: str, phone: str) -> dict[str, Any]:
    return {
        "partner_customer_id": pcid,
        "transaction_amount": 34000,
        "transaction_currency": "USD",
        "customer_history": {
            "email": email,
            "phone": phone,
            "first_name": "John",
            "last_name": "Doe",
            "preferred_language": "en",
            "address": {
                "street_line1": "123 Main St",
                "street_line2": "Apt 4B",
                "city": "San Francisco",
                "state": "CA",
                "postal_code": "94105",
                "country": "USA",
            },
            "account_tenure": 13,
            "ltv_amount": 34000,
            "ltv_currency": "USD",
            "loyalty_tier": "GOLD",
            "account_created_at": "2025-02-13T19:08:07.000Z",
            "transaction_count": 100,
        },
        "source": "web_checkout",
        "metadata": {
            "store_number": "123",
            "channel": "web",
            "order_reference": "ORD-2025-000123456",
            "cart_id": "cart_7f3a9c2e41b84d0f9e6a",
            "campaign": "spring_sale_2025",
            "referrer": "https://www.example.com/checkout/cart?step=payment",
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
        },
    }
