"""the event log: subscription events in a table with a sequence, so that a listener that
reconnects replays what it missed

Revision ID: 0005_event_log
Revises: 0004_phone_regions
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_event_log"
down_revision = "0004_phone_regions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_events_created_at"), "events", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_events_created_at"), table_name="events")
    op.drop_table("events")
