"""``deskgraph serve | db upgrade | seed | token | export-schema | outbox send | outbox list``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

from deskgraph.settings import Settings

SCHEMA_FILE = Path(__file__).parent / "schema.graphql"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deskgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve GraphQL (and GraphiQL) over HTTP")
    serve.add_argument(
        "--host", default=None, help="address to bind (default DESKGRAPH_HOST or 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port (default DESKGRAPH_PORT or 8000)"
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every migration")

    seed = commands.add_parser("seed", help="load demo data into an empty database")
    seed.add_argument(
        "--demo", action="store_true", required=True, help="the demo personas and data"
    )
    seed.add_argument("--tickets", type=int, default=None, help="how many tickets (default 120)")
    seed.add_argument("--if-empty", action="store_true", help="do nothing when data is present")

    token = commands.add_parser("token", help="print a bearer token for a demo persona")
    token.add_argument(
        "persona",
        help="host-admin, host-advisor, host-viewer, external-advisor, customer-user or service",
    )
    token.add_argument(
        "--ttl", type=int, default=86_400, help="lifetime in seconds (default one day)"
    )

    export = commands.add_parser("export-schema", help="write the SDL (schema.graphql)")
    export.add_argument("--output", default=str(SCHEMA_FILE), help="file to write, or - for stdout")

    outbox = commands.add_parser("outbox", help="the mail outbox")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    outbox_commands.add_parser("send", help="deliver the mail that is due now, once")
    listing = outbox_commands.add_parser(
        "list", help="mail waiting to be sent or failed, with attempts and the last error"
    )
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    try:
        if args.command == "serve":
            return _serve(settings, args.host, args.port)
        if args.command == "db":
            from deskgraph.store.migrate import upgrade

            upgrade(settings.database_url)
            return 0
        if args.command == "seed":
            return asyncio.run(_seed(settings, args.tickets, args.if_empty))
        if args.command == "token":
            print(asyncio.run(_token(settings, args.persona, args.ttl)))
            return 0
        if args.command == "outbox":
            if args.outbox_command == "send":
                return asyncio.run(_outbox_send(settings))
            return asyncio.run(_outbox_list(settings, args.limit))
        return _export_schema(args.output)
    except (ValueError, LookupError, RuntimeError) as error:
        print(f"deskgraph: {error}", file=sys.stderr)
        return 1


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from deskgraph.server.app import create_app

    _log_to_stderr()
    with contextlib.ExitStack() as stack:
        if settings.jdlink_url is None and not settings.is_production:
            settings = stack.enter_context(_jdlink_simulator(settings))
        # The app logs its URL at start-up: it must know the address served.
        settings = dataclasses.replace(
            settings, host=host or settings.host, port=port or settings.port
        )
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            proxy_headers=False,
            log_level="info",
        )
    return 0


def _log_to_stderr() -> None:
    """deskgraph's own log lines (the mail outbox's deliveries, start-up notes) beside
    uvicorn's, which configures only its own loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:  %(name)s: %(message)s"))
    logger = logging.getLogger("deskgraph")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@contextlib.contextmanager
def _jdlink_simulator(settings: Settings) -> Iterator[Settings]:
    """Development without DESKGRAPH_JDLINK_URL: serve the demo fleet from the local JDLink
    simulator on a loopback port, so ``Machine.jdlink`` answers as it would in production."""
    from deskgraph.sources.jdlink.simulator import JdlinkSimulator
    from deskgraph.sources.loopback import LoopbackServer
    from deskgraph.store.seed import demo_fleet

    simulator = JdlinkSimulator(demo_fleet())
    with LoopbackServer(simulator.app) as server:
        print(f"deskgraph: JDLink simulator (demo fleet) on {server.url}", file=sys.stderr)
        yield dataclasses.replace(
            settings,
            jdlink_url=server.url,
            jdlink_client_id=simulator.client_id,
            jdlink_client_secret=simulator.client_secret,
        )


async def _seed(settings: Settings, tickets: int | None, if_empty: bool) -> int:
    from deskgraph.store.seed import DEFAULT_TICKETS, database_is_empty, seed_demo
    from deskgraph.store.session import create_nullpool_engine

    if tickets is not None and tickets < 0:
        raise ValueError("--tickets must be 0 or more")
    engine = create_nullpool_engine(settings.database_url)
    try:
        if if_empty and not await database_is_empty(engine):
            print("deskgraph: the database holds data already; not seeding", file=sys.stderr)
            return 0
        await seed_demo(engine, tickets=DEFAULT_TICKETS if tickets is None else tickets)
    finally:
        await engine.dispose()
    return 0


async def _token(settings: Settings, persona_name: str, ttl: int) -> str:
    from deskgraph.auth.personas import demo_principals
    from deskgraph.auth.tokens import issue_token
    from deskgraph.store.seed import PERSONAS
    from deskgraph.store.session import create_nullpool_engine

    if settings.token_public_key or settings.token_jwks_url:
        raise ValueError(
            "this deployment verifies tokens with a public key: issue them with your identity "
            "provider (`deskgraph token` signs HS256 development tokens only)"
        )
    if persona_name not in PERSONAS:
        raise LookupError(f"no persona {persona_name!r}; choose one of {', '.join(PERSONAS)}")
    engine = create_nullpool_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            found = await demo_principals(connection)
    finally:
        await engine.dispose()
    if persona_name not in found:
        raise LookupError(
            f"{persona_name} is not in the database; run `deskgraph seed --demo` first"
        )
    return issue_token(settings, found[persona_name].principal, ttl_seconds=ttl)


async def _outbox_send(settings: Settings) -> int:
    from deskgraph.server.mail import OutboxSender
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    engine = create_nullpool_engine(settings.database_url)
    try:
        sender = OutboxSender(settings, create_sessionmaker(engine))
        total = 0
        while True:
            sent = await sender.run_once()
            total += sent
            if sent < sender.batch_size:  # a full batch may have left more due
                break
    finally:
        await engine.dispose()
    print(f"sent {total}")
    return 0


async def _outbox_list(settings: Settings, limit: int) -> int:
    from deskgraph.store import models
    from deskgraph.store.outbox import list_mails
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    if limit < 1:
        raise ValueError("--limit must be 1 or more")
    engine = create_nullpool_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            mails = await list_mails(
                session,
                statuses=[models.MailStatus.PENDING, models.MailStatus.FAILED],
                limit=limit,
            )
    finally:
        await engine.dispose()
    if not mails:
        print("no pending or failed mail")
        return 0
    print(f"{'id':>6}  {'status':<7}  {'attempts':>8}  {'next attempt (UTC)':<19}  to / subject")
    for mail in mails:
        next_attempt = (
            f"{mail.next_attempt_at:%Y-%m-%d %H:%M:%S}"
            if mail.status is models.MailStatus.PENDING
            else "-"
        )
        print(
            f"{mail.id:>6}  {mail.status.value:<7}  {mail.attempts:>8}  {next_attempt:<19}  "
            f"{mail.to_address}: {mail.subject}"
        )
        if mail.last_error:
            print(f"{'':>6}  last error: {mail.last_error}")
    return 0


def _export_schema(output: str) -> int:
    from deskgraph.schema import export_sdl

    sdl = export_sdl()
    if output == "-":
        sys.stdout.write(sdl)
    else:
        Path(output).write_text(sdl, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
