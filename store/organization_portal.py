"""Portal settings writes: what an organization's customer portal shows (seed 002).

An organization that never saved has no row and answers the defaults at version 0; the first
save inserts version 1, every later one moves the version on by one. A save names the version
it read: a stale one writes nothing (the caller answers CONFLICT), also when two first saves
race (the primary key refuses the second insert)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.store import models
from deskgraph.store.event_log import emit
from deskgraph.store.session import write

# The event a save emits: open subscriptions of the organization's customer users re-check
# what they see (``resolvers.subscription``); their next request reads the new settings.
PORTAL_EVENT = "portal"


async def save_portal_settings(
    session: AsyncSession,
    *,
    organization_id: int,
    version: int,
    company_tickets: bool,
    followed_project_tickets: bool,
    visible_properties: Collection[models.PortalTicketProperty],
    acknowledge_new_tickets: bool,
    updated_by_id: int | None,
    now: datetime,
) -> bool:
    """Save the settings if they are still at ``version``, in a transaction of its own; False
    when they are not (another save came first), and nothing is written."""
    values = {
        "show_company_tickets": company_tickets,
        "show_followed_project_tickets": followed_project_tickets,
        "visible_properties": sorted(p.value for p in visible_properties),
        "acknowledge_new_tickets": acknowledge_new_tickets,
        "updated_by_id": updated_by_id,
        "updated_at": now,
    }
    p = models.PortalSettings
    try:
        async with write(session) as transaction:
            if version == 0:
                await transaction.execute(
                    insert(p).values(organization_id=organization_id, version=1, **values)
                )
            else:
                result = await transaction.execute(
                    update(p)
                    .where(p.organization_id == organization_id, p.version == version)
                    .values(version=p.version + 1, **values)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    return False  # stale: the update matched nothing, the commit is empty
            await emit(transaction, kind=PORTAL_EVENT, organization_id=organization_id)
    except IntegrityError:
        return False  # a concurrent first save inserted the row
    return True
