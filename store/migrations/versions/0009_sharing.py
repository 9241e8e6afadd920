"""sharing with customers: projects and their followers, further ticket requesters, portal
settings, automatic messages

Revision ID: 0009_sharing
Revises: 0008_search_email_index
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_sharing"
down_revision = "0008_search_email_index"
branch_labels = None
depends_on = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    # models.search_key_type: byte-wise comparison on both backends.
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", _key(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("projects", "organization_id", "organizations"),
        _fk("projects", "created_by_id", "advisors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint(
            "organization_id", "name_key", name=op.f("uq_projects_organization_id_name_key")
        ),
    )
    op.create_index(
        op.f("ix_projects_organization_id_name_key_id"),
        "projects",
        ["organization_id", "name_key", "id"],
    )
    op.create_table(
        "project_followers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("customer_user_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("project_followers", "project_id", "projects"),
        _fk("project_followers", "customer_user_id", "customer_users"),
        _fk("project_followers", "customer_id", "customers"),
        _fk("project_followers", "added_by_id", "advisors"),
        sa.CheckConstraint(
            "(customer_user_id IS NULL) <> (customer_id IS NULL)",
            name=op.f("ck_project_followers_one_follower"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_followers")),
        sa.UniqueConstraint(
            "project_id",
            "customer_user_id",
            name=op.f("uq_project_followers_project_id_customer_user_id"),
        ),
        sa.UniqueConstraint(
            "project_id", "customer_id", name=op.f("uq_project_followers_project_id_customer_id")
        ),
    )
    for columns in (["project_id", "id"], ["customer_user_id"], ["customer_id"]):
        op.create_index(
            op.f(f"ix_project_followers_{'_'.join(columns)}"), "project_followers", columns
        )

    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_tickets_project_id_projects"), "projects", ["project_id"], ["id"]
        )
        batch.create_index(op.f("ix_tickets_project_id_id"), ["project_id", "id"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("is_automatic", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    op.create_table(
        "ticket_requesters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("customer_user_id", sa.Integer(), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("past_messages_through_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("ticket_requesters", "ticket_id", "tickets"),
        _fk("ticket_requesters", "customer_user_id", "customer_users"),
        _fk("ticket_requesters", "added_by_id", "advisors"),
        _fk("ticket_requesters", "past_messages_through_id", "messages"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_requesters")),
        sa.UniqueConstraint(
            "ticket_id",
            "customer_user_id",
            name=op.f("uq_ticket_requesters_ticket_id_customer_user_id"),
        ),
    )
    op.create_index(
        op.f("ix_ticket_requesters_ticket_id_id"), "ticket_requesters", ["ticket_id", "id"]
    )
    op.create_index(
        op.f("ix_ticket_requesters_customer_user_id_ticket_id"),
        "ticket_requesters",
        ["customer_user_id", "ticket_id"],
    )

    op.create_table(
        "portal_settings",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("show_company_tickets", sa.Boolean(), nullable=False),
        sa.Column("show_followed_project_tickets", sa.Boolean(), nullable=False),
        sa.Column("visible_properties", sa.JSON(), nullable=False),
        sa.Column("acknowledge_new_tickets", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _fk("portal_settings", "organization_id", "organizations"),
        _fk("portal_settings", "updated_by_id", "advisors"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_portal_settings")),
    )


def downgrade() -> None:
    op.drop_table("portal_settings")
    op.drop_index(
        op.f("ix_ticket_requesters_customer_user_id_ticket_id"), table_name="ticket_requesters"
    )
    op.drop_index(op.f("ix_ticket_requesters_ticket_id_id"), table_name="ticket_requesters")
    op.drop_table("ticket_requesters")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("is_automatic")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index(op.f("ix_tickets_project_id_id"))
        batch.drop_constraint(op.f("fk_tickets_project_id_projects"), type_="foreignkey")
        batch.drop_column("project_id")
    for columns in (["customer_id"], ["customer_user_id"], ["project_id", "id"]):
        op.drop_index(
            op.f(f"ix_project_followers_{'_'.join(columns)}"), table_name="project_followers"
        )
    op.drop_table("project_followers")
    op.drop_index(op.f("ix_projects_organization_id_name_key_id"), table_name="projects")
    op.drop_table("projects")
