"""The leak sweep's tools: every form a credential can hide in, a fast scanner, and HTTP capture.

Two kinds of secret are looked for, differently:

- **Credentials** (API keys, client secrets, client access tokens, webhook signing secrets,
  Authorization header values, the master key): long and random, so any occurrence anywhere is a
  leak. Each is looked for raw, URL-encoded (either hex case), JSON-escaped (``\\/``), and as
  base64 and base64url at each of the three byte alignments (so inside a larger encoded blob too,
  e.g. a ``Basic`` header's ``key:``); a prefixed credential also without its prefix.
- **Low-entropy values** (one-time codes: six digits; SSNs: nine): a bare substring search for
  ``888888`` would hit timestamps, amounts and hex ids by chance. They count as leaked when they
  stand next to their field's name (``"code":"888888"``, ``code=888888``, ``\\"code\\": 888888``,
  ``'ssn': '123-45-6789'``, URL-encoded too), when the JSON form is base64-encoded, and, in a
  database, when a text cell holds exactly the value. A plaintext code column or a logged request
  body is found; a code merely sharing digits with a timestamp is not.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import quote

import httpx
import pytest
import requests

from imprint_sessions.logs import (
    API_KEY_RE,
    CLIENT_ACCESS_TOKEN_RE,
    CLIENT_SECRET_RE,
    OPERATOR_CREDENTIAL_RE,
    OPERATOR_SESSION_RE,
    WEBHOOK_SECRET_RE,
)

# -- the forms a value can take ------------------------------------------------------------------

_PREFIXED = re.compile(r"(isk_(?:test|live)_|ics_[0-9a-f]{8}_|ict_|whsec_|ioc_|iot_)(.+)")
_MIN_FORM = 8  # shorter forms would match by chance
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def base64_cores(data: bytes) -> set[str]:
    """The base64 and base64url characters ``data`` always encodes to, at each byte alignment
    (the characters that mix in neighbouring bytes are left out)."""
    cores = set()
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + data).decode("ascii")
        core = encoded[-(-8 * lead // 6) : (8 * (lead + len(data))) // 6]
        cores |= {core, core.replace("+", "-").replace("/", "_")}
    return cores


def _text_forms(value: str) -> set[str]:
    quoted = quote(value, safe="")
    return {
        value,
        quoted,
        _PERCENT.sub(lambda m: m.group().lower(), quoted),
        value.replace("/", "\\/"),
    }


def credential_forms(credential: str) -> set[str]:
    """Every form ``credential`` is looked for in."""
    forms = _text_forms(credential) | base64_cores(credential.encode())
    prefixed = _PREFIXED.fullmatch(credential)
    if prefixed and len(set(prefixed.group(2))) >= 16:  # the random part alone, if random enough
        forms |= _text_forms(prefixed.group(2))
    return {form for form in forms if len(form) >= _MIN_FORM}


def kind_of(credential: str) -> str:
    for kind, pattern in (
        ("api key", API_KEY_RE),
        ("client secret", CLIENT_SECRET_RE),
        ("client access token", CLIENT_ACCESS_TOKEN_RE),
        ("webhook signing secret", WEBHOOK_SECRET_RE),
        ("operator credential", OPERATOR_CREDENTIAL_RE),
        ("operator session token", OPERATOR_SESSION_RE),
    ):
        if pattern.fullmatch(credential):
            return kind
    return "other credential"


def label(kind: str, value: str) -> str:
    """How a finding is reported: its kind and a fingerprint, never the value itself."""
    return f"{kind} #{hashlib.sha256(value.encode()).hexdigest()[:10]}"


# Field names a low-entropy value is a leak next to, and what may stand between name and value:
# quotes (also JSON-escaped and URL-encoded), colons, equals signs, spaces.
CONTEXT_NAMES = {
    "one-time code": r"[a-z_]*code|otp|passcode",
    "ssn": r"[a-z_]*ssn|social_security_number",
}
_SEPARATOR = r"(?:\\?[\"']|%22|%27|[\s:=+]|%20|%3[ad]){1,8}"


def contextual_json_forms(field_name: str, value: str) -> set[str]:
    """Base64 forms of ``"name":"value"`` (a request body logged encoded)."""
    cores = base64_cores(f'"{field_name}":"{value}"'.encode())
    return {core for core in cores if len(core) >= _MIN_FORM}


# -- scanning ------------------------------------------------------------------------------------

_GRAM = 12
_STRIDE = 8  # forms of at least _GRAM + _STRIDE - 1 characters are found by sampled grams


class LeakScanner:
    """Finds which of many known values occur in a text, in time linear in the text.

    Each form long enough is indexed by its ``_STRIDE`` grams of ``_GRAM`` characters starting at
    offsets 0 to ``_STRIDE - 1``. An occurrence starting at ``p`` covers exactly one text position
    ``q`` in ``[p, p + _STRIDE)`` that is a multiple of ``_STRIDE``; the gram at ``q`` is then one
    of the indexed ones, so scanning only every ``_STRIDE``-th position misses nothing. Shorter
    forms are searched for directly. Low-entropy values are matched by one regex per kind.
    """

    def __init__(
        self, credentials: Iterable[str], contextual: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self._grams: dict[str, list[tuple[int, str, str]]] = {}
        self._short: dict[str, str] = {}
        self._exact: dict[str, str] = {}  # database cells that must not hold these values
        self._context: list[tuple[re.Pattern[str], dict[str, str]]] = []
        self.counts: dict[str, int] = {}
        for credential in credentials:
            self._count(kind_of(credential))
            name = label(kind_of(credential), credential)
            for form in credential_forms(credential):
                self._add(form, name)
        for kind, values in (contextual or {}).items():
            names = {}
            for value in values:
                self._count(kind)
                name = label(kind, value)
                names[value] = name
                self._exact[value] = name
                field_name = "ssn" if kind == "ssn" else "code"
                for form in contextual_json_forms(field_name, value):
                    self._add(form, name)
            if names:
                alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
                pattern = re.compile(
                    rf"(?i)(?<![a-z0-9])(?:{CONTEXT_NAMES[kind]}){_SEPARATOR}({alternatives})"
                    r"(?![0-9])"
                )
                self._context.append((pattern, names))

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _add(self, form: str, name: str) -> None:
        if len(form) < _GRAM + _STRIDE - 1:
            self._short[form] = name
            return
        for offset in range(_STRIDE):
            self._grams.setdefault(form[offset : offset + _GRAM], []).append((offset, form, name))

    def find(self, text: str) -> set[str]:
        """The labels of every value found in ``text``."""
        found: set[str] = set()
        get = self._grams.get
        for q in range(0, len(text) - _GRAM + 1, _STRIDE):
            hits = get(text[q : q + _GRAM])
            if hits:
                for offset, form, name in hits:
                    start = q - offset
                    if start >= 0 and text.startswith(form, start):
                        found.add(name)
        found.update(name for form, name in self._short.items() if form in text)
        for pattern, names in self._context:
            found.update(names[match.group(1)] for match in pattern.finditer(text))
        return found

    def find_in_cells(self, cells: Iterable[str]) -> set[str]:
        """The labels of low-entropy values a database text cell holds exactly."""
        return {self._exact[cell] for cell in cells if cell in self._exact}


# -- what the suite's HTTP exchanges with the service show ---------------------------------------


class LeakSink(Protocol):
    error_bodies: list[str]

    def remember(self, credential: str) -> None: ...

    def remember_code(self, code: str) -> None: ...

    def remember_ssn(self, ssn: str) -> None: ...


_ISSUED_RES = (
    API_KEY_RE,
    CLIENT_SECRET_RE,
    CLIENT_ACCESS_TOKEN_RE,
    WEBHOOK_SECRET_RE,
    OPERATOR_CREDENTIAL_RE,
    OPERATOR_SESSION_RE,
)
_MIN_AUTH_CHARS = 20  # shorter Authorization values are deliberate junk ("Bearer not-a-key")
_MIN_AUTH_DISTINCT = 12


def _random_enough(value: str) -> bool:
    return (
        len(value) >= _MIN_AUTH_CHARS
        and len(set(value)) >= _MIN_AUTH_DISTINCT
        and not any(c.isspace() for c in value)
    )


def observe_request(sink: LeakSink, path: str, headers: Mapping[str, str], body: bytes) -> None:
    """Remember the credentials a request to the service carried: its Authorization value (and a
    Basic header's user and password), a one-time code it confirmed, any SSN in its JSON body."""
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if _random_enough(credentials):
        sink.remember(credentials)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except ValueError:
                decoded = ""
            for part in decoded.partition(":")[::2]:
                if _random_enough(part):
                    sink.remember(part)
    if not body or len(body) > 65_536:
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        return
    if path.endswith("/phone/verification/confirm") and isinstance(parsed, dict):
        code = parsed.get("code")
        if isinstance(code, str):
            sink.remember_code(code)
    for ssn in _values_named("ssn", parsed):
        sink.remember_ssn(ssn)


def _values_named(name: str, value: Any, depth: int = 0) -> Iterator[str]:
    if depth > 4:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if key == name and isinstance(item, str):
                yield item
            else:
                yield from _values_named(name, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _values_named(name, item, depth + 1)


def observe_response(sink: LeakSink, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """A success: remember every credential it hands out. An error: keep its status line, headers
    and body for the sweep (nothing of the request, which may carry a credential on purpose)."""
    text = body.decode("utf-8", "replace")
    rendered_headers = "\n".join(f"{name}: {value}" for name, value in headers.items())
    if status < 400:
        # Headers too: the console's session token is handed out in a Set-Cookie.
        for pattern in _ISSUED_RES:
            for match in pattern.finditer(text + "\n" + rendered_headers):
                sink.remember(match.group())
        return
    sink.error_bodies.append(f"HTTP {status}\n{rendered_headers}\n\n{text}")


def _from_service(headers: Mapping[str, str]) -> bool:
    # Every response of the service carries Request-Id; webhook receivers and SMS gateways do not.
    return "request-id" in headers


def _observe_httpx(sink: LeakSink, response: httpx.Response) -> None:
    if not _from_service(response.headers):
        return
    request = response.request
    try:
        body = request.content
    except httpx.RequestNotRead:  # a streamed upload: nothing to parse
        body = b""
    observe_request(sink, request.url.path, request.headers, body)
    observe_response(sink, response.status_code, response.headers, response.content)


def _observe_requests(sink: LeakSink, response: requests.Response) -> None:
    if not _from_service(response.headers):
        return
    request = response.request
    raw = request.body
    body = raw.encode() if isinstance(raw, str) else raw if isinstance(raw, bytes) else b""
    headers = {
        name.lower(): value if isinstance(value, str) else value.decode("latin-1")
        for name, value in request.headers.items()
    }
    path = httpx.URL(request.url or "").path
    observe_request(sink, path, headers, body)
    observe_response(sink, response.status_code, response.headers, response.content)


@contextmanager
def capturing_http(sink: LeakSink) -> Iterator[None]:
    """While open, every non-streamed exchange with the service through httpx (sync and async:
    the in-process harness and the clients of real servers) or requests (schemathesis) is seen by
    ``observe_request`` and ``observe_response``. The clients behave exactly as before: only
    bodies they have already read are looked at."""
    sync_send = httpx.Client.send
    async_send = httpx.AsyncClient.send
    requests_send = requests.Session.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = sync_send(self, request, **kwargs)
        if not kwargs.get("stream"):
            _observe_httpx(sink, response)
        return response

    async def asend(
        self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any
    ) -> httpx.Response:
        response = await async_send(self, request, **kwargs)
        if not kwargs.get("stream"):
            _observe_httpx(sink, response)
        return response

    def requests_send_observed(
        self: requests.Session, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        response = requests_send(self, request, **kwargs)
        if not kwargs.get("stream"):
            _observe_requests(sink, response)
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx.Client, "send", send)
        patch.setattr(httpx.AsyncClient, "send", asend)
        patch.setattr(requests.Session, "send", requests_send_observed)
        yield
