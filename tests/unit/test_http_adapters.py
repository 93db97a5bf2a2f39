"""The HTTP underwriter and the HTTP one-time-code sender, against a real server on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from imprint_sessions.adapters.otp_sender import WebhookOtpSender
from imprint_sessions.adapters.underwriter import HttpUnderwriter
from imprint_sessions.errors import ServiceUnavailable
from unit.test_decisions import CARD, CUSTOMER, LOAN

Reply = Callable[[dict[str, Any]], tuple[int, bytes, float]]  # status, body, delay in seconds


class Underwriter:
    """A tiny HTTP server that records each JSON body and answers with ``reply``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.reply: Reply = lambda body: (200, b"{}", 0.0)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.received.append(body)
                status, payload, delay = owner.reply(body)
                time.sleep(delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout case)

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/decide"

    def answer(self, status: int, body: Any, delay: float = 0.0) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.reply = lambda _: (status, payload, delay)


@pytest.fixture
def server() -> Iterator[Underwriter]:
    underwriter = Underwriter()
    thread = threading.Thread(target=underwriter.server.serve_forever, daemon=True)
    thread.start()
    yield underwriter
    underwriter.server.shutdown()
    underwriter.server.server_close()
    thread.join(5)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_approval_with_an_offer_is_mapped(server: Underwriter) -> None:
    server.answer(
        200,
        {
            "status": "APPROVED",
            "offer": {"credit_limit": 250_000, "currency": "USD", "apr": "21.50"},
            "reason": "ok",
        },
    )
    decision = await HttpUnderwriter(server.url, timeout_seconds=2).decide(CARD, CUSTOMER)
    assert decision.status == "APPROVED"
    assert decision.offer is not None
    assert (decision.offer.credit_limit, decision.offer.apr) == (250_000, "21.50")
    (sent,) = server.received
    assert sent["application"]["ssn4"] == "1234"
    assert sent["application"]["date_of_birth"] == "1990-07-14"
    assert sent["customer"] == {"id": "C", "partner_customer_id": None}


async def test_loan_approval_keeps_amount_and_term(server: Underwriter) -> None:
    offer = {"amount": 900_000, "term_months": 12, "currency": "USD", "apr": "8.00"}
    server.answer(200, {"status": "APPROVED", "offer": offer})
    decision = await HttpUnderwriter(server.url, timeout_seconds=2).decide(LOAN, CUSTOMER)
    assert decision.offer is not None
    assert (decision.offer.amount, decision.offer.term_months) == (900_000, 12)


@pytest.mark.parametrize("status", ["REJECTED", "PENDING_REVIEW"])
async def test_other_decisions_pass_through(server: Underwriter, status: str) -> None:
    server.answer(200, {"status": status, "reason": "policy 7"})
    decision = await HttpUnderwriter(server.url, timeout_seconds=2).decide(CARD, CUSTOMER)
    assert (decision.status, decision.offer, decision.reason) == (status, None, "policy 7")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"error": "boom"}),
        (200, b"not json"),
        (200, {"status": "MAYBE"}),
        (200, {"status": "APPROVED"}),  # an approval without an offer
        (200, {"status": "APPROVED", "offer": {"amount": 5, "apr": "9.99"}}),  # no card limit
    ],
    ids=["500", "not json", "unknown status", "no offer", "offer for the wrong type"],
)
async def test_a_bad_reply_means_pending_review(
    server: Underwriter, status: int, body: Any
) -> None:
    server.answer(status, body)
    decision = await HttpUnderwriter(server.url, timeout_seconds=2).decide(CARD, CUSTOMER)
    assert decision.status == "PENDING_REVIEW"
    assert decision.offer is None


async def test_a_slow_underwriter_times_out_into_pending_review(server: Underwriter) -> None:
    server.answer(200, {"status": "APPROVED"}, delay=1.0)
    started = time.monotonic()
    decision = await HttpUnderwriter(server.url, timeout_seconds=0.2).decide(CARD, CUSTOMER)
    assert time.monotonic() - started < 0.9
    assert (decision.status, decision.reason) == ("PENDING_REVIEW", "underwriter: timed out")


async def test_an_unreachable_underwriter_means_pending_review() -> None:
    underwriter = HttpUnderwriter("http://127.0.0.1:9/decide", timeout_seconds=1)
    decision = await underwriter.decide(replace(CARD, last_name="approve"), CUSTOMER)
    assert decision.status == "PENDING_REVIEW"


async def test_otp_sender_posts_the_code(server: Underwriter) -> None:
    server.answer(202, {})
    await WebhookOtpSender(server.url).send(phone="+14155552671", code="493817")
    assert server.received == [
        {"phone": "+14155552671", "code": "493817", "purpose": "phone_verification"}
    ]


async def test_otp_sender_failure_is_503_without_the_code(server: Underwriter) -> None:
    server.answer(500, {})
    with pytest.raises(ServiceUnavailable) as raised:
        await WebhookOtpSender(server.url).send(phone="+14155552671", code="493817")
    assert "493817" not in str(raised.value)
