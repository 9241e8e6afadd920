"""Organization mutations: managing the tag vocabulary."""

from __future__ import annotations

from deskgraph.auth import organization as rules
from deskgraph.errors import BadUserInput, Forbidden, NotFound
from deskgraph.ids import decode_id_of
from deskgraph.resolvers.common import text
from deskgraph.schema.organization import Tag
from deskgraph.schema.organization_inputs import CreateTagInput, CreateTagPayload
from deskgraph.server.context import Info
from deskgraph.store import organization as store

TAG_MAX = 100


async def create_tag(info: Info, input: CreateTagInput) -> CreateTagPayload:
    viewer = info.context.require_viewer()
    loaders = info.context.loaders
    organization_id = decode_id_of(input.organization_id, "Organization", field="organizationId")
    row = await loaders.organization_by_id.load(organization_id)
    if row is None or not await rules.organization_visible(viewer, loaders, organization_id):
        raise NotFound("No such organization.")
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
