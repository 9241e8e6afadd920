"""customer cards: interactions and their messages, cards with identities and custom fields,
the audit of merges

Revision ID: 0010_cards
Revises: 0009_sharing
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_cards"
down_revision = "0009_sharing"
branch_labels = None
depends_on = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    # models.search_key_type: byte-wise comparison on both backends.
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


DIRECTION = ("INBOUND", "OUTBOUND")


def upgrade() -> None:
    op.create_table(
        "customer_cards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("name_key", _key(200), nullable=True),
        sa.Column("customer_user_id", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _fk("customer_cards", "organization_id", "organizations"),
        _fk("customer_cards", "customer_user_id", "customer_users"),
        _fk("customer_cards", "merged_into_id", "customer_cards"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_cards")),
    )
    op.create_index(
        op.f("ix_customer_cards_organization_id_name_key_id"),
        "customer_cards",
        ["organization_id", "name_key", "id"],
    )
    op.create_index(
        op.f("ix_customer_cards_customer_user_id"), "customer_cards", ["customer_user_id"]
    )
    op.create_index(op.f("ix_customer_cards_merged_into_id"), "customer_cards", ["merged_into_id"])

    op.create_table(
        "card_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind", _enum("identity_kind", "PHONE", "EMAIL", "CHAT", "SOCIAL"), nullable=False
        ),
        sa.Column("address", sa.String(320), nullable=False),
        _at("created_at"),
        _fk("card_identities", "organization_id", "organizations"),
        _fk("card_identities", "card_id", "customer_cards"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_identities")),
        sa.UniqueConstraint(
            "organization_id",
            "kind",
            "address",
            name=op.f("uq_card_identities_organization_id_kind_address"),
        ),
    )
    op.create_index(op.f("ix_card_identities_card_id_id"), "card_identities", ["card_id", "id"])

    op.create_table(
        "card_field_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", _key(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _at("created_at"),
        _fk("card_field_definitions", "organization_id", "organizations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_field_definitions")),
        sa.UniqueConstraint(
            "organization_id",
            "name_key",
            name=op.f("uq_card_field_definitions_organization_id_name_key"),
        ),
    )
    op.create_index(
        op.f("ix_card_field_definitions_organization_id_position_id"),
        "card_field_definitions",
        ["organization_id", "position", "id"],
    )

    op.create_table(
        "card_field_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _at("updated_at"),
        _fk("card_field_values", "card_id", "customer_cards"),
        _fk("card_field_values", "definition_id", "card_field_definitions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_field_values")),
        sa.UniqueConstraint(
            "card_id", "definition_id", name=op.f("uq_card_field_values_card_id_definition_id")
        ),
    )
    op.create_index(
        op.f("ix_card_field_values_definition_id"), "card_field_values", ["definition_id"]
    )

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("card_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            _enum("interaction_channel", "VOICE", "SMS", "EMAIL", "CHAT", "SOCIAL"),
            nullable=False,
        ),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("direction", _enum("interaction_direction", *DIRECTION), nullable=False),
        sa.Column(
            "state",
            _enum("interaction_state", "ACTIVE", "WRAP_UP", "ENDED", "TRANSFERRED", "UNASSIGNED"),
            nullable=False,
        ),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("transferred_from_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("started_at"),
        _at("ended_at", nullable=True),
        _at("updated_at"),
        _fk("interactions", "organization_id", "organizations"),
        _fk("interactions", "card_id", "customer_cards"),
        _fk("interactions", "advisor_id", "advisors"),
        _fk("interactions", "ticket_id", "tickets"),
        _fk("interactions", "transferred_from_id", "interactions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    op.create_index(
        op.f("ix_interactions_card_id_started_at_id"),
        "interactions",
        ["card_id", "started_at", "id"],
    )
    op.create_index(
        op.f("ix_interactions_advisor_id_state_id"), "interactions", ["advisor_id", "state", "id"]
    )
    op.create_index(op.f("ix_interactions_ticket_id"), "interactions", ["ticket_id"])
    op.create_index(
        op.f("ix_interactions_organization_id_state_id"),
        "interactions",
        ["organization_id", "state", "id"],
    )

    op.create_table(
        "interaction_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", sa.Integer(), nullable=False),
        sa.Column("direction", _enum("interaction_direction", *DIRECTION), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author_advisor_id", sa.Integer(), nullable=True),
        _at("created_at"),
        _fk("interaction_messages", "interaction_id", "interactions"),
        _fk("interaction_messages", "author_advisor_id", "advisors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction_messages")),
    )
    op.create_index(
        op.f("ix_interaction_messages_interaction_id_id"),
        "interaction_messages",
        ["interaction_id", "id"],
    )

    op.create_table(
        "card_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("merged_by_id", sa.Integer(), nullable=True),
        sa.Column("identities_moved", sa.Integer(), nullable=False),
        sa.Column("interactions_moved", sa.Integer(), nullable=False),
        sa.Column("overridden", sa.JSON(), nullable=False),
        _at("created_at"),
        _fk("card_merges", "organization_id", "organizations"),
        _fk("card_merges", "target_id", "customer_cards"),
        _fk("card_merges", "source_id", "customer_cards"),
        _fk("card_merges", "merged_by_id", "advisors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_merges")),
    )
    op.create_index(
        op.f("ix_card_merges_organization_id_id"), "card_merges", ["organization_id", "id"]
    )
    op.create_index(op.f("ix_card_merges_target_id_id"), "card_merges", ["target_id", "id"])
    op.create_index(op.f("ix_card_merges_source_id"), "card_merges", ["source_id"])


def downgrade() -> None:
    for table in (
        "card_merges",
        "interaction_messages",
        "interactions",
        "card_field_values",
        "card_field_definitions",
        "card_identities",
        "customer_cards",
    ):
        op.drop_table(table)
