"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("last_ticket_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("slug", name=op.f("uq_organizations_slug")),
    )
    op.create_table(
        "advisors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("primary_organization_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "ADMIN",
                "ADVISOR",
                "VIEWER",
                name="advisor_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["primary_organization_id"],
            ["organizations.id"],
            name=op.f("fk_advisors_primary_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_advisors")),
        sa.UniqueConstraint("email", name=op.f("uq_advisors_email")),
    )
    op.create_index(op.f("ix_advisors_phone"), "advisors", ["phone"], unique=False)
    op.create_index(
        op.f("ix_advisors_primary_organization_id"),
        "advisors",
        ["primary_organization_id"],
        unique=False,
    )

    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("customer_number", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_customers_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(
        op.f("ix_customers_organization_id_name"),
        "customers",
        ["organization_id", "name"],
        unique=False,
    )

    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_tags_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_tags_organization_id_name")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_teams_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("organization_id", "name", name=op.f("uq_teams_organization_id_name")),
    )
    op.create_index(op.f("ix_teams_organization_id"), "teams", ["organization_id"], unique=False)

    op.create_table(
        "customer_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("mobile", sa.String(length=32), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("account_number", sa.String(length=64), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_customer_users_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_users")),
    )
    op.create_index(
        op.f("ix_customer_users_customer_id"), "customer_users", ["customer_id"], unique=False
    )
    op.create_index(op.f("ix_customer_users_email"), "customer_users", ["email"], unique=False)

    op.create_table(
        "machines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_machines_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
        sa.UniqueConstraint("serial", name=op.f("uq_machines_serial")),
    )
    op.create_index(op.f("ix_machines_customer_id"), "machines", ["customer_id"], unique=False)

    op.create_table(
        "team_memberships",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_team_memberships_advisor_id_advisors")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_memberships_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", "advisor_id", name=op.f("pk_team_memberships")),
    )
    op.create_index(
        op.f("ix_team_memberships_advisor_id"), "team_memberships", ["advisor_id"], unique=False
    )

    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "NEW",
                "OPEN",
                "PENDING_REMINDER",
                "CLOSED",
                name="ticket_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("pending_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "priority",
            sa.Enum(
                "LOW",
                "NORMAL",
                "HIGH",
                "URGENT",
                name="ticket_priority",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("requester_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("machine_id", sa.Integer(), nullable=True),
        sa.Column("escalation_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["advisors.id"], name=op.f("fk_tickets_assignee_id_advisors")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_tickets_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["locked_by_id"], ["advisors.id"], name=op.f("fk_tickets_locked_by_id_advisors")
        ),
        sa.ForeignKeyConstraint(
            ["machine_id"], ["machines.id"], name=op.f("fk_tickets_machine_id_machines")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_tickets_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["customer_users.id"],
            name=op.f("fk_tickets_requester_id_customer_users"),
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_tickets_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint(
            "organization_id", "number", name=op.f("uq_tickets_organization_id_number")
        ),
    )
    op.create_index(
        op.f("ix_tickets_assignee_id_id"), "tickets", ["assignee_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_tickets_customer_id_id"), "tickets", ["customer_id", "id"], unique=False
    )
    op.create_index(op.f("ix_tickets_machine_id"), "tickets", ["machine_id"], unique=False)
    op.create_index(
        op.f("ix_tickets_organization_id_id"), "tickets", ["organization_id", "id"], unique=False
    )
    op.create_index(
        op.f("ix_tickets_requester_id_id"), "tickets", ["requester_id", "id"], unique=False
    )
    op.create_index(op.f("ix_tickets_state_id"), "tickets", ["state", "id"], unique=False)
    op.create_index(op.f("ix_tickets_team_id_id"), "tickets", ["team_id", "id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "SMS",
                "VOICE",
                "VIDEO",
                "EMAIL",
                "CHAT",
                "NOTE",
                name="message_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("author_advisor_id", sa.Integer(), nullable=True),
        sa.Column("author_customer_user_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_advisor_id"],
            ["advisors.id"],
            name=op.f("fk_messages_author_advisor_id_advisors"),
        ),
        sa.ForeignKeyConstraint(
            ["author_customer_user_id"],
            ["customer_users.id"],
            name=op.f("fk_messages_author_customer_user_id_customer_users"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_messages_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
    )
    op.create_index(op.f("ix_messages_ticket_id_id"), "messages", ["ticket_id", "id"], unique=False)

    op.create_table(
        "ticket_tags",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_ticket_tags_tag_id_tags")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_tags_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("ticket_id", "tag_id", name=op.f("pk_ticket_tags")),
    )
    op.create_index(op.f("ix_ticket_tags_tag_id"), "ticket_tags", ["tag_id"], unique=False)

    op.create_table(
        "time_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_time_entries_advisor_id_advisors")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_time_entries_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_entries")),
    )
    op.create_index(
        op.f("ix_time_entries_ticket_id_id"), "time_entries", ["ticket_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_time_entries_ticket_id_id"), table_name="time_entries")

    op.drop_table("time_entries")
    op.drop_index(op.f("ix_ticket_tags_tag_id"), table_name="ticket_tags")

    op.drop_table("ticket_tags")
    op.drop_index(op.f("ix_messages_ticket_id_id"), table_name="messages")

    op.drop_table("messages")
    op.drop_index(op.f("ix_tickets_team_id_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_state_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_requester_id_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_organization_id_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_machine_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_customer_id_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_assignee_id_id"), table_name="tickets")

    op.drop_table("tickets")
    op.drop_index(op.f("ix_team_memberships_advisor_id"), table_name="team_memberships")

    op.drop_table("team_memberships")
    op.drop_index(op.f("ix_machines_customer_id"), table_name="machines")

    op.drop_table("machines")
    op.drop_index(op.f("ix_customer_users_email"), table_name="customer_users")
    op.drop_index(op.f("ix_customer_users_customer_id"), table_name="customer_users")

    op.drop_table("customer_users")
    op.drop_index(op.f("ix_teams_organization_id"), table_name="teams")

    op.drop_table("teams")
    op.drop_table("tags")
    op.drop_index(op.f("ix_customers_organization_id_name"), table_name="customers")

    op.drop_table("customers")
    op.drop_index(op.f("ix_advisors_primary_organization_id"), table_name="advisors")
    op.drop_index(op.f("ix_advisors_phone"), table_name="advisors")

    op.drop_table("advisors")
    op.drop_table("organizations")
