"""persisted queries: documents under their sha256, registered by clients (automatic persisted
queries) or imported from the clients' manifest

Revision ID: 0011_persisted_queries
Revises: 0010_cards
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_persisted_queries"
down_revision = "0010_cards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persisted_queries",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "CLIENT",
                "MANIFEST",
                name="persisted_query_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_persisted_queries")),
    )


def downgrade() -> None:
    op.drop_table("persisted_queries")
