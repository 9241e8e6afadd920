"""The rate limits' table (issue 18): what each viewer spent in a minute, shared by every process
on PostgreSQL. ``store.models`` re-exports it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from deskgraph.store.base import Base

KEY_LENGTH = 200  # server.rate_limit keeps keys shorter (a longer one is hashed)


class RateLimit(Base):
    """One counter of a fixed one-minute window: ``key`` names the limit and the viewer
    (``cost:advisor:7``), ``window_start`` the window's first second (Unix time). Rows of past
    windows are deleted as new windows begin."""

    __tablename__ = "rate_limits"
    __table_args__ = (Index("ix_rate_limits_window_start", "window_start"),)

    key: Mapped[str] = mapped_column(String(KEY_LENGTH), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger)
