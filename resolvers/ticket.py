"""Ticket list and ticket mutations."""

from __future__ import annotations

from typing import Any

from deskgraph.auth import ticket as rules
from deskgraph.errors import BadUserInput, Conflict, Forbidden
from deskgraph.loaders.ticket import (
    count_views_of,
    load_ticket_page,
    ticket_list_query,
)
from deskgraph.resolvers.common import optional_text, present, text, unknown
from deskgraph.resolvers.project import ticket_project
from deskgraph.resolvers.ticket_inputs import (
    assignee_of,
    customer_fields,
    machine_of,
    pending_until,
    row_of,
    tags_of,
    works_team,
)
from deskgraph.resolvers.ticket_workflow import (
    STALE,
    advisor_origin,
    check_lock_for_update,
    filter_values,
    lock_values,
    locked_conflict,
    reload_ticket,
    starts_work_on_reply,
    visible_ticket,
)
from deskgraph.schema.pagination import decode_cursor, encode_cursor, page_info, page_size
from deskgraph.schema.ticket import TicketConnection, TicketEdge
from deskgraph.schema.ticket_inputs import (
    AddTicketMessageInput,
    AddTicketMessagePayload,
    AddTimeEntryInput,
    AddTimeEntryPayload,
    CreateTicketInput,
    CreateTicketPayload,
    TicketFilter,
    UpdateTicketInput,
    UpdateTicketPayload,
)
from deskgraph.schema.ticket_message import Message, TimeEntry
from deskgraph.schema.ticket_page import page_of_tickets
from deskgraph.schema.ticket_workflow import TicketViewCounts
from deskgraph.server.context import Info
from deskgraph.store import models, ticket as store
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

TITLE_MAX = 300
BODY_MAX = 20_000
NOTE_MAX = 2_000
MINUTES_MAX = 24 * 60


async def resolve_tickets(
    info: Info,
    view: rules.TicketListing,
    filter: TicketFilter | None,
    first: int | None,
    after: str | None,
) -> TicketConnection:
    viewer = info.context.require_viewer()
    size = page_size(first, info.context.settings.max_page_size)
    after_id = decode_cursor(after)
    query = ticket_list_query(viewer, view, await filter_values(info, filter))
    page = await load_ticket_page(info.context.reader, query, first=size, after_id=after_id)
    tickets = await page_of_tickets(info, page.rows)
    return TicketConnection(
        query=query,
        edges=[TicketEdge(cursor=encode_cursor(t.pk), node=t) for t in tickets],
        page_info=page_info(
            [r.id for r in page.rows], has_next_page=page.has_next_page, after=after
        ),
    )


async def resolve_ticket_view_counts(info: Info, filter: TicketFilter | None) -> TicketViewCounts:
    """Every list view's count for the badges, in one statement."""
    viewer = info.context.require_viewer()
    counts = await count_views_of(info.context.reader, viewer, await filter_values(info, filter))
    return TicketViewCounts(
        mine=counts["MINE"],
        my_teams=counts["MY_TEAMS"],
        my_external=counts["MY_EXTERNAL"],
        external_team=counts["EXTERNAL_TEAM"],
        all=counts["ALL"],
    )


async def create_ticket(info: Info, input: CreateTicketInput) -> CreateTicketPayload:
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    title = text(input.title, "title", max_length=TITLE_MAX)
    team = await row_of(loaders.team_by_id, input.team_id, "Team", "teamId")
    if team is None or not rules.can_create_ticket_in_team(viewer, team):
        if team is not None and rules.can_know_team(viewer, team):
            raise Forbidden("Your role in this team cannot create tickets.")
        raise unknown("teamId", "Team")
    values: dict[str, Any] = {"title": title, "priority": input.priority, "team_id": team.id}
    if not rules.can_set_advisor_fields(viewer):
        advisor_only = {
            "origin": input.origin,
            "requesterId": input.requester_id,
            "customerId": input.customer_id,
            "assigneeId": input.assignee_id,
            "tagIds": input.tag_ids,
        }
        refused = [name for name, value in advisor_only.items() if value is not None]
        if refused:
            raise Forbidden(
                "Customer users cannot set " + ", ".join(refused) + ".",
                fields={name: "advisors only" for name in refused},
            )
        values["requester_id"] = viewer.customer_user_id
        values["customer_id"] = viewer.customer_id
        values["origin"] = models.TicketOrigin.PORTAL
    else:
        values.update(await customer_fields(info, input, team.organization_id))
        values["origin"] = advisor_origin(input.origin, values.get("requester_id"))
        if input.assignee_id is not None:
            values["assignee_id"] = await assignee_of(
                info, input.assignee_id, team_id=team.id, organization_id=team.organization_id
            )
    if input.machine_id is not None:
        values["machine_id"] = await machine_of(info, input.machine_id, values.get("customer_id"))
    if input.project_id is not None:
        values["project_id"] = await ticket_project(info, input.project_id, team.organization_id)
    tag_ids = await tags_of(info, input.tag_ids, team.organization_id)
    values["state"] = models.TicketState.NEW
    async with write(info.context.session) as session:
        ticket_id = await store.create_ticket(
            session,
            organization_id=team.organization_id,
            values=values,
            tag_ids=tag_ids,
            now=utcnow(),
            mail_domain=info.context.settings.mail_domain,
        )
    info.context.wake_outbox()  # an automatic reply may have been mailed
    return CreateTicketPayload(ticket=await reload_ticket(info, ticket_id))


async def update_ticket(info: Info, input: UpdateTicketInput) -> UpdateTicketPayload:
    viewer = info.context.require_viewer()
    ticket = await visible_ticket(info, input.id)
    if not rules.can_update_ticket(viewer, ticket):
        raise Forbidden("You cannot change this ticket.")
    broken = await check_lock_for_update(info, input, ticket)
    values: dict[str, Any] = {}
    if present(input.title):
        if input.title is None:
            raise BadUserInput("`title` cannot be null.", fields={"title": "required"})
        values["title"] = text(input.title, "title", max_length=TITLE_MAX)
    for name in ("state", "priority"):
        value = getattr(input, name)
        if present(value):
            if value is None:
                raise BadUserInput(f"`{name}` cannot be null.", fields={name: "required"})
            values[name] = value
    values.update(pending_until(input, ticket))
    team_id = ticket.team_id
    if present(input.team_id):
        if input.team_id is None:
            raise BadUserInput("`teamId` cannot be null.", fields={"teamId": "required"})
        new_team = await row_of(info.context.loaders.team_by_id, input.team_id, "Team", "teamId")
        if (
            new_team is None
            or new_team.organization_id != ticket.organization_id
            or not rules.can_create_ticket_in_team(viewer, new_team)
        ):
            raise unknown("teamId", "Team")
        values["team_id"] = team_id = new_team.id
    if present(input.assignee_id):
        values["assignee_id"] = (
            None
            if input.assignee_id is None
            else await assignee_of(
                info, input.assignee_id, team_id=team_id, organization_id=ticket.organization_id
            )
        )
    elif team_id != ticket.team_id and ticket.assignee_id is not None:
        # Moved to a team its assignee does not work (an external member of the old team):
        # back to the new team's queue, as the payload shows, rather than out of their sight.
        assignee = await info.context.loaders.advisor_by_id.load(ticket.assignee_id)
        if assignee is None or not await works_team(
            info, assignee, team_id=team_id, organization_id=ticket.organization_id
        ):
            values["assignee_id"] = None
    if present(input.project_id):
        pid, org = input.project_id, ticket.organization_id
        values["project_id"] = None if pid is None else await ticket_project(info, pid, org)
    values.update(lock_values(info, input, ticket, values, broken=broken))
    tag_ids = None
    if present(input.tag_ids):
        tag_ids = await tags_of(info, input.tag_ids, ticket.organization_id)
    async with write(info.context.session) as session:
        changed = await store.update_ticket(
            session,
            ticket_id=ticket.id,
            version=input.version,
            values=values,
            tag_ids=tag_ids,
            locked_by=ticket.locked_by_id,
            now=utcnow(),
        )
        holder = None if changed else await store.locked_by(session, ticket.id)
    if not changed:
        if holder is not None and holder not in (ticket.locked_by_id, viewer.advisor_id):
            raise await locked_conflict(info, holder)
        raise Conflict(STALE)
    return UpdateTicketPayload(ticket=await reload_ticket(info, ticket.id))


async def add_ticket_message(info: Info, input: AddTicketMessageInput) -> AddTicketMessagePayload:
    viewer = info.context.require_viewer()
    ticket = await visible_ticket(info, input.ticket_id)
    body = text(input.body, "body", max_length=BODY_MAX)
    channel = input.channel
    is_note = channel is models.MessageChannel.NOTE
    is_public = not is_note if input.is_public is None else input.is_public
    if is_note and is_public:
        raise BadUserInput("A NOTE is private.", fields={"isPublic": "must be false for NOTE"})
    allowed = (
        rules.can_send_message(viewer, ticket)
        if is_public
        else rules.can_add_private_note(viewer, ticket)
    )
    if not allowed:
        raise Forbidden("You cannot add this message to this ticket.")
    if not rules.can_write_on_channel(viewer, channel):
        raise BadUserInput("Customers write by CHAT or EMAIL.", fields={"channel": "CHAT or EMAIL"})
    starts_work = starts_work_on_reply(info, ticket, is_public=is_public)
    now = utcnow()  # once, before any row lock is waited for (store.ticket.bumped_updated_at)
    async with write(info.context.session) as session:
        message_id = await store.add_message(
            session,
            ticket_id=ticket.id,
            channel=channel,
            is_public=is_public,
            body=body,
            author_advisor_id=viewer.advisor_id,
            author_customer_user_id=viewer.customer_user_id,
            now=now,
            mail_domain=info.context.settings.mail_domain,
        )
        if starts_work is not None:
            await store.lock_on_first_work(
                session, ticket_id=ticket.id, advisor_id=starts_work, now=now
            )
    if is_public:
        info.context.wake_outbox()
    ticket_obj = await reload_ticket(info, ticket.id)
    message = Message.from_row(await info.context.loaders.message_by_id.load(message_id))
    return AddTicketMessagePayload(message=message, ticket=ticket_obj)


async def add_time_entry(info: Info, input: AddTimeEntryInput) -> AddTimeEntryPayload:
    viewer = info.context.require_viewer()
    ticket = await visible_ticket(info, input.ticket_id)
    # The rule requires an advisor_id; testing it again narrows the type for mypy.
    if not rules.can_add_time_entry(viewer, ticket) or viewer.advisor_id is None:
        raise Forbidden("You cannot record time on this ticket.")
    if not 1 <= input.minutes <= MINUTES_MAX:
        raise BadUserInput(
            f"`minutes` must be 1 to {MINUTES_MAX}.", fields={"minutes": f"1 to {MINUTES_MAX}"}
        )
    note = optional_text(input.note, "note", max_length=NOTE_MAX)
    async with write(info.context.session) as session:
        entry_id = await store.add_time_entry(
            session,
            ticket_id=ticket.id,
            advisor_id=viewer.advisor_id,
            minutes=input.minutes,
            note=note,
            now=utcnow(),
        )
    ticket_obj = await reload_ticket(info, ticket.id)
    entry = TimeEntry.from_row(await info.context.loaders.time_entry_by_id.load(entry_id))
    return AddTimeEntryPayload(time_entry=entry, ticket=ticket_obj)
