"""the customer side: profiles, OTP, applications, payment methods

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 04:20:34.464888
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "applications",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("partner_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("customer_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("customer_session_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("merchant_key", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("customer_history", sa.Text(), nullable=True),
        sa.Column("offer", sa.Text(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_applications_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["customer_session_id"],
            ["customer_sessions.id"],
            name=op.f("fk_applications_customer_session_id_customer_sessions"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_applications_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applications")),
    )
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.create_index("ix_applications_customer_id", ["customer_id"], unique=False)
        batch_op.create_index(
            "ix_applications_partner_id_phone_status",
            ["partner_id", "phone", "status"],
            unique=False,
        )

    op.create_table(
        "otp_challenges",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("customer_session_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("customer_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("phone", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("verified_at", sa.BigInteger(), nullable=True),
        sa.Column("locked_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_otp_challenges_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["customer_session_id"],
            ["customer_sessions.id"],
            name=op.f("fk_otp_challenges_customer_session_id_customer_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_challenges")),
        sa.UniqueConstraint(
            "customer_session_id", "seq", name=op.f("uq_otp_challenges_customer_session_id_seq")
        ),
    )

    op.create_table(
        "payment_methods",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("partner_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("customer_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("application_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("card", sa.Text(), nullable=True),
        sa.Column("loan", sa.Text(), nullable=True),
        sa.Column("metadata", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_payment_methods_application_id_applications"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_payment_methods_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_payment_methods_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
    )
    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_methods_customer_id_created_at",
            ["customer_id", "created_at", "id"],
            unique=False,
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("date_of_birth", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ssn4", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ssn_hash", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("phone_verified_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("statuses", sa.Text(), server_default="{}", nullable=False))
        batch_op.create_index(
            "ix_customers_partner_id_created_at", ["partner_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_customers_partner_id_ssn_hash", ["partner_id", "ssn_hash"], unique=False
        )

    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("allowed_origins", sa.Text(), server_default="[]", nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("allowed_origins")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_partner_id_ssn_hash")
        batch_op.drop_index("ix_customers_partner_id_created_at")
        batch_op.drop_column("statuses")
        batch_op.drop_column("phone_verified_at")
        batch_op.drop_column("ssn_hash")
        batch_op.drop_column("ssn4")
        batch_op.drop_column("date_of_birth")

    with op.batch_alter_table("payment_methods", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_methods_customer_id_created_at")

    op.drop_table("payment_methods")
    op.drop_table("otp_challenges")
    with op.batch_alter_table("applications", schema=None) as batch_op:
        batch_op.drop_index("ix_applications_partner_id_phone_status")
        batch_op.drop_index("ix_applications_customer_id")

    op.drop_table("applications")
