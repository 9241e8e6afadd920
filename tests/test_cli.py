"""The ``deskgraph`` command, end to end on a fresh SQLite file, as the README describes it."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from deskgraph.cli import main
from deskgraph.server.app import create_app
from deskgraph.settings import Settings, normalize_database_url
from deskgraph.store.migrate import MIGRATIONS
from deskgraph.store.outbox import enqueue_mail
from deskgraph.store.session import create_nullpool_engine, create_sessionmaker, write
from tests.conftest import PG_URL, Inbox, RequestIdChecked, free_port

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
        transport = RequestIdChecked(app)
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


def _one_line(text: str) -> str:
    assert text.endswith("\n")
    assert text.count("\n") == 1, text
    return text[:-1]


def test_cli_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"deskgraph {metadata.version('deskgraph')}\n"


def test_cli_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: deskgraph [-h] [--version] COMMAND ...\n\n")
    assert "deskgraph: the GraphQL gateway for dealer and service-desk teams.\n" in out
    assert "``" not in out
    for command in ("serve", "db", "seed", "token", "export-schema", "outbox"):
        assert f"    {command}" in out


def test_cli_db_upgrade_and_seed_say_what_they_did(
    fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    head = sorted((MIGRATIONS / "versions").glob("[0-9]*.py"))[-1].stem
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"database at head {head}\n"
    assert main(["db", "upgrade"]) == 0  # again: nothing to do, same line
    assert capsys.readouterr().out == f"database at head {head}\n"
    assert main(["seed", "--demo", "--tickets", "30"]) == 0
    assert capsys.readouterr().out == "seeded the demo: 2 organizations, 30 tickets\n"
    assert main(["seed", "--demo", "--if-empty"]) == 0
    assert capsys.readouterr().out == "database not empty: nothing seeded\n"
    assert main(["seed", "--demo"]) == 1
    assert capsys.readouterr().err == (
        "deskgraph: the database already holds data; seed an empty database\n"
    )


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["token", "host-admin", "--ttl", "0"],
            "argument --ttl: must be a whole number of at least 1",
        ),
        (
            ["token", "host-admin", "--ttl", "-5"],
            "argument --ttl: must be a whole number of at least 1",
        ),
        (
            ["seed", "--demo", "--tickets", "-1"],
            "argument --tickets: must be a whole number of at least 0",
        ),
        (
            ["outbox", "list", "--limit", "0"],
            "argument --limit: must be a whole number of at least 1",
        ),
    ],
)
def test_cli_bad_number_option_is_refused(
    argv: list[str], error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    command = " ".join(a for a in argv[:2] if not a.startswith("-") and a != "host-admin")
    assert capsys.readouterr().err.splitlines()[-1] == f"deskgraph {command}: error: {error}"


@pytest.mark.parametrize(
    "argv", [["token", "host-admin"], ["seed", "--demo"], ["outbox", "list"], ["outbox", "send"]]
)
def test_cli_database_not_migrated_says_to_upgrade(
    fresh_database: str,
    argv: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DESKGRAPH_SMTP_HOST", "127.0.0.1")
    assert main(argv) == 1
    line = _one_line(capsys.readouterr().err)
    url = normalize_database_url(fresh_database)
    assert re.fullmatch(
        rf"deskgraph: the database at {re.escape(url)} is not migrated \(no such table: \w+\): "
        r"run `deskgraph db upgrade` first",
        line,
    ), line


@pytest.mark.skipif(not PG_URL, reason="DESKGRAPH_TEST_DATABASE_URL names no PostgreSQL server")
def test_cli_postgres_database_not_migrated_says_to_upgrade(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert PG_URL is not None
    # The server's maintenance database holds no deskgraph tables; the command only reads.
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", PG_URL)
    assert main(["token", "host-admin"]) == 1
    line = _one_line(capsys.readouterr().err)
    where = make_url(normalize_database_url(PG_URL)).render_as_string(hide_password=True)
    assert line == (
        f"deskgraph: the database at {where} is not migrated "
        '(relation "advisors" does not exist): run `deskgraph db upgrade` first'
    )


@pytest.mark.parametrize("argv", [["db", "upgrade"], ["token", "host-admin"], ["outbox", "list"]])
def test_cli_database_down_prints_one_line(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()  # nothing listens there
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", f"postgresql://desk:pw@127.0.0.1:{port}/desk")
    assert main(argv) == 1
    line = _one_line(capsys.readouterr().err)
    where = f"postgresql+asyncpg://desk:***@127.0.0.1:{port}/desk"
    assert line.startswith(f"deskgraph: cannot use the database at {where}: ")
    assert line.endswith(
        ". Is it running, and does DESKGRAPH_DATABASE_URL name it? Then run `deskgraph db upgrade`"
    )
    assert "Traceback" not in line


def test_cli_outbox_send_smtp_down_fails_saying_how_many_wait(
    fresh_database: str,
    inbox: Inbox,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["db", "upgrade"]) == 0

    async def enqueue_two() -> None:
        engine = create_nullpool_engine(normalize_database_url(fresh_database))
        try:
            async with create_sessionmaker(engine)() as session, write(session):
                for to in ("anna@meadow.example", "per@meadow.example"):
                    await enqueue_mail(
                        session,
                        to_address=to,
                        subject="Your ticket",
                        body="Hello",
                        sender_domain="north.example",
                        now=datetime.now(UTC) - timedelta(minutes=1),
                    )
        finally:
            await engine.dispose()

    asyncio.run(enqueue_two())
    down = free_port()
    monkeypatch.setenv("DESKGRAPH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DESKGRAPH_SMTP_PORT", str(down))
    capsys.readouterr()
    assert main(["outbox", "send"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_line(captured.err)
    assert re.fullmatch(
        rf"deskgraph: cannot reach the SMTP server 127\.0\.0\.1:{down} \(.+\); "
        r"2 mail waiting in the outbox",
        line,
    ), line
    # Nothing was claimed or counted as an attempt: with the server up, both go at once.
    monkeypatch.setenv("DESKGRAPH_SMTP_PORT", str(inbox.port))
    assert main(["outbox", "send"]) == 0
    assert capsys.readouterr().out == "sent 2\n"
    assert len(inbox.messages) == 2


def test_cli_export_schema_to_a_missing_folder_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "schema.graphql"
    assert main(["export-schema", "--output", str(target)]) == 1
    assert capsys.readouterr().err == (
        f"deskgraph: cannot write {target}: No such file or directory\n"
    )
