"""Every credential and id is unique, in its documented format, and drawn from the OS's CSPRNG."""

from __future__ import annotations

import ast
import base64
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import imprint_sessions
from conftest import TEST_SECRET_KEY
from imprint_sessions.credentials import SecretBox, mint_api_key, mint_otp_code, new_id
from imprint_sessions.domain import audit
from imprint_sessions.middleware import new_request_id

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("secret-quality")]

# None of what this module mints is remembered in the leak registry (_REGISTRY): it is made in
# this process and never sent, logged or stored, so it cannot leak; 470,000 more credentials
# would swell the end-of-suite sweep's index (every form of every credential) to prove nothing.
COUNT = 200_000
SRC = Path(imprint_sessions.__file__).resolve().parent  # the package the tests import
BOX = SecretBox([TEST_SECRET_KEY.encode()])
LAST_OF_4_BYTES_MOD_3 = "[AEIMQUYcgkosw048]"  # a base64url digit whose 2 low bits are padding

# The formats as README.md and credentials.py document them, as strict as they can be written.
ID_FORMAT = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}")
CLIENT_SECRET_FORMAT = re.compile(r"ics_([0-9a-f]{8})_([A-Za-z0-9_-]{64})")  # 48 bytes
API_KEY_FORMAT = {
    "sandbox": re.compile(rf"isk_test_([A-Za-z0-9_-]{{42}}{LAST_OF_4_BYTES_MOD_3})"),  # 32 bytes
    "production": re.compile(rf"isk_live_([A-Za-z0-9_-]{{42}}{LAST_OF_4_BYTES_MOD_3})"),
}
ACCESS_TOKEN_FORMAT = re.compile(rf"ict_([A-Za-z0-9_-]{{122}}{LAST_OF_4_BYTES_MOD_3})")  # 92 bytes


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def assert_looks_uniform(samples: list[bytes]) -> None:
    """No stuck byte: each byte position's mean within 6 standard errors of 127.5, and the count
    of one bits within 6 standard deviations of half. A fair generator fails one of this
    module's checks about once in ten million runs."""
    n = len(samples)
    standard_error = math.sqrt((256**2 - 1) / 12 / n)
    for position, column in enumerate(zip(*samples, strict=True)):
        assert abs(sum(column) / n - 127.5) < 6 * standard_error, position
    bits = n * len(samples[0]) * 8
    ones = sum(int.from_bytes(sample, "big").bit_count() for sample in samples)
    assert abs(ones - bits / 2) < 6 * math.sqrt(bits) / 2, (ones, bits)


@pytest.fixture(scope="module")
def session_ids() -> list[str]:
    """200,000 new session ids, as create-session makes them (``new_id()``)."""
    started = time.perf_counter()
    made = [new_id() for _ in range(COUNT)]
    print(f"\n[secret quality] {COUNT} ids minted in {time.perf_counter() - started:.1f} s")
    return made


def test_two_hundred_thousand_client_secrets_are_distinct_and_well_formed(
    session_ids: list[str],
) -> None:
    # What create-session does: its secret derived from the new id under the current key.
    started = time.perf_counter()
    client_secrets = [BOX.client_secret(i, BOX.current_kid) or "" for i in session_ids]
    elapsed = time.perf_counter() - started
    assert len(set(session_ids)) == COUNT
    assert len(set(client_secrets)) == COUNT
    assert all(ID_FORMAT.fullmatch(i) for i in session_ids)
    raw_ids = []
    for secret in client_secrets:
        match = CLIENT_SECRET_FORMAT.fullmatch(secret)
        assert match, secret[:12]
        assert match.group(1) == BOX.current_kid
        raw_ids.append(unb64(match.group(2))[:16])
    for i in range(0, COUNT, 100):  # a 1% sample: each names its session and verifies
        assert raw_ids[i] == uuid.UUID(session_ids[i]).bytes
        assert BOX.verify_client_secret(client_secrets[i]) == session_ids[i]
    # The random part of a v4 UUID: bytes 6 and 8 carry the version and variant bits.
    assert_looks_uniform([r[:6] + r[9:] for r in raw_ids])
    print(f"\n[secret quality] {COUNT} client secrets minted in {elapsed:.1f} s, 0 duplicates")


@pytest.mark.parametrize(("env", "count"), [("sandbox", COUNT), ("production", COUNT // 10)])
def test_api_keys_are_distinct_and_well_formed(env: str, count: int) -> None:
    """200,000 sandbox keys; production keys differ only in their prefix, 20,000 of them."""
    started = time.perf_counter()
    keys = [mint_api_key(env) for _ in range(count)]
    elapsed = time.perf_counter() - started
    assert len(set(keys)) == count
    raws = []
    for key in keys:
        match = API_KEY_FORMAT[env].fullmatch(key)
        assert match, key[:12]
        raws.append(unb64(match.group(1)))
    assert {len(r) for r in raws} == {32}
    assert_looks_uniform(raws)
    print(f"\n[secret quality] {count} {env} API keys minted in {elapsed:.1f} s, 0 duplicates")


def test_fifty_thousand_access_tokens_are_distinct_and_well_formed(
    session_ids: list[str],
) -> None:
    # One customer of one partner with 50,000 sessions, each exchanged at the same instant: the
    # session id is all that differs. (A token costs three UUID parses and an HMAC: 50,000 keep
    # the module under 20 s on a loaded machine.)
    count, expires_at, customer_id, partner_id = COUNT // 4, 1_800_000_000_000, new_id(), new_id()
    started = time.perf_counter()
    tokens = [
        BOX.client_token(
            customer_session_id=session_id,
            customer_id=customer_id,
            partner_id=partner_id,
            expires_at=expires_at,
        )
        for session_id in session_ids[:count]
    ]
    elapsed = time.perf_counter() - started
    assert len(set(tokens)) == count
    assert all(ACCESS_TOKEN_FORMAT.fullmatch(t) for t in tokens)
    claims = [BOX.verify_client_token(t) for t in tokens[::100]]
    assert all(c is not None and c.expires_at == expires_at for c in claims)
    print(f"\n[secret quality] {count} access tokens minted in {elapsed:.1f} s, 0 duplicates")


# -- produced only by a cryptographic generator ---------------------------------------------------
# Modules that may import `random`, each for a use that mints nothing, and the names they may use.
RANDOM_ALLOWED = {
    # Retry jitter from random.SystemRandom() (the OS generator); `Random` is the parameter's type
    # so tests can pass a seeded one.
    "webhooks/worker.py": {"Random", "SystemRandom"},
    # A 1-in-N decision to sweep expired idempotency records: not a secret, not an id.
    "domain/idempotency.py": {"randrange"},
}
# Every use of a randomness or id source in src/ must be one of these (uuid.UUID parses ids).
# `secrets.randbits` is the OS generator too (SystemRandom): the audit log's ids (domain/audit.py)
# are UUIDv7, time-ordered on purpose so the log pages in order, with 62 bits from it. They are
# not credentials and are never parsed as session ids (tests/unit/test_audit.py); their random
# part is checked below like every other id's.
SOURCES_ALLOWED = {
    "secrets": {"token_urlsafe", "token_hex", "token_bytes", "randbelow", "randbits", "choice"},
    "uuid": {"uuid4", "UUID"},
}


def src_modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield str(path.relative_to(SRC)), ast.parse(path.read_text())


def random_uses(tree: ast.Module) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "random"
    }


def offences(name: str, tree: ast.Module) -> list[str]:
    """What in one module could mint an id or a secret from something other than the OS's
    generator: `random` (outside ``RANDOM_ALLOWED``), time- or name-based UUIDs (uuid1, uuid3,
    uuid5, getnode), any other attribute of `secrets`/`uuid`, or names imported out of them
    (which would hide the calls from this check)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if "random" in alias.name.split(".") and name not in RANDOM_ALLOWED:
                    found.append(f"{name}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] in ("random", "uuid", "secrets", "numpy") or "random" in parts:
                found.append(f"{name}: from {node.module} import ...")
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in SOURCES_ALLOWED
            and node.attr not in SOURCES_ALLOWED[node.value.id]
        ):
            found.append(f"{name}: {node.value.id}.{node.attr}")
    extra = random_uses(tree) - RANDOM_ALLOWED.get(name, set())
    if extra:
        found.append(f"{name}: random.{sorted(extra)}")
    return found


def test_audit_ids_carry_62_uniform_bits_from_the_os_beside_their_time() -> None:
    """The audit log's UUIDv7 ids: distinct, and the 62 bits after the variant look uniform."""
    made = [audit.ordered_id() for _ in range(50_000)]
    assert len(set(made)) == len(made)
    low = [uuid.UUID(i).int & ((1 << 62) - 1) for i in made]
    # Top two bytes of the 62 bits are 6 bits wide; use the low 56 bits (7 whole bytes).
    assert_looks_uniform([(v & ((1 << 56) - 1)).to_bytes(7, "big") for v in low])


def test_no_module_draws_ids_or_secrets_from_a_non_cryptographic_or_time_based_source() -> None:
    assert [o for name, tree in src_modules() for o in offences(name, tree)] == []
    # The allowance is no wider than needed: each listed module still uses exactly that.
    for name, allowed in RANDOM_ALLOWED.items():
        assert random_uses(ast.parse((SRC / name).read_text())) == allowed, name


@pytest.mark.parametrize(
    "planted",
    [
        "import random\nsession_id = str(random.getrandbits(128))",
        "import uuid\nsession_id = str(uuid.uuid1())",
        "import uuid\nnode = uuid.getnode()",
        "from random import getrandbits",
        "from uuid import uuid1",
        "import numpy.random",
        "import secrets\nrng = secrets.SystemRandom()",
    ],
)
def test_the_source_check_sees_a_planted_generator(planted: str) -> None:
    """The check itself can fail (`secrets.SystemRandom` is safe, but must be added on purpose)."""
    assert offences("planted.py", ast.parse(planted))


def mint_everything(count: int) -> list[str]:
    """A batch of every id and credential the service mints, through the real functions."""
    minted: list[str] = []
    for _ in range(count):
        session_id = new_id()
        secret = BOX.client_secret(session_id, BOX.current_kid)
        assert secret is not None
        webhook_secret = BOX.webhook_secret(new_id(), 1, BOX.current_kid)
        assert webhook_secret is not None
        minted += [
            session_id,
            secret,
            mint_api_key("sandbox"),
            mint_api_key("production"),
            BOX.client_token(
                customer_session_id=session_id,
                customer_id=new_id(),
                partner_id=new_id(),
                expires_at=1_800_000_000_000,
            ),
            webhook_secret,
            new_request_id(),
            mint_otp_code(),
        ]
    return minted


def _refuse(*_: object, **__: object) -> None:
    raise AssertionError("a non-cryptographic generator was used")


def test_minting_works_with_the_mersenne_twister_disabled_and_frozen_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Patches only the standard library: every entry point of `random`'s seeded generator
    raises, and the clock stands still; minting still works and repeats nothing."""
    for name in (
        "random",
        "getrandbits",
        "randbytes",
        "randrange",
        "randint",
        "choice",
        "choices",
        "sample",
        "shuffle",
        "uniform",
    ):
        monkeypatch.setattr(random, name, _refuse)
    # random.Random's own methods (SystemRandom overrides all three with os.urandom).
    for name in ("random", "getrandbits", "randbytes"):
        monkeypatch.setattr(random.Random, name, _refuse)
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)
    monkeypatch.setattr(time, "time_ns", lambda: 1_700_000_000 * 10**9)
    first, second = mint_everything(500), mint_everything(500)
    unique_kinds = [m for i, m in enumerate(first + second) if i % 8 != 7]  # not the 6-digit codes
    assert len(set(unique_kinds)) == len(unique_kinds)


def test_every_id_and_credential_draws_its_entropy_from_the_os(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counts the bytes read from ``os.urandom`` (also as ``random._urandom``, the name
    ``random.SystemRandom`` and so ``secrets`` read it by): each mint reads at least its entropy."""
    drawn = [0]
    real_urandom = os.urandom

    def counting_urandom(size: int) -> bytes:
        drawn[0] += size
        return real_urandom(size)

    monkeypatch.setattr(os, "urandom", counting_urandom)
    monkeypatch.setattr(random, "_urandom", counting_urandom)

    def bytes_drawn_by(mint: Callable[[], object]) -> int:
        before = drawn[0]
        mint()
        return drawn[0] - before

    assert bytes_drawn_by(new_id) >= 16
    assert bytes_drawn_by(lambda: mint_api_key("production")) >= 32
    assert bytes_drawn_by(new_request_id) >= 12
    assert bytes_drawn_by(mint_otp_code) >= 3  # 20 bits
    # Secrets, tokens and webhook secrets are MACs of new ids: their entropy is the id's.
    assert bytes_drawn_by(lambda: BOX.client_secret(new_id(), BOX.current_kid)) >= 16
    assert bytes_drawn_by(lambda: BOX.webhook_secret(new_id(), 1, BOX.current_kid)) >= 16
