"""The repository interface: every query the domain may make, named for its intent.

One protocol per resource, composed into ``Repositories``. One implementation for both
databases, one mixin module per resource composed in ``store.SqlRepositories``, running on
``postgres/``'s runner (asyncpg) or ``sqlite/``'s (stdlib sqlite3 on worker threads). Each method
is atomic on its own; inside a unit of work it joins that transaction instead.
"""

from __future__ import annotations

from typing import Protocol

from imprint_sessions.storage.records import (
    ApiKey,
    Application,
    AuditEvent,
    AuditQuery,
    ClaimedDelivery,
    ClientContext,
    CreateOutcome,
    Customer,
    CustomerChanges,
    CustomerQuery,
    CustomerSession,
    DeliveryOutcome,
    Fault,
    FaultTarget,
    IdempotencyClaim,
    IdempotencyRecord,
    NewAuditEvent,
    NewCustomerSession,
    Operator,
    OperatorSession,
    OtpAttempt,
    OtpChallenge,
    OutboxStats,
    Page,
    PageRequest,
    Partner,
    PaymentMethod,
    Principal,
    Sandbox,
    StoredResponse,
    UpdateOutcome,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


class PartnerRepository(Protocol):
    """Partners and API keys (cold paths: the CLI and authentication)."""

    async def create_partner(self, partner: Partner) -> None: ...

    async def get_partner(self, partner_id: str) -> Partner | None: ...

    async def list_partners(self) -> list[Partner]: ...

    async def set_partner_logo_url(self, partner_id: str, logo_url: str | None) -> Partner | None:
        """The partner with its new ``logo_url`` (None clears it); None if there is none."""
        ...

    async def create_api_key(
        self,
        api_key: ApiKey,
        *,
        key_hash: str,
        secret_key_id: str,
        audit: NewAuditEvent | None = None,
    ) -> None:
        """The key, and ``audit`` with it (in one transaction)."""
        ...

    async def list_api_keys(self, partner_id: str) -> list[ApiKey]: ...

    async def revoke_api_key(
        self, api_key_id: str, *, at: int, audit: NewAuditEvent | None = None
    ) -> bool:
        """Revoke any partner's active key, and write ``audit`` (its partner the key's) with it;
        False when there is no such active key (nothing is written)."""
        ...

    async def find_principal_by_key_hashes(self, key_hashes: list[str]) -> Principal | None: ...

    # -- throwaway sandboxes (sandbox mode) ------------------------------------------------------
    async def mark_sandbox_of(
        self, partner_id: str, parent_id: str, *, test_clock_at: int | None = None
    ) -> None:
        """Make the partner a sandbox of ``parent_id``, with a test clock at ``test_clock_at``."""
        ...

    async def get_test_clock_at(self, partner_id: str) -> int | None:
        """The time the partner's test clock shows; None when it has none."""
        ...

    async def advance_test_clock(self, sandbox_id: str, *, to: int) -> Sandbox | None:
        """Set the live sandbox's test clock to ``to`` if that is not earlier than it shows;
        None otherwise (no such sandbox, no clock, or ``to`` is in the clock's past)."""
        ...

    async def get_sandbox(self, sandbox_id: str) -> Sandbox | None:
        """A live throwaway sandbox (not a partner of its own, not deleted)."""
        ...

    async def list_sandboxes(self, parent_id: str) -> list[Sandbox]: ...

    async def count_live_sandboxes(self, parent_id: str) -> int: ...

    async def wipe_partner_data(self, partner_id: str) -> None:
        """Everything the partner owns but its keys and its audit trail, deleted atomically."""
        ...

    async def delete_sandbox(self, sandbox_id: str, *, now: int) -> bool:
        """Wipe, revoke its keys, mark deleted (atomically); False if not a live sandbox."""
        ...

    async def any_partner_allows_origin(self, origin: str) -> bool:
        """Whether ``origin`` is among some partner's ``allowed_origins`` (CORS preflight)."""
        ...


class CustomerSessionRepository(Protocol):
    """Customer sessions (the hot path)."""

    async def create_customer_session(
        self, new: NewCustomerSession, *, audit: NewAuditEvent | None = None
    ) -> CreateOutcome:
        """Find or create the customer and insert the session, with ``audit`` (its details the
        customer's id, which only the statement may know); one statement on PostgreSQL, one
        transaction hop on SQLite. Nothing is written unless the outcome is ``CREATED``."""
        ...

    async def get_customer_session(
        self, partner_id: str, customer_session_id: str
    ) -> CustomerSession | None: ...


class IdempotencyRepository(Protocol):
    """Idempotency-Key records of the partner API, one per (partner, key)."""

    async def claim_idempotency_key(self, claim: IdempotencyClaim) -> IdempotencyRecord | None:
        """Take the key for a new request (None), or return the live record already holding it.

        Atomic. An expired record (``expires_at <= claim.created_at``) or an abandoned in-flight
        one (``created_at < claim.stale_before``) counts as absent and is replaced.
        """
        ...

    async def complete_idempotency_key(
        self, partner_id: str, key: str, *, claimed_at: int, response: StoredResponse
    ) -> bool:
        """Record the response of the claim made at ``claimed_at``; False if it was taken over."""
        ...

    async def release_idempotency_key(self, partner_id: str, key: str, *, claimed_at: int) -> None:
        """Forget the in-flight claim made at ``claimed_at`` (a completed record is kept)."""
        ...

    async def delete_expired_idempotency_keys(self, *, now: int, limit: int) -> int:
        """Delete up to ``limit`` records expired at ``now``; the number deleted."""
        ...


class ClientSessionRepository(Protocol):
    """The client API's view of a session: the one-time exchange and each call's context."""

    async def consume_customer_session(
        self,
        customer_session_id: str,
        *,
        now: int,
        audit: NewAuditEvent | None = None,
        test_clocks: bool = False,
    ) -> CustomerSession | None:
        """Mark a live session's secret used, in one statement; None if used, revoked or expired.

        Of any number of concurrent calls for one session, exactly one gets the session. With it
        ``audit`` is written (its partner the session's): in the same statement on PostgreSQL,
        the same transaction hop on SQLite. ``test_clocks`` (the sandbox): "now" is the time of
        the session's partner's test clock where it has one; ``consumed_at`` says which it was,
        and is the audit entry's time.
        """
        ...

    async def find_customer_session(self, customer_session_id: str) -> CustomerSession | None:
        """Any partner's session by id (why an exchange was refused)."""
        ...

    async def mark_customer_session_consumed_unchecked(
        self, customer_session_id: str, *, now: int
    ) -> None:
        """Set ``consumed_at`` whatever it was. Only the negative control of the reliability tests
        uses it (``IMPRINT_UNSAFE_RACY_EXCHANGE``): the check-then-act race the exchange avoids."""
        ...

    async def get_client_context(
        self, customer_session_id: str, *, customer_id: str, partner_id: str
    ) -> ClientContext | None:
        """The session (not revoked), its partner and its customer, in one read."""
        ...


class ProfileRepository(Protocol):
    """The customer's own profile."""

    async def update_customer_profile(
        self, customer_id: str, changes: dict[str, str | None], *, now: int
    ) -> Customer | None:
        """Set the given profile columns (see ``PROFILE_COLUMNS``); a changed phone loses its
        verification. Returns the profile as it now is."""
        ...


PROFILE_COLUMNS = frozenset(
    {
        "email",
        "phone",
        "first_name",
        "last_name",
        "preferred_language",
        "date_of_birth",
        "address",
    }
)
"""The customer columns ``update_customer_profile`` may set (SQL names, never from input)."""


class OtpRepository(Protocol):
    """One-time-code challenges for phone verification."""

    async def create_otp_challenge(self, challenge: OtpChallenge, *, max_per_session: int) -> bool:
        """Insert, unless the session already has ``max_per_session`` challenges (False)."""
        ...

    async def get_latest_otp_challenge(self, customer_session_id: str) -> OtpChallenge | None: ...

    async def record_otp_attempt(
        self, challenge_id: str, *, matched: bool, now: int, max_attempts: int
    ) -> OtpAttempt | None:
        """Count one attempt at a live challenge, atomically.

        A match verifies the challenge and, if the customer's phone is still the challenge's,
        the phone; the ``max_attempts``-th miss locks it. None when the challenge is no longer
        open (verified, locked or expired at ``now``).
        """
        ...


class ApplicationRepository(Protocol):
    """Card and loan applications."""

    async def insert_application(self, application: Application) -> None: ...

    async def lock_applications_for_phone(self, partner_id: str, phone: str) -> None:
        """Inside a unit of work: serialise the partner's applications for one phone until it
        ends, so "is there an unfinished one?" and "insert a new one" cannot interleave."""
        ...

    async def get_application(
        self, application_id: str, *, customer_id: str
    ) -> Application | None: ...

    async def get_latest_application(self, customer_id: str) -> Application | None: ...

    async def find_unfinished_application(self, partner_id: str, phone: str) -> Application | None:
        """The newest application of the partner for this phone with an offer not yet accepted."""
        ...

    async def reattach_application(
        self, application_id: str, *, customer_id: str, customer_session_id: str, now: int
    ) -> Application | None:
        """Move a still-unfinished application to the session resuming it; None if it moved on."""
        ...

    async def accept_offer(
        self, application_id: str, *, customer_id: str, now: int
    ) -> Application | None:
        """APPROVED -> OFFER_ACCEPTED in one statement; None if not found or not APPROVED."""
        ...

    async def open_customer_program(self, customer_id: str, program: str, *, now: int) -> None:
        """Set ``customers.statuses[program] = "OPEN"``."""
        ...


class PaymentMethodRepository(Protocol):
    """Cards and loans."""

    async def insert_payment_method(self, payment_method: PaymentMethod) -> None: ...

    async def list_payment_methods(self, customer_id: str) -> list[PaymentMethod]: ...

    async def get_payment_method(
        self, payment_method_id: str, *, customer_id: str
    ) -> PaymentMethod | None: ...

    async def change_payment_method_status(
        self,
        payment_method_id: str,
        *,
        customer_id: str,
        from_status: str,
        to_status: str,
        now: int,
    ) -> PaymentMethod | None:
        """``from_status`` -> ``to_status`` in one statement; None if it was not ``from_status``."""
        ...


class PartnerCustomerRepository(Protocol):
    """Customers as their partner retrieves, searches and updates them (the partner API).

    Every method is scoped to one partner: another partner's customer is simply absent.
    """

    async def get_partner_customer(self, partner_id: str, customer_id: str) -> Customer | None: ...

    async def list_partner_customers(
        self, partner_id: str, query: CustomerQuery, page: PageRequest
    ) -> Page[Customer] | None:
        """The partner's customers matching ``query``, by ``(created_at, id)``; None when
        ``page.starting_after`` is not one of the partner's customers."""
        ...

    async def update_partner_customer(
        self,
        partner_id: str,
        customer_id: str,
        changes: CustomerChanges,
        *,
        now: int,
        metadata_before: str | None = None,
    ) -> Customer | UpdateOutcome:
        """Set the given columns and ``updated_at`` in one statement; the customer as it now is,
        or why not. When ``changes.metadata_json`` is set, the row is updated only if its
        metadata is still ``metadata_before`` (compare-and-set: the caller merged into that)."""
        ...


class CustomerSessionLifecycleRepository(Protocol):
    """A customer's sessions as its partner lists and expires them (never their secrets)."""

    async def list_sessions_of_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[CustomerSession] | None:
        """The customer's sessions by ``(created_at, id)``; None when ``page.starting_after``
        is not one of them."""
        ...

    async def revoke_partner_customer_session(
        self,
        partner_id: str,
        customer_session_id: str,
        *,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> tuple[CustomerSession, bool] | None:
        """Set ``revoked_at = now`` unless already revoked or expired, with ``audit`` when it was
        set (nothing is written otherwise); the session as it now is and whether this call
        revoked it, or None when it is not the partner's."""
        ...


class PartnerPaymentMethodRepository(Protocol):
    """Payment methods as the partner reads them (the client API's writes are elsewhere)."""

    async def list_payment_methods_for_partner_customer(
        self, partner_id: str, customer_id: str, page: PageRequest
    ) -> Page[PaymentMethod] | None:
        """The customer's payment methods by ``(created_at, id)``; None when
        ``page.starting_after`` is not one of them."""
        ...

    async def get_payment_method_for_partner(
        self, partner_id: str, payment_method_id: str
    ) -> PaymentMethod | None: ...


class PartnerApiKeyRepository(Protocol):
    """A partner managing its own API keys (``POST``/``DELETE /v2/keys``)."""

    async def lock_partner_api_keys(self, partner_id: str) -> int:
        """Serialise key changes of one partner until the unit of work ends (call it inside
        one); the number of its active keys."""
        ...

    async def revoke_partner_api_key(
        self, partner_id: str, api_key_id: str, *, now: int, audit: NewAuditEvent | None = None
    ) -> ApiKey | None:
        """Revoke one of the partner's active keys, with ``audit``; None when it has no such
        active key (nothing is written)."""
        ...


class WebhookRepository(Protocol):
    """Webhook endpoints, the event outbox, deliveries and their attempts.

    ``partner_id=None`` on a lookup means any partner (the admin CLI); the partner API always
    passes the caller's, so another partner's ids are not found. Deleted endpoints are never
    found, listed, disabled or rotated.
    """

    async def create_webhook_endpoint(
        self, endpoint: WebhookEndpoint, *, audit: NewAuditEvent | None = None
    ) -> None:
        """The endpoint, and ``audit`` with it (in one transaction)."""
        ...

    async def list_webhook_endpoints(self, partner_id: str) -> list[WebhookEndpoint]: ...

    async def get_webhook_endpoint(
        self, endpoint_id: str, *, partner_id: str | None
    ) -> WebhookEndpoint | None: ...

    async def disable_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> WebhookEndpoint | None:
        """The endpoint, disabled; ``audit`` is written with it when it was enabled until now
        (disabling it again writes nothing). ``audit``'s partner: the endpoint's."""
        ...

    async def delete_webhook_endpoint(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> bool:
        """In one transaction: the endpoint becomes a tombstone (status ``deleted``, its URL and
        secret version scrubbed), its pending deliveries dead (``endpoint deleted``, their
        leases dropped) and ``audit`` is written (its partner the endpoint's). False when there
        is no such endpoint (or it was deleted already): nothing is written.

        A deleted endpoint is never listed nor found again; the row stays only so that its past
        deliveries keep their ``endpoint_id``."""
        ...

    async def rotate_webhook_endpoint_secret(
        self,
        endpoint_id: str,
        *,
        partner_id: str | None,
        secret_key_id: str,
        previous_expires_at: int,
        now: int,
        audit: NewAuditEvent | None = None,
    ) -> WebhookEndpoint | None:
        """In one statement: the current secret becomes the previous one (until
        ``previous_expires_at``) and ``secret_version + 1`` under ``secret_key_id`` the current;
        ``audit`` with it, in one transaction (its partner the endpoint's)."""
        ...

    async def insert_webhook_event(
        self, event: WebhookEvent, deliveries: list[WebhookDelivery]
    ) -> None:
        """The event and its deliveries (the outbox write; callers run it in their unit of work)."""
        ...

    async def insert_webhook_delivery(
        self, delivery: WebhookDelivery, *, audit: NewAuditEvent | None = None
    ) -> None:
        """The delivery, and ``audit`` with it (in one transaction)."""
        ...

    async def list_webhook_events(
        self, partner_id: str, page: PageRequest
    ) -> Page[WebhookEvent] | None:
        """The partner's events by ``(created_at, id)``; None when ``page.starting_after`` is not
        one of them."""
        ...

    async def get_webhook_event(
        self, event_id: str, *, partner_id: str | None
    ) -> WebhookEvent | None: ...

    async def list_webhook_deliveries(self, event_id: str) -> list[WebhookDelivery]: ...

    async def list_webhook_attempts(self, delivery_ids: list[str]) -> list[WebhookAttempt]: ...

    async def get_webhook_delivery(
        self, delivery_id: str, *, partner_id: str | None
    ) -> WebhookDelivery | None: ...

    async def webhook_outbox_stats(self) -> OutboxStats:
        """How many deliveries are pending, and when the oldest was created (one statement)."""
        ...

    async def claim_webhook_deliveries(
        self, *, now: int, limit: int, lease_until: int, lease_token: str, test_clocks: bool = False
    ) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due deliveries (pending, ``next_attempt_at <= now``, no live
        lease), oldest due first. Atomic: concurrent workers never claim the same delivery.
        ``test_clocks`` (the sandbox): a delivery of a partner with a test clock is due by that
        clock's time, which the claimed delivery carries (``test_clock_at``)."""
        ...

    async def finish_webhook_delivery(
        self, outcome: DeliveryOutcome, attempt: WebhookAttempt | None
    ) -> bool:
        """Record the attempt and apply the outcome, releasing the lease, in one transaction.

        The attempt is always recorded (it happened); the outcome applies only while the lease
        is still ``outcome.lease_token``'s. False when the lease had been lost.
        """
        ...


class HostedPageRepository(Protocol):
    """What the hosted page needs before its secret is exchanged (reads only, consumes nothing)."""

    async def get_partner_of_customer_session(self, customer_session_id: str) -> Partner | None:
        """The partner that owns the session (for ``frame-ancestors``), or None."""
        ...


class AuditEventRepository(Protocol):
    """The audit trail: entries are written with their actions (the ``audit`` argument of the
    methods above) and never changed; an action that failed is recorded here alone."""

    async def record_audit_event(self, event: NewAuditEvent) -> None:
        """An entry with no action to write it (a refused exchange); ``event.partner_id`` set."""
        ...

    async def list_audit_events(
        self, partner_id: str, query: AuditQuery, page: PageRequest, *, newest_first: bool = False
    ) -> Page[AuditEvent] | None:
        """The partner's entries matching ``query`` by ``(created_at, id)``, descending when
        ``newest_first``; None when ``page.starting_after`` is not one of its entries."""
        ...

    async def scan_audit_events(
        self, partner_id: str, query: AuditQuery, *, after: tuple[int, str] | None, limit: int
    ) -> list[AuditEvent]:
        """Up to ``limit`` of the partner's entries matching ``query`` after ``(created_at,
        id)`` ``after`` (None: from the first), oldest first; no count, no cursor lookup."""
        ...

    async def partner_of_audited_object(self, object_id: str, *, type: str) -> str | None:
        """The partner of an entry of ``type`` about ``object_id`` (the trail outlives the
        object: a deleted partner's session is still attributed); None if there is none."""


class FaultRepository(Protocol):
    """Sandbox test faults (``/v2/test_helpers/faults``). Each ``consume_*`` takes one use of the
    oldest live fault that matches, atomically: of concurrent requests, only as many as it has
    uses left get one (a fault until deleted is never used up)."""

    async def insert_fault(self, fault: Fault) -> None: ...

    async def list_faults(self, partner_id: str) -> list[Fault]:
        """The partner's faults, oldest first, used-up ones included."""
        ...

    async def delete_fault(self, partner_id: str, fault_id: str) -> Fault | None: ...

    async def list_fault_targets(self) -> list[FaultTarget]:
        """What every live fault (of any partner) applies to."""
        ...

    async def consume_operation_fault(self, partner_id: str, operation: str) -> Fault | None:
        """A forced error, delay or drop of ``operation`` for this partner."""
        ...

    async def consume_session_fault(self, customer_session_id: str, operation: str) -> Fault | None:
        """The same, for the partner that owns the session (the exchange knows only that)."""
        ...

    async def consume_hosted_fault(self, partner_id: str) -> Fault | None:
        """A hosted-page outcome for this partner."""
        ...

    async def consume_endpoint_fault(self, endpoint_id: str) -> Fault | None:
        """A forced failure of a delivery attempt to this webhook endpoint."""
        ...


class OperatorRepository(Protocol):
    """The console's operators and their logins: deployment-wide, no partner's."""

    async def create_operator(
        self, operator: Operator, *, credential_hash: str, secret_key_id: str
    ) -> None: ...

    async def list_operators(self) -> list[Operator]:
        """Every operator, oldest first, revoked ones included (never a credential)."""
        ...

    async def revoke_operator(self, operator_id: str, *, now: int) -> Operator | None:
        """Revoke an active operator and end every login of theirs, atomically; None if there
        is no such active operator."""
        ...

    async def find_operator_by_credential_hashes(self, hashes: list[str]) -> Operator | None:
        """The active operator whose credential is stored under one of ``hashes``."""
        ...

    async def create_operator_session(
        self, session: OperatorSession, *, token_hash: str
    ) -> None: ...

    async def find_operator_session(self, hashes: list[str], *, now: int) -> OperatorSession | None:
        """The live login (not expired, not logged out, its operator not revoked) whose token
        is stored under one of ``hashes``."""
        ...

    async def revoke_operator_session(self, session_id: str, *, now: int) -> bool: ...


class ConsoleRepository(Protocol):
    """What the operator console reads of one partner's account, newest first."""

    async def list_recent_customer_sessions(
        self, partner_id: str, *, limit: int
    ) -> list[CustomerSession]: ...

    async def list_recent_customers(self, partner_id: str, *, limit: int) -> list[Customer]: ...

    async def list_recent_applications(
        self, partner_id: str, *, limit: int
    ) -> list[Application]: ...

    async def list_recent_webhook_deliveries(
        self, partner_id: str, *, limit: int
    ) -> list[tuple[WebhookDelivery, str]]:
        """The partner's deliveries, each with its event's type."""
        ...


class Repositories(
    PartnerRepository,
    CustomerSessionRepository,
    IdempotencyRepository,
    ClientSessionRepository,
    ProfileRepository,
    OtpRepository,
    ApplicationRepository,
    PaymentMethodRepository,
    PartnerCustomerRepository,
    CustomerSessionLifecycleRepository,
    PartnerPaymentMethodRepository,
    PartnerApiKeyRepository,
    WebhookRepository,
    HostedPageRepository,
    AuditEventRepository,
    FaultRepository,
    OperatorRepository,
    ConsoleRepository,
    Protocol,
):
    """Everything the domain may ask of the store: one protocol per resource, composed here."""

    async def ping(self) -> None: ...
