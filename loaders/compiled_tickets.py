"""The ``tickets`` root field compiled: one statement answering a ticket list (its view,
filter and page) as JSON text, with the viewer's row rules inside (issue 17's compiler,
``loaders.compiled``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from graphql import FieldNode
from sqlalchemy import func, select

from deskgraph.auth import ticket as ticket_rules
from deskgraph.auth.viewer import Actor
from deskgraph.loaders.base import Reader, table_of
from deskgraph.loaders.compiled import Compiler, TicketList
from deskgraph.loaders.compiled_connection import one_more, selection_of
from deskgraph.loaders.compiled_declarations import COMPILED
from deskgraph.loaders.compiled_fields import PLAIN, Collector
from deskgraph.loaders.compiled_json import POSTGRESQL, JsonSql, json_sql, position
from deskgraph.loaders.compiled_listing import ALL_TICKETS, Listing
from deskgraph.loaders.compiled_pages import cursor_parameters, page_parameters
from deskgraph.loaders.compiled_restricted import Restrictions
from deskgraph.store import models

if TYPE_CHECKING:
    from deskgraph.loaders.compiled_center import CenterReads


def compile_ticket_list(
    tickets: FieldNode,
    viewer: Actor,
    restrictions: Restrictions,
    collector: Collector = PLAIN,
    sql: JsonSql = POSTGRESQL,
    listing: Listing = ALL_TICKETS,
    center: CenterReads | None = None,
) -> TicketList:
    """One statement answering the ``tickets`` root field (the ``listing``'s view and
    filter, any page) as JSON text, with the viewer's row rules (``auth.ticket``'s SQL forms)
    inside, and the restricted fields (``restrictions``, read from the schema) the viewer is
    denied as null. The viewer may be a shape (``auth.shape.viewer_shape``): its values are
    parameters then. ``collector`` collects the selections with the request's fragments and
    variables; ``sql`` writes the dialect's JSON (``compiled_json.json_sql``); ``center``
    is what the viewer's information centers read beside the rows (none: refused there)."""
    compiler = Compiler(viewer, restrictions, collector, sql, center)
    t = table_of(models.Ticket)
    # As the resolver lists them (loaders.ticket.ticket_list_query): seen, in the view, matching.
    where = [
        ticket_rules.ticket_scope(viewer),
        ticket_rules.view_scope(viewer, listing.view),
        *listing.where,
    ]
    first = compiler.first(tickets, _LISTING_ARGUMENTS if listing.read else frozenset())
    rows = (
        select(t, position(t))
        .where(*where, compiler.keyset(first, t))
        .order_by(t.c.id.desc())
        .limit(one_more(first))
        .subquery("t")
    )
    total = select(func.count()).select_from(t).where(*where).scalar_subquery()
    selection = selection_of(tickets)
    answer = compiler.connection(COMPILED["Ticket"], rows, first, total, selection)
    return compiler.root(tickets, answer)


_LISTING_ARGUMENTS = frozenset({"view", "filter"})  # read into a Listing by the caller


async def ticket_list_json(
    reader: Reader,
    tickets: FieldNode,
    viewer: Actor,
    restrictions: Restrictions,
    variables: Mapping[str, Any],
    max_page: int,
) -> dict[str, Any]:
    """The ``tickets`` field's value, read with one statement (without the post-pass: the
    denied fields are null, their errors not made)."""
    sql = json_sql(reader.session.get_bind().dialect.name)
    compiled = compile_ticket_list(tickets, viewer, restrictions, sql=sql)
    parameters = {
        **page_parameters(compiled.pages, variables, max_page),
        **cursor_parameters(compiled.pages, variables),
    }
    text = (await reader.rows(compiled.statement, parameters))[0][0]
    value: dict[str, Any] = orjson.loads(text)
    return value
