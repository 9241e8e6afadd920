"""Compiled plans (docs/compiler.md §4): a root field's statement compiled to SQL text once per
(field of a cached document, viewer shape, dialect, ``@skip``/``@include`` outcomes) and run
with the driver's parameters (the viewer's values, the cursors: ``loaders.compiled_pages``).

The text holds no viewer value: the viewer's ids are parameters of its shape (``auth.shape``),
so asyncpg's prepared statement for the text is reused by every viewer of the shape. Page sizes
are the one request value written into the text (checked first, as the resolvers check them):
PostgreSQL keeps one generic plan for a prepared statement only when it sees its ``LIMIT``
(``Compiler.first``), so a plan is kept per shape and page sizes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from cachetools import LRUCache
from graphql import FieldNode
from sqlalchemy import Dialect, Select

from deskgraph.auth.shape import shape_key, shape_parameters, viewer_shape
from deskgraph.auth.viewer import Actor
from deskgraph.errors import BadUserInput
from deskgraph.loaders.compiled import NotCompiled, TicketList
from deskgraph.loaders.compiled_fields import PLAIN, Collector, merged
from deskgraph.loaders.compiled_json import json_sql
from deskgraph.loaders.compiled_listing import ALL_TICKETS, Listing, sent_value
from deskgraph.loaders.compiled_pages import Page, cursor_parameters, page_parameters
from deskgraph.loaders.compiled_restricted import Holes, Restrictions, Sites
from deskgraph.loaders.compiled_tickets import compile_ticket_list

if TYPE_CHECKING:
    from deskgraph.loaders.compiled_center import CenterReads

PLAN_CACHE_SIZE = 512  # as the parse and validation caches

log = logging.getLogger(__name__)

# Plans refused once their text was written, by reason, per process (each request refused
# counts): SQLite's parser takes statements nested only so deep (TOO_DEEP_FOR_SQLITE).
REFUSED_PLANS: Counter[str] = Counter()

T = TypeVar("T")

# Whether a plan missing from the cache is built here. False while ``planned`` tries the cache
# on the event loop: building a deep plan takes tens of milliseconds that would stall every
# other request of the worker (and, in the tests, the simulators sharing its loop).
_may_build: ContextVar[bool] = ContextVar("may_build", default=True)
# Guards the caches: a worker thread fills them while the event loop reads them.
_lock = threading.Lock()


class Cold(Exception):
    """The plan is not in the cache, and ``planned`` is trying it on the event loop: it is
    built in a worker thread instead. Not a :class:`NotCompiled`: nothing is refused."""


def from_cache(plan: Callable[[], T]) -> T:
    """``plan()`` with the plans it asks for taken from the cache only: :class:`Cold` when one
    would be built."""
    token = _may_build.set(False)
    try:
        return plan()
    finally:
        _may_build.reset(token)


async def planned(plan: Callable[[], T]) -> T:
    """``plan()``: at once when the plans it asks for are cached (nearly every request), else
    in a worker thread, so that building them never blocks the event loop."""
    try:
        return from_cache(plan)
    except Cold:
        return await asyncio.to_thread(plan)  # the context is copied: _may_build is True there


@dataclass(frozen=True)
class Plan:
    """SQL text for one root field, a viewer shape and page sizes, and how to bind it."""

    sql: str
    names: tuple[str, ...]  # the parameter behind each positional placeholder, in order
    constants: Mapping[str, Any]  # the statement's own values (JSON keys, formats)
    denied: Sites  # the fields it answers null for the shape: FORBIDDEN (server.compiled_post)
    pages: Mapping[str, Page]  # its pages, whose cursors each request binds
    holes: Holes  # the fields the executor answers in it (server.compiled_holes)
    # One request's values of the parameters its listing's filter holds (Listing.values):
    # the cached plan has none, ticket_list_plan answers a copy with the request's.
    bound: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def arguments(
        self, viewer: Actor, variables: Mapping[str, Any] | None = None
    ) -> tuple[Any, ...]:
        """The driver's parameters for ``viewer``, a viewer of the plan's shape, and the
        request's cursors (none: every page from the start). :class:`NotCompiled` for a
        cursor the resolver refuses: the executor answers its error, where it belongs."""
        try:
            cursors = cursor_parameters(self.pages, variables or {})
        except BadUserInput as error:
            raise NotCompiled("a cursor the resolver refuses") from error
        values = {**self.constants, **shape_parameters(viewer), **cursors, **self.bound}
        missing = [name for name in self.names if name not in values]
        if missing:  # e.g. the request's clock, from a caller that did not read a listing
            raise NotCompiled(f"no value for {', '.join(missing)}")
        return tuple(values[name] for name in self.names)


# (ids of the field's nodes, shape, dialect, whether the collector takes plain fields only,
# @skip/@include outcomes, what else decides the statement: a ticket list's view and filter
# structure, Listing.key, and the center's settings and number of queues, CenterReads.key; a
# node's type) -> (the nodes, the template or None: refused); and with the page sizes -> (the
# nodes, the plan, or why it was refused). The nodes are kept so that an id reused by another
# document after the first was dropped is not mistaken.
# A node belongs to one document: its fragments and operation are the same each time, the
# variables decide only the outcomes (Collector.outcomes). The schema's restrictions are not
# in the key: every schema is built from the same types.
Key = tuple[tuple[int, ...], Actor, str, bool, tuple[bool, ...], tuple[Any, ...]]
_templates: LRUCache[Key, tuple[tuple[FieldNode, ...], TicketList | None]] = LRUCache(
    maxsize=PLAN_CACHE_SIZE
)
_Planned = tuple[tuple[FieldNode, ...], "Plan | str"]  # a str: refused, and why
_plans: LRUCache[tuple[Key, tuple[int, ...]], _Planned] = LRUCache(maxsize=PLAN_CACHE_SIZE)


def ticket_list_plan(
    nodes: Sequence[FieldNode] | FieldNode,
    viewer: Actor,
    dialect: Dialect,
    variables: Mapping[str, Any],
    max_page: int,
    restrictions: Restrictions,
    collector: Collector = PLAIN,
    listing: Listing = ALL_TICKETS,
    center: CenterReads | None = None,
) -> Plan:
    """The plan of a ``tickets`` field (its nodes under one response key) for ``viewer``'s
    shape, the request's ``@skip``/``@include`` outcomes, ``listing`` (its view and filter,
    read from the field's arguments: ``server.compiled_listing``), ``center`` (the viewer's
    center settings and queues, when read) and page sizes: from the cache, else built and
    compiled once; with the request's filter values (and queues) bound.
    :class:`NotCompiled` when the compiler refuses it, and for a page size the resolver
    refuses (the executor answers its error, on the field that asked for it)."""
    nodes = (nodes,) if isinstance(nodes, FieldNode) else tuple(nodes)
    sql = json_sql(dialect.name)

    def build(node: FieldNode, shape: Actor) -> TicketList:
        return compile_ticket_list(node, shape, restrictions, collector, sql, listing, center)

    kind = (listing.key, None if center is None else center.key)
    plan = cached_plan(nodes, kind, build, viewer, dialect, variables, max_page, collector)
    bound = {**listing.values, **(center.values if center is not None else {})}
    if bound:
        return dataclasses.replace(plan, bound=bound)
    return plan


# Builds a root field's statement (its nodes merged) for a viewer's shape.
Build = Callable[[FieldNode, Actor], TicketList]


def cached_plan(
    nodes: tuple[FieldNode, ...],
    kind: tuple[Any, ...],
    build: Build,
    viewer: Actor,
    dialect: Dialect,
    variables: Mapping[str, Any],
    max_page: int,
    collector: Collector,
) -> Plan:
    """The plan of a root field (its ``nodes``) that ``build`` makes, ``kind`` telling what
    else but the nodes, the shape, the dialect and the ``@skip``/``@include`` outcomes decide
    its statement: from the cache, else built and compiled once. :class:`NotCompiled` when
    refused (a refusal is remembered), and for a page size the resolver refuses."""
    outcomes = collector.outcomes(nodes)
    key = (
        tuple(map(id, nodes)), shape_key(viewer), dialect.name, collector.plain, outcomes, kind
    )  # fmt: skip
    template = _template(nodes, key, viewer, build)
    try:
        sizes = page_parameters(template.pages, variables, max_page)
    except BadUserInput as error:
        raise NotCompiled("a page size the resolver refuses") from error
    sized = (key, tuple(sizes.values()))
    with _lock:
        cached = _plans.get(sized)
    if cached is None or not _same(cached[0], nodes):
        if not _may_build.get():
            raise Cold
        try:
            plan: Plan | str = compile_plan(template, sizes, dialect)
        except NotCompiled as refused:  # e.g. too deep for SQLite's parser
            log.debug("not compiled: %s", refused)
            plan = str(refused)  # remembered: refused again without compiling
        cached = (nodes, plan)
        with _lock:
            _plans[sized] = cached
    if isinstance(cached[1], str):
        with _lock:
            REFUSED_PLANS[cached[1]] += 1
        raise NotCompiled(cached[1])
    return cached[1]


def _template(nodes: tuple[FieldNode, ...], key: Key, viewer: Actor, build: Build) -> TicketList:
    """The field's statement for the viewer's shape, its page sizes still open (each
    request's sizes pick the plan written for them)."""
    with _lock:
        cached = _templates.get(key)
    if cached is None or not _same(cached[0], nodes):
        if not _may_build.get():
            raise Cold
        try:
            template: TicketList | None = build(merged(nodes), viewer_shape(viewer))
        except NotCompiled as refused:
            log.debug("not compiled: %s", refused)
            template = None
        cached = (nodes, template)
        with _lock:
            _templates[key] = cached
    if cached[1] is None:
        raise NotCompiled("refused for this document and viewer shape")
    return cached[1]


def _same(kept: tuple[FieldNode, ...], nodes: tuple[FieldNode, ...]) -> bool:
    return len(kept) == len(nodes) and all(a is b for a, b in zip(kept, nodes, strict=True))


def compile_plan(built: TicketList, sizes: Mapping[str, int], dialect: Dialect) -> Plan:
    """``built``'s SQL text with the page ``sizes`` written in (``Compiler.first``) and the
    viewer's values left as positional parameters."""
    compiled = built.statement.params(dict(sizes)).compile(
        dialect=dialect, compile_kwargs={"render_postcompile": True}
    )
    if compiled.positiontup is None:
        raise NotCompiled(f"{dialect.name}'s parameters are not positional")
    # The statement's own values as SQLAlchemy sends them (an enum as the name its column
    # stores); an IN list's one parameter each, named as render_postcompile names them.
    constants: dict[str, Any] = {}
    for name, bind in compiled.binds.items():
        if bind.value is None or bind.callable:
            continue
        if bind.expanding:
            for index, value in enumerate(bind.value, start=1):
                constants[f"{name}_{index}"] = sent_value(bind.type, value, dialect)
        else:
            constants[name] = sent_value(bind.type, bind.value, dialect)
    json_sql(dialect.name).check(compiled.string)  # NotCompiled: too deep for SQLite
    positions = tuple(compiled.positiontup)
    return Plan(compiled.string, positions, constants, built.denied, built.pages, built.holes)


def build_plan(
    node: FieldNode,
    viewer: Actor,
    dialect: Dialect,
    variables: Mapping[str, Any],
    max_page: int,
    restrictions: Restrictions,
    listing: Listing = ALL_TICKETS,
    center: CenterReads | None = None,
) -> Plan:
    """The plan of a ``tickets`` field, built and compiled now (no cache)."""
    sql = json_sql(dialect.name)
    shape = viewer_shape(viewer)
    built = compile_ticket_list(node, shape, restrictions, sql=sql, listing=listing, center=center)
    sizes = page_parameters(built.pages, variables, max_page)
    plan = compile_plan(built, sizes, dialect)
    bound = {**listing.values, **(center.values if center is not None else {})}
    return dataclasses.replace(plan, bound=bound)


def literal_sql(statement: Select[Any], parameters: Mapping[str, Any], dialect: Dialect) -> str:
    """``statement`` with ``parameters`` written into its text (for EXPLAIN and the shape
    soundness test: never sent so)."""
    bound = statement.params(dict(parameters))
    return str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
