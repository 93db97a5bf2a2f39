"""Reusable field validators (pydantic ``Annotated`` types), their limits, and error rendering."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Annotated, Any, Final

import phonenumbers
import pycountry
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from imprint_sessions.credentials import normalize_ssn

__all__ = [
    "ADDRESS_LINE_MAX_LENGTH",
    "COUNTRY_MESSAGE",
    "CURRENCY_MESSAGE",
    "EMAIL_MAX_LENGTH",
    "EMAIL_MESSAGE",
    "IDENTIFIER_MAX_LENGTH",
    "INTEGER_MAX",
    "JSON_MAX_DEPTH",
    "LANGUAGE_MESSAGE",
    "LIST_LIMIT_DEFAULT",
    "LIST_LIMIT_MAX",
    "LOYALTY_TIER_MAX_LENGTH",
    "METADATA_KEY_MAX_LENGTH",
    "METADATA_KEY_MIN_LENGTH",
    "METADATA_MAX_BYTES",
    "METADATA_MAX_KEYS",
    "METADATA_VALUE_MAX_CHARS",
    "NAME_MAX_LENGTH",
    "PHONE_MAX_LENGTH",
    "PHONE_MESSAGE",
    "POSTAL_CODE_MAX_LENGTH",
    "SESSION_TTL_MAX_SECONDS",
    "SESSION_TTL_MIN_SECONDS",
    "SOURCE_MAX_LENGTH",
    "SSN_MESSAGE",
    "TIMESTAMP_MAX_LENGTH",
    "TIMESTAMP_MESSAGE",
    "AddressLine",
    "CountryCode",
    "CurrencyCode",
    "EmailAddress",
    "Identifier",
    "JsonInteger",
    "LanguageCode",
    "LoyaltyTier",
    "Metadata",
    "NonNegativeInteger",
    "PersonName",
    "PhoneNumber",
    "PostalCode",
    "Rfc3339Timestamp",
    "Source",
    "Ssn",
    "error_details",
    "field_path",
    "is_common_email",
    "parse_rfc3339_timestamp",
    "requires_field",
    "rfc3339_epoch_ms",
    "validation_details",
]

# --- Limits. Documentation cites these names; change a limit here and nowhere else.

NAME_MAX_LENGTH: Final = 100
"""first_name, last_name."""
EMAIL_MAX_LENGTH: Final = 254
"""RFC 5321's practical limit on a forward path."""
PHONE_MAX_LENGTH: Final = 20
"""E.164 needs at most 16 ('+' and 15 digits); the slack only makes the message friendlier."""
IDENTIFIER_MAX_LENGTH: Final = 255
"""customer_id, partner_customer_id."""
SOURCE_MAX_LENGTH: Final = 255
LOYALTY_TIER_MAX_LENGTH: Final = 100
ADDRESS_LINE_MAX_LENGTH: Final = 200
"""street_line1, street_line2, city, state."""
POSTAL_CODE_MAX_LENGTH: Final = 20
TIMESTAMP_MAX_LENGTH: Final = 64
"""Longer than any sane RFC-3339 string; bounds the work spent on a hostile one."""
INTEGER_MAX: Final = 2**63 - 1
"""Amounts and counts must fit a signed 64-bit column."""
JSON_MAX_DEPTH: Final = 32
"""Levels of nesting in a JSON body (the body's own object is the first); the deepest documented
body has 3, metadata values may add some. Checked before parsing (``json_body.py``)."""
METADATA_MAX_KEYS: Final = 50
METADATA_KEY_MIN_LENGTH: Final = 1
METADATA_KEY_MAX_LENGTH: Final = 40
METADATA_VALUE_MAX_CHARS: Final = 500
"""Characters of one value's compact JSON serialization."""
METADATA_MAX_BYTES: Final = 8 * 1024
"""UTF-8 bytes of the whole metadata object's compact JSON serialization."""
LIST_LIMIT_DEFAULT: Final = 10
LIST_LIMIT_MAX: Final = 100
"""``limit`` of every list: 1 to this many rows a page."""
SESSION_TTL_MIN_SECONDS: Final = 60
SESSION_TTL_MAX_SECONDS: Final = 86_400
"""Bounds of a customer session's lifetime, the deployment's default and a caller's choice."""
SSN_MAX_LENGTH: Final = 11

# --- Messages: the text after "<field>: " in an InvalidRequestError's details.

EMAIL_MESSAGE: Final = "must be a well-formed email address"
PHONE_MESSAGE: Final = "must be a valid phone number in E.164 format"
LANGUAGE_MESSAGE: Final = "must be an ISO 639-1 language code"
COUNTRY_MESSAGE: Final = "must be an ISO-3166-1 alpha-3 country code"
CURRENCY_MESSAGE: Final = "must be an ISO-4217 currency code"
TIMESTAMP_MESSAGE: Final = "must be an RFC-3339 timestamp"
SSN_MESSAGE: Final = "must be 9 digits, written 123456789 or 123-45-6789"

# Code tables, read once at import so validating a request never scans pycountry's databases.
_LANGUAGE_CODES: Final = frozenset(
    str(language.alpha_2) for language in pycountry.languages if hasattr(language, "alpha_2")
)
_COUNTRY_CODES: Final = frozenset(str(country.alpha_3) for country in pycountry.countries)
_CURRENCY_CODES: Final = frozenset(str(currency.alpha_3) for currency in pycountry.currencies)

# Error types raised by the validators below; their messages are already clean.
_OWN_ERROR_TYPES: Final = frozenset(
    {
        "email",
        "phone_number",
        "language_code",
        "country_code",
        "currency_code",
        "rfc3339_timestamp",
        "metadata_too_many_keys",
        "metadata_key",
        "metadata_value",
        "metadata_too_large",
        "requires_field",
        "ssn",
    }
)


def _error(error_type: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(error_type, message)


def requires_field(field: str) -> PydanticCustomError:
    """The error for a field sent without the one it depends on: ``"<field>: requires <other>"``.

    Raise it from a ``field_validator`` so the detail names the dependent field.
    """
    return PydanticCustomError("requires_field", "requires {field}", {"field": field})


# --- Validator functions. Each sees a string pydantic has already type- and length-checked.


# The two library checks cost tens of microseconds each, the bulk of validating a full request,
# and a partner sends the same customer's email and phone again at every checkout. The answers
# are pure functions of the string, so a bounded cache (a few MB at most) is safe to share.
_FORMAT_CACHE_SIZE: Final = 4096


# The common address, checked without the library: an ASCII dot-atom local part of letters,
# digits and ``_+-``, and a domain of hostname labels ending in an alphabetic TLD. Every address
# this accepts, the library accepts too (tests/unit/test_validation.py checks it over generated
# ones), and anything else (other local-part characters, Unicode, ``--`` in a label, which
# Punycode and RFC 5891 give meanings to) goes to the library; a new customer's address then
# costs about 1 µs instead of about 35 (BENCHMARKS.md, "The CPU budget per request").
_COMMON_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_SPECIAL_USE_SUFFIXES: Final = tuple(f".{name}" for name in SPECIAL_USE_DOMAIN_NAMES)


def is_common_email(value: str) -> bool:
    """Whether ``value`` is an address of the common shape that the library would accept.

    False means "not known here", not "invalid": the caller asks the library.
    """
    if len(value) > EMAIL_MAX_LENGTH or _COMMON_EMAIL.fullmatch(value) is None:
        return False
    domain = value.partition("@")[2]  # at most 252 characters, within the domain's limit
    return "--" not in domain and not f".{domain.lower()}".endswith(_SPECIAL_USE_SUFFIXES)


@lru_cache(maxsize=_FORMAT_CACHE_SIZE)
def _is_email(value: str) -> bool:
    if is_common_email(value):
        return True
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


@lru_cache(maxsize=_FORMAT_CACHE_SIZE)
def _is_e164_phone(value: str) -> bool:
    if not value.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    # Only the canonical spelling: no spaces, dashes, extensions or non-ASCII digits.
    return bool(
        phonenumbers.is_valid_number(number)
        and phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == value
    )


def _check_email(value: str) -> str:
    if not _is_email(value):
        raise _error("email", EMAIL_MESSAGE)
    # Echo what the caller sent: normalising (case, Unicode) is the domain's decision, not ours.
    return value


def _check_phone(value: str) -> str:
    if not _is_e164_phone(value):
        raise _error("phone_number", PHONE_MESSAGE)
    return value


def _check_language(value: str) -> str:
    if value not in _LANGUAGE_CODES:
        raise _error("language_code", LANGUAGE_MESSAGE)
    return value


def _check_country(value: str) -> str:
    if value not in _COUNTRY_CODES:
        raise _error("country_code", COUNTRY_MESSAGE)
    return value


def _check_currency(value: str) -> str:
    if value not in _CURRENCY_CODES:
        raise _error("currency_code", CURRENCY_MESSAGE)
    return value


# RFC 3339 section 5.6 date-time. "T" and "Z" may be lower case (section 5.6, note); a space
# separator is not part of the grammar and is refused.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_rfc3339_timestamp(value: str) -> datetime:
    """Parse an RFC-3339 date-time into an aware ``datetime``; raise ``ValueError`` otherwise.

    Fractions beyond microseconds are truncated. A leap second (``:60``) is refused: Python's
    ``datetime`` cannot hold one, and refusing it is kinder than silently moving it.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError(f"not an RFC-3339 date-time: {value!r}")
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction, sign, offset_hours, offset_minutes = match.group(7, 8, 9, 10)
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    tz: timezone = UTC
    if sign is not None:
        if int(offset_hours) > 23 or int(offset_minutes) > 59:
            raise ValueError(f"offset out of range: {value!r}")
        offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
        tz = timezone(-offset if sign == "-" else offset)
    # datetime() checks every range (month 1-12, day within the month, hour 0-23, ...).
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=tz)


def rfc3339_epoch_ms(value: str) -> int:
    """An RFC-3339 date-time as epoch milliseconds, rounded up: for a stored (whole) millisecond
    ``x``, ``x >= value`` and ``x < value`` hold exactly when they hold of the result. Raise
    ``ValueError`` when it is not one."""
    moment = parse_rfc3339_timestamp(value)
    micros = (moment - _EPOCH) // timedelta(microseconds=1)
    match = _RFC3339.fullmatch(value)
    assert match is not None  # parsed above
    if (match.group(7) or "")[6:].strip("0"):  # a fraction finer than the parser keeps
        micros += 1
    return -(-micros // 1000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _check_timestamp(value: str) -> str:
    try:
        parse_rfc3339_timestamp(value)
    except ValueError:
        raise _error("rfc3339_timestamp", TIMESTAMP_MESSAGE) from None
    return value  # echoed exactly as sent


# A UTC instant from 1970 to 9999 (a test clock's): every such value is one the API can show
# back, so the schema's pattern says exactly what is accepted. Upper-case T and Z only.
UTC_TIMESTAMP_PATTERN: Final = (
    r"^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?Z$"
)
_UTC_TIMESTAMP_RE = re.compile(UTC_TIMESTAMP_PATTERN, re.ASCII)
UTC_TIMESTAMP_MESSAGE: Final = (
    "must be an RFC-3339 date-time in UTC from 1970 to 9999, e.g. 2031-05-01T09:00:00Z"
)


def _check_utc_timestamp(value: str) -> str:
    if _UTC_TIMESTAMP_RE.fullmatch(value) is None:
        raise _error("utc_timestamp", UTC_TIMESTAMP_MESSAGE)
    try:
        parse_rfc3339_timestamp(value)  # a real date: no 31 April
    except ValueError:
        raise _error("utc_timestamp", UTC_TIMESTAMP_MESSAGE) from None
    return value


def utc_epoch_ms(value: str) -> int:
    """An RFC-3339 date-time (a ``UtcTimestamp``; the CLI's may have an offset) as epoch
    milliseconds, finer fractions dropped (so the last millisecond of 9999 is still one);
    ``ValueError`` if it is not one."""
    return (parse_rfc3339_timestamp(value) - _EPOCH) // timedelta(milliseconds=1)


def _check_ssn(value: str) -> str:
    try:
        normalize_ssn(value)
    except ValueError:
        raise _error("ssn", SSN_MESSAGE) from None
    return value  # normalised only where it is hashed, so no other copy is made


def _compact_json(value: Any) -> str:
    # allow_nan=False: NaN and Infinity parse (pydantic accepts them) but are not JSON.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _check_metadata_key_count(value: Any) -> Any:
    # Before item validation, so a 10,000-key object costs one len() and yields one detail.
    if isinstance(value, dict) and len(value) > METADATA_MAX_KEYS:
        raise _error("metadata_too_many_keys", f"must have at most {METADATA_MAX_KEYS} keys")
    return value


def _check_metadata_key(key: str) -> str:
    if len(key) < METADATA_KEY_MIN_LENGTH:
        raise _error("metadata_key", "keys must not be empty")
    if len(key) > METADATA_KEY_MAX_LENGTH:
        raise _error("metadata_key", f"key must be at most {METADATA_KEY_MAX_LENGTH} characters")
    return key


def _check_metadata_value(value: Any) -> Any:
    try:
        serialized = _compact_json(value)
    except (TypeError, ValueError):
        raise _error("metadata_value", "value must be a JSON value") from None
    if len(serialized) > METADATA_VALUE_MAX_CHARS:
        raise _error(
            "metadata_value",
            f"value must be at most {METADATA_VALUE_MAX_CHARS} characters when serialized",
        )
    return value


def _check_metadata_size(value: dict[str, Any]) -> dict[str, Any]:
    if len(_compact_json(value).encode()) > METADATA_MAX_BYTES:
        raise _error(
            "metadata_too_large", f"must be at most {METADATA_MAX_BYTES} bytes when serialized"
        )
    return value


# --- The types. Strings and integers are strict: 1 is not a string, "1", 1.5 and true are not
# integers. Length limits run before the format check, so a hostile value is cut short cheaply.


def _check_no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000 (SQLite can): refuse it everywhere, the same on both.
    if "\x00" in value:
        raise _error("string_nul", "must not contain NUL characters")
    return value


_NoNul = AfterValidator(_check_no_nul)
_NO_NUL_PATTERN = {"pattern": "^[^\u0000]*$"}  # what _NoNul refuses, as the schema says it

Identifier = Annotated[
    str,
    Field(
        strict=True,
        min_length=1,
        max_length=IDENTIFIER_MAX_LENGTH,
        json_schema_extra=_NO_NUL_PATTERN,
    ),
    _NoNul,
]
"""An opaque identifier: customer_id, partner_customer_id."""


DESCRIPTION_MAX_LENGTH = 500
SANDBOX_NAME_MAX_LENGTH = 200
# Words of the caller's own: 1 to N characters of anything but NUL (lengths checked first, so
# their messages are the usual ones).
Description = Annotated[
    str,
    Field(
        strict=True,
        min_length=1,
        max_length=DESCRIPTION_MAX_LENGTH,
        json_schema_extra=_NO_NUL_PATTERN,
    ),
    _NoNul,
]
"""What a webhook endpoint is for, in the partner's words."""
SandboxName = Annotated[
    str,
    Field(
        strict=True,
        min_length=1,
        max_length=SANDBOX_NAME_MAX_LENGTH,
        json_schema_extra=_NO_NUL_PATTERN,
    ),
    _NoNul,
]
"""What a throwaway sandbox is for (a CI job)."""

PersonName = Annotated[
    str, Field(strict=True, max_length=NAME_MAX_LENGTH, json_schema_extra=_NO_NUL_PATTERN), _NoNul
]
Source = Annotated[
    str, Field(strict=True, max_length=SOURCE_MAX_LENGTH, json_schema_extra=_NO_NUL_PATTERN), _NoNul
]
LoyaltyTier = Annotated[
    str,
    Field(strict=True, max_length=LOYALTY_TIER_MAX_LENGTH, json_schema_extra=_NO_NUL_PATTERN),
    _NoNul,
]
AddressLine = Annotated[
    str,
    Field(strict=True, max_length=ADDRESS_LINE_MAX_LENGTH, json_schema_extra=_NO_NUL_PATTERN),
    _NoNul,
]
"""street_line1, street_line2, city, state."""
PostalCode = Annotated[
    str,
    Field(strict=True, max_length=POSTAL_CODE_MAX_LENGTH, json_schema_extra=_NO_NUL_PATTERN),
    _NoNul,
]

EmailAddress = Annotated[
    str,
    Field(strict=True, max_length=EMAIL_MAX_LENGTH, json_schema_extra={"format": "email"}),
    AfterValidator(_check_email),
]
"""A well-formed address (syntax only, no DNS), echoed as sent."""

PhoneNumber = Annotated[
    str,
    # The pattern is E.164's shape; the number must also be a valid one (phonenumbers), which no
    # pattern can say.
    Field(
        strict=True,
        max_length=PHONE_MAX_LENGTH,
        json_schema_extra={"pattern": r"^\+[1-9][0-9]{1,14}$"},
    ),
    AfterValidator(_check_phone),
]
"""A valid number in canonical E.164 spelling, e.g. ``+14155552671``."""

# The code lists are published as enums: a client learns the valid codes from the spec.
LanguageCode = Annotated[
    str,
    Field(strict=True, json_schema_extra={"enum": sorted(_LANGUAGE_CODES)}),
    AfterValidator(_check_language),
]
"""ISO 639-1, lower case only (``en``)."""

CountryCode = Annotated[
    str,
    Field(strict=True, json_schema_extra={"enum": sorted(_COUNTRY_CODES)}),
    AfterValidator(_check_country),
]
"""ISO-3166-1 alpha-3, upper case only (``USA``)."""

CurrencyCode = Annotated[
    str,
    Field(strict=True, json_schema_extra={"enum": sorted(_CURRENCY_CODES)}),
    AfterValidator(_check_currency),
]
"""ISO-4217, upper case only (``USD``)."""

Ssn = Annotated[
    str,
    Field(
        strict=True,
        max_length=SSN_MAX_LENGTH,
        json_schema_extra={"pattern": "^([0-9]{9}|[0-9]{3}-[0-9]{2}-[0-9]{4})$"},
    ),
    AfterValidator(_check_ssn),
]
"""A full US Social Security number, with or without dashes. Never stored, logged or echoed."""

Rfc3339Timestamp = Annotated[
    str,
    Field(strict=True, max_length=TIMESTAMP_MAX_LENGTH, json_schema_extra={"format": "date-time"}),
    AfterValidator(_check_timestamp),
]
"""A full RFC-3339 date-time with ``Z`` or an offset, kept as the string sent."""

UtcTimestamp = Annotated[
    str,
    Field(
        strict=True,
        max_length=TIMESTAMP_MAX_LENGTH,
        json_schema_extra={"format": "date-time", "pattern": UTC_TIMESTAMP_PATTERN},
    ),
    AfterValidator(_check_utc_timestamp),
]
"""An RFC-3339 date-time in UTC (``Z``), 1970 to 9999: ``utc_epoch_ms`` reads it."""


def _whole_float_as_int(value: Any) -> Any:
    # JSON Schema's "integer" is any number with a zero fraction: 5.0 is the integer 5 (a client
    # may serialise it so). A fraction, a string or a boolean is still refused by strict int.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInteger = BeforeValidator(_whole_float_as_int)
"""Put before a strict ``int``: accept what JSON Schema calls an integer, and only that."""

NonNegativeInteger = Annotated[
    int,
    Field(strict=True, ge=0, le=INTEGER_MAX),
    JsonInteger,
    # The bound is stated as a format: FastAPI renders "maximum" as a float, which rounds
    # 2**63-1 up to 2**63 and would advertise a value we refuse.
    WithJsonSchema({"type": "integer", "format": "int64", "minimum": 0}),
]
"""A JSON integer in 0..2**63-1: amounts in minor units, counts, months."""

_MetadataKey = Annotated[str, Field(strict=True), AfterValidator(_check_metadata_key)]
# Any rather than pydantic's JsonValue: JsonValue leaves a stray "JsonValue" component in
# FastAPI's OpenAPI. JSON input can only produce JSON values, and the value check refuses the rest.
_MetadataValue = Annotated[Any, AfterValidator(_check_metadata_value)]

# Metadata: a JSON object of at most METADATA_MAX_KEYS keys, each of METADATA_KEY_MIN_LENGTH to
# METADATA_KEY_MAX_LENGTH characters; each value's compact JSON at most METADATA_VALUE_MAX_CHARS
# characters, the whole object's at most METADATA_MAX_BYTES bytes.
Metadata = Annotated[
    dict[_MetadataKey, _MetadataValue],
    BeforeValidator(_check_metadata_key_count),
    AfterValidator(_check_metadata_size),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": True,
            "maxProperties": METADATA_MAX_KEYS,
            "propertyNames": {
                "minLength": METADATA_KEY_MIN_LENGTH,
                "maxLength": METADATA_KEY_MAX_LENGTH,
            },
        }
    ),
]


# --- Rendering a ValidationError as the seed's details list.

# Path segments longer than this (only hostile metadata keys can be) are cut in the details.
_MAX_PATH_SEGMENT: Final = METADATA_KEY_MAX_LENGTH

_PLAIN_MESSAGES: Final = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be a boolean",
    "bool_parsing": "must be a boolean",
    "list_type": "must be an array",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "extra_forbidden": "is not allowed",
    "string_pattern_mismatch": "has an invalid format",
    "string_unicode": "must be valid Unicode",
    "uuid_type": "must be a UUID",
    "uuid_parsing": "must be a UUID",
}


def _message(error_type: str, ctx: dict[str, Any], pydantic_message: str) -> str:
    if error_type in _OWN_ERROR_TYPES:
        return pydantic_message
    if error_type in _PLAIN_MESSAGES:
        return _PLAIN_MESSAGES[error_type]
    if error_type == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if error_type == "string_too_short":
        if ctx["min_length"] == 1:
            return "must not be empty"
        return f"must be at least {ctx['min_length']} characters"
    if error_type in ("too_long", "too_short"):
        unit = "keys" if ctx.get("field_type") == "Dictionary" else "items"
        bound = "most" if error_type == "too_long" else "least"
        limit = ctx["max_length"] if error_type == "too_long" else ctx["min_length"]
        return f"must have at {bound} {limit} {unit}"
    comparisons = {
        "greater_than_equal": ("greater than or equal to", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("less than or equal to", "le"),
        "less_than": ("less than", "lt"),
    }
    if error_type in comparisons:
        phrase, key = comparisons[error_type]
        return f"must be {phrase} {ctx[key]}"
    if error_type in ("literal_error", "enum"):
        return f"must be one of {ctx['expected']}"
    # Anything else: pydantic's own sentence, reworded into the same register.
    for prefix in ("Value error, ", "Assertion failed, "):
        pydantic_message = pydantic_message.removeprefix(prefix)
    pydantic_message = pydantic_message.replace("Input should be", "must be", 1)
    return pydantic_message[:1].lower() + pydantic_message[1:]


def field_path(loc: tuple[int | str, ...]) -> str:
    """``loc`` (keys and indexes from the body down) as a detail's path: ``a.b[0].c``."""
    return _path(loc)


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for segment in loc:
        if isinstance(segment, int):
            path += f"[{segment}]"
        elif segment and segment != "[key]":  # "[key]" marks an error in a dict key
            if len(segment) > _MAX_PATH_SEGMENT:
                segment = segment[:_MAX_PATH_SEGMENT] + "..."
            path = f"{path}.{segment}" if path else segment
    return path or "body"


def _json_invalid(reason: str) -> str:
    # json_body.py names these with their path (and the depth with its limit) before pydantic
    # sees the bytes; these are the fallbacks, for bytes validated without it.
    if reason.startswith("recursion limit exceeded"):
        return "nested too deeply"
    if reason.startswith("number out of range"):
        return "number out of range"
    return "must be valid JSON"


def validation_details(exc: ValidationError) -> list[str]:
    """Render every error in ``exc`` as the seed's ``"<dotted.path>: <message>"`` details.

    Works for errors from ``model_validate_json`` as well as ``model_validate``. Errors about the
    body as a whole are reported against ``body``.
    """
    return error_details(exc.errors(include_url=False, include_input=False))


def error_details(errors: Iterable[Mapping[str, Any]]) -> list[str]:
    """``validation_details`` for errors already listed (FastAPI's parameter errors, say)."""
    details: dict[str, None] = {}  # ordered set: one line per distinct problem
    for error in errors:
        loc, error_type = tuple(error["loc"]), error["type"]
        if not loc and error_type == "json_invalid":
            detail = f"body: {_json_invalid(str((error.get('ctx') or {}).get('error', '')))}"
        elif not loc and error_type in ("model_type", "model_attributes_type", "dict_type"):
            detail = "body: must be a JSON object"
        else:
            detail = f"{_path(loc)}: {_message(error_type, error.get('ctx') or {}, error['msg'])}"
        details[detail] = None
    return list(details)
