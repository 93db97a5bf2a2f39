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
    sa.Index("ix_customers_partner_id_ssn_hash", "partner_id", "ssn_hash"),
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
    sa.Column("code_hash", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("verified_at", sa.BigInteger, nullable=True),
    sa.Column("locked_at", sa.BigInteger, nullable=True),
    sa.Index("ix_otp_challenges_customer_session_id", "customer_session_id"),
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
