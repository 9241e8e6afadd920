"""How `deskgraph serve` runs uvicorn: its options from the settings, and what worker processes
(``--workers N``) need to make the same app on their own."""

from __future__ import annotations

import copy
import dataclasses
import gc
import math
from typing import Any

from starlette.applications import Starlette

from deskgraph.settings import Settings, variable_of

# The app factory each worker process calls (settings from the environment).
APP_FACTORY = "deskgraph.server.serve:serving_app"
# Past the request timeout: the shutdown bound meets only a request that overran it (a bug).
SHUTDOWN_GRACE_SECONDS = 5
LOG_FORMAT = "%(levelname)s:  %(name)s: %(message)s"
# uvicorn kills a worker that does not answer its health check in time (5 s by default), and a
# worker answers only once it has imported deskgraph: on a busy 2-core machine that took longer,
# so workers were killed and restarted in a loop.
WORKER_HEALTHCHECK_SECONDS = 60


def serving_app(settings: Settings | None = None) -> Starlette:
    """The app a server process runs: :func:`create_app`, then everything made so far (the
    modules, the schema, the app) moved out of the cyclic collector's way (``gc.freeze``).

    Those objects live as long as the process, yet each full collection walked all of them:
    frozen, a collection walks only what requests made. The dashboard (50 tickets) took 0.74x
    the CPU per request (farm-bench, 5 interleaved runs of 150 requests in process). Only
    for serving: a test process makes many apps, and frozen ones would never be collected."""
    from deskgraph.server.app import create_app

    app = create_app(settings)
    gc.collect()
    gc.freeze()
    return app


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        # Believed from the trusted proxies only (uvicorn by default trusts 127.0.0.1).
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies),
        # SIGTERM: no new connection, subscriptions closed (1012, service restart), requests in
        # flight answered, then the app's shutdown; none runs past its timeout.
        "timeout_graceful_shutdown": math.ceil(settings.request_timeout_seconds)
        + SHUTDOWN_GRACE_SECONDS,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }


def worker_environment(before: Settings, after: Settings) -> dict[str, str]:
    """The DESKGRAPH_* variables that make a worker's ``Settings.from_env`` see what serve
    changed in ``before`` (the address, the development JDLink simulator)."""
    changed = {}
    for field in dataclasses.fields(Settings):
        value = getattr(after, field.name)
        if value != getattr(before, field.name):
            changed[variable_of(field.name)] = str(value)
    return changed


def worker_log_config() -> dict[str, Any]:
    """uvicorn's logging, which each worker process configures again, with deskgraph's own
    lines added as the serving process writes them (cli._log_to_stderr)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["deskgraph"] = {"format": LOG_FORMAT}
    config["handlers"]["deskgraph"] = {
        "formatter": "deskgraph",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["deskgraph"] = {"handlers": ["deskgraph"], "level": "INFO"}
    return config
