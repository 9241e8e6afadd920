"""Projects: the ``projects`` list, creating and changing them, sharing them with customers,
and the project a ticket names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deskgraph.auth import project as rules
from deskgraph.errors import BadUserInput, Conflict, Forbidden, NotFound
from deskgraph.ids import decode_id_of
from deskgraph.loaders.project import ProjectPageKey
from deskgraph.resolvers.common import (
    optional_text,
    present,
    row_named,
    search_term,
    text,
    unknown,
)
from deskgraph.schema.pagination import (
    PageInfo,
    decode_name_cursor,
    encode_name_cursor,
    page_size,
)
from deskgraph.schema.project import Project, ProjectConnection, ProjectEdge
from deskgraph.schema.project_inputs import (
    CreateProjectInput,
    ProjectPayload,
    ShareProjectInput,
    UpdateProjectInput,
)
from deskgraph.server.context import Info
from deskgraph.store import project as store
from deskgraph.store.models import search_key, utcnow
from deskgraph.store.session import write

NAME_MAX = 200
DESCRIPTION_MAX = 10_000
SHARE_MAX = 100
NAME_TAKEN = "The organization has a project of that name already (names compare without case)."


async def resolve_projects(
    info: Info, search: str | None, first: int | None, after: str | None
) -> ProjectConnection:
    viewer = info.context.require_viewer()
    size = page_size(first, info.context.settings.max_page_size)
    position = decode_project_cursor(after)
    term = search_key(search_term(search))
    rows: list[Any] = []
    has_next = False
    if size:
        key = ProjectPageKey(viewer, term, size, position)
        rows, has_next = await info.context.loaders.project_page.load(key)
    for row in rows:
        info.context.loaders.project_by_id.prime(row.id, row)
    return ProjectConnection(
        viewer=viewer,
        search=term,
        edges=[
            ProjectEdge(cursor=encode_project_cursor(r), node=Project.from_row(r)) for r in rows
        ],
        page_info=PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=encode_project_cursor(rows[0]) if rows else None,
            end_cursor=encode_project_cursor(rows[-1]) if rows else None,
        ),
    )


_CURSOR_PREFIX = "project"  # the list its cursors belong to (schema.pagination)


def encode_project_cursor(row: Any) -> str:
    return encode_name_cursor(_CURSOR_PREFIX, row)


def decode_project_cursor(cursor: str | None) -> tuple[str, int] | None:
    return decode_name_cursor(_CURSOR_PREFIX, cursor)


async def visible_project(info: Info, global_id: str) -> Any:
    """The project an input names; NOT_FOUND alike when it is missing or hidden."""
    viewer = info.context.require_viewer()
    row = await row_named(info.context.loaders.project_by_id, global_id, "Project")
    if row is None or not rules.can_see_project(viewer, row):
        raise NotFound("No such project.")
    return row


async def reload_project(info: Info, project_id: int) -> ProjectPayload:
    info.context.reset_loaders()
    row = await info.context.loaders.project_by_id.load(project_id)
    return ProjectPayload(project=Project.from_row(row))


async def create_project(info: Info, input: CreateProjectInput) -> ProjectPayload:
    viewer = info.context.require_viewer()
    organization_id = viewer.primary_organization_id
    if organization_id is None or not rules.can_manage_projects(viewer, organization_id):
        raise Forbidden("Only the organization's ADMINs and ADVISORs create projects.")
    name = text(input.name, "name", max_length=NAME_MAX)
    description = optional_text(input.description, "description", max_length=DESCRIPTION_MAX)
    try:
        async with write(info.context.session) as session:
            pk = await store.create_project(
                session,
                organization_id=organization_id,
                name=name,
                description=description,
                created_by_id=viewer.advisor_id,
                now=utcnow(),
            )
    except store.NameTaken:
        raise BadUserInput(NAME_TAKEN, fields={"name": "taken"}) from None
    return await reload_project(info, pk)


async def update_project(info: Info, input: UpdateProjectInput) -> ProjectPayload:
    viewer = info.context.require_viewer()
    project = await visible_project(info, input.id)
    if not rules.can_manage_projects(viewer, project.organization_id):
        raise Forbidden("Only the organization's ADMINs and ADVISORs change its projects.")
    values: dict[str, Any] = {}
    if present(input.name):
        if input.name is None:
            raise BadUserInput("`name` cannot be null.", fields={"name": "required"})
        values["name"] = text(input.name, "name", max_length=NAME_MAX)
    if present(input.description):
        values["description"] = optional_text(
            input.description, "description", max_length=DESCRIPTION_MAX
        )
    try:
        async with write(info.context.session) as session:
            if not await store.update_project(
                session,
                project_id=project.id,
                organization_id=project.organization_id,
                version=input.version,
                values=values,
                now=utcnow(),
            ):
                raise Conflict(
                    "The project changed since you loaded it: reload and apply your change again."
                )
    except store.NameTaken:
        raise BadUserInput(NAME_TAKEN, fields={"name": "taken"}) from None
    return await reload_project(info, project.id)


async def share_project(info: Info, input: ShareProjectInput, *, share: bool) -> ProjectPayload:
    """``shareProject`` (``share``) and ``unshareProject``: both idempotent."""
    viewer = info.context.require_viewer()
    project = await visible_project(info, input.project_id)
    # Before any validation: a viewer who may not share learns nothing from their input.
    if not rules.can_share_project(viewer, project):
        raise Forbidden("Only the organization's ADMINs and ADVISORs share its projects.")
    user_ids = _unique_ids(input.customer_user_ids, "CustomerUser", "customerUserIds")
    customer_ids = _unique_ids(input.customer_ids, "Customer", "customerIds")
    if len(user_ids) + len(customer_ids) > SHARE_MAX:
        raise BadUserInput(
            f"`customerUserIds` and `customerIds` take at most {SHARE_MAX} IDs in all.",
            fields={"customerUserIds": f"at most {SHARE_MAX} in all"},
        )
    loaders = info.context.loaders
    people = await loaders.customer_user_by_id.load_many(user_ids)
    if any(row is None or row.organization_id != project.organization_id for row in people):
        raise NotFound("No such customer user.", fields={"customerUserIds": "unknown"})
    customers = await loaders.customer_by_id.load_many(customer_ids)
    if any(row is None or row.organization_id != project.organization_id for row in customers):
        raise NotFound("No such customer.", fields={"customerIds": "unknown"})
    async with write(info.context.session) as session:
        if share:
            await store.share_project(
                session,
                project_id=project.id,
                organization_id=project.organization_id,
                customer_user_ids=user_ids,
                customer_ids=customer_ids,
                added_by_id=viewer.advisor_id,
                now=utcnow(),
            )
        else:
            await store.unshare_project(
                session,
                project_id=project.id,
                organization_id=project.organization_id,
                customer_user_ids=user_ids,
                customer_ids=customer_ids,
            )
    return await reload_project(info, project.id)


def _unique_ids(values: Sequence[str] | None, type_name: str, field: str) -> list[int]:
    """The IDs of a list input, each once (a duplicate is BAD_USER_INPUT, as a sign of a
    client that lost track of what it sends)."""
    if not values:
        return []
    if len(values) > SHARE_MAX:
        raise BadUserInput(
            f"`{field}` takes at most {SHARE_MAX} IDs.", fields={field: f"at most {SHARE_MAX}"}
        )
    pks = [decode_id_of(value, type_name, field=field) for value in values]
    if len(set(pks)) != len(pks):
        raise BadUserInput(f"`{field}` names an ID twice.", fields={field: "duplicate IDs"})
    return pks


async def ticket_project(info: Info, global_id: str, organization_id: int) -> int:
    """The project a ticket input names (``projectId``): one the viewer may see and file
    tickets in (``auth.project.can_file_in_project``), of the ticket's organization; else
    BAD_USER_INPUT "unknown Project", whether it exists or not."""
    viewer = info.context.require_viewer()
    project = await row_named(info.context.loaders.project_by_id, global_id, "Project")
    if (
        project is None
        or project.organization_id != organization_id
        or not rules.can_see_project(viewer, project)
        or not rules.can_file_in_project(viewer, project)
    ):
        raise unknown("projectId", "Project")
    return int(project.id)
