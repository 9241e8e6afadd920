"""Organization mutations: the tag vocabulary, team service levels, an advisor's queues."""

from __future__ import annotations

from deskgraph.auth import organization as rules
from deskgraph.errors import BadUserInput, Forbidden, NotFound
from deskgraph.ids import decode_id_of
from deskgraph.resolvers.common import ids_of, text, unknown
from deskgraph.schema.organization import Tag, Team
from deskgraph.schema.organization_inputs import (
    CreateTagInput,
    CreateTagPayload,
    SetMyQueuesInput,
    SetMyQueuesPayload,
    UpdateTeamServiceLevelInput,
    UpdateTeamServiceLevelPayload,
)
from deskgraph.server.context import Info
from deskgraph.store import organization as store
from deskgraph.store.models import utcnow
from deskgraph.store.session import write

TAG_MAX = 100
SERVICE_LEVEL_MAX = 525_600  # minutes: a year


async def visible_organization_id(info: Info, global_id: str) -> int:
    """The organization an input's ``organizationId`` names; NOT_FOUND alike when it is
    missing or hidden from the viewer."""
    viewer, loaders = info.context.require_viewer(), info.context.loaders
    organization_id = decode_id_of(global_id, "Organization", field="organizationId")
    row = await loaders.organization_by_id.load(organization_id)
    if row is None or not await rules.organization_visible(viewer, loaders, organization_id):
        raise NotFound("No such organization.")
    return organization_id


async def create_tag(info: Info, input: CreateTagInput) -> CreateTagPayload:
    viewer = info.context.require_viewer()
    organization_id = await visible_organization_id(info, input.organization_id)
    if not rules.can_manage_organization(viewer, organization_id):
        raise Forbidden("Only the organization's ADMINs manage its tags.")
    name = text(input.name, "name", max_length=TAG_MAX)
    tag_id = await store.create_tag_once(
        info.context.session, organization_id=organization_id, name=name
    )
    if tag_id is None:
        raise BadUserInput(f"The tag {name!r} exists already.", fields={"name": "already exists"})
    info.context.reset_loaders()
    return CreateTagPayload(tag=Tag.from_row(await info.context.loaders.tag_by_id.load(tag_id)))


async def update_team_service_level(
    info: Info, input: UpdateTeamServiceLevelInput
) -> UpdateTeamServiceLevelPayload:
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    team = await loaders.team_by_id.load(decode_id_of(input.team_id, "Team", field="teamId"))
    if team is None or not rules.can_see_team(viewer, team):
        raise NotFound("No such team.")
    if not rules.can_set_service_levels(viewer, team):
        raise Forbidden("Only the organization's ADMINs set its teams' service levels.")
    minutes = {
        "firstResponseMinutes": input.first_response_minutes,
        "updateMinutes": input.update_minutes,
        "solutionMinutes": input.solution_minutes,
    }
    wrong = {
        name: f"1 to {SERVICE_LEVEL_MAX} or null"
        for name, value in minutes.items()
        if value is not None and not 1 <= value <= SERVICE_LEVEL_MAX
    }
    if wrong:
        raise BadUserInput(
            f"Service levels are 1 to {SERVICE_LEVEL_MAX} minutes, or null.", fields=wrong
        )
    async with write(info.context.session) as session:
        await store.set_team_service_levels(
            session,
            team_id=team.id,
            first_response_minutes=input.first_response_minutes,
            update_minutes=input.update_minutes,
            solution_minutes=input.solution_minutes,
        )
    info.context.reset_loaders()
    return UpdateTeamServiceLevelPayload(
        team=Team.from_row(await info.context.loaders.team_by_id.load(team.id))
    )


async def my_queues(info: Info) -> list[Team]:
    """The viewer's queues by name: chosen, or until chosen the teams they belong to; empty
    for viewers who are not advisors."""
    viewer = info.context.require_viewer()
    if not rules.can_choose_queues(viewer):
        return []
    team_ids = await info.context.loaders.my_queues.load(viewer)
    rows = await info.context.loaders.team_by_id.load_many(sorted(team_ids))
    # A chosen team the advisor no longer sees (they left it) is no queue of theirs.
    teams = [
        Team.from_row(row) for row in rows if row is not None and rules.can_queue_team(viewer, row)
    ]
    return sorted(teams, key=lambda team: (team.name.casefold(), team.pk))


async def set_my_queues(info: Info, input: SetMyQueuesInput) -> SetMyQueuesPayload:
    viewer = info.context.require_viewer()
    if not rules.can_choose_queues(viewer) or viewer.advisor_id is None:
        raise Forbidden("Only advisors choose queues.")
    team_ids = ids_of(input.team_ids, "Team", "teamIds")
    rows = await info.context.loaders.team_by_id.load_many(team_ids)
    if any(row is None or not rules.can_queue_team(viewer, row) for row in rows):
        raise unknown("teamIds", "Team")
    async with write(info.context.session) as session:
        await store.set_my_queues(
            session, advisor_id=viewer.advisor_id, team_ids=team_ids, now=utcnow()
        )
    info.context.reset_loaders()
    return SetMyQueuesPayload(my_queues=await my_queues(info))
