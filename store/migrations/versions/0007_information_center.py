"""the Customer Information Center: search keys and their indexes (trigram on PostgreSQL),
team service levels, ticket escalation times, origin and first response, chosen queues and
dashboard settings

Revision ID: 0007_information_center
Revises: 0006_public_activity
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_information_center"
down_revision = "0006_public_activity"
branch_labels = None
depends_on = None

ORIGINS = ("PORTAL", "PHONE", "EMAIL")
# PostgreSQL only (models.trigram_index): what serves a search with a leading wildcard.
TRIGRAM_INDEXES = (
    ("customers", "name_key"),
    ("customer_users", "name_key"),
    ("customer_users", "email_key"),
)


# models.KEY_LENGTHS as this revision made them (a migration does not import the models).
KEY_LENGTHS = {"name_key": 200, "number_key": 64, "email_key": 320}


def _key(length: int) -> sa.types.TypeEngine[str]:
    # models.search_key_type: byte-wise comparison on both backends.
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"

    # Search keys: casefolded copies, filled in Python (SQLite's lower() is ASCII only).
    op.add_column("customers", sa.Column("name_key", _key(200), nullable=False, server_default=""))
    op.add_column("customers", sa.Column("number_key", _key(64), nullable=True))
    op.add_column(
        "customer_users", sa.Column("name_key", _key(200), nullable=False, server_default="")
    )
    op.add_column("customer_users", sa.Column("email_key", _key(320), nullable=True))
    _backfill_keys(bind, "customers", {"name": "name_key", "customer_number": "number_key"})
    _backfill_keys(bind, "customer_users", {"name": "name_key", "email": "email_key"})
    if postgres:  # SQLite cannot drop a default or change a type in place
        op.alter_column("customers", "name_key", server_default=None)
        op.alter_column("customer_users", "name_key", server_default=None)
        for column in ("phone", "mobile"):
            op.alter_column(
                "customer_users",
                column,
                type_=sa.String(32, collation="C"),
                existing_type=sa.String(32),
                existing_nullable=True,
            )
        # Trusted since PostgreSQL 13: the database owner may create it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        op.f("ix_customers_organization_id_name_key_id"),
        "customers",
        ["organization_id", "name_key", "id"],
    )
    op.create_index(
        op.f("ix_customers_organization_id_number_key"),
        "customers",
        ["organization_id", "number_key"],
    )
    op.create_index(
        op.f("ix_customer_users_customer_id_name_key_id"),
        "customer_users",
        ["customer_id", "name_key", "id"],
    )
    op.create_index(op.f("ix_customer_users_name_key_id"), "customer_users", ["name_key", "id"])
    op.create_index(op.f("ix_customer_users_email_key"), "customer_users", ["email_key"])
    op.create_index(op.f("ix_customer_users_phone"), "customer_users", ["phone"])
    op.create_index(op.f("ix_customer_users_mobile"), "customer_users", ["mobile"])
    for table, column in TRIGRAM_INDEXES if postgres else ():
        op.create_index(
            f"ix_{table}_{column}_trgm",
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )

    # Service levels per team, in minutes.
    for column in ("first_response_minutes", "update_minutes", "solution_minutes"):
        op.add_column("teams", sa.Column(column, sa.Integer(), nullable=True))

    # Tickets: origin, escalation times, first response.
    op.add_column(
        "tickets",
        sa.Column(
            "origin",
            sa.Enum(*ORIGINS, name="ticket_origin", native_enum=False, length=32),
            nullable=True,
        ),
    )
    for column in (
        "first_response_due_at",
        "update_due_at",
        "solution_due_at",
        "first_responded_at",
    ):
        op.add_column("tickets", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_tickets_customer_id_state"), "tickets", ["customer_id", "state"])
    op.create_index(op.f("ix_tickets_requester_id_state"), "tickets", ["requester_id", "state"])
    op.create_index(op.f("ix_tickets_escalation_due_at"), "tickets", ["escalation_due_at"])
    op.create_index(op.f("ix_tickets_locked_by_id"), "tickets", ["locked_by_id"])

    # My queues and dashboard settings, per advisor.
    op.add_column(
        "advisors", sa.Column("my_queues_set_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "advisor_queues",
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisor_id"], ["advisors.id"], name=op.f("fk_advisor_queues_advisor_id_advisors")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_advisor_queues_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("advisor_id", "team_id", name=op.f("pk_advisor_queues")),
    )
    op.create_index(op.f("ix_advisor_queues_team_id"), "advisor_queues", ["team_id"])
    op.create_table(
        "dashboard_settings",
        sa.Column("advisor_id", sa.Integer(), nullable=False),
        sa.Column("dashboard", sa.String(64), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["advisor_id"],
            ["advisors.id"],
            name=op.f("fk_dashboard_settings_advisor_id_advisors"),
        ),
        sa.PrimaryKeyConstraint("advisor_id", "dashboard", name=op.f("pk_dashboard_settings")),
    )


def _backfill_keys(bind: sa.engine.Connection, table: str, keys: dict[str, str]) -> None:
    t = sa.table(table, sa.column("id"), *(sa.column(c) for c in [*keys, *keys.values()]))
    rows = bind.execute(sa.select(t.c.id, *(t.c[c] for c in keys))).all()
    updates = [
        {
            "row_id": row.id,
            **{
                # Cut to the key's column, as models.search_key does (casefolding may lengthen).
                key: None
                if row._mapping[c] is None
                else row._mapping[c].strip().casefold()[: KEY_LENGTHS[key]]
                for c, key in keys.items()
            },
        }
        for row in rows
    ]
    if updates:
        bind.execute(
            sa.update(t)
            .where(t.c.id == sa.bindparam("row_id"))
            .values({key: sa.bindparam(key) for key in keys.values()}),
            updates,
        )


def downgrade() -> None:
    op.drop_table("dashboard_settings")
    op.drop_index(op.f("ix_advisor_queues_team_id"), table_name="advisor_queues")
    op.drop_table("advisor_queues")
    op.drop_column("advisors", "my_queues_set_at")
    for index in (
        "ix_tickets_locked_by_id",
        "ix_tickets_escalation_due_at",
        "ix_tickets_requester_id_state",
        "ix_tickets_customer_id_state",
    ):
        op.drop_index(op.f(index), table_name="tickets")
    for column in (
        "first_responded_at",
        "solution_due_at",
        "update_due_at",
        "first_response_due_at",
        "origin",
    ):
        op.drop_column("tickets", column)
    for column in ("solution_minutes", "update_minutes", "first_response_minutes"):
        op.drop_column("teams", column)
    for table, column in TRIGRAM_INDEXES if op.get_bind().dialect.name == "postgresql" else ():
        op.drop_index(f"ix_{table}_{column}_trgm", table_name=table)
    for table, index in (
        ("customer_users", "ix_customer_users_mobile"),
        ("customer_users", "ix_customer_users_phone"),
        ("customer_users", "ix_customer_users_email_key"),
        ("customer_users", "ix_customer_users_name_key_id"),
        ("customer_users", "ix_customer_users_customer_id_name_key_id"),
        ("customers", "ix_customers_organization_id_number_key"),
        ("customers", "ix_customers_organization_id_name_key_id"),
    ):
        op.drop_index(op.f(index), table_name=table)
    op.drop_column("customer_users", "email_key")
    op.drop_column("customer_users", "name_key")
    op.drop_column("customers", "number_key")
    op.drop_column("customers", "name_key")
