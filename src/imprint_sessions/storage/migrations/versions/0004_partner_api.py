"""partner API completeness: idempotency keys

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled in by the partner-API completeness work (issue 5)


def downgrade() -> None:
    pass
