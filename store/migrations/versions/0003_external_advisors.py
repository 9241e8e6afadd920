"""external advisors: membership roles and inviters, unique advisor phones, notifications,
the mail outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("team_memberships") as batch:
        batch.add_column(
            sa.Column("external_role", _enum("advisor_role", "ADMIN", "ADVISOR", "VIEWER"))
        )
        batch.add_column(sa.Column("invited_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_team_memberships_invited_by_id_advisors"),
            "advisors",
            ["invited_by_id"],
            ["id"],
        )
    # Existing members of another organization's team keep working it as they did.
    op.execute(
        "UPDATE team_memberships SET external_role = 'ADVISOR' WHERE team_id IN ("
        " SELECT teams.id FROM teams JOIN advisors ON advisors.id = team_memberships.advisor_id"
        " WHERE teams.organization_id <> advisors.primary_organization_id)"
    )

    op.drop_index(op.f("ix_advisors_phone"), table_name="advisors")
    with op.batch_alter_table("advisors") as batch:
        batch.create_unique_constraint(op.f("uq_advisors_phone"), ["phone"])

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("notification_kind", "ADDED_TO_TEAMS"), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["advisors.id"], name=op.f("fk_notifications_actor_id_advisors")
        ),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_notifications_advisor_id_advisors")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_notifications_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        op.f("ix_notifications_advisor_id_id"), "notifications", ["advisor_id", "id"], unique=False
    )
    op.create_table(
        "notification_teams",
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_teams_notification_id_notifications"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_notification_teams_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("notification_id", "team_id", name=op.f("pk_notification_teams")),
    )

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", _enum("mail_status", "PENDING", "SENT", "FAILED"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_mail_outbox_message_id")),
    )
    op.create_index(
        op.f("ix_mail_outbox_status_next_attempt_at"),
        "mail_outbox",
        ["status", "next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_mail_outbox_status_next_attempt_at"), table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_table("notification_teams")
    op.drop_index(op.f("ix_notifications_advisor_id_id"), table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("advisors") as batch:
        batch.drop_constraint(op.f("uq_advisors_phone"), type_="unique")
    op.create_index(op.f("ix_advisors_phone"), "advisors", ["phone"], unique=False)
    with op.batch_alter_table("team_memberships") as batch:
        batch.drop_constraint(
            op.f("fk_team_memberships_invited_by_id_advisors"), type_="foreignkey"
        )
        batch.drop_column("invited_by_id")
        batch.drop_column("external_role")
