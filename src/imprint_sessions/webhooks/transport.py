"""The worker's HTTP transport: every TCP connection goes to an address the target policy vetted.

httpx resolves and connects inside httpcore's network backend; this backend resolves the host
itself, refuses it if any address is forbidden (``targets.TargetPolicy``), and connects to a
vetted IP. TLS still verifies the certificate against the URL's host name (httpcore passes it as
``server_hostname``), so pinning the address costs nothing in authenticity. Proxies from the
environment are ignored: a proxy would connect on the worker's behalf, unvetted.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

import httpcore
import httpx

from imprint_sessions.webhooks.targets import TargetPolicy

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class _VettedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # TargetRefused propagates as itself (httpx maps only httpcore's own errors).
        addresses = await self._policy.resolve(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # resolve() never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's HTTP/1.1 transport over ``_VettedBackend``."""

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        max_connections: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(trust_env=False)
        # httpx builds its pool without a network_backend parameter; this is the one place the
        # pool is replaced, with the same settings plus the vetting backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(trust_env=False),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=_VettedBackend(policy),
        )
