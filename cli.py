"""``deskgraph serve | db upgrade | seed | token | export-schema | schema-check | outbox send |
outbox list | crm sync | crm list | persisted-queries import | persisted-queries list``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import logging.config
import os
import re
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from deskgraph.settings import Settings, SettingsError

SCHEMA_FILE = Path(__file__).parent / "schema.graphql"


DESCRIPTION = """\
deskgraph: the GraphQL gateway for dealer and service-desk teams.

Settings come from DESKGRAPH_* environment variables (see the README). A first run:
  deskgraph db upgrade && deskgraph seed --demo && deskgraph serve
"""
# A bad setting or argument: the usual exit status of a command used wrongly (as argparse's).
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"deskgraph: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args, settings)
    except (ValueError, LookupError, RuntimeError) as error:
        print(f"deskgraph: {error}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, OSError) as error:
        if args.command not in _DATABASE_COMMANDS:
            raise
        print(f"deskgraph: {database_problem(error, settings.database_url)}", file=sys.stderr)
        return 1


# The commands whose SQLAlchemy and OS errors come from the database.
_DATABASE_COMMANDS = frozenset({"db", "seed", "token", "outbox", "crm", "persisted-queries"})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deskgraph",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"deskgraph {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve GraphQL (and GraphiQL) over HTTP")
    serve.add_argument(
        "--host", default=None, help="address to bind (default DESKGRAPH_HOST or 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=_port, default=None, help="port (default DESKGRAPH_PORT or 8000)"
    )
    serve.add_argument(
        "--workers",
        type=_at_least(1),
        default=None,
        help="worker processes (default DESKGRAPH_WORKERS or 1)",
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply every migration")

    seed = commands.add_parser("seed", help="load demo data into an empty database")
    seed.add_argument(
        "--demo", action="store_true", required=True, help="the demo personas and data"
    )
    seed.add_argument(
        "--tickets", type=_at_least(0), default=None, help="how many tickets (default 120)"
    )
    seed.add_argument("--if-empty", action="store_true", help="do nothing when data is present")

    token = commands.add_parser("token", help="print a bearer token for a demo persona")
    token.add_argument(
        "persona",
        help="host-admin, host-advisor, host-viewer, external-advisor, customer-user or service",
    )
    token.add_argument(
        "--ttl", type=_at_least(1), default=86_400, help="lifetime in seconds (default one day)"
    )

    export = commands.add_parser("export-schema", help="write the SDL (schema.graphql)")
    export.add_argument("--output", default=str(SCHEMA_FILE), help="file to write, or - for stdout")

    changes = commands.add_parser(
        "schema-check",
        help="schema.graphql against its base: breaking changes (fail) and dangerous ones",
    )
    changes.add_argument(
        "--base",
        default=None,
        help="a git revision or an SDL file (default DESKGRAPH_SCHEMA_BASE, else see the README)",
    )

    outbox = commands.add_parser("outbox", help="the mail outbox")
    outbox_commands = outbox.add_subparsers(dest="outbox_command", required=True)
    outbox_commands.add_parser("send", help="deliver the mail that is due now, once")
    listing = outbox_commands.add_parser(
        "list", help="mail waiting to be sent or failed, with attempts and the last error"
    )
    listing.add_argument(
        "--limit", type=_at_least(1), default=100, help="at most this many (default 100)"
    )
    crm = commands.add_parser("crm", help="the CRM sync outbox (interaction data to CRM records)")
    crm_commands = crm.add_subparsers(dest="crm_command", required=True)
    crm_commands.add_parser("sync", help="pass the interaction data that is due now, once")
    crm_listing = crm_commands.add_parser(
        "list", help="writes waiting or failed, with attempts and the last error"
    )
    crm_listing.add_argument(
        "--limit", type=_at_least(1), default=100, help="at most this many (default 100)"
    )
    _persisted_queries_parser(commands)
    return parser


def _persisted_queries_parser(commands: argparse._SubParsersAction[Any]) -> None:
    persisted = commands.add_parser(
        "persisted-queries", help="the documents clients run by hash (persisted queries)"
    )
    persisted_commands = persisted.add_subparsers(dest="persisted_command", required=True)
    imported = persisted_commands.add_parser(
        "import", help="store the operations of the clients' manifest (Apollo's format)"
    )
    imported.add_argument("manifest", help="persisted-query-manifest.json")
    listing = persisted_commands.add_parser("list", help="the stored documents' hashes and names")
    listing.add_argument(
        "--limit", type=_at_least(1), default=1000, help="at most this many (default 1000)"
    )


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve":
        return _serve(settings, args.host, args.port, args.workers)
    if args.command == "db":
        print(_upgrade(settings))
        return 0
    if args.command == "seed":
        return asyncio.run(_seed(settings, args.tickets, args.if_empty))
    if args.command == "token":
        print(asyncio.run(_token(settings, args.persona, args.ttl)))
        return 0
    if args.command == "schema-check":
        from deskgraph.schema.changes import run

        return run(SCHEMA_FILE.parent, args.base)
    if args.command == "persisted-queries":
        return _persisted_queries(args, settings)
    if args.command == "outbox":
        from deskgraph.server import outbox_commands

        if args.outbox_command == "send":
            return asyncio.run(outbox_commands.send(settings))
        return asyncio.run(outbox_commands.listing(settings, args.limit))
    if args.command == "crm":
        from deskgraph.server import crm_commands

        if args.crm_command == "sync":
            return asyncio.run(crm_commands.sync(settings))
        return asyncio.run(crm_commands.listing(settings, args.limit))
    return _export_schema(args.output)


def _persisted_queries(args: argparse.Namespace, settings: Settings) -> int:
    from deskgraph.server import persisted

    if args.persisted_command == "import":
        text = persisted.manifest_text(args.manifest)
        print(asyncio.run(persisted.import_manifest(settings, text, args.manifest)))
    else:
        print("\n".join(asyncio.run(persisted.listing(settings, args.limit))))
    return 0


def _version() -> str:
    try:
        return metadata.version("deskgraph")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _at_least(least: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = least - 1
        if value < least:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {least}")
        return value

    return parse


def _port(text: str) -> int:
    value = _at_least(1)(text)
    if value > 65_535:
        raise argparse.ArgumentTypeError("must be a port number from 1 to 65535")
    return value


def database_problem(error: BaseException, database_url: str) -> str:
    """One line for a database the CLI cannot use, saying what to do."""
    where = make_url(database_url).render_as_string(hide_password=True)
    text = str(getattr(error, "orig", None) or error).strip().splitlines()
    reason = text[0] if text else type(error).__name__
    if _MISSING_TABLE.search(reason):
        return (
            f"the database at {where} is not migrated ({reason}): run `deskgraph db upgrade` first"
        )
    return (
        f"cannot use the database at {where}: {reason}. Is it running, and does "
        "DESKGRAPH_DATABASE_URL name it? Then run `deskgraph db upgrade`"
    )


_MISSING_TABLE = re.compile(r"no such table|relation \S+ does not exist", re.IGNORECASE)


def _upgrade(settings: Settings) -> str:
    from alembic.script import ScriptDirectory

    from deskgraph.store.migrate import alembic_config, upgrade

    upgrade(settings.database_url)
    config = alembic_config(settings.database_url)
    head = ScriptDirectory.from_config(config).get_revision("head")
    name = Path(head.path).stem if head is not None and head.path else "head"
    return f"database at head {name}"


def _serve(settings: Settings, host: str | None, port: int | None, workers: int | None) -> int:
    import uvicorn

    from deskgraph.server.access_log import production_logging, serve_options
    from deskgraph.server.serve import (
        APP_FACTORY,
        serving_app,
        uvicorn_options,
        worker_environment,
        worker_log_config,
    )

    if settings.is_production:  # JSON lines from the first one on (create_app logs)
        logging.config.dictConfig(production_logging())
    else:
        _log_to_stderr()
    workers = workers or settings.workers
    with contextlib.ExitStack() as stack:
        given = settings
        if not settings.is_production:
            from deskgraph.server.simulators import crm_simulators, jdlink_simulator

            # Once, in this process: every worker asks the same simulators.
            if settings.jdlink_url is None:
                settings = stack.enter_context(jdlink_simulator(settings))
            stack.enter_context(crm_simulators())
        # The app logs its URL at start-up: it must know the address served.
        settings = dataclasses.replace(
            settings, host=host or settings.host, port=port or settings.port
        )
        options = {**uvicorn_options(settings), **serve_options(settings)}
        if workers == 1:
            uvicorn.run(serving_app(settings), **options)
            return 0
        # Each worker process makes its app with the factory, from the environment.
        os.environ.update(worker_environment(given, settings))
        uvicorn.run(
            APP_FACTORY,
            factory=True,
            workers=workers,
            **{"log_config": worker_log_config(), **options},
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


async def _seed(settings: Settings, tickets: int | None, if_empty: bool) -> int:
    from deskgraph.store.seed import DEFAULT_TICKETS, database_is_empty, seed_demo
    from deskgraph.store.seed_demo import ORGANIZATIONS
    from deskgraph.store.session import create_nullpool_engine

    count = DEFAULT_TICKETS if tickets is None else tickets
    engine = create_nullpool_engine(settings.database_url)
    try:
        if if_empty and not await database_is_empty(engine):
            print("database not empty: nothing seeded")
            return 0
        await seed_demo(engine, tickets=count)
    finally:
        await engine.dispose()
    print(f"seeded the demo: {len(ORGANIZATIONS)} organizations, {count} tickets")
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


def _export_schema(output: str) -> int:
    from deskgraph.schema import export_sdl

    sdl = export_sdl()
    if output == "-":
        sys.stdout.write(sdl)
        return 0
    try:
        Path(output).write_text(sdl, encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot write {output}: {error.strerror or error}") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
