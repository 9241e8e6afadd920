"""Row visibility that needs more than the row: read what the rules in ``auth/`` need through
the loaders, then ask them. Used by ``node`` / ``nodes`` and by the IDs a mutation input names,
so an ID answers alike on every path."""

from __future__ import annotations

from typing import Any

from deskgraph.auth import customer as customer_rules
from deskgraph.auth import organization as organization_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders import Loaders


async def organization_visible(viewer: Actor, loaders: Loaders, organization_id: int) -> bool:
    if organization_rules.can_see_organization(viewer, organization_id):
        return True
    if not viewer.is_advisor or viewer.primary_organization_id is None:
        return False
    members = await loaders.member_organizations.load(
        (viewer.primary_organization_id, viewer.external_team_ids)
    )
    return organization_rules.can_see_organization(viewer, organization_id, members)


async def advisor_visible(viewer: Actor, loaders: Loaders, advisor: Any) -> bool:
    teams = await loaders.teams_by_advisor_id.load(advisor.id) if viewer.is_advisor else []
    return organization_rules.can_see_advisor(viewer, advisor, teams)


async def customer_visible(viewer: Actor, loaders: Loaders, customer: Any) -> bool:
    return customer_rules.can_see_customer(
        viewer, customer, in_external_teams=await _in_external_teams(viewer, loaders, customer)
    )


async def customer_user_visible(viewer: Actor, loaders: Loaders, customer_user: Any) -> bool:
    customer = await loaders.customer_by_id.load(customer_user.customer_id)
    return customer is not None and customer_rules.can_see_customer_user(
        viewer,
        customer_user,
        customer,
        in_external_teams=await _in_external_teams(viewer, loaders, customer),
    )


async def machine_visible(viewer: Actor, loaders: Loaders, machine: Any) -> bool:
    customer = await loaders.customer_by_id.load(machine.customer_id)
    return customer is not None and customer_rules.can_see_machine(
        viewer, customer, in_external_teams=await _in_external_teams(viewer, loaders, customer)
    )


async def _in_external_teams(viewer: Actor, loaders: Loaders, customer: Any) -> bool:
    if not customer_rules.meets_through_external_teams(viewer, customer.organization_id):
        return False
    found: bool = await loaders.customer_in_teams.load((customer.id, viewer.external_team_ids))
    return found
