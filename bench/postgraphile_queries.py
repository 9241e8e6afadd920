"""PostGraphile's side of issue 17's comparison (``bench/postgraphile.py``): the dashboard,
the ticket detail and the customer center written against the schema PostGraphile v4 generates
for our tables, the variables that ask for the rows deskgraph's scenarios ask for, and the
measure of what an answer holds, counted alike for both servers.

The queries keep deskgraph's order and page sizes. Where PostGraphile's schema cannot say the
same thing: a ticket's tags come through ``ticket_tags`` ordered by tag id (deskgraph: by name)
and unfiltered by organization (the data has none of another's); the center's per-person open
and closed counts and its widgets' badge counts are ``totalCount`` of filtered connections (the
connection filter plugin), one subquery each, where deskgraph groups them in one statement;
the widgets are deskgraph's defaults (all four shown, filter ALL).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from deskgraph.ids import decode_id_of

from .data import Dataset
from .information_center import advisor_queues
from .scenarios import ADVISOR_ID, DETAIL_MESSAGES, ORGANIZATION_ID, SCENARIOS

PAGE = 10  # the center's widgets and people (bench/information_center.py)
OPEN_STATES = ["NEW", "OPEN", "PENDING_REMINDER"]

DASHBOARD = """
query Dashboard($first: Int!, $organization: Int!) {
  tickets: allTickets(first: $first, orderBy: ID_DESC, condition: {organizationId: $organization}) {
    nodes {
      id number title state priority createdAt
      team: teamByTeamId { id name } assignee: advisorByAssigneeId { id name }
      requester: customerUserByRequesterId { id name } customer: customerByCustomerId { id name }
      tags: ticketTagsByTicketId(orderBy: TAG_ID_ASC) { nodes { tag: tagByTagId { id name } } }
      machine: machineByMachineId { id serial model }
      messages: messagesByTicketId(first: 3, orderBy: ID_DESC) {
        nodes { id body channel createdAt }
      }
    }
  }
}
"""

DETAIL = """
query Detail($id: Int!, $messages: Int!) {
  ticket: ticketById(id: $id) {
    id number title state
    team: teamByTeamId { id name } assignee: advisorByAssigneeId { id name }
    requester: customerUserByRequesterId { id name email phone }
    customer: customerByCustomerId { id name }
    tags: ticketTagsByTicketId(orderBy: TAG_ID_ASC) { nodes { tag: tagByTagId { id name } } }
    machine: machineByMachineId { id serial model }
    messages: messagesByTicketId(first: $messages, orderBy: ID_DESC) { nodes {
      id body channel isPublic createdAt
      advisor: advisorByAuthorAdvisorId { id name }
      customerUser: customerUserByAuthorCustomerUserId { id name }
    } }
    timeEntries: timeEntriesByTicketId(orderBy: ID_ASC) { nodes { id minutes } }
  }
}
"""

# The center's four ticket widgets (deskgraph's defaults: all shown, filter ALL) as filters
# of the connection filter plugin; each widget's badge counts narrow it further.
WIDGETS = {
    "REMINDER": '{state: {equalTo: "PENDING_REMINDER"}, pendingUntil: {lessThanOrEqualTo: $now}',
    "ESCALATED": "{escalationDueAt: {lessThanOrEqualTo: $now}",
    "NEW": '{state: {equalTo: "NEW"}',
    "OPEN": '{state: {equalTo: "OPEN"}',
}
MINE = "organizationId: {equalTo: $organization}"


def _widget(kind: str, where: str) -> str:
    return (
        f"{kind}: ticketsByCustomerId(filter: {where}, {MINE}}}, first: $page, orderBy: ID_DESC)"
        " { totalCount nodes { id number title state } }\n"
        f"{kind}MyLocked: ticketsByCustomerId(filter: {where}, {MINE}, "
        "lockedById: {equalTo: $advisor}}) { totalCount }\n"
        f"{kind}MyQueues: ticketsByCustomerId(filter: {where}, {MINE}, "
        "teamId: {in: $queues}}) { totalCount }\n"
    )


CENTER = """
query Center($id: Int!, $page: Int!, $organization: Int!, $advisor: Int!, $queues: [Int!]!,
             $open: [String!]!, $now: Datetime!) {
  customer: customerById(id: $id) {
    id name customerNumber
    customerUsers: customerUsersByCustomerId(first: $page, orderBy: [NAME_KEY_ASC, ID_ASC]) {
      nodes {
        id name
        open: ticketsByRequesterId(filter: {<mine>, state: {in: $open}}) { totalCount }
        closed: ticketsByRequesterId(filter: {<mine>, state: {equalTo: "CLOSED"}}) {
          totalCount
        }
      }
    }
<widgets>
    open: ticketsByCustomerId(filter: {<mine>, state: {in: $open}}) { totalCount }
    closed: ticketsByCustomerId(filter: {<mine>, state: {equalTo: "CLOSED"}}) { totalCount }
    escalated: ticketsByCustomerId(filter: {<mine>, escalationDueAt: {lessThanOrEqualTo: $now}})
      { totalCount }
    all: ticketsByCustomerId(filter: {<mine>}) { totalCount }
  }
}
""".replace("<mine>", MINE).replace("<widgets>", "".join(_widget(k, w) for k, w in WIDGETS.items()))
QUERIES = {"dashboard": DASHBOARD, "detail": DETAIL, "center": CENTER}
NAMES = tuple(QUERIES)


def postgraphile_variables(
    name: str, deskgraph: dict[str, Any], queues: list[int]
) -> dict[str, Any]:
    """PostGraphile's variables for the rows deskgraph's variables name (its ids are integers);
    ``queues``: the advisor's queues, which the center's MY_QUEUES counts read (deskgraph
    reads them on the server; a client of PostGraphile would know them)."""
    if name == "dashboard":
        return {"first": deskgraph["first"], "organization": ORGANIZATION_ID}
    if name == "detail":
        return {
            "id": decode_id_of(deskgraph["id"], "Ticket", field="id"),
            "messages": DETAIL_MESSAGES,
        }
    return {
        "id": decode_id_of(deskgraph["id"], "Customer", field="id"),
        "page": PAGE,
        "organization": ORGANIZATION_ID,
        "advisor": ADVISOR_ID,
        "queues": queues,
        "open": OPEN_STATES,
        "now": datetime.now(UTC).isoformat(),
    }


def _nodes(connection: dict[str, Any]) -> list[Any]:
    """A connection's rows: deskgraph's ``edges { node }``, PostGraphile's ``nodes``."""
    if "nodes" in connection:
        return list(connection["nodes"])
    return [edge["node"] for edge in connection["edges"]]


def work(name: str, program: str, data: dict[str, Any]) -> dict[str, int]:
    """What a response holds, counted alike for both servers: the sanity check's measure."""
    if name == "dashboard":
        tickets = _nodes(data["tickets"])
        tags = [t["tags"] if program == "deskgraph" else t["tags"]["nodes"] for t in tickets]
        return {
            "tickets": len(tickets),
            "messages": sum(len(_nodes(t["messages"])) for t in tickets),
            "tags": sum(len(found) for found in tags),
        }
    if name == "detail":
        ticket = data["node" if program == "deskgraph" else "ticket"]
        messages = _nodes(ticket["messages"])
        authors = (
            [m["author"] for m in messages]
            if program == "deskgraph"
            else [m["advisor"] or m["customerUser"] for m in messages]
        )
        entries = ticket["timeEntries"]
        return {
            "messages": len(messages),
            "authored": sum(author is not None for author in authors),
            "time entries": len(entries if program == "deskgraph" else entries["nodes"]),
        }
    return _center_work(program, data["customer"])


def _center_work(program: str, customer: dict[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    if program == "deskgraph":
        center = customer["informationCenter"]
        people = center["customerUsers"]["edges"]
        found["people"] = len(people)
        found["people's open"] = sum(p["openTicketCount"] for p in people)
        found["people's closed"] = sum(p["closedTicketCount"] for p in people)
        for widget in center["ticketWidgets"]:
            kind = widget["kind"]
            found[f"{kind} shown"] = len(widget["tickets"]["edges"])
            found[f"{kind} all"] = widget["counts"]["all"]
            found[f"{kind} my locked"] = widget["counts"]["myLocked"]
            found[f"{kind} my queues"] = widget["counts"]["myQueues"]
        found.update({f"status {k}": v for k, v in center["companyStatus"].items()})
        return found
    people = customer["customerUsers"]["nodes"]
    found["people"] = len(people)
    found["people's open"] = sum(p["open"]["totalCount"] for p in people)
    found["people's closed"] = sum(p["closed"]["totalCount"] for p in people)
    for kind in WIDGETS:
        found[f"{kind} shown"] = len(customer[kind]["nodes"])
        found[f"{kind} all"] = customer[kind]["totalCount"]
        found[f"{kind} my locked"] = customer[f"{kind}MyLocked"]["totalCount"]
        found[f"{kind} my queues"] = customer[f"{kind}MyQueues"]["totalCount"]
    for status in ("open", "closed", "escalated", "all"):
        found[f"status {status}"] = customer[status]["totalCount"]
    return found


def bodies(dataset: Dataset, names: tuple[str, ...]) -> dict[tuple[str, str], bytes]:
    """Each scenario's request body for each program: deskgraph's query and variables, and
    PostGraphile's query for the same rows."""

    async def variables() -> tuple[dict[str, dict[str, Any]], list[int]]:
        engine = create_async_engine(dataset.url, poolclass=NullPool)
        try:
            chosen = {s.name: s for s in SCENARIOS if s.name in names}
            given = {name: await chosen[name].variables(engine) for name in names}
            async with engine.connect() as connection:
                return given, sorted(await advisor_queues(connection))
        finally:
            await engine.dispose()

    found = {}
    given, queues = asyncio.run(variables())
    for name, deskgraph in given.items():
        scenario = next(s for s in SCENARIOS if s.name == name)
        found[(name, "deskgraph")] = scenario.body(deskgraph)
        found[(name, "postgraphile")] = orjson.dumps(
            {"query": QUERIES[name], "variables": postgraphile_variables(name, deskgraph, queues)}
        )
    return found
