"""GraphiQL served by deskgraph itself, so that it works offline: the page, its pinned assets
(``static/``, see ``assets.py``) and, in development, one button per demo persona that puts a
bearer token made for this page load into GraphiQL's Headers editor. Off in production."""

from __future__ import annotations

import functools
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path
from string import Template

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from deskgraph.auth.personas import demo_principals
from deskgraph.auth.tokens import issue_token
from deskgraph.settings import Settings
from deskgraph.store.seed import PERSONAS

HERE = Path(__file__).parent
STATIC = HERE / "static"
PREFIX = "/graphiql"
ENDPOINT = "/graphql"
JS = "text/javascript; charset=utf-8"
# Every file the page loads, with the type it is served as; nothing else in static/ is served.
SERVED = {
    "graphiql.min.css": "text/css; charset=utf-8",
    "react.production.min.js": JS,
    "react-dom.production.min.js": JS,
    "graphiql.min.js": JS,
    "deskgraph-graphiql.js": JS,  # ours: boots GraphiQL, wires the persona buttons
    "favicon.svg": "image/svg+xml",  # ours: without one, every load logs a 404
}
# The URLs carry a digest of the file, so a browser may keep each file for good.
CACHE_FOREVER = "public, max-age=31536000, immutable"
# The page may load nothing from another origin (GraphiQL's fonts are data: URLs in its CSS).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "font-src 'self' data:; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
TOKEN_SECONDS = 86_400
# Who each persona is, for the button's label (the name comes from the database row).
WHO = {
    "host-admin": "ADMIN of North Dealers",
    "host-advisor": "ADVISOR of North Dealers (Service Desk, Field Service)",
    "host-viewer": "VIEWER of North Dealers: reads only",
    "external-advisor": "South Service; external member of North Dealers' Field Service",
    "customer-user": "Meadow Farms, a North Dealers customer (customer portal)",
    "service": "the read scope, as a federation router uses",
}


@dataclass(frozen=True)
class PersonaToken:
    persona: str  # the name `deskgraph token` takes
    name: str  # who, as the database names them
    who: str
    token: str


@functools.cache
def asset_url(file: str) -> str:
    digest = hashlib.sha256((STATIC / file).read_bytes()).hexdigest()[:16]
    return f"{PREFIX}/{file}?v={digest}"


async def serve_asset(request: Request) -> Response:
    file = request.path_params["file"]
    media_type = SERVED.get(file)
    if media_type is None:
        raise HTTPException(404, "Not Found")
    return FileResponse(
        STATIC / file,
        media_type=media_type,
        headers={"Cache-Control": CACHE_FOREVER, "X-Content-Type-Options": "nosniff"},
    )


def routes(settings: Settings) -> list[BaseRoute]:
    """The assets' route; none in production, where GraphiQL is off."""
    if settings.is_production:
        return []
    return [Route(f"{PREFIX}/{{file}}", serve_asset, methods=["GET", "HEAD"])]


async def persona_tokens(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[PersonaToken]:
    """A fresh token for each demo persona in the database, in the order of ``PERSONAS``;
    none in production, nor where tokens are verified with a public key (only an identity
    provider can sign those)."""
    if settings.is_production or settings.token_public_key or settings.token_jwks_url:
        return []
    async with sessionmaker() as session:
        found = await demo_principals(session)
    return [
        PersonaToken(
            demo.persona,
            demo.name,
            WHO.get(demo.persona, ""),
            issue_token(settings, demo.principal, ttl_seconds=TOKEN_SECONDS),
        )
        for demo in found.values()
    ]


class GraphiQLPage:
    """The page GET /graphql answers a browser with (in development only)."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.template = Template((HERE / "page.html").read_text(encoding="utf-8"))

    async def response(self) -> HTMLResponse:
        personas = await persona_tokens(self.settings, self.sessionmaker)
        page = self.template.substitute(
            endpoint=ENDPOINT,
            personas=self._personas_html(personas),
            graphiql_css=asset_url("graphiql.min.css"),
            react_js=asset_url("react.production.min.js"),
            react_dom_js=asset_url("react-dom.production.min.js"),
            graphiql_js=asset_url("graphiql.min.js"),
            boot_js=asset_url("deskgraph-graphiql.js"),
            favicon=asset_url("favicon.svg"),
        )
        return HTMLResponse(
            page,
            headers={
                "Cache-Control": "no-store",  # the tokens are made for this page load
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
            },
        )

    def _personas_html(self, personas: list[PersonaToken]) -> str:
        if self.settings.token_public_key or self.settings.token_jwks_url:
            note = (
                "This server verifies tokens with your identity provider's key: put "
                '<code>{"Authorization": "Bearer …"}</code> into the Headers editor below.'
            )
            return _section(f"<p>{note}</p>")
        buttons = "\n".join(
            f'<li><button type="button" class="dg-persona" disabled aria-pressed="false"'
            f' data-persona="{html.escape(p.persona)}"'
            f' data-label="{html.escape(f"{p.name} ({p.persona})")}"'
            f' data-token="{html.escape(p.token)}">'
            f"{html.escape(p.name)} <small>{html.escape(p.persona)} · {html.escape(p.who)}"
            "</small></button></li>"
            for p in personas
        )
        missing = [name for name in PERSONAS if name not in {p.persona for p in personas}]
        absent = (
            f"<p>Not in this database: {html.escape(', '.join(missing))} (load the demo with"
            " <code>deskgraph seed --demo</code>).</p>\n"
            if missing
            else ""
        )
        return _section(
            "<p>Development only: a button puts that persona's bearer token (made for this page,"
            f" valid {TOKEN_SECONDS // 3600} hours) into the Headers editor below.</p>"
            f"\n<ul>\n{buttons}\n</ul>\n{absent}",
            status=True,
        )


def _section(body: str, *, status: bool = False) -> str:
    """The bar above GraphiQL: a <details> the user can fold (deskgraph-graphiql.js remembers
    it, and folds it by default on a narrow screen); the chosen persona stays in its summary."""
    summary_status = ' <span id="dg-status" role="status"></span>' if status else ""
    return (
        '<details class="dg-personas" id="dg-personas" open>\n'
        f'<summary><h2 id="dg-personas-title">Demo personas</h2>{summary_status}</summary>\n'
        f"{body}\n</details>"
    )
