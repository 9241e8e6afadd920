"""Emitting ticket events inside the writing transaction (see ``deskgraph.server.events``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.server.events import CHANNEL

PENDING = "deskgraph_events"


async def emit(session: AsyncSession, **event: Any) -> None:
    """An event that leaves when the transaction commits, and never if it rolls back."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": json.dumps(event, separators=(",", ":"))},
        )
    else:  # SQLite: handed to this process's hub by store.session.write after the commit
        session.info.setdefault(PENDING, []).append(event)
