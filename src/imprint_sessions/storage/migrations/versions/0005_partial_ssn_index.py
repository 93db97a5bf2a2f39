"""customers: the SSN-hash index only holds customers that gave an SSN

Revision ID: 0005
Revises: 0004

The full index held one ``(partner_id, NULL)`` entry per customer. Besides the wasted writes,
it was the smallest index leading with ``partner_id``, so a generic plan prepared while the
table was still small looked customers up by ``partner_id`` through it and filtered the rest:
create-session then scanned every customer of the partner (BENCHMARKS.md).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_WHERE = sa.text("ssn_hash IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_partner_id_ssn_hash")
        batch_op.create_index(
            "ix_customers_partner_id_ssn_hash",
            ["partner_id", "ssn_hash"],
            unique=False,
            postgresql_where=_WHERE,
            sqlite_where=_WHERE,
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_partner_id_ssn_hash")
        batch_op.create_index(
            "ix_customers_partner_id_ssn_hash", ["partner_id", "ssn_hash"], unique=False
        )
