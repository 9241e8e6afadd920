"""The persisted queries' table (issue 18): the documents clients call by their sha256, shared by
every process. ``store.models`` re-exports it."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from deskgraph.store.base import Base
from deskgraph.store.columns import UTCDateTime, stored_enum, utcnow

HASH_LENGTH = 64  # a sha256 in lowercase hex
NAME_LENGTH = 200


class PersistedQuerySource(enum.Enum):
    # Registered by a client (automatic persisted queries): runs in `auto` mode only.
    CLIENT = "CLIENT"
    # Imported from the clients' manifest (`deskgraph persisted-queries import`): runs in
    # `auto` and `only` modes.
    MANIFEST = "MANIFEST"


class PersistedQuery(Base):
    """A GraphQL document under the sha256 of its text, as Apollo's clients send it. Rows are
    never edited but for a CLIENT row that a manifest names, which becomes MANIFEST."""

    __tablename__ = "persisted_queries"

    sha256: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    document: Mapped[str] = mapped_column(Text)
    # The operation's name where the manifest gives one (or the document has one).
    name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    source: Mapped[PersistedQuerySource] = mapped_column(
        stored_enum(PersistedQuerySource, "persisted_query_source")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
