"""Claimed work that failed (a mail of the outbox, a row of the CRM sync queue): retried later
with exponential backoff, or given up as FAILED once its attempts are spent. Both workers
(``server.mail``, ``server.crm_sync``) claim their rows through ``store.claims``; this is what
they do with a failed attempt, each writing through its own store module."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.store.session import write

FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after failed attempt number ``attempts`` (1, 2, …): 30 s, doubling,
    at most an hour."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), LAST_RETRY)


class Claimed(Protocol):
    @property
    def id(self) -> int: ...

    @property
    def attempts(self) -> int: ...


@dataclass(frozen=True)
class Retries:
    """How a worker records a failed attempt: ``mark_retry(session, claimed, retry_at=,
    error=)`` and ``mark_failed(session, claimed, error=)`` of its store module; ``label``
    names a row in the log (``"outbox: mail"``)."""

    label: str
    log: logging.Logger
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    max_attempts: int
    mark_retry: Callable[..., Awaitable[Any]]
    mark_failed: Callable[..., Awaitable[Any]]

    async def retry(self, claimed: Claimed, error: str) -> None:
        """Again after the backoff, or FAILED when that was the last allowed attempt."""
        if claimed.attempts >= self.max_attempts:
            await self.fail(claimed, error)
            return
        retry_at = self.clock() + retry_delay(claimed.attempts)
        async with self.sessionmaker() as session, write(session):
            await self.mark_retry(session, claimed, retry_at=retry_at, error=error)
        self.log.warning(
            "%s %d attempt %d failed, next at %s: %s",
            self.label,
            claimed.id,
            claimed.attempts,
            retry_at.isoformat(timespec="seconds"),
            error,
        )

    async def fail(self, claimed: Claimed, error: str) -> None:
        """FAILED, never retried."""
        async with self.sessionmaker() as session, write(session):
            await self.mark_failed(session, claimed, error=error)
        self.log.error(
            "%s %d FAILED after %d attempt(s), not retried: %s",
            self.label,
            claimed.id,
            claimed.attempts,
            error,
        )
