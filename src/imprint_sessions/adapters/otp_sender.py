"""Delivering one-time codes through an HTTP endpoint (an SMS gateway of the operator's choice).

POSTs ``{"phone": "+1...", "code": "123456", "purpose": "phone_verification"}`` as JSON to
``IMPRINT_OTP_SENDER_URL``; any 2xx means sent. The code travels only in that body: it is never
logged, and a failure is reported without it.
"""

from __future__ import annotations

import logging
from typing import Final

import httpx

from imprint_sessions.errors import ServiceUnavailable

log = logging.getLogger(__name__)
SEND_TIMEOUT_SECONDS: Final = 5.0


class WebhookOtpSender:
    def __init__(self, url: str, *, timeout_seconds: float = SEND_TIMEOUT_SECONDS) -> None:
        self._url = url
        self._timeout = timeout_seconds

    async def send(self, *, phone: str, code: str) -> None:
        body = {"phone": phone, "code": code, "purpose": "phone_verification"}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, json=body)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("one-time code not sent", extra={"error": type(exc).__name__})
            raise ServiceUnavailable("phone: the code could not be sent, try again") from None
