"""test_faults: the sandbox's declared faults (forced errors, delays, dropped connections,
failing webhook deliveries, hosted-page outcomes), shared by every process

Revision ID: 0010
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.Uuid(as_uuid=False)


def upgrade() -> None:
    op.create_table(
        "test_faults",
        sa.Column("id", Id, nullable=False),
        sa.Column("partner_id", Id, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("retry_after", sa.Integer(), nullable=True),
        sa.Column("delay_ms", sa.Integer(), nullable=True),
        sa.Column("endpoint_id", Id, nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("times", sa.Integer(), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_test_faults_endpoint_id_webhook_endpoints"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_test_faults_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_faults")),
    )
    op.create_index(
        "ix_test_faults_partner_id_created_at", "test_faults", ["partner_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_test_faults_partner_id_created_at", table_name="test_faults")
    op.drop_table("test_faults")
