"""JSON logging for the whole process: one redacted JSON object per line, with the request id."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import IO, Any

__all__ = [
    "API_KEY_RE",
    "CLIENT_ACCESS_TOKEN_RE",
    "CLIENT_SECRET_RE",
    "OPERATOR_CREDENTIAL_RE",
    "OPERATOR_SESSION_RE",
    "REDACTED",
    "WEBHOOK_SECRET_RE",
    "JsonFormatter",
    "configure_logging",
    "current_request_id",
    "redact",
    "redact_credentials",
    "request_id_var",
]

REDACTED = "[REDACTED]"

# The exact credential formats minted by credentials.py. Unanchored: use .fullmatch() to validate a
# value, .search() to find one in text.
API_KEY_RE = re.compile(r"isk_(?:test|live)_[A-Za-z0-9_-]{43}")
CLIENT_SECRET_RE = re.compile(r"ics_[0-9a-f]{8}_[A-Za-z0-9_-]{64}")
CLIENT_ACCESS_TOKEN_RE = re.compile(r"ict_[A-Za-z0-9_-]{43,}")
WEBHOOK_SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")
OPERATOR_CREDENTIAL_RE = re.compile(r"ioc_[A-Za-z0-9_-]{43}")
OPERATOR_SESSION_RE = re.compile(r"iot_[A-Za-z0-9_-]{43}")

request_id_var: ContextVar[str | None] = ContextVar("imprint_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, or None outside a request."""
    return request_id_var.get()


# --- Redaction -----------------------------------------------------------------------------------
#
# Redaction is looser than the formats above on purpose: a truncated or mistyped key (a partner
# pasting 42 of 43 characters) still carries most of its entropy, so anything that starts like a
# credential is scrubbed. `ict_` must also start a word, or "strict_..." and "dict_..." would
# match; `%XX` counts as a word start so URL-encoded contexts are still caught. Base64 alphabets
# also accept their URL-encoded forms.
_B64_CHAR = r"(?:[A-Za-z0-9+/=]|%2[BbFf]|%3[Dd])"
_WORD_START = r"(?:(?<![A-Za-z0-9_])|(?<=%[0-9A-Fa-f]{2}))"
_CREDENTIAL_RE = re.compile(
    r"isk_(?:test|live)_[A-Za-z0-9_-]{16,}"
    r"|ics_[0-9a-f]{8}_[A-Za-z0-9_-]{16,}"
    rf"|{_WORD_START}ict_[A-Za-z0-9_-]{{20,}}"
    rf"|whsec_{_B64_CHAR}{{20,}}"
    rf"|{_WORD_START}io[ct]_[A-Za-z0-9_-]{{16,}}"
)

# Authorization header values; the scheme word stays so the line still says what was sent.
_AUTH_SCHEME_RE = re.compile(r"(?i)\b(basic|bearer)(\s+)[A-Za-z0-9._~+/=-]+")

# `client_secret=...`, `access_token=...`, `code=...` in query strings, form bodies and key=value
# text, also with a URL-encoded `=` (a query string nested in a redirect URL). `code` must stand
# alone (`status_code=201` is not a one-time code); any key ending in secret/token/password counts.
_KEY_VALUE_RE = re.compile(
    rf"(?i){_WORD_START}([A-Za-z0-9_]*(?:secret|token|password)|code)(=|%3D)"
    r"(?:[^\s&\"'\\,;<>%]|%(?!26)[0-9A-Fa-f]{2})+"
)

_CREDENTIAL_PREFIXES = (
    b"isk_test_",
    b"isk_live_",
    b"ics_",
    b"ict_",
    b"whsec_",
    b"ioc_",
    b"iot_",
)


def _base64_fragments(prefix: bytes) -> list[str]:
    """The base64 characters a prefix always encodes to, at each of the three byte alignments."""
    fragments = []
    for lead in range(3):
        encoded = base64.b64encode(b"\0" * lead + prefix).decode("ascii")
        first = -(-8 * lead // 6)  # first character made only of prefix bits
        last = (8 * (lead + len(prefix))) // 6  # one past the last such character
        fragments.append(encoded[first:last])
    return fragments


_BASE64_FRAGMENTS = sorted(
    {f for prefix in _CREDENTIAL_PREFIXES for f in _base64_fragments(prefix)}, key=len, reverse=True
)
# A base64 (or base64url) encoding of a credential, e.g. the payload of a Basic header logged
# without its scheme. 16+ trailing characters keep short look-alike runs out.
_BASE64_CREDENTIAL_RE = re.compile(
    "(?:"
    + "|".join(map(re.escape, _BASE64_FRAGMENTS))
    + r")(?:[A-Za-z0-9+/=_-]|%2[BbFf]|%3[Dd]){16,}"
)

# Every redaction above needs one of these substrings (compared lowercased), so a line without
# any of them skips the regexes: about 4 us for an access-log line. Keep in step with the patterns.
_TRIGGERS = (
    "isk_",
    "ics_",
    "ict_",
    "whsec_",
    "ioc_",
    "iot_",
    "basic",
    "bearer",
    "secret",
    "token",
    "password",
    "code",
    *sorted({fragment.lower()[:5] for fragment in _BASE64_FRAGMENTS}),
)


def _might_contain_secret(text: str) -> bool:
    lowered = text.lower()
    for trigger in _TRIGGERS:  # noqa: SIM110 - a plain loop beats any() on this hot path
        if trigger in lowered:
            return True
    return False


def _redact_matches(text: str) -> str:
    text = _AUTH_SCHEME_RE.sub(rf"\1\2{REDACTED}", text)
    text = _KEY_VALUE_RE.sub(rf"\1\2{REDACTED}", text)
    text = _CREDENTIAL_RE.sub(REDACTED, text)
    return _BASE64_CREDENTIAL_RE.sub(REDACTED, text)


def redact(text: str) -> str:
    """``text`` with every credential, Authorization value and secret key=value replaced."""
    if not _might_contain_secret(text):
        return text
    return _redact_matches(text)


def redact_credentials(text: str) -> str:
    """``text`` with every credential-shaped substring (raw or base64) replaced, and nothing else:
    for text a caller sent that an answer echoes (an id in a 404 message, a request path), where
    prose such as "Basic auth" or "code=" must stay as it is."""
    if not _might_contain_secret(text):
        return text
    return _BASE64_CREDENTIAL_RE.sub(REDACTED, _CREDENTIAL_RE.sub(REDACTED, text))


# Keys whose values are secret whatever they look like (one-time codes have no pattern). Compared
# lowercased with `-` as `_`, so header names (`Authorization`, `X-Api-Key`) match too.
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "api_key",
        "x_api_key",
        "code",
        "one_time_code",
        "verification_code",
        "otp",
        "secret",
        "token",
        "password",
    }
)
_SECRET_KEY_SUFFIXES = ("_secret", "_token", "_password")
_MAX_DEPTH = 6


@functools.lru_cache(maxsize=1024)  # extras keys repeat on every line
def _is_secret_key(key: str) -> bool:
    normalized = key.lower().replace("-", "_")
    return normalized in _SECRET_KEYS or normalized.endswith(_SECRET_KEY_SUFFIXES)


_TOO_DEEP = "[nested too deep]"  # also what a self-referencing container renders as


def _mask_secret_keys(value: Any, depth: int = 0) -> Any:
    """``value`` with secret-named keys' values masked at any dict depth; the rest as it is."""
    if isinstance(value, dict):
        if depth >= _MAX_DEPTH:
            return _TOO_DEEP
        masked = {}
        for k, v in value.items():
            key = k if isinstance(k, str) else str(k)  # JSON objects take only string keys
            masked[key] = REDACTED if _is_secret_key(key) else _mask_secret_keys(v, depth + 1)
        return masked
    if isinstance(value, (list, tuple)):
        if depth >= _MAX_DEPTH:
            return _TOO_DEEP
        return [_mask_secret_keys(v, depth + 1) for v in value]
    return value


def _redact_deep(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (already key-masked) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {redact(str(k)): _redact_deep(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_deep(v) for v in value]
    return redact(str(value))


# --- Formatting ----------------------------------------------------------------------------------

_RESERVED_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "request_id",
    # uvicorn's copy of each message with terminal colour codes in it: noise in a JSON line.
    "color_message",
}
_CORE_FIELDS = frozenset({"ts", "level", "logger", "msg", "request_id", "exc", "stack"})
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, default=str).encode


class JsonFormatter(logging.Formatter):
    """Renders a record as one compact JSON object, then redacts credentials from the whole of it.

    ``ensure_ascii`` escapes every line break (``\\n``, ``\\r``, U+2028, U+0085), so text from a
    caller can never start a second log line.
    """

    def __init__(self) -> None:
        super().__init__()
        self._ts_second = -1
        self._ts_prefix = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._ts_second:
            self._ts_prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._ts_second = second
        return f"{self._ts_prefix}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg} [log arguments could not be formatted]"
        payload: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": message,
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id is not None:
            payload["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key in _RESERVED_ATTRS:
                continue
            if key in _CORE_FIELDS:
                key = f"extra_{key}"
            payload[key] = REDACTED if _is_secret_key(key) else _mask_secret_keys(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = record.exc_text
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)

        line = _encode(payload)
        if _might_contain_secret(line):
            # Redact the rendered text of each field rather than the JSON, so escapes such as
            # `\n` between "Bearer" and its token cannot hide a match.
            line = _encode(_redact_deep(payload))
        return line


class _JsonHandler(logging.StreamHandler[IO[str]]):
    """The process's one log handler; its own class so configure_logging can find and replace it."""

    def handleError(self, record: logging.LogRecord) -> None:
        # The stdlib version prints the record's raw msg and args to stderr: unredacted secrets.
        with contextlib.suppress(Exception):  # nowhere left to report to
            sys.stderr.write(
                '{"level":"ERROR","logger":"imprint_sessions.logs",'
                '"msg":"a log record could not be written"}\n'
            )


def configure_logging(level: str = "INFO", *, stream: IO[str] | None = None) -> None:
    """Send every log record in the process, uvicorn's included, to ``stream`` as JSON lines.

    Idempotent: a second call replaces the handler installed by the first. ``stream`` defaults
    to stderr. uvicorn must be started with ``log_config=None`` or it installs its own handlers.
    """
    root = logging.getLogger()
    root.setLevel(level.upper())  # first: an unknown level raises before anything changes
    for handler in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(handler)
        handler.close()
    handler = _JsonHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)

    for name in ("uvicorn", "uvicorn.error"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
    # RequestIdMiddleware writes the access log (without query strings, which can hold secrets).
    access_logger = logging.getLogger("uvicorn.access")
    access_logger.handlers.clear()
    access_logger.propagate = False
    access_logger.disabled = True
    # httpx logs every request's full URL at INFO; webhook endpoint URLs can carry partner tokens
    # in ways no pattern recognises.
    logging.getLogger("httpx").setLevel(logging.WARNING)
