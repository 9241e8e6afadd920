"""Checks of what a ticket input refers to (requester, customer, machine, assignee, tags) and
of its pending-until time: each answers the values to write, or raises the input error that
names the field (an unknown or hidden row answers as one that does not exist)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from deskgraph.auth import customer as customer_rules, ticket as rules
from deskgraph.errors import BadUserInput
from deskgraph.resolvers.common import ids_of, present, unknown
from deskgraph.schema.ticket_inputs import CreateTicketInput, UpdateTicketInput
from deskgraph.server.context import Info
from deskgraph.store import models


async def row_of(loader: Any, global_id: str, type_name: str, field: str) -> Any:
    ids = ids_of([global_id], type_name, field)
    return await loader.load(ids[0])


def pending_until(input: UpdateTicketInput, ticket: Any) -> dict[str, datetime | None]:
    state = input.state if present(input.state) else ticket.state
    if state is not models.TicketState.PENDING_REMINDER:
        if present(input.pending_until) and input.pending_until is not None:
            raise BadUserInput(
                "`pendingUntil` is only for PENDING_REMINDER tickets.",
                fields={"pendingUntil": "state is not PENDING_REMINDER"},
            )
        return {"pending_until": None} if ticket.pending_until is not None else {}
    until = input.pending_until if present(input.pending_until) else ticket.pending_until
    if until is None:
        raise BadUserInput(
            "A PENDING_REMINDER ticket needs `pendingUntil`.", fields={"pendingUntil": "required"}
        )
    if until.tzinfo is None:
        raise BadUserInput(
            "`pendingUntil` needs a time zone offset.", fields={"pendingUntil": "offset required"}
        )
    try:
        until = until.astimezone(UTC)  # kept in UTC: years 1 to 9999 there too
    except OverflowError:
        raise BadUserInput(
            "`pendingUntil` is outside the calendar in UTC.",
            fields={"pendingUntil": "out of range"},
        ) from None
    return {"pending_until": until}


async def customer_fields(
    info: Info, input: CreateTicketInput, organization_id: int
) -> dict[str, int]:
    """The requester and customer an advisor names: of the team's organization, and visible to
    the viewer (an external advisor names only the customers of their external teams)."""
    viewer, loaders = info.context.require_viewer(), info.context.loaders
    values: dict[str, int] = {}
    requester = None
    if input.requester_id is not None:
        requester = await row_of(
            loaders.customer_user_by_id, input.requester_id, "CustomerUser", "requesterId"
        )
        if (
            requester is None
            or requester.organization_id != organization_id
            or not await customer_rules.customer_user_visible(viewer, loaders, requester)
        ):
            raise unknown("requesterId", "CustomerUser")
        values["requester_id"] = requester.id
        values["customer_id"] = requester.customer_id
    if input.customer_id is not None:
        customer = await row_of(loaders.customer_by_id, input.customer_id, "Customer", "customerId")
        if (
            customer is None
            or customer.organization_id != organization_id
            or not await customer_rules.customer_visible(viewer, loaders, customer)
        ):
            raise unknown("customerId", "Customer")
        if requester is not None and requester.customer_id != customer.id:
            raise BadUserInput(
                "The requester is not a person of that customer.",
                fields={"customerId": "not the requester's customer"},
            )
        values["customer_id"] = customer.id
    return values


async def machine_of(info: Info, global_id: str, customer_id: int | None) -> int:
    loaders = info.context.loaders
    machine = await row_of(loaders.machine_by_id, global_id, "Machine", "machineId")
    if (
        machine is None
        or customer_id is None
        or machine.customer_id != customer_id
        or not await customer_rules.machine_visible(info.context.require_viewer(), loaders, machine)
    ):
        raise unknown("machineId", "Machine")
    return int(machine.id)


async def assignee_of(info: Info, global_id: str, *, team_id: int, organization_id: int) -> int:
    """An advisor who works the team's tickets: of its organization (not a VIEWER), or its
    external member with the role ADVISOR there."""
    loaders = info.context.loaders
    advisor = await row_of(loaders.advisor_by_id, global_id, "Advisor", "assigneeId")
    if advisor is None or not await works_team(
        info, advisor, team_id=team_id, organization_id=organization_id
    ):
        raise unknown("assigneeId", "Advisor")
    return int(advisor.id)


async def works_team(info: Info, advisor: Any, *, team_id: int, organization_id: int) -> bool:
    memberships = (  # only asked for outside the advisor's own organization
        []
        if advisor.primary_organization_id == organization_id
        else await info.context.loaders.teams_by_advisor_id.load(advisor.id)
    )
    return rules.advisor_works_team(
        advisor, memberships, team_id=team_id, organization_id=organization_id
    )


async def tags_of(info: Info, global_ids: Sequence[str] | None, organization_id: int) -> list[int]:
    tag_ids = ids_of(global_ids, "Tag", "tagIds", limit=50)
    rows = await info.context.loaders.tag_by_id.load_many(tag_ids)
    if any(row is None or row.organization_id != organization_id for row in rows):
        raise unknown("tagIds", "Tag")
    return tag_ids
