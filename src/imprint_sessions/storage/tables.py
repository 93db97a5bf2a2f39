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
    # One customer per partner id: the find-or-create race is settled by this constraint.
    sa.UniqueConstraint("partner_id", "partner_customer_id"),
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
