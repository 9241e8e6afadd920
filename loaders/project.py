"""Project reads: the ``projects`` list (search, keyset pages in name order), the projects
shared with a customer or a customer user, and a page of a project's tickets; and what the
compiler reads of ``Project`` (``DECLARED``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, FromClause, exists, func, or_, select
from sqlalchemy.engine import Row

from deskgraph.auth import project as project_rules, ticket as ticket_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import (
    LIKE_ESCAPE,
    DataLoader,
    Reader,
    like_literal,
    newest_per_group,
    table_of,
)
from deskgraph.loaders.compiled_types import (
    CompiledType,
    Related,
    RowValue,
    Stamp,
    by_key,
    by_parent,
    declared,
    itself,
    shown_by,
)
from deskgraph.store import models

projects = table_of(models.Project)
followers = table_of(models.ProjectFollower)

# How many projects ``Customer.sharedProjects`` / ``CustomerUser.sharedProjects`` list.
SHARED_PROJECTS_MAX = 100


class ProjectPageKey(NamedTuple):
    """A page of the projects the viewer may see, whose name key contains ``search`` (already
    casefolded; ``None``: all), after ``(name_key, id)``."""

    viewer: Actor
    search: str | None
    first: int
    after: tuple[str, int] | None


def _matching(viewer: Actor, search: str | None) -> list[ColumnElement[bool]]:
    """The projects the viewer may see whose name key contains ``search``."""
    where: list[ColumnElement[bool]] = [project_rules.project_scope(viewer)]
    if search:
        where.append(projects.c.name_key.like(f"%{like_literal(search)}%", escape=LIKE_ESCAPE))
    return where


async def count_projects(reader: Reader, viewer: Actor, search: str | None) -> int:
    """How many projects the whole ``projects`` list holds (all pages)."""
    statement = select(func.count()).select_from(projects).where(*_matching(viewer, search))
    return int(await reader.scalar(statement) or 0)


def project_page_statement(key: ProjectPageKey) -> Any:
    where = _matching(key.viewer, key.search)
    if key.after is not None:
        name_key, pk = key.after
        where += [
            projects.c.name_key >= name_key,
            or_(projects.c.name_key > name_key, projects.c.id > pk),
        ]
    return (
        select(*projects.c)
        .where(*where)
        .order_by(projects.c.name_key, projects.c.id)
        .limit(key.first + 1)
    )


class ProjectPageLoader(DataLoader[ProjectPageKey, tuple[list[Row[Any]], bool]]):
    """A page of ``projects`` (a root field: one statement per key is enough)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[ProjectPageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        pages = []
        for key in keys:
            rows = list(await self.reader.rows(project_page_statement(key)))
            pages.append((rows[: key.first], len(rows) > key.first))
        return pages


class SharedWith(NamedTuple):
    """Whose shared projects: a customer (``customer_user_id`` None), or a customer user and
    their customer (the projects shared with either)."""

    customer_id: int
    customer_user_id: int | None = None


class SharedProjectsLoader(DataLoader[SharedWith, list[Row[Any]]]):
    """The projects shared with customers or customer users, by name (at most
    ``SHARED_PROJECTS_MAX`` each): one statement for every key of a tick."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[SharedWith]) -> list[list[Row[Any]]]:
        user_ids = sorted({k.customer_user_id for k in keys if k.customer_user_id is not None})
        customer_ids = sorted({k.customer_id for k in keys})
        statement = (
            select(*projects.c, followers.c.customer_user_id, followers.c.customer_id)
            .join_from(followers, projects, projects.c.id == followers.c.project_id)
            .where(
                or_(
                    followers.c.customer_user_id.in_(user_ids),
                    followers.c.customer_id.in_(customer_ids),
                )
            )
            .order_by(projects.c.name_key, projects.c.id)
        )
        by_user: dict[int, list[Row[Any]]] = defaultdict(list)
        by_customer: dict[int, list[Row[Any]]] = defaultdict(list)
        for row in await self.reader.rows(statement):
            if row.customer_user_id is not None:
                by_user[row.customer_user_id].append(row)
            else:
                by_customer[row.customer_id].append(row)
        answers = []
        for key in keys:
            rows = list(by_customer[key.customer_id])
            if key.customer_user_id is not None:
                rows += by_user[key.customer_user_id]
            unique = {row.id: row for row in rows}
            ordered = sorted(unique.values(), key=lambda row: (row.name_key, row.id))
            answers.append(ordered[:SHARED_PROJECTS_MAX])
        return answers


class ProjectTicketPageKey(NamedTuple):
    project_id: int
    first: int
    after_id: int | None
    viewer: Actor  # whose tickets: those ``auth.ticket.ticket_scope`` lets them see


class ProjectTicketPageLoader(DataLoader[ProjectTicketPageKey, tuple[list[Row[Any]], bool]]):
    """A page of a project's tickets as the viewer may see them, newest first: pages asked for
    in one tick with the same size, cursor and viewer are one windowed statement."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(
        self, keys: Sequence[ProjectTicketPageKey]
    ) -> list[tuple[list[Row[Any]], bool]]:
        groups: dict[tuple[int, int | None, Actor], list[int]] = defaultdict(list)
        for key in keys:
            groups[(key.first, key.after_id, key.viewer)].append(key.project_id)
        pages: dict[ProjectTicketPageKey, tuple[list[Row[Any]], bool]] = {}
        tickets = table_of(models.Ticket)
        for (first, after_id, viewer), project_ids in groups.items():
            where: list[ColumnElement[bool]] = [ticket_rules.ticket_scope(viewer)]
            if after_id is not None:
                where.append(tickets.c.id < after_id)
            by_project = await newest_per_group(
                self.reader, tickets, "project_id", sorted(set(project_ids)), where, first + 1
            )
            for project_id, rows in zip(sorted(set(project_ids)), by_project, strict=True):
                key = ProjectTicketPageKey(project_id, first, after_id, viewer)
                pages[key] = (rows[:first], len(rows) > first)
        return [pages[key] for key in keys]


# A project's followers as ``Project.followers`` lists them (the loader's rows, by id).
FOLLOWERS_MAX = 100


def shared_with_customer(
    parent: FromClause, project: FromClause, _viewer: Actor
) -> list[ColumnElement[bool]]:
    """As :class:`SharedProjectsLoader` reads ``SharedWith(customer)``: the projects shared
    with the customer as a whole."""
    follower = followers
    shared = exists().where(
        follower.c.project_id == project.c.id, follower.c.customer_id == parent.c.id
    )
    return [shared.correlate_except(follower)]


def shared_with_person(
    parent: FromClause, project: FromClause, _viewer: Actor
) -> list[ColumnElement[bool]]:
    """As :class:`SharedProjectsLoader` reads ``SharedWith(customer, person)``: the projects
    shared with the person or with their customer as a whole, each once."""
    follower = followers
    shared = exists().where(
        follower.c.project_id == project.c.id,
        or_(
            follower.c.customer_user_id == parent.c.id,
            follower.c.customer_id == parent.c.customer_id,
        ),
    )
    return [shared.correlate_except(follower)]


DECLARED = declared(
    CompiledType(
        "Project",
        table_of(models.Project),
        {
            "name": "name",
            "description": "description",
            "version": "version",
            "createdAt": Stamp("created_at"),
            "updatedAt": Stamp("updated_at"),
        },
        {
            "organization": Related("Organization", by_key("organization_id")),
            "createdBy": Related("Advisor", by_key("created_by_id")),
            "viewerCan": Related("ProjectPermissions", itself),
            # PROJECT_FOLLOWERS reads the row (its twin: auth.project.project_followers_scope).
            "followers": Related(
                "ProjectFollower", by_parent("project_id"), many=True, limit=FOLLOWERS_MAX
            ),
            # PORTAL's PROJECT (a rule on the viewer: folded), then the tickets the viewer may
            # see, as ProjectTicketPageLoader pages them.
            "tickets": Related(
                "Ticket", shown_by(ticket_rules.ticket_scope, by_parent("project_id")), page=True
            ),
        },
    ),
    # Whom a project is shared with: a row of project_followers, no node of its own.
    CompiledType(
        "ProjectFollower",
        table_of(models.ProjectFollower),
        {"addedAt": Stamp("created_at")},
        {
            "customerUser": Related("CustomerUser", by_key("customer_user_id")),
            "customer": Related("Customer", by_key("customer_id")),
            "addedBy": Related("Advisor", by_key("added_by_id")),
        },
        node=False,
    ),
    # The object `viewerCan` answers: each permission the resolver's rule, by its SQL twin.
    CompiledType(
        "ProjectPermissions",
        table_of(models.Project),
        {
            "update": RowValue(project_rules.manage_projects_scope),
            "share": RowValue(project_rules.manage_projects_scope),
        },
        node=False,
    ),
)
