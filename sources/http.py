"""The HTTP client every upstream connector (JDLink, a JWKS endpoint, the CRMs) is made with."""

from __future__ import annotations

import ssl
from functools import cache

import httpx

from deskgraph.server import tracing


@cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process. httpx builds a new one, loading the whole CA
    bundle, for every client it makes (about 35 ms of CPU); a context is safe to share, and the
    test suite makes an app, with its clients, per test."""
    return httpx.create_ssl_context()


def upstream_client(timeout: httpx.Timeout | float) -> httpx.AsyncClient:
    """A client for one upstream service, bounded by ``timeout`` (its calls traced when tracing
    is on)."""
    return tracing.instrument_client(httpx.AsyncClient(timeout=timeout, verify=tls_context()))
