"""phone numbers: each organization's default region; stored numbers re-normalised with
libphonenumber (``+460701234567`` becomes ``+46701234567``), duplicates reported

Revision ID: 0004_phone_regions
Revises: 0003
Create Date: 2026-11-26
"""

import logging

import sqlalchemy as sa
from alembic import op

from deskgraph.store.phone import normalised

revision = "0004_phone_regions"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("deskgraph.store.migrations")


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("default_region", sa.String(length=2), nullable=True))
    bind = op.get_bind()
    _advisors(bind)
    _customer_users(bind)


def _advisors(bind: sa.Connection) -> None:
    """Advisors' phone is UNIQUE: a number that would become another advisor's is left as it
    was (the row that would have to change keeps its old value; between two rows that both
    change, the later one does) and both ids are logged, for a person to sort out."""
    rows = bind.execute(
        sa.text("SELECT id, phone FROM advisors WHERE phone IS NOT NULL ORDER BY id")
    ).all()
    changes: dict[int, str] = {}
    for advisor_id, stored in rows:
        new = normalised(stored)
        if new is None:
            log.warning(
                "advisor %s: phone %r is not a valid number; left as it is", advisor_id, stored
            )
        elif new != stored:
            changes[advisor_id] = new
    holders = {stored: advisor_id for advisor_id, stored in rows if advisor_id not in changes}
    for advisor_id, stored in rows:
        new = changes.get(advisor_id)
        if new is None:
            continue
        holder = holders.get(new)
        if holder is not None:
            log.warning(
                "duplicate phone %s: advisors %s and %s; advisor %s keeps %r",
                new,
                min(holder, advisor_id),
                max(holder, advisor_id),
                advisor_id,
                stored,
            )
            holders[stored] = advisor_id
            continue
        holders[new] = advisor_id
        bind.execute(
            sa.text("UPDATE advisors SET phone = :phone WHERE id = :id"),
            {"phone": new, "id": advisor_id},
        )


def _customer_users(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT id, phone, mobile FROM customer_users"
            " WHERE phone IS NOT NULL OR mobile IS NOT NULL ORDER BY id"
        )
    ).all()
    for person_id, phone, mobile in rows:
        values = {}
        for field, stored in (("phone", phone), ("mobile", mobile)):
            if stored is None:
                continue
            new = normalised(stored)
            if new is None:
                log.warning(
                    "customer user %s: %s %r is not a valid number; left as it is",
                    person_id,
                    field,
                    stored,
                )
            elif new != stored:
                values[field] = new
        if values:
            assignments = ", ".join(f"{field} = :{field}" for field in values)
            bind.execute(
                sa.text(f"UPDATE customer_users SET {assignments} WHERE id = :id"),
                {**values, "id": person_id},
            )


def downgrade() -> None:
    # The numbers stay normalised: the old form was a defect, not data.
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("default_region")
