"""Keeping credentials out of every ``repr``, exception text and log line the client writes."""

from __future__ import annotations

import re

# Anything that starts like one of the service's credentials: API keys (isk_test_/isk_live_),
# client secrets (ics_), client credentials (ict_) and webhook signing secrets (whsec_). Looser
# than the minted formats on purpose: a truncated key still carries most of its entropy.
_CREDENTIAL_RE = re.compile(
    r"(isk_(?:test|live)_|ics_|(?<![A-Za-z0-9_])ict_|whsec_)[A-Za-z0-9_+/=-]{8,}"
)
_PREFIX_RE = re.compile(r"isk_(?:test|live)_|ics_|ict_|whsec_")
MASK = "****"


def redact(text: str) -> str:
    """``text`` with every credential-shaped substring cut down to its prefix."""
    return _CREDENTIAL_RE.sub(lambda match: match.group(1) + MASK, text)


def mask(secret: object) -> str:
    """What a ``repr`` shows of a secret: its kind (the prefix), never a character of the rest."""
    if not isinstance(secret, str):
        return MASK
    prefix = _PREFIX_RE.match(secret)
    return (prefix.group(0) if prefix else "") + MASK
