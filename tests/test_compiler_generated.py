"""Issue 17's generated differential test: ticket list queries generated from what the compiler
declares (``loaders.compiled_types.COMPILED``: every declared column, relation and hole, connections
with ``first:`` and ``after:``, ``pageInfo``, ``totalCount``, cursors, aliases, ``__typename``,
inline fragments and ``@include``/``@skip``), sent as every viewer to an app in verify mode,
twice: through the executor's compiled field, then as a compiled operation. Verify mode answers
with the executor and the compiled statement and fails a request whose two answers differ byte
for byte (INTERNAL_SERVER_ERROR, both logged); the two requests must answer the same bytes,
errors taken in path order, and the compiler must have answered every one (for a customer user
too: the fields their portal hides are null with their FORBIDDEN errors), but on SQLite those
nested deeper than its parser takes. (An app with the compiler off asked the same would only
run the executor a third time: verify mode's answer is the executor's.)

Tickets by ID (``node(id:)``: one the viewer sees, one it does not, one that does not exist)
are generated the same way. The queries are generated once, from a fixed seed, and every one
is sent, so a failure lists every query that failed. A new declaration is generated from as
soon as it is made."""

from __future__ import annotations

import random
import re
from functools import cache

import orjson
import pytest
from graphql import GraphQLField, GraphQLObjectType, is_non_null_type

from deskgraph.loaders.compiled_declarations import COMPILED
from deskgraph.loaders.compiled_json import TOO_DEEP_FOR_SQLITE
from deskgraph.loaders.compiled_plan import REFUSED_PLANS
from deskgraph.loaders.compiled_types import OneOf
from deskgraph.schema import build_schema
from deskgraph.schema.pagination import encode_cursor
from deskgraph.server.compiled_execution import COMPILED as COMPILED_FIELDS
from tests.conftest import EVERY_VIEWER, Api, gid

QUERIES = 30
NODE_QUERIES = 12
SEED = 17
DEPTH = 3  # object levels below the ticket list
GRAPHQL = build_schema()._schema
PAGE_INFO = ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor", "__typename")
# What is asked of each declared hole (``CompiledType.executed``: the executor answers it).
HOLES = {
    "Machine.jdlink": "{ engineHours location { latitude } faultCodes { code severity } }",
    "Ticket.viewerCan": "{ update sendMessage viewJdlink __typename }",
    "Organization.crm": "{ kind version }",
}
# What is asked of each declared built object generated (``CompiledType.built``).
BUILT = {
    "Organization.portalSettings": (
        "{ __typename companyTickets visibleProperties version updatedAt updatedBy { name } }"
    ),
}

# The declared columns whose restriction reads the row (auth.directive.ROW_SQL): denied per
# row, which the compiler answers everywhere but inside a union.
ROW_RULED = {"CustomerUser": ("address", "accountNumber", "notes")}
# The relations whose restriction reads the row: below one, a field denied by its own row's
# rule is refused (a denied field inside a denied one; the executor answers), so the generator
# asks none there.
ROW_RULED_RELATIONS = {
    "CustomerUser": ("sharedProjects",),
    "Customer": ("sharedProjects", "history"),
    "Project": ("followers",),
    "Organization": ("tags", "portalSettings"),
}

pytestmark = pytest.mark.executor_reference


def fields_of(type_name: str) -> dict[str, GraphQLField]:
    owner = GRAPHQL.type_map[type_name]
    assert isinstance(owner, GraphQLObjectType)
    fields: dict[str, GraphQLField] = owner.fields
    return fields


class Generator:
    """Random ticket list queries over the declarations, from a fixed seed."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def chance(self, odds: float) -> bool:
        return self.random.random() < odds

    def keyed(self, name: str, arguments: str = "", body: str = "", prefix: str = "") -> str:
        """A field (its arguments and selection), under an alias now and then (always with a
        ``prefix``), with an ``@include`` or ``@skip`` that keeps or drops it now and then."""
        alias = f"{name}_a: " if self.chance(0.2) and not name.startswith("__") else ""
        if prefix and not name.startswith("__"):
            alias = f"{prefix}{name}: "
        directive = ""
        if self.chance(0.25):
            kind = self.random.choice(["include", "skip"])
            directive = f"@{kind}(if: {self.random.choice(['true', 'false'])})"
        return " ".join(part for part in (f"{alias}{name}{arguments}", directive, body) if part)

    def page_arguments(self) -> str:
        first = self.random.randint(0, 5)
        if self.chance(0.6):
            return f"(first: {first})"
        return f'(first: {first}, after: "{encode_cursor(self.random.randint(1, 130))}")'

    def connection(
        self,
        type_name: str,
        depth: int,
        ruled: bool = False,
        named: str | None = None,
        nullable: bool = False,
    ) -> str:
        """A connection of ``type_name`` (its types named after ``named``, else after it)."""
        parts = []
        if self.chance(0.85):
            cursor = "cursor " if self.chance(0.4) else ""
            node = self.selection(type_name, depth, ruled=ruled, nullable=nullable)
            parts.append(f"edges {{ {cursor}node {node} }}")
        if self.chance(0.4):
            fields = self.random.sample(PAGE_INFO, self.random.randint(1, len(PAGE_INFO)))
            parts.append(f"pageInfo {{ {' '.join(fields)} }}")
        counted = "totalCount" in fields_of(f"{named or type_name}Connection")
        if counted and (self.chance(0.4) or not parts):
            parts.append("totalCount")
        if not parts:
            parts.append("pageInfo { hasNextPage }")
        self.random.shuffle(parts)
        return "{ " + " ".join(parts) + " }"

    def selection(
        self,
        type_name: str,
        depth: int,
        prefix: str = "",
        plain: bool = False,
        ruled: bool = False,
        nullable: bool = False,
    ) -> str:
        """Fields of ``type_name``, relations ``depth`` deep; ``plain``: its own columns only,
        none the executor answers nor a rule on the row denies (what a union's member may
        hold: the compiler steps aside for the rest); ``ruled``: below a relation a rule on
        the row restricts, none a rule on the row restricts; ``nullable``: below a field that
        may be null, no non-null field the executor answers (its error would null more than
        the compiler can place: refused)."""
        declared = COMPILED[type_name]
        fields = fields_of(type_name)
        row_ruled = (*ROW_RULED.get(type_name, ()), *ROW_RULED_RELATIONS.get(type_name, ()))
        names = ["id", "__typename"] if declared.node else ["__typename"]
        if plain:
            names += [c for c in declared.columns if c not in ROW_RULED.get(type_name, ())]
        else:
            holes = sorted(declared.executed)
            if nullable:
                holes = [name for name in holes if not is_non_null_type(fields[name].type)]
            names += [*declared.columns, *holes]
        if depth > 0 and not plain:
            names += list(declared.related)
            names += [name for name in declared.built if f"{type_name}.{name}" in BUILT]
        if ruled:
            names = [name for name in names if name not in row_ruled]
        chosen = self.random.sample(names, self.random.randint(1, len(names)))
        parts = []
        for name in chosen:
            below_rule = ruled or name in row_ruled
            below_null = nullable or (name in fields and not is_non_null_type(fields[name].type))
            relation = declared.related.get(name)
            if name in declared.executed:
                parts.append(self.keyed(name, "", HOLES[f"{type_name}.{name}"], prefix))
            elif name in declared.built:
                parts.append(self.keyed(name, "", BUILT[f"{type_name}.{name}"], prefix))
            elif relation is None:
                parts.append(self.keyed(name, prefix=prefix))
            elif isinstance(relation, OneOf):
                parts.append(self.keyed(name, "", self.union(relation, depth - 1), prefix))
            # Back to a ticket (Message.ticket, Project.tickets): its own fields only, or the
            # query would pass the schema's depth limit.
            elif relation.page:
                below = 0 if relation.target == "Ticket" else depth - 1
                named = relation.connection
                body = self.connection(relation.target, below, below_rule, named, below_null)
                parts.append(self.keyed(name, self.page_arguments(), body, prefix))
            else:
                below = 0 if relation.target == "Ticket" else depth - 1
                body = self.selection(relation.target, below, ruled=below_rule, nullable=below_null)
                parts.append(self.keyed(name, "", body, prefix))
        if self.chance(0.15):  # the same fields through a fragment
            parts = [f"... on {type_name} {{ {' '.join(parts)} }}"]
        return "{ " + " ".join(parts) + " }"

    def union(self, relation: OneOf, depth: int) -> str:
        """A union's selection: each member's fields through a fragment on it, under aliases
        of its own (the members' fields of one name may differ in type: not mergeable)."""
        parts = ["__typename"] if self.chance(0.5) else []
        for member in relation.members:
            fields = self.selection(member.target, depth, f"{member.target.lower()}_", plain=True)
            parts.append(f"... on {member.target} {fields}")
        return "{ " + " ".join(parts) + " }"

    def ticket_list(self) -> str:
        return f"{{ tickets{self.page_arguments()} {self.connection('Ticket', DEPTH)} }}"

    def ticket_node(self) -> str:
        """A ticket by ID (one the viewer sees or not, or none): ``node(id:)``."""
        pk = self.random.randint(1, 140)
        # As deep as a list's tickets: one level more, since Customer.history and
        # Project.tickets are connections the compiler answers, put most SQLite plans past
        # its parser's depth (the executor's), which would leave SQLite's half untested.
        body = self.selection("Ticket", DEPTH)
        return f'{{ node(id: "{gid("Ticket", pk)}") {{ __typename ... on Ticket {body} }} }}'


@cache
def generated() -> list[str]:
    generator = Generator(SEED)
    return [generator.ticket_list() for _ in range(QUERIES)]


@cache
def generated_nodes() -> list[str]:
    generator = Generator(SEED + 1)
    return [generator.ticket_node() for _ in range(NODE_QUERIES)]


async def answer(api: Api, query: str, persona: str) -> tuple[int, bytes]:
    """The status and the body, its errors in path order: below different relations the
    executor's errors come in the order its loaders answer, which the timing of the request
    decides (verify mode's snapshot and statement change it); the data stays byte for byte."""
    response = await api.http.post("/graphql", json={"query": query}, headers=api.headers(persona))
    body = orjson.loads(response.content)
    if "errors" in body:
        body["errors"].sort(key=lambda e: (orjson.dumps(e.get("path")), e["message"]))
    return response.status_code, orjson.dumps(body)


PERSONAS = [viewer for viewer in EVERY_VIEWER if viewer is not None]


def share(queries: list[str], persona: str, backend: str) -> list[str]:
    """Half the queries, for one persona on one backend, the other half on the other: every
    query is sent as every persona, and on both backends (each persona's halves alternate),
    at half the cost of the whole cross product."""
    turn = (PERSONAS.index(persona) + (backend == "postgresql")) % 2
    return [query for index, query in enumerate(queries) if index % 2 == turn]


@pytest.mark.parametrize("persona", PERSONAS)
async def test_generated_ticket_lists_answer_as_the_executor(
    verifying: Api, persona: str, backend: str
) -> None:
    queries = share(generated(), persona, backend)
    too_deep = await assert_same_answers(verifying, queries, persona, "tickets")
    # Every query compiled, but on SQLite those nested deeper than its parser takes: a few.
    limit = len(queries) // 2 if backend == "sqlite" else 0
    assert too_deep <= limit, f"{too_deep} of {len(queries)} refused as too deep"


@pytest.mark.parametrize("persona", PERSONAS)
async def test_generated_ticket_nodes_answer_as_the_executor(
    verifying: Api, persona: str, backend: str
) -> None:
    """Tickets by ID, their selections generated as the lists' nodes are (one level deeper)."""
    queries = share(generated_nodes(), persona, backend)
    too_deep = await assert_same_answers(verifying, queries, persona, "node")
    limit = len(queries) // 2 if backend == "sqlite" else 0
    assert too_deep <= limit, f"{too_deep} of {len(queries)} refused as too deep"


async def assert_same_answers(verifying: Api, queries: list[str], persona: str, root: str) -> int:
    """Each query's two answers in verify mode (a compiled field, then a compiled operation)
    agreed with the executor's and with each other, and compiled at ``root`` unless SQLite's
    parser refused its plan: how many queries it refused. Every failure is listed."""
    failures = []
    too_deep: set[str] = set()  # queries SQLite's parser refused the plan of (executor's)
    for query in queries:
        answers = []
        for _ in range(2):
            compiled, refused = COMPILED_FIELDS[root], REFUSED_PLANS[TOO_DEEP_FOR_SQLITE]
            status, body = await answer(verifying, query, persona)
            if status >= 500 or b'"INTERNAL_SERVER_ERROR"' in body:
                failures.append(f"{query}\n  differs from the executor's (logged): {body!r}")
            answers.append(body)
            if COMPILED_FIELDS[root] == compiled:
                too_deep.add(query)
                if REFUSED_PLANS[TOO_DEEP_FOR_SQLITE] == refused:
                    failures.append(f"{query}\n  not compiled")
        if answers[0] != answers[1]:
            field, operation = answers
            failures.append(f"{query}\n  as a field: {field!r}\n  as an operation: {operation!r}")
    assert failures == [], f"{len(failures)} answers differ:\n" + "\n".join(failures)
    return len(too_deep)


def test_generated_queries_cover_the_declarations() -> None:
    """Every declared field and relation is asked by some generated query (a generator that
    drew from a part of the declarations only would test that part only)."""
    text = " ".join(generated())
    for declared in COMPILED.values():
        for name in [*declared.columns, *declared.related, *declared.executed]:
            assert re.search(rf"\b{name}\b", text), name
    for built in BUILT:
        assert re.search(rf"\b{built.split('.')[1]}\b", text), built
    for word in ("after:", "pageInfo", "totalCount", "cursor", "@include", "@skip", "... on"):
        assert word in text, word
