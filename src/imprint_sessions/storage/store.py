"""The one implementation of ``repositories.Repositories``, for both databases.

Composed of one mixin per resource (``partners.py``, ``customer_sessions.py``, ...), each running
its statements on the backend's runner: ``postgres.runner.Runner`` (asyncpg) or
``sqlite.runner.Runner`` (stdlib sqlite3 on worker threads).
"""

from __future__ import annotations

from imprint_sessions.storage.api_keys import PartnerApiKeys
from imprint_sessions.storage.applications import Applications
from imprint_sessions.storage.audit_events import AuditEvents
from imprint_sessions.storage.client import ClientSessions
from imprint_sessions.storage.console import ConsoleReads
from imprint_sessions.storage.customer_session_lifecycle import CustomerSessionLifecycle
from imprint_sessions.storage.customer_sessions import CustomerSessions
from imprint_sessions.storage.customers import PartnerCustomers
from imprint_sessions.storage.faults import Faults
from imprint_sessions.storage.hosted import HostedPage
from imprint_sessions.storage.idempotency import Idempotency
from imprint_sessions.storage.operators import Operators
from imprint_sessions.storage.otp import Otp
from imprint_sessions.storage.partners import Partners
from imprint_sessions.storage.payment_methods import PaymentMethods
from imprint_sessions.storage.profiles import Profiles
from imprint_sessions.storage.sandboxes import Sandboxes
from imprint_sessions.storage.webhooks import Webhooks


class SqlRepositories(
    Partners,
    CustomerSessions,
    PartnerCustomers,
    CustomerSessionLifecycle,
    PartnerApiKeys,
    Idempotency,
    ClientSessions,
    Profiles,
    Otp,
    Applications,
    PaymentMethods,
    HostedPage,
    Webhooks,
    Sandboxes,
    AuditEvents,
    Faults,
    Operators,
    ConsoleReads,
):
    """Every repository, over one runner (autocommit, or one unit of work's transaction)."""

    async def ping(self) -> None:
        await self._db.ping()
