"""The schema, as SQLAlchemy 2 metadata (Alembic migrations are written from it).

Conventions: ids are UUIDs (native ``uuid`` on PostgreSQL, uppercase text on SQLite); every
``*_at`` column is UTC milliseconds since the Unix epoch (``BIGINT``), identical on both databases
and exactly the API's precision; money is ``*_amount`` (minor units) + ``*_currency``; JSON is
stored as text exactly as it will be echoed.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

Id = sa.Uuid(as_uuid=False)

partners = sa.Table(
    "partners",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("merchant_keys", sa.Text, nullable=False, server_default="[]"),
    # Origins allowed to frame the hosted page and call the client API (CORS), as a JSON list.
    sa.Column("allowed_origins", sa.Text, nullable=False, server_default="[]"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    # The partner's logo, sent to the native SDKs' title bars; NULL: the deployment's default.
    sa.Column("logo_url", sa.Text, nullable=True),
    # A throwaway sandbox (sandbox mode): the partner that made it. NULL: a partner of its own.
    sa.Column(
        "sandbox_of",
        Id,
        sa.ForeignKey("partners.id", name="fk_partners_sandbox_of_partners"),
        nullable=True,
    ),
    # A deleted sandbox keeps only this row (its audit trail names it); its keys are revoked.
    sa.Column("deleted_at", sa.BigInteger, nullable=True),
    # A throwaway sandbox's test clock (sandbox mode): the time it shows, which moves only when
    # advanced. Set when the sandbox is created, or never: NULL is real time.
    sa.Column("test_clock_at", sa.BigInteger, nullable=True),
    sa.Index("ix_partners_sandbox_of", "sandbox_of"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False, index=True),
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),
    sa.Column("display_prefix", sa.Text, nullable=False),
    sa.Column("secret_key_id", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("partner_customer_id", sa.Text, nullable=True),
    sa.Column("email", sa.Text, nullable=True),
    sa.Column("phone", sa.Text, nullable=True),
    sa.Column("first_name", sa.Text, nullable=True),
    sa.Column("last_name", sa.Text, nullable=True),
    sa.Column("preferred_language", sa.Text, nullable=True),
    sa.Column("address", sa.Text, nullable=True),
    sa.Column("account_history", sa.Text, nullable=True),
    sa.Column("metadata", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("date_of_birth", sa.Text, nullable=True),  # YYYY-MM-DD
    sa.Column("ssn4", sa.Text, nullable=True),
    # Keyed HMAC of the full SSN (secrets.SecretBox), for search; the SSN itself is never stored.
    sa.Column("ssn_hash", sa.Text, nullable=True),
    sa.Column("phone_verified_at", sa.BigInteger, nullable=True),
    # Card-program name -> OPEN / CLOSED, as a JSON object.
    sa.Column("statuses", sa.Text, nullable=False, server_default="{}"),
    # One customer per partner id: the find-or-create race is settled by this constraint.
    sa.UniqueConstraint("partner_id", "partner_customer_id"),
    sa.Index("ix_customers_partner_id_created_at", "partner_id", "created_at", "id"),
    # Partial: most customers never give an SSN, and a NULL entry per customer would make this
    # index a candidate for every by-partner lookup (BENCHMARKS.md, "a frozen generic plan").
    sa.Index(
        "ix_customers_partner_id_ssn_hash",
        "partner_id",
        "ssn_hash",
        postgresql_where=sa.text("ssn_hash IS NOT NULL"),
        sqlite_where=sa.text("ssn_hash IS NOT NULL"),
    ),
)

customer_sessions = sa.Table(
    "customer_sessions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("merchant_key", sa.Text, nullable=True),
    sa.Column("secret_key_id", sa.Text, nullable=False),
    sa.Column("transaction_amount", sa.BigInteger, nullable=True),
    sa.Column("transaction_currency", sa.Text, nullable=True),
    sa.Column("customer_history", sa.Text, nullable=True),
    sa.Column("source", sa.Text, nullable=True),
    sa.Column("metadata", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("consumed_at", sa.BigInteger, nullable=True),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
)


# -- the customer's side (client API, hosted application) -----------------------------------------

otp_challenges = sa.Table(
    "otp_challenges",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("customer_session_id", Id, sa.ForeignKey("customer_sessions.id"), nullable=False),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("phone", sa.Text, nullable=False),
    sa.Column("code_hash", sa.Text, nullable=False),  # keyed HMAC; the code is never stored
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # 1, 2, ... within the session: the latest challenge is the highest, even within one ms, and
    # the unique constraint settles two concurrent requests for a code.
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("verified_at", sa.BigInteger, nullable=True),
    sa.Column("locked_at", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("customer_session_id", "seq"),
)

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("customer_session_id", Id, sa.ForeignKey("customer_sessions.id"), nullable=False),
    sa.Column("merchant_key", sa.Text, nullable=True),
    sa.Column("type", sa.Text, nullable=False),  # CARD | LOAN
    # IN_PROGRESS | PENDING_REVIEW | APPROVED (offer made) | OFFER_ACCEPTED | REJECTED
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("phone", sa.Text, nullable=True),  # resume an unfinished application by phone
    sa.Column("input", sa.Text, nullable=False),  # JSON: the applicant's answers (no full SSN)
    sa.Column("customer_history", sa.Text, nullable=True),
    sa.Column("offer", sa.Text, nullable=True),  # JSON: limit or amount, apr, term
    sa.Column("decision_reason", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Column("decided_at", sa.BigInteger, nullable=True),
    sa.Index("ix_applications_customer_id", "customer_id"),
    sa.Index("ix_applications_partner_id_phone_status", "partner_id", "phone", "status"),
)

payment_methods = sa.Table(
    "payment_methods",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("customer_id", Id, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("application_id", Id, sa.ForeignKey("applications.id"), nullable=True),
    sa.Column("type", sa.Text, nullable=False),  # CARD | LOAN | BANK_ACCOUNT
    sa.Column("status", sa.Text, nullable=False),  # ACTIVE | INACTIVE | CANCELED
    sa.Column("card", sa.Text, nullable=True),  # JSON: last4, network, card_type, card_design_id
    sa.Column("loan", sa.Text, nullable=True),  # JSON: amount, currency, remaining_balance, ...
    sa.Column("metadata", sa.Text, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_payment_methods_customer_id_created_at", "customer_id", "created_at", "id"),
)

# -- webhooks (migration 0003) and partner-API completeness (migration 0004) go below -------------

# Webhooks (migration 0003). An endpoint's signing secret is never stored: it is re-derived from
# the endpoint id, ``secret_version`` and the master key named by ``secret_key_id``
# (credentials.py).
# Events are the outbox: written with their deliveries in the transaction of the state change.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("event_types", sa.Text, nullable=False),  # JSON list: APPLICATION, PAYMENT_METHOD
    sa.Column("description", sa.Text, nullable=True),  # the partner's words; erased on delete
    # enabled | disabled | deleted (a tombstone: url '' and secret_version 0, never listed)
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("secret_version", sa.Integer, nullable=False),
    sa.Column("secret_key_id", sa.Text, nullable=False),
    # The secret before the last rotation, which also signs until it expires.
    sa.Column("previous_secret_version", sa.Integer, nullable=True),
    sa.Column("previous_secret_key_id", sa.Text, nullable=True),
    sa.Column("previous_secret_expires_at", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_webhook_endpoints_partner_id_created_at", "partner_id", "created_at"),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", Id, primary_key=True),  # the stable event id every retry repeats
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("type", sa.Text, nullable=False),  # APPLICATION | PAYMENT_METHOD
    sa.Column("payload", sa.Text, nullable=False),  # exactly the body every attempt sends
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_webhook_events_partner_id_created_at", "partner_id", "created_at", "id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("event_id", Id, sa.ForeignKey("webhook_events.id"), nullable=False),
    sa.Column("endpoint_id", Id, sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
    sa.Column("last_attempt_at", sa.BigInteger, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    # A worker's claim: nobody else may send this delivery before locked_until.
    sa.Column("locked_until", sa.BigInteger, nullable=True),
    sa.Column("lease_token", sa.Text, nullable=True),
    sa.Column("replay_of", Id, nullable=True),  # the delivery this one replays
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
    sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_event_id", "event_id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("delivery_id", Id, sa.ForeignKey("webhook_deliveries.id"), nullable=False),
    sa.Column("attempted_at", sa.BigInteger, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("http_status", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),  # the first 1 KiB, as text
    sa.Index("ix_webhook_attempts_delivery_id_attempted_at", "delivery_id", "attempted_at"),
)

# Idempotency-Key records of the partner API (migration 0004). A key belongs to one partner; a
# replayed response is stored with every client secret cut out (``response_secrets`` says where
# to put each one back, re-derived from its session id), so no secret is ever stored here.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    sa.Column("key", sa.Text, nullable=False),
    sa.Column("request_hash", sa.Text, nullable=False),  # SHA-256 of method, path and raw body
    sa.Column("status", sa.Text, nullable=False),  # in_flight | completed
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_headers", sa.Text, nullable=True),  # JSON [[name, value], ...]
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("response_secrets", sa.Text, nullable=True),  # JSON [[offset, kid, session id]]
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.PrimaryKeyConstraint("partner_id", "key"),
    sa.Index("ix_idempotency_keys_expires_at", "expires_at"),
)

# The audit trail (migration 0008): who did what to a partner's account, when and from where.
# Append-only in the schema: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).
# ``partner_id`` has no foreign key on purpose: a deleted partner's trail outlives it. Never a
# secret: ids, types, display prefixes and reasons only (no URL either: a deleted webhook
# endpoint's URL is erased, and could carry a token).
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, nullable=False),
    sa.Column("type", sa.Text, nullable=False),  # api_key.created, customer_session.exchanged, ...
    sa.Column("actor_type", sa.Text, nullable=False),  # api_key | client | cli | system
    sa.Column("actor_id", Id, nullable=True),  # the API key's id
    sa.Column("actor_display", sa.Text, nullable=True),  # its display prefix; the operator's login
    sa.Column("request_id", sa.Text, nullable=True),
    sa.Column("client_address", sa.Text, nullable=True),
    sa.Column("object_type", sa.Text, nullable=False),  # api_key, customer_session, ...
    sa.Column("object_id", Id, nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # a small JSON object (a refusal's reason)
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_audit_events_partner_id_created_at", "partner_id", "created_at", "id"),
    sa.Index("ix_audit_events_object_id", "object_id"),
)

# Sandbox test faults (migration 0010): what a partner declared should go wrong with its own
# requests (a forced status, a delay, a dropped connection), its webhook deliveries or its hosted
# page. In the database so every ``serve`` process applies the same ones; ``remaining`` counts
# down atomically (NULL: until deleted). Never applied in production, whatever rows exist.
test_faults = sa.Table(
    "test_faults",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("partner_id", Id, sa.ForeignKey("partners.id"), nullable=False),
    # error | delay | drop | webhook_failure | hosted_outcome
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("operation", sa.Text, nullable=True),  # an operationId (error, delay, drop)
    sa.Column("status", sa.Integer, nullable=True),  # 429 | 500 | 503
    sa.Column("retry_after", sa.Integer, nullable=True),  # seconds, with 429 and 503
    sa.Column("delay_ms", sa.Integer, nullable=True),
    sa.Column("endpoint_id", Id, sa.ForeignKey("webhook_endpoints.id"), nullable=True),
    sa.Column("outcome", sa.Text, nullable=True),  # IN_PROGRESS | ERROR:<error_code>
    sa.Column("times", sa.Integer, nullable=True),  # as declared; NULL: until deleted
    sa.Column("remaining", sa.Integer, nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Index("ix_test_faults_partner_id_created_at", "partner_id", "created_at"),
)

# Operators of the console (migration 0013): deployment-wide, never a partner's (no partner_id,
# so a sandbox reset or delete never touches them; storage/sandboxes.py says so). The credential
# is stored only as a keyed hash; a console login is a row of operator_sessions whose token is
# stored only as a keyed hash too, revoked at logout.
operators = sa.Table(
    "operators",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("credential_hash", sa.Text, nullable=False, unique=True),
    sa.Column("display_prefix", sa.Text, nullable=False),
    sa.Column("secret_key_id", sa.Text, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
)

operator_sessions = sa.Table(
    "operator_sessions",
    metadata,
    sa.Column("id", Id, primary_key=True),
    sa.Column("operator_id", Id, sa.ForeignKey("operators.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_at", sa.BigInteger, nullable=True),
)
