"""The ``deskgraph`` command, end to end on a fresh SQLite file, as the README describes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from deskgraph.cli import main
from deskgraph.server.app import create_app
from deskgraph.settings import Settings

README_QUERY = """
{ viewer { kind advisor { name primaryOrganization { name } } }
  tickets(first: 10) { totalCount edges { node { title team { name } organization { name } } } } }
"""


@pytest.fixture
def fresh_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", url)
    return url


def test_cli_upgrade_seed_token_then_query(
    fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["seed", "--demo"]) == 0
    assert main(["seed", "--demo", "--if-empty"]) == 0  # second run leaves the data alone
    assert main(["seed", "--demo"]) == 1  # refuses to seed twice
    capsys.readouterr()
    assert main(["token", "host-advisor"]) == 0
    token = capsys.readouterr().out.strip()

    async def query() -> dict[str, object]:
        app = create_app(Settings.from_env())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cli.test") as client:
            response = await client.post(
                "/graphql",
                json={"query": README_QUERY},
                headers={"Authorization": f"Bearer {token}"},
            )
        await app.state.engine.dispose()
        body: dict[str, object] = response.json()
        return body

    body = asyncio.run(query())
    assert "errors" not in body
    data = body["data"]
    assert isinstance(data, dict)
    assert data["viewer"]["advisor"]["primaryOrganization"] == {"name": "North Dealers"}
    edges = data["tickets"]["edges"]
    assert len(edges) == 10
    assert {e["node"]["organization"]["name"] for e in edges} == {"North Dealers"}


def test_cli_token_for_unknown_persona_fails(
    fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["token", "nobody"]) == 1
    assert "no persona" in capsys.readouterr().err
    assert main(["token", "host-admin"]) == 1  # not seeded yet
    assert main(["token", "service"]) == 0  # needs no row


def test_cli_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    target = tmp_path / "schema.graphql"
    assert main(["export-schema", "--output", str(target)]) == 0
    assert "type Ticket implements Node" in target.read_text()
