"""Rate limits (issue 18, item 5): per viewer, a budget of query cost per minute, shared across
processes (PostgreSQL's table, or Redis), and a tight limit on ``advisorInviteLookup``. Time is
the app's clock (``app.state.rate_limits.clock``), set by the tests: nothing waits."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from deskgraph.auth.tokens import Principal
from deskgraph.server.rate_limit import (
    LocalCounters,
    RateLimits,
    RedisCounters,
    StoreCounters,
    viewer_key,
)
from deskgraph.settings import Settings, SettingsError
from deskgraph.store import models, rate_limit as store
from deskgraph.store.session import create_nullpool_engine, create_sessionmaker
from tests.conftest import Api, open_api

VIEWER = "query VIEWER { viewer { kind } }"  # costs 1
TYPENAME = "query TYPENAME { __typename }"  # costs 0: counted 1
TICKETS = "query TICKETS { tickets(first: 2) { edges { node { id } } } }"  # 1 + 2 + 2 * (1 + 1) = 7
LOOKUP = """
query LOOKUP($phone: String!) {
  advisorInviteLookup(phone: $phone) { name }
}
"""
# 12:00:15 of a day: the window ends in 45 s.
START = 1_700_000_000 - 1_700_000_000 % 60 + 15.0
BUDGET = 3


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def limited_api(settings: Settings, clock: Clock, **changes: Any) -> AsyncIterator[Api]:
    """The app with these settings changed and ``clock`` as its time."""
    changed = dataclasses.replace(settings, **{"rate_limit_cost_per_minute": BUDGET, **changes})
    async with open_api(changed) as api:
        api.app.state.rate_limits.clock = clock
        try:
            yield api
        finally:
            await api.app.state.rate_limits.aclose()


async def post(api: Api, body: Any, persona: str | None = "host-advisor") -> httpx.Response:
    return await api.http.post("/graphql", json=body, headers=api.headers(persona))


def limited_total(scope: str) -> float:
    return REGISTRY.get_sample_value("deskgraph_rate_limited_total", {"scope": scope}) or 0.0


def refused(cost: int, remaining: int, reset: int, limit: int = BUDGET) -> dict[str, Any]:
    """The body of an operation refused by the budget."""
    return {
        "errors": [
            {
                "message": f"This operation costs {cost}; {remaining} of your budget of {limit} "
                f"a minute is left: try again in {reset} s, or ask for smaller pages.",
                "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": reset},
            }
        ],
        "extensions": {
            "rateLimit": {"limit": limit, "remaining": remaining, "resetSeconds": reset}
        },
    }


# -- who the viewer is -------------------------------------------------------------------------


@pytest.mark.one_backend
@pytest.mark.parametrize(
    ("principal", "address", "key"),
    [
        (Principal(kind="advisor", id=7), "10.0.0.1", "advisor:7"),
        (Principal(kind="customer_user", id=3), "10.0.0.1", "customer_user:3"),
        (Principal(kind="service", service="crm"), None, "service:crm"),
        (None, "203.0.113.5", "address:203.0.113.5"),
        (None, "2001:db8::1", "address:2001:db8::1"),
        (None, None, "address:unknown"),
    ],
)
def test_viewer_key_is_the_principal_else_the_address(
    principal: Principal | None, address: str | None, key: str
) -> None:
    assert viewer_key(principal, address) == key


@pytest.mark.one_backend
async def test_local_counters_keep_the_current_window_and_a_bounded_number_of_viewers() -> None:
    counters = LocalCounters(max_keys=2)
    assert await counters.spend("a", 60, 2, 3) == (True, 2)
    assert await counters.spend("a", 60, 2, 3) == (False, 2)
    assert await counters.spend("b", 60, 1, 3) == (True, 1)
    assert await counters.spend("c", 60, 1, 3) == (True, 1)  # "a", the oldest, is forgotten
    assert sorted(counters.used) == ["b", "c"]
    assert await counters.spend("b", 120, 3, 3) == (True, 3)  # a new minute
    assert counters.used == {"b": 3}


@pytest.mark.one_backend
def test_settings_read_the_rate_limits_and_refuse_a_budget_below_one_operation() -> None:
    settings = Settings.from_env(
        {
            "DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE": "20000",
            "DESKGRAPH_INVITE_LOOKUP_PER_MINUTE": "0",
            "DESKGRAPH_REDIS_URL": "redis://127.0.0.1:6379/0",
        }
    )
    assert (settings.rate_limit_cost_per_minute, settings.invite_lookup_per_minute) == (20_000, 0)
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert Settings.from_env({}).rate_limit_cost_per_minute == 100_000
    assert (
        Settings.from_env({"DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE": "0"}).rate_limit_cost_per_minute
        == 0
    )
    with pytest.raises(SettingsError, match="DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE=500 is below"):
        Settings.from_env({"DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE": "500"})
    with pytest.raises(SettingsError, match="DESKGRAPH_REDIS_URL='http://x'"):
        Settings.from_env({"DESKGRAPH_REDIS_URL": "http://x"})


@pytest.mark.one_backend
def test_counters_are_shared_where_the_store_is(settings: Settings) -> None:
    postgres = dataclasses.replace(settings, database_url="postgresql+asyncpg://db/deskgraph")
    redis = dataclasses.replace(postgres, redis_url="redis://127.0.0.1:1/0")
    assert RateLimits.from_settings(settings, None).shared is None  # type: ignore[arg-type]
    assert isinstance(RateLimits.from_settings(postgres, None).shared, StoreCounters)  # type: ignore[arg-type]
    assert isinstance(RateLimits.from_settings(redis, None).shared, RedisCounters)  # type: ignore[arg-type]


# -- the store's counters (PostgreSQL's table; SQLite runs the same statement) -----------------


async def test_store_spend_adds_within_the_limit_and_prune_drops_past_windows(
    database_url: str,
) -> None:
    engine = create_nullpool_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            assert await store.spend(session, "cost:advisor:1", 60, 2, 3) == (True, 2)
            assert await store.spend(session, "cost:advisor:1", 60, 2, 3) == (False, 2)
            assert await store.spend(session, "cost:advisor:1", 60, 1, 3) == (True, 3)
            assert await store.spend(session, "cost:advisor:2", 60, 3, 3) == (True, 3)
            assert await store.spend(session, "cost:advisor:1", 120, 1, 3) == (True, 1)
            assert await store.prune(session, 120) == 2
        async with engine.connect() as connection:
            rows = (await connection.execute(select(models.RateLimit.__table__))).all()
        assert [tuple(row) for row in rows] == [("cost:advisor:1", 120, 1)]
    finally:
        await engine.dispose()


# -- the budget through the API (SQLite: in process; PostgreSQL: the table) ---------------------


async def test_viewer_budget_spent_answers_429_with_retry_after_until_the_next_minute(
    settings: Settings,
) -> None:
    clock = Clock()
    before = limited_total("cost")
    async with limited_api(settings, clock) as api:
        first = (await post(api, {"query": VIEWER})).json()
        assert first["data"] == {"viewer": {"kind": "ADVISOR"}}
        assert first["extensions"]["rateLimit"] == {"limit": 3, "remaining": 2, "resetSeconds": 45}
        assert first["extensions"]["cost"]["requested"] == 1  # the cost is still reported
        clock.now += 5
        second = (await post(api, {"query": TYPENAME})).json()
        assert second["extensions"]["rateLimit"] == {"limit": 3, "remaining": 1, "resetSeconds": 40}

        over = await post(api, {"query": TICKETS})
        assert over.status_code == 429
        assert over.headers["retry-after"] == "40"
        assert over.json() == refused(cost=7, remaining=1, reset=40)
        last = (await post(api, {"query": VIEWER})).json()  # what is left still serves
        assert last["extensions"]["rateLimit"]["remaining"] == 0

        clock.now += 40  # the next minute
        again = (await post(api, {"query": VIEWER})).json()
        assert again["data"] == {"viewer": {"kind": "ADVISOR"}}
        assert again["extensions"]["rateLimit"] == {"limit": 3, "remaining": 2, "resetSeconds": 60}
    assert limited_total("cost") == before + 1


async def test_viewer_budget_is_each_viewers_own_and_anonymous_clients_share_their_address(
    settings: Settings,
) -> None:
    async with limited_api(settings, Clock()) as api:
        for _ in range(BUDGET):
            assert (await post(api, {"query": TYPENAME}, persona=None)).status_code == 200
        assert (await post(api, {"query": TYPENAME}, persona=None)).status_code == 429
        # A token that is not valid is anonymous: the same address, the same budget.
        bad = await api.http.post(
            "/graphql", json={"query": TYPENAME}, headers={"Authorization": "Bearer nonsense"}
        )
        assert bad.status_code == 429
        mine = await post(api, {"query": VIEWER}, persona="host-advisor")
        assert mine.json()["extensions"]["rateLimit"]["remaining"] == 2


async def test_viewer_budget_batch_partly_over_answers_each_operation(settings: Settings) -> None:
    async with limited_api(settings, Clock()) as api:
        response = await post(api, [{"query": VIEWER}, {"query": TICKETS}, {"query": VIEWER}])
        assert response.status_code == 200
        first, over, last = response.json()
        assert first["data"] == {"viewer": {"kind": "ADVISOR"}}
        assert first["extensions"]["rateLimit"]["remaining"] == 2
        assert over == refused(cost=7, remaining=2, reset=45)
        assert last["data"] == {"viewer": {"kind": "ADVISOR"}}
        assert last["extensions"]["rateLimit"]["remaining"] == 1


async def test_viewer_budget_off_reports_no_rate_limit(settings: Settings) -> None:
    async with limited_api(settings, Clock(), rate_limit_cost_per_minute=0) as api:
        for _ in range(BUDGET + 1):
            body = (await post(api, {"query": VIEWER})).json()
            assert body["data"] == {"viewer": {"kind": "ADVISOR"}}
            assert "rateLimit" not in body["extensions"]


async def test_advisor_invite_lookup_host_admin_is_limited_per_minute(settings: Settings) -> None:
    clock = Clock()
    before = limited_total("invite_lookup")
    async with limited_api(
        settings, clock, rate_limit_cost_per_minute=100, invite_lookup_per_minute=2
    ) as api:
        lookup = {"query": LOOKUP, "variables": {"phone": "+47 999 99 999"}}
        for _ in range(2):
            assert (await post(api, lookup, persona="host-admin")).json()["data"] == {
                "advisorInviteLookup": None
            }
        body = (await post(api, lookup, persona="host-admin")).json()
        assert body["data"] == {"advisorInviteLookup": None}
        assert body["errors"] == [
            {
                "message": "At most 2 invitation lookups a minute: try again in 45 s.",
                "locations": [{"line": 3, "column": 3}],
                "path": ["advisorInviteLookup"],
                "extensions": {"code": "RATE_LIMITED", "retryAfterSeconds": 45},
            }
        ]
        # Only the lookup is limited; the cost budget still serves the viewer.
        other = (await post(api, {"query": VIEWER}, persona="host-admin")).json()
        assert other["data"] == {"viewer": {"kind": "ADVISOR"}}
        clock.now += 45
        assert "errors" not in (await post(api, lookup, persona="host-admin")).json()
    assert limited_total("invite_lookup") == before + 1


async def test_advisor_invite_lookup_aliases_count_one_each(settings: Settings) -> None:
    aliased = """
    query TWICE($phone: String!) {
      a: advisorInviteLookup(phone: $phone) { name }
      b: advisorInviteLookup(phone: $phone) { name }
      c: advisorInviteLookup(phone: $phone) { name }
    }
    """
    async with limited_api(
        settings, Clock(), rate_limit_cost_per_minute=100, invite_lookup_per_minute=2
    ) as api:
        body = (
            await post(api, {"query": aliased, "variables": {"phone": "+4799999999"}}, "host-admin")
        ).json()
        assert body["data"] == {"a": None, "b": None, "c": None}
        # The fields run at once: which of them comes third may differ (on PostgreSQL).
        [error] = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["path"] in (["a"], ["b"], ["c"])


@pytest.mark.postgresql_only
async def test_viewer_budget_two_app_instances_on_one_postgresql_share_it(
    settings: Settings,
) -> None:
    clock = Clock()
    async with limited_api(settings, clock) as first, limited_api(settings, clock) as second:
        assert isinstance(first.app.state.rate_limits.shared, StoreCounters)
        assert (await post(first, {"query": VIEWER})).status_code == 200
        assert (await post(second, {"query": VIEWER})).status_code == 200
        # Both at once: the last unit of the budget goes to one of them only.
        answers = await asyncio.gather(
            post(first, {"query": VIEWER}), post(second, {"query": VIEWER})
        )
        assert sorted(answer.status_code for answer in answers) == [200, 429]
        clock.now += 60
        assert (await post(second, {"query": VIEWER})).status_code == 200
