"""Rate limits with Redis (issue 18, item 5): a redis-server of the test's own on 127.0.0.1
shares the budget between app instances; one that does not answer leaves each process counting
alone, and the API answering."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from deskgraph.server.rate_limit import FAILURE_SECONDS, RedisCounters
from deskgraph.settings import Settings
from tests.conftest import free_port
from tests.test_rate_limits import START, VIEWER, Clock, limited_api, post, refused

REDIS_WAIT_SECONDS = 10.0


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A redis-server of its own on a free port of 127.0.0.1, keeping nothing on disk."""
    port = free_port()
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        asyncio.run(_wait_for_redis(url))
        yield url
    finally:
        process.terminate()
        process.wait(timeout=REDIS_WAIT_SECONDS)


async def _wait_for_redis(url: str) -> None:
    client = Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        for _ in range(int(REDIS_WAIT_SECONDS / 0.05)):
            try:
                await client.execute_command("PING")  # type: ignore[no-untyped-call]
                return
            except RedisConnectionError:
                await asyncio.sleep(0.05)
        raise AssertionError(f"redis-server at {url} did not answer")
    finally:
        await client.aclose()


@pytest.mark.one_backend
async def test_viewer_budget_two_app_instances_share_it_in_redis(
    settings: Settings, redis_url: str
) -> None:
    clock = Clock()
    async with (
        limited_api(settings, clock, redis_url=redis_url) as first,
        limited_api(settings, clock, redis_url=redis_url) as second,
    ):
        assert isinstance(first.app.state.rate_limits.shared, RedisCounters)
        assert (await post(first, {"query": VIEWER})).status_code == 200
        assert (await post(second, {"query": VIEWER})).status_code == 200
        third = (await post(first, {"query": VIEWER})).json()
        assert third["extensions"]["rateLimit"] == {"limit": 3, "remaining": 0, "resetSeconds": 45}
        over = await post(second, {"query": VIEWER})
        assert over.status_code == 429
        assert over.json() == refused(cost=1, remaining=0, reset=45)
        client = Redis.from_url(redis_url)
        try:  # one key: the principal's and the window's (never the token)
            [key] = await client.keys("deskgraph:rate:*")
            assert re.fullmatch(rf"deskgraph:rate:cost:advisor:\d+:{int(START) - 15}", key.decode())
            assert await client.get(key) == b"3"
            assert 0 < await client.ttl(key) <= 120
        finally:
            await client.aclose()


@pytest.mark.one_backend
async def test_viewer_budget_redis_unreachable_falls_back_to_this_process(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    failures = (
        REGISTRY.get_sample_value("deskgraph_rate_limit_store_failures_total", {"store": "redis"})
        or 0.0
    )
    with caplog.at_level(logging.WARNING, logger="deskgraph"):
        async with limited_api(settings, clock, redis_url=down) as api:
            for remaining in (2, 1):
                body = (await post(api, {"query": VIEWER})).json()
                assert body["data"] == {"viewer": {"kind": "ADVISOR"}}
                assert body["extensions"]["rateLimit"]["remaining"] == remaining
            clock.now += FAILURE_SECONDS  # Redis is asked again, fails again
            assert (await post(api, {"query": VIEWER})).status_code == 200
            assert (await post(api, {"query": VIEWER})).status_code == 429
    warnings = [r for r in caplog.records if "rate limits: the shared store failed" in r.message]
    assert len(warnings) == 1
    after = REGISTRY.get_sample_value(
        "deskgraph_rate_limit_store_failures_total", {"store": "redis"}
    )
    assert after == failures + 2  # the first check, and the one after FAILURE_SECONDS
