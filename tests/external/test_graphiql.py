"""GraphiQL offline, in a real browser: headless Chromium (Debian's `chromium`, driven by
playwright-core) with every request off the served origin aborted loads the page, picks the
host-advisor persona, runs a query and sees the answer; runs a subscription that receives an
event; folds the persona bar."""

from __future__ import annotations

from sqlalchemy import func, select

from deskgraph.auth.tokens import verify_token
from deskgraph.store import models
from tests.conftest import Served, gid
from tests.external.conftest import Node

QUERY = "{ viewer { kind advisor { name } } }"


async def test_graphiql_runs_a_query_as_a_persona_with_no_network(
    node: Node, served: Served, chromium: str
) -> None:
    [report] = node.json_lines("graphiql.mjs", served.url, "host-advisor", QUERY, "Henrik Lund")
    assert report["errors"] == [], (
        f"{report['errors']}; response pane: {report.get('responseText')}"
    )
    assert report["blocked"] == []  # nothing was asked of any other origin
    assert report["failed"] == []
    assert report["response"] == {
        "data": {"viewer": {"kind": "ADVISOR", "advisor": {"name": "Henrik Lund"}}},
        "extensions": {"cost": {"requested": 2, "actual": 2, "limit": 10_000}},
    }
    assert report["query"] == QUERY
    assert report["pressed"] == "true"
    assert report["status"] == "Headers: the token of Henrik Lund (host-advisor)."
    # The button put the persona's token into the Headers editor, and GraphiQL sent it.
    scheme, _, token = report["authorization"].partition(" ")
    assert scheme == "Bearer"
    assert f'"Authorization": "Bearer {token}"' in report["headers"]
    principal = verify_token(served.app.state.settings, token)
    assert (principal.kind, principal.id) == ("advisor", 2)
    # The schema loaded (docs, completion): the introspection query passed the limits.
    assert report["introspection"]["errors"] == []
    assert report["introspection"]["status"] == 200
    assert report["introspection"]["types"] > 50


async def test_graphiql_subscription_host_advisor_receives_an_event_and_the_bar_folds(
    node: Node, served: Served, chromium: str
) -> None:
    pk = await served.scalar(select(func.min(models.Ticket.id)).where(models.Ticket.team_id == 3))
    [report] = node.json_lines("graphiql_live.mjs", served.url, "host-advisor", gid("Ticket", pk))
    assert report["errors"] == [], report.get("responseText")
    assert report["loadErrors"] == []  # no console error on load: the favicon is served
    assert report["favicon"] == 200
    assert report["blocked"] == []
    assert report["failed"] == []
    assert report["defaultQueryFits"] is True
    # GraphiQL opened a WebSocket at /graphql, and the event of the message written arrived.
    assert report["sockets"][0] == served.ws_url
    message = report["response"]["data"]["ticketMessageAdded"]
    assert message == {"channel": "CHAT", "body": f"Hello from GraphiQL {report['writes'] - 1}"}
    # The persona bar: open at 1280 px, folded by a click, still folded after a reload, and
    # folded from the start on a phone.
    assert report["barOpenAtFirst"] is True
    assert report["barOpenAfterClick"] is False
    assert report["barOpenAfterReload"] is False
    assert report["phoneBarOpen"] is False
    assert report["phoneBarHeight"] < 60
