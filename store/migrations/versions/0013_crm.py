"""crm: each organization's CRM configuration, the built-in CRM's records, links between
interactions and CRM records, and the sync outbox of interaction data to linked records

Revision ID: 0013_crm
Revises: 0012_rate_limits
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_crm"
down_revision = "0012_rate_limits"
branch_labels = None
depends_on = None

RECORD_TYPES = ("ACCOUNT", "CONTACT", "LEAD", "CASE")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "crm_configurations",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("crm_kind", "BUILTIN", "SALESFORCE", "DYNAMICS"), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=True),
        sa.Column("token_url", sa.String(500), nullable=True),
        sa.Column("client_id", sa.String(200), nullable=True),
        sa.Column("secret_ref", sa.String(200), nullable=True),
        sa.Column("creatable_types", sa.JSON(), nullable=False),
        sa.Column("card_fields", sa.JSON(), nullable=False),
        sa.Column("interaction_fields", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        _at("updated_at"),
        _fk("crm_configurations", "organization_id", "organizations"),
        _fk("crm_configurations", "updated_by_id", "advisors"),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_crm_configurations")),
    )

    op.create_table(
        "crm_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("type", _enum("crm_record_type", *RECORD_TYPES), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("sync_key", sa.String(100), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        _fk("crm_records", "organization_id", "organizations"),
        _fk("crm_records", "account_id", "crm_records"),
        _fk("crm_records", "contact_id", "crm_records"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_records")),
    )
    for columns in (["organization_id", "phone"], ["organization_id", "email"]):
        op.create_index(op.f(f"ix_crm_records_{'_'.join(columns)}"), "crm_records", columns)
    for column in ("account_id", "contact_id"):
        op.create_index(op.f(f"ix_crm_records_{column}"), "crm_records", [column])

    op.create_table(
        "crm_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("record_type", _enum("crm_record_type", *RECORD_TYPES), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("record_name", sa.String(200), nullable=True),
        sa.Column("record_url", sa.String(500), nullable=True),
        sa.Column("linked_by_id", sa.Integer(), nullable=True),
        _at("created_at"),
        _fk("crm_links", "organization_id", "organizations"),
        _fk("crm_links", "interaction_id", "interactions"),
        _fk("crm_links", "linked_by_id", "advisors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_links")),
        sa.UniqueConstraint(
            "interaction_id",
            "record_type",
            "record_id",
            name=op.f("uq_crm_links_interaction_id_record_type_record_id"),
        ),
    )
    op.create_index(op.f("ix_crm_links_organization_id_id"), "crm_links", ["organization_id", "id"])

    op.create_table(
        "crm_sync_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("record_type", _enum("crm_record_type", *RECORD_TYPES), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column(
            "status",
            _enum("crm_sync_status", "PENDING", "SENT", "FAILED", "CANCELLED"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("next_attempt_at"),
        _at("claimed_until", nullable=True),
        sa.Column("claim_token", sa.String(64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("created_at"),
        _at("sent_at", nullable=True),
        _fk("crm_sync_outbox", "organization_id", "organizations"),
        _fk("crm_sync_outbox", "interaction_id", "interactions"),
        _fk("crm_sync_outbox", "link_id", "crm_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sync_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_crm_sync_outbox_idempotency_key")),
    )
    op.create_index(
        op.f("ix_crm_sync_outbox_status_next_attempt_at"),
        "crm_sync_outbox",
        ["status", "next_attempt_at"],
    )
    op.create_index(op.f("ix_crm_sync_outbox_link_id"), "crm_sync_outbox", ["link_id"])


def downgrade() -> None:
    op.drop_table("crm_sync_outbox")
    op.drop_table("crm_links")
    op.drop_table("crm_records")
    op.drop_table("crm_configurations")
