"""The project domain's tables: an organization's projects and the customer users and customers
that follow them (the customer portal shows a followed project's tickets). ``store.models``
re-exports them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deskgraph.store.base import Base
from deskgraph.store.columns import KEY_LENGTHS, UTCDateTime, key_of, search_key_type, utcnow


class Project(Base):
    """A body of work of an organization that groups tickets, and that it may share with its
    customers: their people follow it (``ProjectFollower``)."""

    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("organization_id", "name_key"),
        Index(None, "organization_id", "name_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(200))
    # Casefolded name (search_key_type): what ``projects(search:)`` compares, and unique per
    # organization (two projects "Harvest 2026" and "harvest 2026" would be one to a reader).
    name_key: Mapped[str] = mapped_column(
        search_key_type(KEY_LENGTHS["name_key"]), default=key_of("name", "name_key")
    )
    description: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectFollower(Base):
    """A project shared with one customer user, or with a whole customer (every customer user
    of it, including those created later). Exactly one of the two is set."""

    __tablename__ = "project_followers"
    __table_args__ = (
        UniqueConstraint("project_id", "customer_user_id"),
        UniqueConstraint("project_id", "customer_id"),
        Index(None, "project_id", "id"),
        Index(None, "customer_user_id"),
        Index(None, "customer_id"),
        CheckConstraint("(customer_user_id IS NULL) <> (customer_id IS NULL)", name="one_follower"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    customer_user_id: Mapped[int | None] = mapped_column(ForeignKey("customer_users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("advisors.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
