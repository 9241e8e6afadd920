"""The CRM sync worker: passes interaction data to linked CRM records (``store.crm_sync``).

Each row is claimed (and committed) before the CRM is asked and marked sent after it
answered; every attempt carries the row's idempotency key, which the adapter writes with the
fields and checks before a retry, so a crash or a lost answer between the two never writes
twice. A CRM that is down (or throttles) is retried with exponential backoff, and one failing
organization does not hold up another's rows; a CRM that refuses the write (the record was
deleted, a field is rejected), or the last allowed attempt failing, leaves the row FAILED. The
built-in CRM writes in the transaction that marks the row sent: exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.server.retries import Retries
from deskgraph.settings import Settings
from deskgraph.sources.crm.base import CrmKind, CrmRejected, CrmSource, CrmUnavailable
from deskgraph.sources.crm.registry import CrmConfig, CrmSources
from deskgraph.store import crm_sync
from deskgraph.store.crm import configurations
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

log = logging.getLogger(__name__)

# Longer than one CRM call can take (its timeouts are seconds), so a claim lapses only when
# its worker died or hung.
CLAIM_LEASE = timedelta(minutes=5)
BATCH_SIZE = 50
CLOSE_GRACE_SECONDS = 10.0


class CrmSyncWorker:
    """Delivers due CRM syncs: ``run_once()`` for one pass, or a background loop between
    ``start()`` and ``aclose()`` that runs a pass every ``crm_sync_poll_seconds`` and as soon
    as ``wake()`` is called."""

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        sources: CrmSources,
        *,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.settings = settings
        self.sources = sources
        self.batch_size = batch_size
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._retries = Retries(
            "crm sync: row",
            log,
            sessionmaker,
            clock,
            settings.crm_sync_max_attempts,
            crm_sync.mark_retry,
            crm_sync.mark_failed,
        )
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def wake(self) -> None:
        """Deliver now rather than at the next poll (from the loop's thread or another)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._wakeup.set)

    async def start(self) -> None:
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name="deskgraph-crm-sync")

    async def aclose(self) -> None:
        """Stop the loop; a write cut off is delivered again once its claim lapses."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), CLOSE_GRACE_SECONDS)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._closing:
            self._wakeup.clear()
            try:
                done = await self.run_once()
            except Exception:  # the loop must outlive a database or programming error
                log.exception("crm sync: a pass failed")
                done = 0
            if self._closing:
                return
            if done >= self.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.settings.crm_sync_poll_seconds)

    async def run_once(self) -> int:
        """Try every due row (at most ``batch_size``) once; how many the CRMs now hold."""
        async with self._sessionmaker() as session:
            due = await crm_sync.due_ids(session, now=self._clock(), limit=self.batch_size)
        sent = 0
        down: set[int] = set()  # organizations whose CRM failed in this pass
        for sync_id in due:
            if self._closing:
                break
            async with self._sessionmaker() as session, write(session):
                claimed = await crm_sync.claim(
                    session, sync_id, now=self._clock(), lease=CLAIM_LEASE
                )
            if claimed is None:
                continue
            if claimed.organization_id in down:
                await self._retries.retry(claimed, "the CRM failed earlier in this pass")
                continue
            if await self._deliver(claimed, down):
                sent += 1
        return sent

    async def _deliver(self, claimed: crm_sync.ClaimedSync, down: set[int]) -> bool:
        if claimed.attempts > self.settings.crm_sync_max_attempts:
            await self._retries.fail(claimed, "no outcome recorded for the last attempt")
            return False
        config = await self._config(claimed.organization_id)
        if config is None:
            await self._retries.fail(claimed, "the organization has connected no CRM")
            return False
        try:
            if config.kind is CrmKind.BUILTIN:
                # The write and its record in one transaction: exactly once.
                async with self._sessionmaker() as session, write(session):
                    source = self.sources.writer(config, session)
                    await self._update(source, claimed)
                    await crm_sync.mark_sent(session, claimed, now=self._clock())
            else:
                await self._update(self.sources.external(config), claimed)
                async with self._sessionmaker() as session, write(session):
                    await crm_sync.mark_sent(session, claimed, now=self._clock())
        except CrmRejected as error:
            await self._retries.fail(claimed, f"the CRM refused: {error.message}")
            return False
        except CrmUnavailable as error:
            down.add(claimed.organization_id)
            await self._retries.retry(claimed, str(error))
            return False
        log.info(
            "crm sync: %s %s updated (row %d, attempt %d)",
            claimed.record_type.value,
            claimed.record_id,
            claimed.id,
            claimed.attempts,
        )
        return True

    async def _update(self, source: CrmSource, claimed: crm_sync.ClaimedSync) -> None:
        await source.update(
            claimed.record_type,
            claimed.record_id,
            claimed.fields,
            idempotency_key=claimed.idempotency_key,
            retry=claimed.attempts > 1,
        )

    async def _config(self, organization_id: int) -> CrmConfig | None:
        async with self._sessionmaker() as session:
            row = (await session.execute(configurations([organization_id]))).one_or_none()
        return None if row is None else CrmConfig.from_row(row)
