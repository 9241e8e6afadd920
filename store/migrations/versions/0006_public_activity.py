"""tickets.public_updated_at: updated_at as a customer user may learn it (moved only by what
they see, never by private notes, time entries or tags); backfilled from updated_at

Revision ID: 0006_public_activity
Revises: 0005_event_log
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_public_activity"
down_revision = "0005_event_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not through batch_alter_table: on SQLite that copies tickets into a new table, and the
    # DROP of the old one fails on the messages, time entries and tags that reference it. The
    # constant default only lets SQLite add a NOT NULL column; every row is backfilled at once.
    op.add_column(
        "tickets",
        sa.Column(
            "public_updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("'1970-01-01 00:00:00'"),
        ),
    )
    op.execute("UPDATE tickets SET public_updated_at = updated_at")
    if op.get_bind().dialect.name != "sqlite":  # SQLite cannot drop a default in place
        op.alter_column("tickets", "public_updated_at", server_default=None)


def downgrade() -> None:
    op.drop_column("tickets", "public_updated_at")  # SQLite 3.35+ drops a column in place
