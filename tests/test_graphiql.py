"""GraphiQL works offline: the page loads only deskgraph's own, pinned assets; in development a
button per demo persona carries a working token; in production there is no page and no asset.
(tests/external/test_graphiql.py runs the page in Chromium.)"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import update

from deskgraph.graphiql import SERVED, STATIC
from deskgraph.graphiql.assets import ASSETS, mismatches
from deskgraph.server.app import create_app
from deskgraph.settings import Settings
from deskgraph.store import models
from deskgraph.store.seed import PERSONAS
from tests.conftest import Api, RequestIdChecked

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
WHO_AM_I = "query WHO_AM_I { viewer { kind scopes advisor { name } customerUser { name } } }"
VIEWERS: dict[str, dict[str, Any]] = {
    "host-admin": {"kind": "ADVISOR", "advisor": {"name": "Helga Nordmann"}},
    "host-advisor": {"kind": "ADVISOR", "advisor": {"name": "Henrik Lund"}},
    "host-viewer": {"kind": "ADVISOR", "advisor": {"name": "Vera Holm"}},
    "external-advisor": {"kind": "ADVISOR", "advisor": {"name": "Sofia Marín"}},
    "customer-user": {"kind": "CUSTOMER_USER", "customerUser": {"name": "Anna Berg"}},
    "service": {"kind": "SERVICE", "scopes": ["read"]},
}
# Each button's label starts with who the persona is.
NAMES = {
    "host-admin": "Helga Nordmann",
    "host-advisor": "Henrik Lund",
    "host-viewer": "Vera Holm",
    "external-advisor": "Sofia Marín",
    "customer-user": "Anna Berg",
    "service": "Service token",
}
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


class Page(HTMLParser):
    """What a browser would load from the page, and its persona buttons."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.assets: list[str] = []
        self.inline_scripts = 0
        self.buttons: list[dict[str, str]] = []
        self._button: dict[str, str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "script":
            if "src" in values:
                self.assets.append(values["src"])
            else:
                self.inline_scripts += 1
        elif tag == "link":
            self.assets.append(values["href"])
        elif tag in ("img", "iframe", "source", "audio", "video") and "src" in values:
            self.assets.append(values["src"])
        elif tag == "button":
            self._button = {**values, "text": ""}
            self.buttons.append(self._button)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data


async def page_of(client: httpx.AsyncClient) -> Page:
    response = await client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    return Page(response.text)


def test_graphiql_assets_match_their_pins() -> None:
    assert mismatches() == []
    readme = (STATIC / "README.md").read_text(encoding="utf-8")
    for asset in ASSETS:
        assert f"`{asset.file}` | {asset.package} {asset.version} | `{asset.source}`" in readme
        assert asset.sha256 in readme


async def test_graphiql_page_loads_only_its_own_assets(api: Api) -> None:
    response = await api.http.get("/graphql", headers=BROWSER)
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    # No URL to anywhere else: not as an asset, not in a comment, not in a string.
    assert re.findall(r"(?:https?:)?//[\w.-]+", response.text) == []
    page = Page(response.text)
    assert page.inline_scripts == 0
    names = [re.fullmatch(r"/graphiql/([\w.-]+)\?v=[0-9a-f]{16}", url) for url in page.assets]
    assert all(names), page.assets
    assert sorted(match[1] for match in names if match) == sorted(SERVED)
    for url in page.assets:
        asset = await api.http.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["content-type"] == CONTENT_TYPES[Path(url.split("?")[0]).suffix]
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        file = STATIC / Path(url.split("?")[0]).name
        assert asset.content == file.read_bytes()
        # The URL changes with the content, which lets browsers keep each file for good.
        assert url.endswith(hashlib.sha256(asset.content).hexdigest()[:16])


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql/README.md",
        "/graphiql/LICENSE.react",
        "/graphiql/assets.py",
        "/graphiql/..%2F__init__.py",
        "/graphiql/page.html",
        "/graphiql/",
    ],
)
async def test_graphiql_serves_nothing_but_the_page_assets(api: Api, path: str) -> None:
    response = await api.http.get(path)
    assert response.status_code == 404


async def test_graphiql_persona_buttons_carry_working_tokens(api: Api) -> None:
    page = await page_of(api.http)
    buttons = {button["data-persona"]: button for button in page.buttons}
    assert list(buttons) == list(PERSONAS)
    for persona, button in buttons.items():
        assert button["type"] == "button"
        assert persona in button["text"]
        name = NAMES[persona]
        assert button["text"].startswith(f"{name} ")
        assert button["data-label"] == f"{name} ({persona})"
        response = await api.http.post(
            "/graphql",
            json={"query": WHO_AM_I},
            headers={"Authorization": f"Bearer {button['data-token']}"},
        )
        expected: dict[str, Any] = {
            "kind": None,
            "scopes": [],
            "advisor": None,
            "customerUser": None,
        }
        viewer = {**expected, **VIEWERS[persona]}
        assert response.json() == {"data": {"viewer": viewer}, "extensions": ANY}


async def test_graphiql_skips_personas_missing_from_the_database(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        await connection.execute(
            update(models.Advisor)
            .where(models.Advisor.email == PERSONAS["host-viewer"].key)
            .values(email="someone.else@north-dealers.example")
        )
    page = await page_of(api.http)
    personas = [button["data-persona"] for button in page.buttons]
    assert personas == [name for name in PERSONAS if name != "host-viewer"]
    assert "Not in this database: host-viewer" in page.text


async def test_graphiql_offers_no_tokens_where_an_identity_provider_signs_them(
    settings: Settings,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    async with client_of(dataclasses.replace(settings, token_public_key=pem)) as client:
        response = await client.get("/graphql", headers=BROWSER)
    assert response.status_code == 200
    assert "data-token" not in response.text
    assert "identity provider" in response.text
    assert Page(response.text).buttons == []


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    secret = "a-production-secret-for-the-tests-only-0123456789"
    async with client_of(dataclasses.replace(settings, env="production", token_secret=secret)) as c:
        yield c


async def test_graphiql_production_answers_404_for_the_page_and_every_asset(
    production: httpx.AsyncClient,
) -> None:
    page = await production.get("/graphql", headers=BROWSER)
    assert page.status_code == 404
    assert "data-token" not in page.text
    for file in SERVED:
        assert (await production.get(f"/graphiql/{file}")).status_code == 404


@asynccontextmanager
async def client_of(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app on settings of its own, through an in-process client."""
    app = create_app(settings)
    transport = RequestIdChecked(app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://deskgraph.test") as c:
            yield c
    finally:
        await app.state.verifier.aclose()
        await app.state.sources.aclose()
        await app.state.engine.dispose()
