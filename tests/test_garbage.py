"""No request leaves garbage that grows with its rows for the cyclic collector: every object a
response is built from is freed by reference counting when the request ends. (Before: the
actual-cost walk's recursive closure and the loaders' caches, held by graphql-core's execution
context in a reference cycle, left about 400 objects per ticket, and the collector took a
quarter of the CPU.) What stays in cycles is the same for 5 rows as for 20, give or take the
statement caches' churn."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from deskgraph.server.serve import serving_app
from deskgraph.settings import Settings
from tests.conftest import Api

TICKETS = """
query ($first: Int) {
  tickets(first: $first) {
    edges { node {
      title team { name } assignee { name } tags { name } customer { name }
      messages(first: 3) { edges { node { body author { __typename } } } }
    } }
  }
}
"""
REQUESTS = 5


@pytest.fixture
def collector_off() -> Iterator[None]:
    """The cyclic collector paused, keeping what it would have freed in ``gc.garbage``."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def garbage_per_request(reader: Api, first: int) -> float:
    await reader.data(TICKETS, {"first": first}, as_="host-advisor")  # warm
    gc.collect()
    gc.garbage.clear()
    for _ in range(REQUESTS):
        data = await reader.data(TICKETS, {"first": first}, as_="host-advisor")
        assert len(data["tickets"]["edges"]) == first
    del data
    found = gc.collect()
    return found / REQUESTS


@pytest.mark.usefixtures("collector_off")
async def test_garbage_per_request_does_not_grow_with_the_rows(reader: Api) -> None:
    few = await garbage_per_request(reader, 5)
    many = await garbage_per_request(reader, 20)
    # Per extra ticket: about 400 objects before, about 30 now (SQLAlchemy's statement caches
    # and the test client's own churn, not the response's rows).
    assert (many - few) / 15 < 100, (few, many)


def test_a_serving_process_freezes_what_start_up_made(settings: Settings) -> None:
    """`deskgraph serve` (each worker too) makes its app with ``serving_app``: the modules and
    the schema, made once, are frozen out of every later collection's walk."""
    gc.unfreeze()
    try:
        app = serving_app(settings)
        assert app.state.settings is settings
        assert gc.get_freeze_count() > 10_000  # the schema alone is more
    finally:
        gc.unfreeze()  # a test process makes many apps: let them be collected
