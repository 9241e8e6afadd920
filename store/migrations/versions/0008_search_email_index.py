"""customer search: the e-mail key's index covers the name key, the customer and the id

Revision ID: 0008_search_email_index
Revises: 0007_information_center
Create Date: 2026-11-26

A prefix search (``anna*``) matches names and e-mails; its e-mail part looks only for the
people whose name does not match already (the name part has them, in page order). With the
name key, the customer (for the viewer's scope) and the id in the e-mail index, that check is
read from the index alone: a first name that starts thousands of e-mails (``anna.berg@``)
costs an index range, not a read of each person's row. It replaces the e-mail key's own index.
"""

from alembic import op

revision = "0008_search_email_index"
down_revision = "0007_information_center"
branch_labels = None
depends_on = None

COVERING = ["email_key", "name_key", "customer_id", "id"]


def upgrade() -> None:
    op.create_index(
        op.f("ix_customer_users_email_key_name_key_customer_id_id"), "customer_users", COVERING
    )
    op.drop_index(op.f("ix_customer_users_email_key"), table_name="customer_users")


def downgrade() -> None:
    op.create_index(op.f("ix_customer_users_email_key"), "customer_users", ["email_key"])
    op.drop_index(
        op.f("ix_customer_users_email_key_name_key_customer_id_id"), table_name="customer_users"
    )
