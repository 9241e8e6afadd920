"""Persisted queries (issue 18): Apollo's automatic persisted queries protocol, the allow-list
mode (``DESKGRAPH_PERSISTED_QUERIES=only``) and the manifest import, through the HTTP app."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from deskgraph.cli import main
from deskgraph.server import persisted
from deskgraph.server.app import create_app
from deskgraph.settings import Settings, SettingsError
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store import models
from tests.conftest import SERVED_WAIT, Api, open_api, persona_tokens

VIEWER = "query VIEWER { viewer { kind } }"
TICKETS = "query TICKETS { tickets(first: 2) { edges { node { number } } } }"
MARK_READ = "mutation MARK_READ { markNotificationsRead(input: {}) { notifications { id } } }"
NOT_FOUND = {
    "errors": [
        {"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}
    ]
}


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def hashed(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


async def post(api: Api, body: dict[str, Any], persona: str | None = "host-advisor") -> Any:
    return await api.http.post("/graphql", json=body, headers=api.headers(persona))


async def get(api: Api, query: str, persona: str | None = "host-advisor") -> httpx.Response:
    params = {"extensions": json.dumps(hashed(query)), "operationName": "VIEWER"}
    return await api.http.get("/graphql", params=params, headers=api.headers(persona))


async def stored(api: Api) -> list[tuple[str, str | None, str]]:
    q = models.PersistedQuery
    async with api.app.state.engine.connect() as connection:
        rows = await connection.execute(select(q.sha256, q.name, q.source).order_by(q.sha256))
        return [(sha, name, source.value) for sha, name, source in rows]


def manifest(*operations: tuple[str, str], **changes: Any) -> str:
    """An Apollo persisted-query manifest of (name, body) pairs; ``changes`` replace fields of
    the first operation."""
    entries = [
        {"id": sha256(body), "name": name, "type": "query", "body": body}
        for name, body in operations
    ]
    entries[0].update(changes)
    return json.dumps(
        {"format": "apollo-persisted-query-manifest", "version": 1, "operations": entries}
    )


async def test_persisted_query_unknown_hash_answers_not_found_uncached(api: Api) -> None:
    response = await post(api, {"extensions": hashed(VIEWER)})
    assert response.status_code == 200
    assert response.json() == NOT_FOUND
    assert response.headers["cache-control"] == "private, no-cache, must-revalidate"


async def test_persisted_query_registers_then_runs_by_hash_over_get(api: Api) -> None:
    assert (await get(api, VIEWER)).json() == NOT_FOUND
    registered = await post(api, {"query": VIEWER, "extensions": hashed(VIEWER)})
    assert registered.json()["data"] == {"viewer": {"kind": "ADVISOR"}}
    assert await stored(api) == [(sha256(VIEWER), "VIEWER", "CLIENT")]
    with api.count_statements() as counter:
        response = await get(api, VIEWER)
    assert response.status_code == 200
    assert response.json()["data"] == {"viewer": {"kind": "ADVISOR"}}
    # The process's cache answered: the store was not asked.
    assert not [s for s in counter.statements if "persisted_queries" in s]


async def test_persisted_query_hash_not_of_the_query_is_refused(api: Api) -> None:
    body = {"query": VIEWER, "extensions": hashed(TICKETS)}
    response = await post(api, body)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert "is not the sha256 of `query`" in error["message"]
    assert await stored(api) == []


@pytest.mark.parametrize(
    "query",
    ["query BROKEN { viewer { nosuchfield } }", "query UNPARSED { viewer {", "query { viewer }"],
)
async def test_persisted_query_invalid_document_is_never_registered(api: Api, query: str) -> None:
    response = await post(api, {"query": query, "extensions": hashed(query)})
    assert response.json()["errors"][0]["extensions"]["code"] in (
        "GRAPHQL_VALIDATION_FAILED",
        "GRAPHQL_PARSE_FAILED",
    )
    assert await stored(api) == []


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        ({"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}, "Unsupported persisted query"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "xyz"}}, "must be a sha256"),
        ({"persistedQuery": "abc"}, "must be an object"),
        ({"persistedQuery": {"version": True, "sha256Hash": "0" * 64}}, "Unsupported"),
        ({"persistedQuery": None}, "`query` must be a non-empty string."),
    ],
)
async def test_persisted_query_malformed_extension_is_a_clear_error(
    api: Api, extensions: dict[str, Any], message: str
) -> None:
    response = await post(api, {"extensions": extensions})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert message in error["message"]


async def test_persisted_query_mutation_by_hash_over_get_is_refused(api: Api) -> None:
    ran = await post(api, {"query": MARK_READ, "extensions": hashed(MARK_READ)})
    assert "errors" not in ran.json()
    response = await api.http.get(
        "/graphql",
        params={"extensions": json.dumps(hashed(MARK_READ))},
        headers=api.headers("host-advisor"),
    )
    assert response.status_code == 405
    assert response.json()["errors"][0]["message"] == "Only queries can be sent with GET."


async def test_persisted_query_registered_by_one_process_runs_in_another(
    settings: Settings,
) -> None:
    async with open_api(settings) as first, open_api(settings) as second:
        await post(first, {"query": VIEWER, "extensions": hashed(VIEWER)})
        response = await get(second, VIEWER)
        assert response.json()["data"] == {"viewer": {"kind": "ADVISOR"}}


async def test_persisted_query_clients_register_at_most_the_cap(settings: Settings) -> None:
    async with open_api(dataclasses.replace(settings, persisted_query_max_count=1)) as api:
        await post(api, {"query": VIEWER, "extensions": hashed(VIEWER)})
        ran = await post(api, {"query": TICKETS, "extensions": hashed(TICKETS)})
        assert "errors" not in ran.json()  # run all the same, not stored
        assert [row[0] for row in await stored(api)] == [sha256(VIEWER)]
        assert (await post(api, {"extensions": hashed(TICKETS)})).json() == NOT_FOUND


async def test_persisted_queries_off_answers_not_supported(settings: Settings) -> None:
    async with open_api(dataclasses.replace(settings, persisted_queries="off")) as api:
        response = await post(api, {"query": VIEWER, "extensions": hashed(VIEWER)})
        assert response.json() == {
            "errors": [
                {
                    "message": "PersistedQueryNotSupported",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
                }
            ]
        }
        assert (await post(api, {"query": VIEWER})).json()["data"] == {
            "viewer": {"kind": "ADVISOR"}
        }


async def test_persisted_queries_only_runs_the_manifest_and_nothing_else(
    settings: Settings,
) -> None:
    only = dataclasses.replace(settings, persisted_queries="only")
    async with open_api(only) as api:
        # A client's registration is refused: the manifest says what runs.
        for body in ({"query": VIEWER}, {"query": VIEWER, "extensions": hashed(VIEWER)}):
            response = await post(api, body)
            assert response.status_code == 403
            error = response.json()["errors"][0]
            assert error["extensions"] == {"code": "PERSISTED_QUERY_NOT_ALLOWED"}
            assert "deskgraph persisted-queries import" in error["message"]
        assert (await post(api, {"extensions": hashed(VIEWER)})).status_code == 403
        assert await stored(api) == []
        line = await persisted.import_manifest(only, manifest(("VIEWER", VIEWER)), "m.json")
        assert line == "imported 1 operations from m.json: 1 new, 0 stored already"
        assert (await get(api, VIEWER)).json()["data"] == {"viewer": {"kind": "ADVISOR"}}
        assert (await post(api, {"query": VIEWER})).json()["data"] == {
            "viewer": {"kind": "ADVISOR"}
        }
        assert (await post(api, {"query": TICKETS})).status_code == 403


async def test_persisted_queries_only_ignores_what_clients_registered_before(
    settings: Settings,
) -> None:
    async with open_api(settings) as auto:
        await post(auto, {"query": VIEWER, "extensions": hashed(VIEWER)})
    only = dataclasses.replace(settings, persisted_queries="only")
    async with open_api(only) as api:
        assert (await get(api, VIEWER)).status_code == 403
        await persisted.import_manifest(only, manifest(("VIEWER", VIEWER)), "m.json")
        assert (await get(api, VIEWER)).status_code == 200
        assert await stored(api) == [(sha256(VIEWER), "VIEWER", "MANIFEST")]


def test_cli_persisted_queries_import_then_list(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", database_url)
    path = tmp_path / "persisted-query-manifest.json"
    path.write_text(manifest(("VIEWER", VIEWER), ("TICKETS", TICKETS)))
    assert main(["persisted-queries", "import", str(path)]) == 0
    assert main(["persisted-queries", "import", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"imported 2 operations from {path}: 2 new, 0 stored already",
        f"imported 2 operations from {path}: 0 new, 2 stored already",
    ]
    assert main(["persisted-queries", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines[1:]) == sorted(
        [f"{sha256(TICKETS)}  MANIFEST  TICKETS", f"{sha256(VIEWER)}  MANIFEST  VIEWER"]
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"id": "0" * 64}, "operation 'VIEWER' (operation 1): `id` is not the sha256 of its body"),
        (
            {"body": "query VIEWER { viewer { nosuchfield } }"},
            "operation 'VIEWER' (operation 1) does not validate against the schema: "
            "Cannot query field 'nosuchfield' on type 'Viewer'.",
        ),
        ({"body": 3}, "operation 'VIEWER' (operation 1): `body` must be the operation's document"),
    ],
)
def test_cli_persisted_queries_import_refuses_a_bad_operation_naming_it(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, Any],
    error: str,
) -> None:
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", database_url)
    if "body" in changes and isinstance(changes["body"], str) and "id" not in changes:
        changes["id"] = sha256(changes["body"])
    path = tmp_path / "manifest.json"
    path.write_text(manifest(("VIEWER", VIEWER), ("TICKETS", TICKETS), **changes))
    assert main(["persisted-queries", "import", str(path)]) == 1
    assert capsys.readouterr().err.strip().startswith(f"deskgraph: {error}")
    assert main(["persisted-queries", "list"]) == 0
    assert capsys.readouterr().out.splitlines() == ["no persisted query"]  # nothing imported


@pytest.mark.one_backend
@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{not json", "the manifest is not valid JSON"),
        ('{"format": "relay", "version": 1, "operations": []}', "the manifest must be a JSON"),
        (
            '{"format": "apollo-persisted-query-manifest", "version": 2}',
            'the manifest\'s "version" must be 1',
        ),
    ],
)
def test_cli_persisted_queries_import_refuses_what_is_not_a_manifest(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    text: str,
    error: str,
) -> None:
    monkeypatch.setenv("DESKGRAPH_DATABASE_URL", database_url)
    path = tmp_path / "manifest.json"
    path.write_text(text)
    assert main(["persisted-queries", "import", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"deskgraph: {error}")


@pytest.mark.one_backend
def test_persisted_queries_setting_reads_the_mode_and_refuses_others() -> None:
    assert Settings().persisted_queries == "auto"
    assert Settings.from_env({"DESKGRAPH_PERSISTED_QUERIES": " Only "}).persisted_queries == "only"
    with pytest.raises(SettingsError, match=r"^DESKGRAPH_PERSISTED_QUERIES='all': input should be"):
        Settings.from_env({"DESKGRAPH_PERSISTED_QUERIES": "all"})
    settings = Settings.from_env({"DESKGRAPH_MAX_QUERY_COST": "500"})
    assert (settings.max_batch_size, settings.batch_cost_limit) == (10, 500)
    assert Settings(max_batch_cost=900).batch_cost_limit == 900


LIVE = "subscription LIVE($id: ID!) { ticketUpdated(id: $id) { id } }"
PROTOCOL_MESSAGES = {  # protocol: (its subscribe message type, its result message type)
    "graphql-transport-ws": ("subscribe", "next"),
    "graphql-ws": ("start", "data"),
}


@pytest.mark.parametrize("protocol", list(PROTOCOL_MESSAGES))
async def test_persisted_queries_only_holds_over_the_websocket(
    settings: Settings, protocol: str
) -> None:
    only = dataclasses.replace(settings, persisted_queries="only")
    app = create_app(only)
    tokens = await persona_tokens(app, only)
    await persisted.import_manifest(only, manifest(("LIVE", LIVE)), "m.json")
    await app.state.engine.dispose()  # the server opens its own on its loop
    start, _result = PROTOCOL_MESSAGES[protocol]
    with LoopbackServer(app, lifespan=True) as server:
        async with connect(
            server.url.replace("http://", "ws://") + "/graphql",
            subprotocols=[Subprotocol(protocol)],
            open_timeout=SERVED_WAIT,
        ) as socket:
            init = {"Authorization": f"Bearer {tokens['host-advisor']}"}
            await socket.send(json.dumps({"type": "connection_init", "payload": init}))

            async def receive() -> dict[str, Any]:
                while True:
                    message: dict[str, Any] = json.loads(
                        await asyncio.wait_for(socket.recv(), SERVED_WAIT)
                    )
                    if message["type"] != "ka":  # graphql-ws keep-alives
                        return message

            assert (await receive())["type"] == "connection_ack"
            # Not in the manifest: refused before it runs, whatever the operation.
            for number, query in enumerate((TICKETS, LIVE.replace("{ id }", "{ number }"))):
                subscribe = {"id": str(number), "type": start, "payload": {"query": query}}
                await socket.send(json.dumps(subscribe))
                refused = await receive()
                assert refused["type"] == "error"
                assert refused["id"] == str(number)
                errors = refused["payload"]
                error = errors[0] if isinstance(errors, list) else errors
                assert error["extensions"] == {"code": "PERSISTED_QUERY_NOT_ALLOWED"}
            # The manifest's subscription runs: an unknown ticket answers its own NOT_FOUND.
            unknown = base64.b64encode(b"Ticket:999999").decode()
            payload = {"query": LIVE, "variables": {"id": unknown}}
            await socket.send(json.dumps({"id": "9", "type": start, "payload": payload}))
            ran = await receive()
            assert ran["id"] == "9"
            assert "NOT_FOUND" in json.dumps(ran)
            assert "PERSISTED_QUERY_NOT_ALLOWED" not in json.dumps(ran)
