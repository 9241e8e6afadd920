"""The HTTP baseline: plain Starlette answering the small query's JSON, nothing else.

What any Python ASGI service pays per request on this machine (uvicorn, Starlette routing,
reading the body, writing JSON); deskgraph's small query is measured against it.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = orjson.dumps({"data": {"viewer": {"id": "QWR2aXNvcjoy"}}})


async def graphql(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)])
