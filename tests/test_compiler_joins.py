"""The compiled statements as PostgreSQL plans them (issue 17): a to-one relation's object is
built above its join, for the rows joined, never where its table is scanned.

From a lateral subquery, PostgreSQL pulls the join up but keeps the subquery's JSON object as a
placeholder evaluated at the scan of the relation's table: under a hash join, for every row of
that table. The ticket detail built the object (and the global ID) of every customer user,
machine and customer of the database to answer one ticket; the bigger the table, the worse.
``JsonSql.one`` joins the row instead and builds the object over the join. These tests read
the plan PostgreSQL makes for the statement the compiled request sent, with its parameters.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from deskgraph.bench.scenarios import DASHBOARD, DETAIL, longest_thread
from deskgraph.server.compiled_operation import ANSWERED
from tests.conftest import Api

pytestmark = pytest.mark.postgresql_only  # the plan asked is PostgreSQL's

SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan"}


def scans_building_objects(plan: dict[str, Any]) -> list[str]:
    """The scans of tables in ``plan`` whose output holds a JSON object built there."""
    found = []
    if plan["Node Type"] in SCANS and any("json_build_object" in o for o in plan["Output"]):
        found.append(f"{plan['Node Type']} on {plan['Relation Name']} {plan['Alias']}")
    for child in plan.get("Plans", []):
        found += scans_building_objects(child)
    return found


async def planned(api: Api, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """PostgreSQL's plan of the one statement the compiled request for ``query`` sent."""
    await api.data(query, variables, as_="host-advisor")  # a document's first meets the pipeline
    before = ANSWERED[0]
    with api.count_statements() as sql:
        data = await api.data(query, variables, as_="host-advisor")
    assert (sql.count, ANSWERED[0] - before) == (1, 1)  # one statement, the compiled one
    assert data
    async with api.app.state.engine.connect() as connection:
        explained = await connection.exec_driver_sql(
            f"EXPLAIN (VERBOSE, FORMAT JSON) {sql.statements[0]}", sql.parameters[0]
        )
        plan = explained.scalar_one()
    return dict((orjson.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])


async def test_ticket_detail_builds_each_object_above_its_join(compiling: Api) -> None:
    variables = await longest_thread(compiling.app.state.engine)
    plan = await planned(compiling, DETAIL, variables)
    assert scans_building_objects(plan) == []


async def test_dashboard_builds_each_object_above_its_join(compiling: Api) -> None:
    plan = await planned(compiling, DASHBOARD, {"first": 50})
    assert scans_building_objects(plan) == []
