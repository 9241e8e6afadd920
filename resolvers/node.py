"""``node`` / ``nodes``: any object by global ID, through its loader and its access rule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from deskgraph.auth import (
    customer as customer_rules,
    notification as notification_rules,
    organization as organization_rules,
    project as project_rules,
    ticket as ticket_rules,
)
from deskgraph.auth.viewer import Actor
from deskgraph.errors import BadUserInput
from deskgraph.ids import decode_id, no_such_node
from deskgraph.loaders import Loaders
from deskgraph.resolvers import card as card_resolvers
from deskgraph.schema.card import CustomerCard, Interaction
from deskgraph.schema.customer import Customer, CustomerUser, Machine
from deskgraph.schema.node import Node, RowBacked
from deskgraph.schema.notification import Notification
from deskgraph.schema.organization import Advisor, Organization, Tag, Team
from deskgraph.schema.prefetch import Level, prefetch
from deskgraph.schema.project import Project
from deskgraph.schema.ticket import Ticket
from deskgraph.schema.ticket_message import Message, TimeEntry
from deskgraph.schema.ticket_page import TICKET_AHEAD
from deskgraph.server.context import Info

Visible = Callable[[Actor, Loaders, Any], Awaitable[bool]]


async def _organization(viewer: Actor, loaders: Loaders, row: Any) -> bool:
    return await organization_rules.organization_visible(viewer, loaders, row.id)


async def _team(viewer: Actor, _loaders: Loaders, row: Any) -> bool:
    return organization_rules.can_see_team(viewer, row)


async def _tag(viewer: Actor, _loaders: Loaders, row: Any) -> bool:
    return organization_rules.can_see_tag(viewer, row)


async def _ticket(viewer: Actor, _loaders: Loaders, row: Any) -> bool:
    return ticket_rules.can_see_ticket(viewer, row)


async def _message(viewer: Actor, loaders: Loaders, row: Any) -> bool:
    ticket = await loaders.ticket_by_id.load(row.ticket_id)
    return (
        ticket is not None
        and ticket_rules.can_see_ticket(viewer, ticket)
        and ticket_rules.can_see_message(viewer, row)
    )


async def _time_entry(viewer: Actor, loaders: Loaders, row: Any) -> bool:
    ticket = await loaders.ticket_by_id.load(row.ticket_id)
    return (
        ticket is not None
        and ticket_rules.can_see_ticket(viewer, ticket)
        and ticket_rules.can_see_time_entries(viewer)
    )


async def _notification(viewer: Actor, _loaders: Loaders, row: Any) -> bool:
    return notification_rules.can_see_notification(viewer, row)


async def _project(viewer: Actor, _loaders: Loaders, row: Any) -> bool:
    return project_rules.can_see_project(viewer, row)


# What is loaded ahead for a node of a type before it is answered (schema.prefetch): its
# relations complete without a task each (a ticket's messages and their authors).
AHEAD: dict[str, Level] = {"Ticket": TICKET_AHEAD}

# type name -> (GraphQL type, loader attribute on Loaders, access rule)
NODE_TYPES: dict[str, tuple[type[RowBacked], str, Visible]] = {
    "Organization": (Organization, "organization_by_id", _organization),
    "Team": (Team, "team_by_id", _team),
    "Advisor": (Advisor, "advisor_by_id", organization_rules.advisor_visible),
    "Tag": (Tag, "tag_by_id", _tag),
    "Customer": (Customer, "customer_by_id", customer_rules.customer_visible),
    "CustomerUser": (CustomerUser, "customer_user_by_id", customer_rules.customer_user_visible),
    "Machine": (Machine, "machine_by_id", customer_rules.machine_visible),
    "Ticket": (Ticket, "ticket_by_id", _ticket),
    "Message": (Message, "message_by_id", _message),
    "TimeEntry": (TimeEntry, "time_entry_by_id", _time_entry),
    "Notification": (Notification, "notification_by_id", _notification),
    "Project": (Project, "project_by_id", _project),
    # A merged card's ID answers the live card it was merged into (the loader follows it).
    "CustomerCard": (CustomerCard, "card_by_id", card_resolvers.card_visible),
    "Interaction": (Interaction, "interaction_by_id", card_resolvers.interaction_visible),
}


async def resolve_node(info: Info, global_id: str) -> Node:
    node: Node = await resolve_node_of(info, None, global_id)
    return node


async def resolve_node_of(info: Info, expected_type: str | None, global_id: str) -> Any:
    """The node ``global_id`` names, if the viewer may see it (and, with ``expected_type``,
    if it is of that type: a federation representation names its type)."""
    viewer = info.context.require_viewer()
    decoded = decode_id(global_id)
    if decoded is None:
        raise BadUserInput("That is not a deskgraph ID.", fields={"id": "not a global ID"})
    type_name, pk = decoded
    entry = NODE_TYPES.get(type_name)
    if entry is not None and expected_type in (None, type_name):
        cls, loader_name, visible = entry
        loaders = info.context.loaders
        row = await getattr(loaders, loader_name).load(pk)
        if row is not None and await visible(viewer, loaders, row):
            node = cls.from_row(row)
            assert isinstance(node, Node)
            ahead = AHEAD.get(type_name)
            if ahead is not None:
                await prefetch(info, [node], ahead, (), type_name)
            return node
    raise no_such_node(global_id)
