"""partners: throwaway sandboxes (``sandbox_of`` names the partner that made one) and deletion

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sandbox_of", sa.Uuid(as_uuid=False), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            "fk_partners_sandbox_of_partners", "partners", ["sandbox_of"], ["id"]
        )
        batch_op.create_index("ix_partners_sandbox_of", ["sandbox_of"])


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_index("ix_partners_sandbox_of")
        batch_op.drop_constraint("fk_partners_sandbox_of_partners", type_="foreignkey")
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("sandbox_of")
