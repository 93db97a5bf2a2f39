"""SSRF rules for webhook targets: literal addresses, URL forms, a stub resolver (no real DNS)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from imprint_sessions.config import Settings
from imprint_sessions.errors import InvalidRequest
from imprint_sessions.webhooks.targets import TargetPolicy, TargetRefused, address_refusal
from imprint_sessions.webhooks.transport import VettedTransport
from webhook_receiver import receiving

REFUSED_EVERYWHERE = [
    "169.254.169.254",  # AWS, GCP, Azure metadata
    "fd00:ec2::254",  # AWS metadata over IPv6
    "169.254.10.20",  # link-local
    "fe80::1",
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "255.255.255.255",
    "240.0.0.1",
    "::ffff:169.254.169.254",  # IPv4-mapped metadata
    "0.1.2.3",  # "this network": reaches the local host on Linux
    "::ffff:169.254.1.1",  # IPv4-mapped link-local
]
LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "::127.0.0.1"]
PRIVATE = [
    "10.0.0.1",
    "172.16.5.4",
    "172.31.255.255",
    "192.168.1.1",
    "100.64.0.1",  # CGNAT
    "100.127.255.254",
    "fd12:3456::1",  # IPv6 ULA
    "fc00::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::10.0.0.1",  # IPv4-compatible
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo whose client is 10.0.0.1
    "192.0.2.10",  # documentation (not global)
    "198.18.0.1",  # benchmarking
]
REFUSED_IN_PRODUCTION = LOOPBACK + PRIVATE
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", REFUSED_EVERYWHERE)
def test_metadata_link_local_and_reserved_addresses_are_refused_in_both_modes(
    address: str,
) -> None:
    for production in (True, False):
        for allow_private in (True, False):
            assert (
                address_refusal(address, production=production, allow_private=allow_private)
                is not None
            ), (production, allow_private)


@pytest.mark.parametrize("address", REFUSED_IN_PRODUCTION)
def test_loopback_private_and_embedded_private_addresses_are_refused_in_production(
    address: str,
) -> None:
    assert address_refusal(address, production=True) is not None


@pytest.mark.parametrize("address", LOOPBACK)
def test_the_sandbox_allows_loopback(address: str) -> None:
    assert address_refusal(address, production=False) is None


@pytest.mark.parametrize("address", PRIVATE)
def test_private_shared_and_embedded_private_addresses_are_refused_in_the_sandbox_by_default(
    address: str,
) -> None:
    assert address_refusal(address, production=False) is not None


# NAT64 stays refused: its prefix lies in the reserved ::/8, whatever it embeds.
@pytest.mark.parametrize("address", [a for a in PRIVATE if not a.startswith("64:ff9b:")])
def test_allowing_private_targets_admits_private_addresses_in_both_modes(address: str) -> None:
    assert address_refusal(address, production=False, allow_private=True) is None
    assert address_refusal(address, production=True, allow_private=True) is None


@pytest.mark.parametrize("address", LOOPBACK)
def test_allowing_private_targets_never_admits_loopback_in_production(address: str) -> None:
    assert address_refusal(address, production=True, allow_private=True) == "a loopback address"


def test_the_policy_follows_the_settings(tmp_path: Path) -> None:
    sandbox = TargetPolicy.for_settings(Settings(data_dir=tmp_path))
    assert (sandbox.production, sandbox.allow_private) == (False, False)
    allowing = Settings(data_dir=tmp_path, webhook_allow_private_targets=True)
    assert TargetPolicy.for_settings(allowing).allow_private


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed_in_production(address: str) -> None:
    assert address_refusal(address, production=True) is None


def test_the_refusal_names_the_kind_of_address() -> None:
    assert address_refusal("169.254.169.254", production=True) == "a cloud metadata address"
    assert address_refusal("127.0.0.1", production=True) == "a loopback address"
    assert address_refusal("10.1.2.3", production=True) == "a private address"
    assert address_refusal("100.64.0.1", production=True) == "a shared (CGNAT) address"
    assert address_refusal("10.1.2.3", production=False) == "a private address"
    assert address_refusal("fd12::1", production=False) == "a private address"


def resolver_of(answers: dict[str, list[str]]) -> TargetPolicy:
    async def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return TargetPolicy(production=True, resolver=resolve)


async def test_a_host_resolving_only_to_public_addresses_is_accepted() -> None:
    policy = resolver_of({"hooks.example.com": ["93.184.216.34", "2606:4700:4700::1111"]})
    await policy.check_url("https://hooks.example.com/imprint")


@pytest.mark.parametrize(
    "addresses",
    [["10.0.0.5"], ["93.184.216.34", "127.0.0.1"], ["169.254.169.254"], ["::ffff:192.168.0.1"]],
)
async def test_a_host_with_any_forbidden_address_is_refused(addresses: list[str]) -> None:
    policy = resolver_of({"rebind.example.com": addresses})
    with pytest.raises(InvalidRequest) as raised:
        await policy.check_url("https://rebind.example.com/hook")
    assert raised.value.details[0].startswith("url: resolves to ")


async def test_an_unresolvable_host_is_refused_in_production_and_accepted_in_the_sandbox() -> None:
    async def nowhere(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(InvalidRequest, match="does not resolve"):
        await TargetPolicy(production=True, resolver=nowhere).check_url("https://nx.example/")
    await TargetPolicy(production=False, resolver=nowhere).check_url("http://receiver:8080/")


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://hooks.example.com/", "url: must be an https URL"),
        ("ftp://hooks.example.com/", "url: must be an https URL"),
        ("https://user:pass@hooks.example.com/", "url: must not contain credentials"),
        ("https://hooks.example.com/#frag", "url: must not contain a fragment"),
        ("https:///nohost", "url: must name a host"),
        ("https://hooks.example.com:99999/", "url: has an invalid port"),
        ("https://hooks.example.com/a b", "url: must not contain spaces"),
        ("https://hooks.example.com/" + "a" * 2100, "url: must be at most 2048 characters"),
    ],
)
async def test_malformed_or_insecure_urls_are_refused_in_production(url: str, detail: str) -> None:
    policy = resolver_of({"hooks.example.com": ["93.184.216.34"]})
    with pytest.raises(InvalidRequest) as raised:
        await policy.check_url(url)
    assert any(d.startswith(detail) for d in raised.value.details), raised.value.details


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://[::1]/hook",
        "https://10.0.0.7/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://2130706433/hook",  # 127.0.0.1 as one number; resolved without DNS
        "https://0x7f000001/hook",
        "https://localhost/hook",
    ],
)
async def test_literal_and_disguised_internal_hosts_are_refused_in_production(url: str) -> None:
    # The system resolver answers these from the literal (or /etc/hosts): no DNS query leaves.
    with pytest.raises(InvalidRequest):
        await TargetPolicy(production=True).check_url(url)


async def test_the_sandbox_accepts_http_on_localhost() -> None:
    await TargetPolicy(production=False).check_url("http://localhost:8080/hooks")
    await TargetPolicy(production=False).check_url("http://127.0.0.1:8080/hooks")


async def test_the_worker_transport_refuses_a_loopback_target_in_production_at_send_time() -> None:
    """The check at connect time: even a URL that slipped past registration is never reached."""
    with receiving() as receiver:
        transport = VettedTransport(TargetPolicy(production=True), max_connections=1)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(TargetRefused, match="loopback"):
                await client.post(receiver.url, content=b"{}")
        assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://192.168.1.1:8080/hooks",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://169.254.10.20/",
        "http://[fe80::1]/",
    ],
)
async def test_the_sandbox_refuses_private_and_link_local_literals_at_registration(
    url: str,
) -> None:
    # Literals: the system resolver answers from the address itself, nothing leaves the host.
    with pytest.raises(InvalidRequest) as raised:
        await TargetPolicy(production=False).check_url(url)
    assert raised.value.details[0].startswith("url: resolves to "), raised.value.details


async def test_the_sandbox_refuses_a_name_resolving_to_a_private_address() -> None:
    async def internal(host: str, port: int) -> list[str]:
        return ["10.20.30.40"]

    with pytest.raises(InvalidRequest, match="url: resolves to a private address"):
        await TargetPolicy(production=False, resolver=internal).check_url("http://intranet/")
    await TargetPolicy(production=False, resolver=internal, allow_private=True).check_url(
        "http://intranet/"
    )


async def test_the_worker_transport_refuses_a_private_address_in_the_sandbox_unconnected(
    loopback_only: list[str],
) -> None:
    """A name that resolved to a public address at registration and to a private one now."""
    resolved: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["10.0.0.1"]

    transport = VettedTransport(
        TargetPolicy(production=False, resolver=rebinding), max_connections=1
    )
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(TargetRefused, match="private"):
            await client.post("http://hooks.partner.test/imprint", content=b"{}")
    assert resolved == ["hooks.partner.test"]  # resolved once and refused
    assert loopback_only == []  # never connected


async def test_the_worker_transport_connects_to_the_vetted_address_in_the_sandbox() -> None:
    with receiving() as receiver:
        transport = VettedTransport(TargetPolicy(production=False), max_connections=1)
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.post(f"http://localhost:{receiver.port}/hooks", content=b"{}")
        assert response.status_code == 200
        assert len(receiver.received) == 1
        assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"
