"""Project reads are batched: the statement count does not grow with the number of projects,
followers, tickets or customers."""

from __future__ import annotations

from tests import factories
from tests.conftest import Api, gid

PROJECTS = """
query PROJECTS($first: Int!) {
  projects(search: "batch", first: $first) { edges { node {
    name createdBy { name } organization { name } viewerCan { update share }
    followers { addedAt addedBy { name } customer { name } customerUser { name customer { name } } }
    tickets(first: 3) { edges { node { title project { name } requester { name } } } }
  } } }
}
"""
SHARED = """
query SHARED($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on Customer { sharedProjects { name createdBy { name } } }
    ... on CustomerUser { sharedProjects { name followers { customer { name } } } }
  }
}
"""


async def many_projects(api: Api, count: int) -> list[int]:
    """``count`` North projects, each with three followers (a company, two people) and four
    tickets."""
    pks = []
    async with api.app.state.engine.begin() as c:
        for n in range(count):
            pk = await factories.project(c, 1, f"Batch {n:02}", created_by_id=1 + n % 3)
            await factories.project_follower(c, pk, customer_id=1 + n % 3, added_by_id=2)
            await factories.project_follower(c, pk, customer_user_id=4, added_by_id=1)
            await factories.project_follower(c, pk, customer_user_id=6)
            for _ in range(4):
                await factories.ticket(c, 1, 1, requester_id=1, project_id=pk)
            pks.append(pk)
    return pks


async def statements(api: Api, query: str, variables: dict[str, object]) -> int:
    with api.count_statements() as counter:
        await api.data(query, variables, as_="host-advisor")
    return counter.count


async def test_projects_with_followers_creators_and_tickets_are_batched(api: Api) -> None:
    await many_projects(api, 12)
    small = await statements(api, PROJECTS, {"first": 3})
    large = await statements(api, PROJECTS, {"first": 12})
    assert large <= small
    # viewer, page, then one per relation level: far below one per project.
    assert large <= 12


async def test_shared_projects_of_customers_and_people_are_batched(api: Api) -> None:
    await many_projects(api, 6)
    few = [gid("Customer", 1), gid("CustomerUser", 4)]
    many = [gid("Customer", n) for n in (1, 2, 3, 4)] + [
        gid("CustomerUser", n) for n in (1, 2, 4, 5, 6)
    ]
    small = await statements(api, SHARED, {"ids": few})
    large = await statements(api, SHARED, {"ids": many})
    assert large <= small
    assert large <= 8
