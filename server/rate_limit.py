"""Rate limits (issue 18): per viewer and minute, a budget of query cost
(``DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE``) and a few ``advisorInviteLookup`` calls
(``DESKGRAPH_INVITE_LOOKUP_PER_MINUTE``: it reveals names and e-mails by phone number).

**The window** is a fixed one: the wall clock's minute, the same in every process. Chosen over a
token bucket because a check is then one atomic add to one counter in each store (a Redis
script, PostgreSQL's ``INSERT … ON CONFLICT DO UPDATE … RETURNING``, a dict here) and the reset
time is exact and the same for every client; a bucket keeps two values (level, time) that must
be read and written together. The price, accepted: across a minute's edge a client may spend up
to twice its budget.

**The viewer** is the token's principal (``advisor:7``, ``customer_user:3``, ``service:crm``),
or without a valid token the client's address (``address:203.0.113.5``: behind a trusted proxy
the forwarded one, as uvicorn gives it). Never the token itself.

**The charge**: every operation counts its cost as ``schema.cost`` computes it before execution
(at least 1; one refused for its cost alone counts 1, as nothing runs), each operation of a
batch on its own; an operation that would pass the budget is not run (``RATE_LIMITED``). Each
``advisorInviteLookup`` field counts 1 against its own limit.

**The counters** live in Redis when ``DESKGRAPH_REDIS_URL`` is set, else in PostgreSQL's
``rate_limits`` table, else (SQLite: one process) here. When the shared store fails, this
process's counters answer for ``FAILURE_SECONDS`` (a warning logged once per outage,
``deskgraph_rate_limit_store_failures_total`` counted) before the store is tried again: a
Redis that is down must not take the API down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import GraphQLError, GraphQLFormattedError
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.auth.tokens import Principal
from deskgraph.errors import ApiError
from deskgraph.server.metrics import RATE_LIMIT_STORE_FAILURES, RATE_LIMITED as LIMITED_TOTAL
from deskgraph.server.operation import Answer
from deskgraph.settings import Settings
from deskgraph.store import rate_limit as store

logger = logging.getLogger("deskgraph")

RATE_LIMITED = "RATE_LIMITED"
WINDOW_SECONDS = 60
# After the shared store failed, this long on this process's counters before asking it again.
FAILURE_SECONDS = 5.0
# Bounded waits on Redis: a check must never hold a request for long.
REDIS_TIMEOUT_SECONDS = 0.5
# This process's counters keep at most this many viewers a window (the oldest out first: that
# viewer starts the minute again, which only a flood of addresses can cause).
MAX_LOCAL_KEYS = 100_000
# Keys longer than this (a service's long name) are stored by their sha256.
MAX_KEY_LENGTH = 120
# The limits' scopes: in keys, in metrics' labels.
COST = "cost"
INVITE_LOOKUP = "invite_lookup"

Clock = Callable[[], float]


def viewer_key(principal: Principal | None, address: str | None) -> str:
    """Whose budget a request spends: its token's principal, else its client's address."""
    if principal is not None:
        return principal.subject
    return f"address:{address or 'unknown'}"


@dataclass(frozen=True)
class Usage:
    """A charge's outcome: whether it was spent, and the window's figures after it."""

    allowed: bool
    limit: int
    used: int
    reset_seconds: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def extension(self) -> dict[str, int]:
        """``extensions.rateLimit`` of the response."""
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "resetSeconds": self.reset_seconds,
        }


class RateLimited(ApiError):
    """A field refused by its own limit (``advisorInviteLookup``)."""

    code = RATE_LIMITED

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        assert self.extensions is not None
        self.extensions["retryAfterSeconds"] = retry_after_seconds


class Counters(Protocol):
    async def spend(self, key: str, window_start: int, amount: int, limit: int) -> tuple[bool, int]:
        """Add ``amount`` to the window's counter of ``key`` unless it would pass ``limit``:
        (spent, what the window has used after it)."""

    async def aclose(self) -> None: ...


class LocalCounters:
    """This process's counters: the current window's only, at most ``max_keys`` of them."""

    name = "local"

    def __init__(self, max_keys: int = MAX_LOCAL_KEYS) -> None:
        self.max_keys = max_keys
        self.window_start = -1
        self.used: dict[str, int] = {}

    async def spend(self, key: str, window_start: int, amount: int, limit: int) -> tuple[bool, int]:
        if window_start > self.window_start:  # a new minute: every budget starts again
            self.window_start = window_start
            self.used.clear()
        used = self.used.get(key)
        if used is None:
            if len(self.used) >= self.max_keys:
                del self.used[next(iter(self.used))]
            used = 0
        if used + amount > limit:
            return False, used
        self.used[key] = used + amount
        return True, used + amount

    async def aclose(self) -> None:
        self.used.clear()


# Atomic in Redis (a script runs alone): add unless the limit would be passed; a key lives two
# windows, enough for any clock difference between processes.
SPEND_SCRIPT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
if used + amount > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], amount)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, used}
"""


class RedisCounters:
    """Counters in Redis (``DESKGRAPH_REDIS_URL``), one key per viewer and window."""

    name = "redis"

    def __init__(self, url: str) -> None:
        self.redis: Redis = Redis.from_url(
            url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        self.script: Any = self.redis.register_script(SPEND_SCRIPT)

    async def spend(self, key: str, window_start: int, amount: int, limit: int) -> tuple[bool, int]:
        spent, used = await self.script(
            keys=[f"deskgraph:rate:{key}:{window_start}"],
            args=[amount, limit, 2 * WINDOW_SECONDS],
        )
        return bool(spent), int(used)

    async def aclose(self) -> None:
        await self.redis.aclose()


class StoreCounters:
    """Counters in PostgreSQL's ``rate_limits`` table; each process deletes past windows'
    rows once a window."""

    name = "postgresql"

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.pruned_before = -1

    async def spend(self, key: str, window_start: int, amount: int, limit: int) -> tuple[bool, int]:
        async with self.sessionmaker() as session:
            if window_start > self.pruned_before:
                self.pruned_before = window_start
                await store.prune(session, window_start)
            return await store.spend(session, key, window_start, amount, limit)

    async def aclose(self) -> None:
        pass


class RateLimits:
    """The policy, one per process: the limits of the settings, the counters that keep them,
    and the clock (``clock``: the wall clock, replaced in tests)."""

    def __init__(
        self, settings: Settings, shared: Counters | None, clock: Clock = time.time
    ) -> None:
        self.cost_per_minute = settings.rate_limit_cost_per_minute
        self.invite_lookups_per_minute = settings.invite_lookup_per_minute
        self.max_query_cost = settings.max_query_cost
        self.shared = shared
        self.local = LocalCounters()
        self.clock = clock
        self.failed_until: float | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> RateLimits:
        shared: Counters | None = None
        if settings.redis_url:
            shared = RedisCounters(settings.redis_url)
        elif settings.database_url.startswith("postgresql"):
            shared = StoreCounters(sessionmaker)
        return cls(settings, shared)

    @property
    def cost_on(self) -> bool:
        return self.cost_per_minute > 0

    async def charge_cost(self, viewer: str, cost: int) -> Usage:
        """Spend an operation's cost (computed before execution) from the viewer's budget."""
        amount = 1 if cost > self.max_query_cost else max(1, cost)
        return await self.charge(COST, viewer, amount, self.cost_per_minute)

    async def charge(self, scope: str, viewer: str, amount: int, limit: int) -> Usage:
        now = self.clock()
        window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        key = f"{scope}:{viewer}"
        if len(key) > MAX_KEY_LENGTH:
            key = f"{scope}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
        spent, used = await self._spend(key, window_start, amount, limit, now)
        if not spent:
            LIMITED_TOTAL.labels(scope).inc()
        reset = max(1, math.ceil(window_start + WINDOW_SECONDS - now))
        return Usage(spent, limit, used, reset)

    async def _spend(
        self, key: str, window_start: int, amount: int, limit: int, now: float
    ) -> tuple[bool, int]:
        shared = self.shared
        if shared is not None and (self.failed_until is None or now >= self.failed_until):
            try:
                answer = await shared.spend(key, window_start, amount, limit)
            except Exception as error:  # the store down: this process's counters answer
                RATE_LIMIT_STORE_FAILURES.labels(getattr(shared, "name", "shared")).inc()
                if self.failed_until is None:
                    logger.warning(
                        "rate limits: the shared store failed (%s); this process counts alone "
                        "until it answers again",
                        error,
                    )
                self.failed_until = now + FAILURE_SECONDS
            else:
                if self.failed_until is not None:
                    logger.info("rate limits: the shared store answers again")
                    self.failed_until = None
                return answer
        return await self.local.spend(key, window_start, amount, limit)

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()


@dataclass(frozen=True)
class ViewerLimits:
    """The limits of one request's viewer, for the fields that have their own
    (``info.context.limits``)."""

    limits: RateLimits
    viewer: str

    async def invite_lookup(self) -> None:
        """Count one ``advisorInviteLookup``; RATE_LIMITED past the limit of a minute."""
        limit = self.limits.invite_lookups_per_minute
        if limit == 0:
            return
        usage = await self.limits.charge(INVITE_LOOKUP, self.viewer, 1, limit)
        if not usage.allowed:
            raise RateLimited(
                f"At most {limit} invitation lookups a minute: try again in "
                f"{usage.reset_seconds} s.",
                usage.reset_seconds,
            )


def limited_error(usage: Usage, cost: int) -> GraphQLFormattedError:
    """The error refusing an operation the viewer's budget cannot pay for (over HTTP and over
    the WebSocket)."""
    message = (
        f"This operation costs {cost}; {usage.remaining} of your budget of {usage.limit} a "
        f"minute is left: try again in {usage.reset_seconds} s, or ask for smaller pages."
    )
    extensions = {"code": RATE_LIMITED, "retryAfterSeconds": usage.reset_seconds}
    return GraphQLError(message, extensions=extensions).formatted


def limited_answer(usage: Usage, cost: int) -> Answer:
    """The answer to an operation refused by the viewer's budget (429 when it is the
    request's only one)."""
    body = {
        "errors": [limited_error(usage, cost)],
        "extensions": {"rateLimit": usage.extension()},
    }
    return Answer(body, 429, {"Retry-After": str(usage.reset_seconds)})
