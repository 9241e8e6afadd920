"""A customer's lists load ahead what they show, so that the asyncio tasks of a request do not
grow with its people or its tickets. The Customer Information Center: its people's ticket
counts for the whole page, its ticket widgets' counts and pages (and those tickets'
relations) for every widget at once (before: two tasks a person, two a widget, one a ticket
relation). Its history: the relations of the tickets its entries open."""

from __future__ import annotations

from deskgraph.bench import information_center
from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid, tasks_of

WIDE = """
query WIDE($id: ID!, $first: Int!) {
  customer(id: $id) { informationCenter {
    customerUsers(first: $first) { edges { openTicketCount closedTicketCount node { id } } }
    ticketWidgets {
      kind counts { all }
      tickets(first: $first) { edges { node { id team { name } requester { name } } } }
    }
  } }
}
"""


async def growing_customer(api: Api, people: int) -> str:
    """A customer of North Dealers with ``people`` people, each the requester of one NEW and
    one OPEN ticket of the host advisor's first team."""
    async with api.app.state.engine.begin() as connection:
        customer = await factories.customer(connection, 1, f"Farm of {people}")
        for i in range(people):
            person = await factories.customer_user(connection, customer, f"P{i:02}")
            for state in (models.TicketState.NEW, models.TicketState.OPEN):
                await factories.ticket(
                    connection, 1, 1, customer_id=customer, requester_id=person, state=state
                )
    return gid("Customer", customer)


async def test_center_tasks_are_the_same_for_5_and_25_people(api: Api, tasks: list[str]) -> None:
    small, large = await growing_customer(api, 5), await growing_customer(api, 25)
    _, few = await tasks_of(api, tasks, WIDE, {"id": small, "first": 5})
    data, many = await tasks_of(api, tasks, WIDE, {"id": large, "first": 25})
    center = data["customer"]["informationCenter"]
    people = center["customerUsers"]["edges"]
    assert len(people) == 25
    assert {(p["openTicketCount"], p["closedTicketCount"]) for p in people} == {(2, 0)}
    shown = {w["kind"]: w for w in center["ticketWidgets"]}
    for kind in ("NEW", "OPEN"):
        assert shown[kind]["counts"]["all"] == 25
        assert len(shown[kind]["tickets"]["edges"]) == 25
        assert {e["node"]["team"]["name"] for e in shown[kind]["tickets"]["edges"]} != {None}
    assert len(many) <= len(few), (few, many)
    # No person, widget or ticket is completed as a task of its own.
    assert not [name for name in many if "complete_list_item" in name], many


async def test_center_benchmark_query_makes_no_task_per_person_or_widget(
    api: Api, tasks: list[str]
) -> None:
    """The benchmark's center query (``bench/information_center.py``): at most the few tasks
    of its fields that wait for a statement of their own (the center, its people page, the
    company status), none per person or widget."""
    customer = await growing_customer(api, 10)
    data, made = await tasks_of(api, tasks, information_center.QUERY, {"id": customer})
    assert len(data["customer"]["informationCenter"]["customerUsers"]["edges"]) == 10
    completed = [name for name in made if "complete" in name]
    assert len(completed) <= 4, made


HISTORY = """
query HISTORY($id: ID!, $first: Int!) {
  customer(id: $id) { history(first: $first) { edges { node {
    number ticket { id team { name } requester { name } assignee { name } }
  } } } }
}
"""


async def test_customer_history_tasks_are_the_same_for_10_and_50_tickets(
    api: Api, tasks: list[str]
) -> None:
    small, large = await growing_customer(api, 5), await growing_customer(api, 25)
    _, few = await tasks_of(api, tasks, HISTORY, {"id": small, "first": 10})
    data, many = await tasks_of(api, tasks, HISTORY, {"id": large, "first": 50})
    edges = data["customer"]["history"]["edges"]
    assert len(edges) == 50
    assert {e["node"]["ticket"]["team"]["name"] for e in edges} != {None}
    assert len(many) <= len(few), (few, many)
    assert not [name for name in many if "complete" in name], many
