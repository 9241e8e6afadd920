"""Rows a test adds beside the demo data: advisors, teams, customers, tickets, messages, ...

Each factory writes one row (and its links) on a connection the test opened with
``api.app.state.engine.begin()``, fills what the test does not care about with plain
defaults, and returns the new row's primary key. Use them for what the demo does not hold;
read the demo's own rows through the API or ``api.scalar``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from deskgraph.sources.crm.base import CrmRecordType
from deskgraph.store import models
from deskgraph.store.models import utcnow

_serial = itertools.count(1)


async def _insert(connection: AsyncConnection, model: type[models.Base], **values: Any) -> int:
    pk = await connection.scalar(insert(model).values(**values).returning(model.__table__.c.id))
    assert isinstance(pk, int)
    return pk


async def team(connection: AsyncConnection, organization_id: int, name: str = "Team") -> int:
    return await _insert(connection, models.Team, organization_id=organization_id, name=name)


async def advisor(
    connection: AsyncConnection,
    organization_id: int,
    *,
    role: models.AdvisorRole = models.AdvisorRole.ADVISOR,
    teams: Iterable[int] = (),
    name: str = "Advisor",
) -> int:
    pk = await _insert(
        connection,
        models.Advisor,
        primary_organization_id=organization_id,
        role=role,
        name=name,
        email=f"advisor-{next(_serial)}@factory.example",
    )
    for team_id in teams:
        await connection.execute(
            insert(models.TeamMembership).values(team_id=team_id, advisor_id=pk)
        )
    return pk


async def customer(
    connection: AsyncConnection, organization_id: int, name: str = "Customer"
) -> int:
    return await _insert(connection, models.Customer, organization_id=organization_id, name=name)


async def customer_user(connection: AsyncConnection, customer_id: int, name: str = "Person") -> int:
    return await _insert(connection, models.CustomerUser, customer_id=customer_id, name=name)


async def ticket(
    connection: AsyncConnection, organization_id: int, team_id: int, **values: Any
) -> int:
    """A ticket numbered after the organization's last one (which it moves on)."""
    organizations = models.Organization
    number = await connection.scalar(
        update(organizations)
        .where(organizations.id == organization_id)
        .values(last_ticket_number=organizations.last_ticket_number + 1)
        .returning(organizations.last_ticket_number)
    )
    defaults = {
        "title": f"Factory ticket {number}",
        "state": models.TicketState.OPEN,
        "priority": models.TicketPriority.NORMAL,
    }
    return await _insert(
        connection,
        models.Ticket,
        organization_id=organization_id,
        team_id=team_id,
        number=number,
        **(defaults | values),
    )


async def tag_ticket(connection: AsyncConnection, ticket_id: int, tag_id: int) -> None:
    await connection.execute(insert(models.TicketTag).values(ticket_id=ticket_id, tag_id=tag_id))


async def message(
    connection: AsyncConnection,
    ticket_id: int,
    *,
    channel: models.MessageChannel = models.MessageChannel.EMAIL,
    body: str = "Hello",
    **values: Any,
) -> int:
    return await _insert(
        connection,
        models.Message,
        ticket_id=ticket_id,
        channel=channel,
        is_public=channel != models.MessageChannel.NOTE,
        body=body,
        **values,
    )


async def notification(
    connection: AsyncConnection,
    advisor_id: int,
    organization_id: int,
    *,
    teams: Iterable[int] = (),
    title: str = "Notification",
) -> int:
    pk = await _insert(
        connection,
        models.Notification,
        advisor_id=advisor_id,
        kind=models.NotificationKind.ADDED_TO_TEAMS,
        organization_id=organization_id,
        title=title,
        body="…",
        created_at=utcnow(),
    )
    rows = [{"notification_id": pk, "team_id": team_id} for team_id in teams]
    if rows:
        await connection.execute(insert(models.NotificationTeam), rows)
    return pk


async def choose_queues(
    connection: AsyncConnection, advisor_id: int, team_ids: Iterable[int]
) -> None:
    """The advisor's chosen queues ("my queues"), replacing any earlier choice; none is a
    choice too (then their queues are empty)."""
    await connection.execute(
        delete(models.AdvisorQueue).where(models.AdvisorQueue.advisor_id == advisor_id)
    )
    rows = [{"advisor_id": advisor_id, "team_id": team_id} for team_id in team_ids]
    if rows:
        await connection.execute(insert(models.AdvisorQueue), rows)
    await connection.execute(
        update(models.Advisor)
        .where(models.Advisor.id == advisor_id)
        .values(my_queues_set_at=utcnow())
    )


async def project(
    connection: AsyncConnection,
    organization_id: int,
    name: str | None = None,
    **values: Any,
) -> int:
    return await _insert(
        connection,
        models.Project,
        organization_id=organization_id,
        name=name or f"Project {next(_serial)}",
        **values,
    )


async def project_follower(
    connection: AsyncConnection,
    project_id: int,
    *,
    customer_user_id: int | None = None,
    customer_id: int | None = None,
    added_by_id: int | None = None,
) -> int:
    """A project shared with one customer user or (``customer_id``) a whole customer."""
    return await _insert(
        connection,
        models.ProjectFollower,
        project_id=project_id,
        customer_user_id=customer_user_id,
        customer_id=customer_id,
        added_by_id=added_by_id,
    )


async def ticket_requester(
    connection: AsyncConnection,
    ticket_id: int,
    customer_user_id: int,
    **values: Any,
) -> int:
    """A further requester of a ticket (the ticket's ``requester_id`` stays the primary)."""
    return await _insert(
        connection,
        models.TicketRequester,
        ticket_id=ticket_id,
        customer_user_id=customer_user_id,
        **values,
    )


async def portal_settings(
    connection: AsyncConnection,
    organization_id: int,
    *,
    company_tickets: bool = False,
    followed_project_tickets: bool = False,
    properties: Iterable[models.PortalTicketProperty] = models.DEFAULT_PORTAL_PROPERTIES,
    acknowledge_new_tickets: bool = False,
) -> None:
    """The organization's portal settings, replacing any it had."""
    await connection.execute(
        delete(models.PortalSettings).where(
            models.PortalSettings.organization_id == organization_id
        )
    )
    await connection.execute(
        insert(models.PortalSettings).values(
            organization_id=organization_id,
            show_company_tickets=company_tickets,
            show_followed_project_tickets=followed_project_tickets,
            visible_properties=sorted(prop.value for prop in properties),
            acknowledge_new_tickets=acknowledge_new_tickets,
        )
    )


async def time_entry(
    connection: AsyncConnection, ticket_id: int, advisor_id: int, minutes: int = 15
) -> int:
    return await _insert(
        connection, models.TimeEntry, ticket_id=ticket_id, advisor_id=advisor_id, minutes=minutes
    )


# Cards (seed 004) -------------------------------------------------------------------------


async def customer_card(
    connection: AsyncConnection,
    organization_id: int,
    name: str | None = None,
    *,
    identities: Iterable[tuple[models.IdentityKind, str]] = (),
    **values: Any,
) -> int:
    """A live card, with its identities (kind, normalised address)."""
    pk = await _insert(
        connection, models.CustomerCard, organization_id=organization_id, name=name, **values
    )
    for kind, address in identities:
        await card_identity(connection, pk, kind, address, organization_id=organization_id)
    return pk


async def card_identity(
    connection: AsyncConnection,
    card_id: int,
    kind: models.IdentityKind,
    address: str,
    *,
    organization_id: int,
) -> int:
    return await _insert(
        connection,
        models.CardIdentity,
        organization_id=organization_id,
        card_id=card_id,
        kind=kind,
        address=address,
    )


async def interaction(
    connection: AsyncConnection,
    card_id: int,
    organization_id: int,
    *,
    channel: models.InteractionChannel = models.InteractionChannel.CHAT,
    address: str = "handle",
    state: models.InteractionState = models.InteractionState.ENDED,
    direction: models.InteractionDirection = models.InteractionDirection.INBOUND,
    **values: Any,
) -> int:
    """An interaction on a card (ENDED unless told; ``advisor_id``, ``ticket_id``,
    ``started_at`` in ``values``)."""
    return await _insert(
        connection,
        models.Interaction,
        card_id=card_id,
        organization_id=organization_id,
        channel=channel,
        address=address,
        state=state,
        direction=direction,
        **values,
    )


async def interaction_message(
    connection: AsyncConnection,
    interaction_id: int,
    body: str = "Hello",
    *,
    direction: models.InteractionDirection = models.InteractionDirection.INBOUND,
    author_advisor_id: int | None = None,
) -> int:
    return await _insert(
        connection,
        models.InteractionMessage,
        interaction_id=interaction_id,
        body=body,
        direction=direction,
        author_advisor_id=author_advisor_id,
    )


async def card_field(
    connection: AsyncConnection, organization_id: int, name: str, position: int = 0
) -> int:
    return await _insert(
        connection,
        models.CardFieldDefinition,
        organization_id=organization_id,
        name=name,
        position=position,
    )


async def card_field_value(
    connection: AsyncConnection, card_id: int, definition_id: int, value: str
) -> int:
    return await _insert(
        connection, models.CardFieldValue, card_id=card_id, definition_id=definition_id, value=value
    )


async def merged(
    connection: AsyncConnection,
    source_id: int,
    target_id: int,
    *,
    merged_by_id: int | None = None,
) -> int:
    """Marks ``source_id`` merged into ``target_id`` (a tombstone) with its audit row; moves
    nothing (a test adds the rows it wants on the target)."""
    organization_id = await connection.scalar(
        update(models.CustomerCard)
        .where(models.CustomerCard.id == source_id)
        .values(merged_into_id=target_id)
        .returning(models.CustomerCard.organization_id)
    )
    return await _insert(
        connection,
        models.CardMerge,
        organization_id=organization_id,
        target_id=target_id,
        source_id=source_id,
        merged_by_id=merged_by_id,
        identities_moved=0,
        interactions_moved=0,
        overridden=[],
    )


async def crm_record(
    connection: AsyncConnection,
    organization_id: int,
    name: str,
    *,
    type: CrmRecordType = CrmRecordType.CONTACT,
    phone: str | None = None,
    email: str | None = None,
    **values: Any,
) -> int:
    """A record of the organization's built-in CRM (``account_id``, ``contact_id``, ``fields``
    in ``values``)."""
    return await _insert(
        connection,
        models.CrmBuiltinRecord,
        organization_id=organization_id,
        type=type,
        name=name,
        phone=phone,
        email=email,
        fields=values.pop("fields", {}),
        created_at=utcnow(),
        updated_at=utcnow(),
        **values,
    )


async def crm_link(
    connection: AsyncConnection,
    interaction_id: int,
    record_id: int,
    *,
    organization_id: int = 1,
    type: CrmRecordType = CrmRecordType.CONTACT,
    name: str | None = None,
) -> int:
    """A built-in CRM record linked to an interaction."""
    return await _insert(
        connection,
        models.CrmLink,
        organization_id=organization_id,
        interaction_id=interaction_id,
        record_type=type,
        record_id=str(record_id),
        record_name=name,
        created_at=utcnow(),
    )
