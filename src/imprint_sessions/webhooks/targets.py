"""Which webhook URLs may be registered and which addresses may be sent to (SSRF protection).

Checked twice: when an endpoint is registered (the URL, and every address its host resolves to)
and again on every connection the worker opens (``transport.py`` resolves the host itself, vets
each address and connects to a vetted one, so a DNS answer that changes after registration, or
between the check and the connect, cannot aim the worker at an internal service).

- Always refused: cloud metadata addresses (169.254.169.254, fd00:ec2::254), link-local,
  unspecified ("this network", 0.0.0.0/8), multicast, broadcast and reserved addresses; URLs
  with credentials or a fragment.
- Private (RFC 1918, IPv6 ULA fc00::/7), shared (CGNAT 100.64/10) and every other non-global
  address are refused in both modes, including IPv4 addresses embedded in IPv6 forms
  (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo), unless the deployment allows them
  (``IMPRINT_WEBHOOK_ALLOW_PRIVATE_TARGETS``: a receiver on a container network). A sandbox
  shared by a team must not be a way into the team's internal network.
- Production also refuses plain ``http`` and loopback; the sandbox allows both (a receiver on
  the developer's own machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from imprint_sessions.config import Settings
from imprint_sessions.errors import InvalidRequest

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""``(host, port) -> addresses``: the IP addresses a host name stands for."""

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_CHARS = 2048
_METADATA = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "0.1.2.3" reaches the local host on Linux
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class TargetRefused(Exception):
    """A webhook target that must not be contacted; the message says why (safe to record)."""


class Unresolvable(TargetRefused):
    def __init__(self, why: str = "host does not resolve") -> None:
        super().__init__(why)


# The OS resolver's own give-up time is 5 s per try, twice (resolv.conf defaults): a registration
# must not hang that long on a slow nameserver, nor a delivery attempt spend its timeout there.
RESOLVE_TIMEOUT_SECONDS = 2.0


# Lookups in flight at once; past it a lookup is refused at once (as one that timed out).
MAX_LOOKUPS_IN_FLIGHT = 16
_LOOKUPS = threading.BoundedSemaphore(MAX_LOOKUPS_IN_FLIGHT)


async def system_resolver(host: str, port: int) -> list[str]:
    """The operating system's resolver (``getaddrinfo``), off the event loop in a daemon thread
    of its own, not the loop's default executor: a lookup cannot be cancelled, so one stuck on
    a nameserver that does not answer would otherwise hold one of that executor's few threads
    (which connecting to the database and to receivers also wait for) and hold up the loop's
    shutdown until the OS gives up. Abandoned after ``resolve_timeout_seconds``, it ends on its
    own; at most ``MAX_LOOKUPS_IN_FLIGHT`` run at once. An IP address is its own answer: it
    takes no lookup, so it never waits for (nor is refused for want of) one."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass  # a name
    if not _LOOKUPS.acquire(blocking=False):
        raise TimeoutError  # as many lookups as allowed are already waiting on the nameserver
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[list[str]] = loop.create_future()

    def settle(outcome: list[str] | BaseException) -> None:
        if answer.done():  # abandoned: timed out or cancelled
            return
        if isinstance(outcome, BaseException):
            answer.set_exception(outcome)
        else:
            answer.set_result(outcome)

    def look_up() -> None:
        outcome: list[str] | BaseException
        try:
            infos = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
            outcome = list(dict.fromkeys(str(info[4][0]) for info in infos))
        except (OSError, UnicodeError) as exc:
            outcome = exc
        finally:
            _LOOKUPS.release()
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=look_up, name="imprint-resolve", daemon=True).start()
    return await answer


def _judged_as(ip: IpAddress) -> list[IpAddress]:
    """The addresses ``ip`` must be judged as: IPv4 embedded in IPv6 forms counts as IPv4."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # ::a.b.c.d (deprecated), not :: or ::1
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    judged: list[IpAddress] = [ip]
    if ip in _NAT64:
        judged.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        judged.append(ip.sixtofour)
    if ip.teredo is not None:
        judged.extend(ip.teredo)
    return judged


def _refusal_of_one(ip: IpAddress, *, production: bool, allow_private: bool) -> str | None:
    if ip in _METADATA:
        return "a cloud metadata address"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "an unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_loopback:
        return "a loopback address" if production else None
    if ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255"):
        return "a reserved address"
    if allow_private:
        return None
    if ip in _CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def address_refusal(address: str, *, production: bool, allow_private: bool = False) -> str | None:
    """Why ``address`` (an IP literal) may not be contacted, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is not part of it
    except ValueError:
        return "not an IP address"
    if ip in _METADATA:
        return "a cloud metadata address"
    for candidate in _judged_as(ip):
        reason = _refusal_of_one(candidate, production=production, allow_private=allow_private)
        if reason is not None:
            return reason
    return None


def _parse(url: str, *, production: bool) -> tuple[SplitResult, str, int]:
    """The URL's parts, its host and its port; ``InvalidRequest`` naming every problem."""
    problems: list[str] = []
    if len(url) > MAX_URL_CHARS:
        raise InvalidRequest(f"url: must be at most {MAX_URL_CHARS} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise InvalidRequest("url: must not contain spaces or control characters")
    parts = urlsplit(url)
    allowed = ("https",) if production else ("http", "https")
    if parts.scheme not in allowed:
        problems.append(
            "url: must be an https URL" if production else "url: must be an http or https URL"
        )
    host = parts.hostname or ""
    if not host:
        problems.append("url: must name a host")
    if parts.username is not None or parts.password is not None:
        problems.append("url: must not contain credentials (webhooks are signed instead)")
    if parts.fragment:
        problems.append("url: must not contain a fragment")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        problems.append("url: has an invalid port")
        port = 0
    if problems:
        raise InvalidRequest(*problems)
    return parts, host, port


@dataclass(frozen=True)
class TargetPolicy:
    """The deployment's rules for webhook targets; ``resolver`` is injectable for tests."""

    production: bool
    resolver: Resolver = system_resolver
    allow_private: bool = False
    """Private, shared (CGNAT) and other non-global addresses may be targets too."""
    resolve_timeout_seconds: float = RESOLVE_TIMEOUT_SECONDS
    """How long a lookup may take before the host counts as not resolving."""

    @classmethod
    def for_settings(cls, settings: Settings) -> TargetPolicy:
        """The policy of ``IMPRINT_ENV`` and ``IMPRINT_WEBHOOK_ALLOW_PRIVATE_TARGETS``."""
        return cls(
            production=not settings.sandbox, allow_private=settings.webhook_allow_private_targets
        )

    def check_url_syntax(self, url: str) -> tuple[str, int]:
        """The URL's host and port, if its form is allowed; ``InvalidRequest`` otherwise."""
        _, host, port = _parse(url, production=self.production)
        return host, port

    async def check_url(self, url: str) -> None:
        """At registration: the URL's form and every address its host resolves to."""
        host, port = self.check_url_syntax(url)
        try:
            await self.resolve(host, port)
        except Unresolvable as exc:
            if self.production:
                raise InvalidRequest(f"url: {exc}") from None
            # The sandbox may register a name only its own network knows; the worker checks
            # every address again when it connects.
        except TargetRefused as exc:
            raise InvalidRequest(f"url: {exc}") from None

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``; ``TargetRefused`` if any may not be used.

        One refused address refuses the host: a name that answers with a public and a private
        address could otherwise be steered to the private one.
        """
        try:
            addresses = await asyncio.wait_for(
                self.resolver(host, port), self.resolve_timeout_seconds
            )
        except TimeoutError:
            raise Unresolvable(
                f"host did not resolve within {self.resolve_timeout_seconds:g} s"
            ) from None
        except (OSError, UnicodeError):
            raise Unresolvable() from None
        if not addresses:
            raise Unresolvable()
        for address in addresses:
            reason = address_refusal(
                address, production=self.production, allow_private=self.allow_private
            )
            if reason is not None:
                raise TargetRefused(f"resolves to {reason}")
        return addresses
