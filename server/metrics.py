"""Prometheus metrics: what ``/metrics`` answers, and the hooks that move them.

The metrics are process-wide (prometheus-client's default registry): requests by operation
and outcome, their latency, GraphQL errors by ``extensions.code`` and SQL statements per
request (moved by ``server.observe`` once a request is answered), upstream calls and failures
per source (``record_upstream_call``, called by each connector: JDLink, SMTP, and the CRMs to
come), subscriptions open and events fanned out (``server.events``). The outbox figures are
read from the store when ``/metrics`` is scraped: the outbox is shared by every process.

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before
the server starts: every process writes its figures there and a scrape, answered by any one
of them, adds them up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import threading
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from deskgraph.errors import Unauthenticated
from deskgraph.server.failures import error_body, json_response
from deskgraph.settings import Settings

log = logging.getLogger(__name__)

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Operation names are chosen by clients: at most this many distinct ones per process, each cut
# to MAX_OPERATION_NAME characters; any further name is counted as OTHER.
MAX_OPERATION_NAMES = 200
MAX_OPERATION_NAME = 64
# Labels no GraphQL name can take (a name is letters, digits and underscores).
ANONYMOUS = "<anonymous>"  # an operation without a name
UNPARSED = "<unparsed>"  # no operation was found: not JSON, not a document, no such name
OTHER = "<other>"  # past MAX_OPERATION_NAMES
OUTCOMES = ("ok", "errors", "refused", "failed")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
STATEMENT_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144)

REQUESTS = Counter(
    "deskgraph_graphql_requests",
    "GraphQL operations answered over HTTP, by operation name and outcome: ok (no error), "
    "errors (executed, with errors), refused (the client's request: 4xx, or not executed), "
    "failed (5xx).",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "deskgraph_graphql_request_duration_seconds",
    "Time from a GraphQL HTTP request's arrival to the end of its answer, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
ERRORS = Counter(
    "deskgraph_graphql_errors",
    "Errors in GraphQL responses, by extensions.code.",
    ["code"],
)
STATEMENTS = Histogram(
    "deskgraph_sql_statements_per_request",
    "SQL statements sent to the database while answering one GraphQL HTTP request.",
    buckets=STATEMENT_BUCKETS,
)
UPSTREAM_CALLS = Counter(
    "deskgraph_upstream_calls",
    "Calls to upstream services (HTTP requests, SMTP deliveries), by source.",
    ["source"],
)
UPSTREAM_FAILURES = Counter(
    "deskgraph_upstream_failures",
    "Upstream calls that failed (unreachable, timed out, or refused), by source.",
    ["source"],
)
CRM_API_USAGE = Gauge(
    "deskgraph_crm_api_usage",
    "A CRM's API allowance as it last reported it (Salesforce's Sforce-Limit-Info): requests "
    "used and the limit, of the rolling 24 hours, by source.",
    ["source", "measure"],
    multiprocess_mode="max",
)
SUBSCRIPTIONS_OPEN = Gauge(
    "deskgraph_subscriptions_open",
    "Subscriptions listening for events.",
    multiprocess_mode="livesum",
)
EVENTS_READ = Counter(
    "deskgraph_events_read",
    "Events read from the event log into this process's subscriptions.",
)
EVENTS_FANNED_OUT = Counter(
    "deskgraph_events_fanned_out",
    "Events handed to subscriptions: one per event and subscription.",
)
VIEWER_CACHE = Counter(
    "deskgraph_viewer_cache",
    "Viewers of a token taken from the process's cache (hit) or read from the database (miss).",
    ["outcome"],
)
# Looked up once: ``labels()`` costs a check, a conversion and a lock on every request.
VIEWER_CACHE_HITS = VIEWER_CACHE.labels("hit")
VIEWER_CACHE_MISSES = VIEWER_CACHE.labels("miss")

RATE_LIMITED = Counter(
    "deskgraph_rate_limited",
    "Operations or fields refused with RATE_LIMITED, by scope: cost (the viewer's budget of "
    "query cost per minute) or invite_lookup (advisorInviteLookup calls per minute).",
    ["scope"],
)
RATE_LIMIT_STORE_FAILURES = Counter(
    "deskgraph_rate_limit_store_failures",
    "Rate-limit checks answered by this process's own counters because the shared store "
    "(Redis or PostgreSQL) failed, by store.",
    ["store"],
)


def record_upstream_call(source: str, *, failed: bool) -> None:
    """One call to an upstream service, made by its connector (``jdlink``, ``smtp``, a CRM's
    name): counted in ``deskgraph_upstream_calls_total`` and, when it failed, in
    ``deskgraph_upstream_failures_total``."""
    UPSTREAM_CALLS.labels(source).inc()
    if failed:
        UPSTREAM_FAILURES.labels(source).inc()


def record_crm_api_usage(source: str, used: int, limit: int) -> None:
    """What a CRM said of its API allowance (Salesforce: ``Sforce-Limit-Info: api-usage=u/l``)."""
    CRM_API_USAGE.labels(source, "used").set(used)
    CRM_API_USAGE.labels(source, "limit").set(limit)


def record_operation(operation: str, outcome: str, seconds: float, codes: Iterable[str]) -> None:
    """One GraphQL operation answered over HTTP (``operation`` already bounded)."""
    requests, latency = _operation_metrics(operation, outcome)
    requests.inc()
    latency.observe(seconds)
    for code in codes:
        ERRORS.labels(code).inc()


@functools.lru_cache(maxsize=4 * (MAX_OPERATION_NAMES + 3))  # 4 outcomes; names bounded
def _operation_metrics(operation: str, outcome: str) -> tuple[Counter, Histogram]:
    """The children of one operation and outcome, looked up once (as VIEWER_CACHE_HITS).
    Nothing removes a child: both metrics live as long as the process."""
    return REQUESTS.labels(operation, outcome), LATENCY.labels(operation)


class OperationLabels:
    """The label of an operation name, the label set bounded (see MAX_OPERATION_NAMES)."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        name = name[:MAX_OPERATION_NAME]
        with self._lock:
            if name in self._seen:
                return name
            if len(self._seen) >= self.limit:
                return OTHER
            self._seen.add(name)
            return name


class _Figures(Collector):
    """Figures read at scrape time (the outbox's), exposed once whatever the process count."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.families


def exposition(families: list[GaugeMetricFamily]) -> bytes:
    """The text a scrape receives: this process's metrics (every process's in multiprocess
    mode), then ``families``."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    extra = CollectorRegistry(auto_describe=False)
    extra.register(_Figures(families))
    return text + generate_latest(extra)


def process_exited() -> None:
    """In multiprocess mode, drop this process's live gauges (subscriptions open)."""
    if os.environ.get(MULTIPROCESS_DIR):
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsEndpoint:
    """``GET /metrics``. Mounted only when metrics are on (else the app's JSON 404); with a
    token configured (always in production), a scrape without ``Bearer <token>`` is 401."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker

    async def handle(self, request: Request) -> Response:
        if not self._authorized(request.headers.get("authorization", "")):
            return json_response(
                error_body(
                    "Send the metrics token as `Authorization: Bearer <token>`.",
                    Unauthenticated.code,
                ),
                401,
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        families = await self._outbox()
        return Response(exposition(families), media_type=CONTENT_TYPE_LATEST)

    def _authorized(self, authorization: str) -> bool:
        expected = self.settings.metrics_token
        if not expected:
            return not self.settings.is_production
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), expected.encode()
        )

    async def _outbox(self) -> list[GaugeMetricFamily]:
        # Imported here: the store's models import the sources, whose clients count their
        # calls here, so a module-level import made `import deskgraph.store.session` a cycle.
        from deskgraph.store.models import utcnow
        from deskgraph.store.outbox import outbox_figures

        try:
            now = utcnow()
            async with self.sessionmaker() as session:
                pending, oldest_due = await outbox_figures(session, now=now)
        except Exception as error:  # the database down: the rest of the metrics still answer
            log.warning("metrics: cannot read the outbox: %s", error)
            return []
        return [
            GaugeMetricFamily(
                "deskgraph_outbox_pending",
                "Mails waiting in the outbox (pending: due now or retried later).",
                value=pending,
            ),
            GaugeMetricFamily(
                "deskgraph_outbox_oldest_due_age_seconds",
                "How long the oldest mail that is due now has waited since it was queued "
                "(0 when none is due).",
                value=0.0 if oldest_due is None else max(0.0, (now - oldest_due).total_seconds()),
            ),
        ]
