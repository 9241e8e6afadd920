"""Settings: every DESKGRAPH_* variable validated, a bad one refused in one line naming it."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deskgraph.cli import main
from deskgraph.server.app import create_app
from deskgraph.settings import DEVELOPMENT_TOKEN_SECRET, Settings, SettingsError

GOOD = [
    pytest.param({}, {"env": "development", "port": 8000, "is_production": False}, id="defaults"),
    pytest.param({}, {"compiler": "on"}, id="compiler-on-by-default"),
    pytest.param({"DESKGRAPH_COMPILER": "off"}, {"compiler": "off"}, id="compiler-off"),
    pytest.param({"DESKGRAPH_COMPILER": "verify"}, {"compiler": "verify"}, id="compiler-verify"),
    pytest.param({"DESKGRAPH_COMPILER": " ON "}, {"compiler": "on"}, id="compiler-on"),
    # It was a boolean: its words still mean on and off.
    pytest.param({"DESKGRAPH_COMPILER": "true"}, {"compiler": "on"}, id="compiler-true"),
    pytest.param({"DESKGRAPH_COMPILER": "0"}, {"compiler": "off"}, id="compiler-0"),
    pytest.param(
        {"DESKGRAPH_ENV": "production", "DESKGRAPH_TOKEN_SECRET": "s" * 40},
        {"env": "production", "is_production": True, "token_secret": "s" * 40},
        id="production-with-secret",
    ),
    pytest.param(
        {"DESKGRAPH_PORT": " 8080 ", "DESKGRAPH_HOST": "0.0.0.0", "DESKGRAPH_LOG_SQL": "yes"},
        {"port": 8080, "host": "0.0.0.0", "log_sql": True},
        id="blanks-around-a-number",
    ),
    pytest.param(
        {"DESKGRAPH_PORT": "", "DESKGRAPH_ENV": "", "DESKGRAPH_JDLINK_URL": ""},
        {"port": 8000, "env": "development", "jdlink_url": None},
        id="empty-means-unset",
    ),
    pytest.param(
        {"DESKGRAPH_DATABASE_URL": "postgres://desk@db.internal/desk"},
        {"database_url": "postgresql+asyncpg://desk@db.internal/desk"},
        id="database-url-gets-the-async-driver",
    ),
    pytest.param(
        {"DESKGRAPH_JDLINK_CACHE_SECONDS": "2.5", "DESKGRAPH_TOKEN_JWKS_CACHE_SECONDS": "60"},
        {"jdlink_cache_seconds": 2.5, "token_jwks_cache_seconds": 60.0},
        id="seconds",
    ),
    pytest.param(
        {},
        {
            "token_jwks_cache_seconds": 300.0,
            "jdlink_simulator_port": 0,
            "database_pool_size": 16,
            "database_max_overflow": 4,
        },
        id="new-settings-defaults",
    ),
    pytest.param(
        {"DESKGRAPH_DATABASE_POOL_SIZE": "30", "DESKGRAPH_DATABASE_MAX_OVERFLOW": "0"},
        {"database_pool_size": 30, "database_max_overflow": 0},
        id="database-pool",
    ),
    pytest.param(
        {"DESKGRAPH_DATABASE_PING_IDLE_SECONDS": "0"},
        {"database_ping_idle_seconds": 0.0},
        id="database-ping-every-checkout",
    ),
    pytest.param(
        {"DESKGRAPH_JDLINK_SIMULATOR_PORT": "8123"},
        {"jdlink_simulator_port": 8123},
        id="jdlink-simulator-port",
    ),
    pytest.param(
        {"DESKGRAPH_JDLINK_CACHE_SECONDS": "0"}, {"jdlink_cache_seconds": 0.0}, id="no-jdlink-cache"
    ),
    pytest.param(
        {"DESKGRAPH_MAX_PAGE_SIZE": "500", "DESKGRAPH_SMTP_TLS": " TLS "},
        {"max_page_size": 500, "smtp_tls": "tls", "smtp_port": 465},
        id="limits-and-tls",
    ),
    pytest.param(
        {"DESKGRAPH_TOKEN_SECRET": " spaced secret "},
        {"token_secret": " spaced secret "},
        id="secrets-kept-as-written",
    ),
    pytest.param(
        {
            "DESKGRAPH_JDLINK_URL": "http://127.0.0.1:9/",
            "DESKGRAPH_JDLINK_CLIENT_ID": "id",
            "DESKGRAPH_JDLINK_CLIENT_SECRET": "secret",
        },
        {"jdlink_url": "http://127.0.0.1:9/", "jdlink_client_id": "id"},
        id="jdlink-with-credentials",
    ),
]

BAD = [
    pytest.param(
        {"DESKGRAPH_ENV": "prod"},
        "DESKGRAPH_ENV='prod': must be development or production",
        id="unknown-env",
    ),
    pytest.param(
        {"DESKGRAPH_ENV": "Production"},
        "DESKGRAPH_ENV='Production': must be development or production",
        id="env-in-another-case",
    ),
    pytest.param(
        {"DESKGRAPH_PORT": "eighty"},
        "DESKGRAPH_PORT='eighty': input should be a valid integer, "
        "unable to parse string as an integer",
        id="port-not-a-number",
    ),
    pytest.param(
        {"DESKGRAPH_PORT": "70000"},
        "DESKGRAPH_PORT='70000': input should be less than or equal to 65535",
        id="port-too-large",
    ),
    pytest.param(
        {"DESKGRAPH_DATABASE_POOL_SIZE": "0"},
        "DESKGRAPH_DATABASE_POOL_SIZE='0': input should be greater than or equal to 1",
        id="pool-size-zero",
    ),
    pytest.param(
        {"DESKGRAPH_DATABASE_PING_IDLE_SECONDS": "-1"},
        "DESKGRAPH_DATABASE_PING_IDLE_SECONDS='-1': input should be greater than or equal to 0",
        id="ping-idle-negative",
    ),
    pytest.param(
        {"DESKGRAPH_PORT": "0"},
        "DESKGRAPH_PORT='0': input should be greater than or equal to 1",
        id="port-zero",
    ),
    pytest.param(
        {"DESKGRAPH_JDLINK_CACHE_SECONDS": "5m"},
        "DESKGRAPH_JDLINK_CACHE_SECONDS='5m': input should be a valid number, "
        "unable to parse string as a number",
        id="seconds-with-a-unit",
    ),
    pytest.param(
        {"DESKGRAPH_TOKEN_JWKS_CACHE_SECONDS": "0"},
        "DESKGRAPH_TOKEN_JWKS_CACHE_SECONDS='0': input should be greater than 0",
        id="jwks-cache-zero",
    ),
    pytest.param(
        {"DESKGRAPH_OUTBOX_POLL_SECONDS": "inf"},
        "DESKGRAPH_OUTBOX_POLL_SECONDS='inf': input should be a finite number",
        id="seconds-infinite",
    ),
    pytest.param(
        {"DESKGRAPH_JDLINK_CACHE_SECONDS": "-1"},
        "DESKGRAPH_JDLINK_CACHE_SECONDS='-1': input should be greater than or equal to 0",
        id="jdlink-cache-negative",
    ),
    pytest.param(
        {"DESKGRAPH_JDLINK_SIMULATOR_PORT": "-1"},
        "DESKGRAPH_JDLINK_SIMULATOR_PORT='-1': input should be greater than or equal to 0",
        id="simulator-port-negative",
    ),
    pytest.param(
        {"DESKGRAPH_LOG_SQL": "maybe"},
        "DESKGRAPH_LOG_SQL='maybe': input should be a valid boolean, unable to interpret input",
        id="flag",
    ),
    pytest.param(
        {"DESKGRAPH_COMPILER": "sometimes"},
        "DESKGRAPH_COMPILER='sometimes': input should be 'off', 'on' or 'verify'",
        id="compiler-mode",
    ),
    pytest.param(
        {"DESKGRAPH_MAX_PAGE_SIZE": "0", "DESKGRAPH_PORT": "x"},
        "DESKGRAPH_PORT='x': input should be a valid integer, unable to parse string as an "
        "integer; DESKGRAPH_MAX_PAGE_SIZE='0': input should be greater than or equal to 1",
        id="every-bad-value-at-once",
    ),
    pytest.param(
        {"DESKGRAPH_MAIL_FROM": "deskgraph"},
        "DESKGRAPH_MAIL_FROM='deskgraph': must be an e-mail address, "
        "e.g. 'Service Desk <desk@example.com>'",
        id="mail-from",
    ),
    pytest.param(
        {"DESKGRAPH_ENV": "production"},
        "DESKGRAPH_ENV=production needs DESKGRAPH_TOKEN_SECRET, DESKGRAPH_TOKEN_PUBLIC_KEY "
        "or DESKGRAPH_TOKEN_JWKS_URL",
        id="production-without-a-key",
    ),
    pytest.param(
        {"DESKGRAPH_ENV": "production", "DESKGRAPH_TOKEN_SECRET": DEVELOPMENT_TOKEN_SECRET},
        "DESKGRAPH_ENV=production needs DESKGRAPH_TOKEN_SECRET, DESKGRAPH_TOKEN_PUBLIC_KEY "
        "or DESKGRAPH_TOKEN_JWKS_URL",
        id="production-with-the-development-secret",
    ),
    pytest.param(
        {"DESKGRAPH_TOKEN_PUBLIC_KEY": "x", "DESKGRAPH_TOKEN_JWKS_URL": "http://127.0.0.1/j"},
        "set DESKGRAPH_TOKEN_PUBLIC_KEY or DESKGRAPH_TOKEN_JWKS_URL, not both",
        id="two-kinds-of-key",
    ),
    pytest.param(
        {"DESKGRAPH_JDLINK_URL": "http://127.0.0.1:9/", "DESKGRAPH_JDLINK_CLIENT_ID": "id"},
        "DESKGRAPH_JDLINK_URL needs DESKGRAPH_JDLINK_CLIENT_ID and DESKGRAPH_JDLINK_CLIENT_SECRET",
        id="jdlink-without-a-secret",
    ),
    pytest.param(
        {"DESKGRAPH_SMTP_PASSWORD": "pw"},
        "set both DESKGRAPH_SMTP_USERNAME and DESKGRAPH_SMTP_PASSWORD, or neither",
        id="smtp-password-alone",
    ),
]


@pytest.mark.parametrize(("environ", "expected"), GOOD)
def test_from_env_good_environment_reads_each_value(
    environ: dict[str, str], expected: dict[str, Any]
) -> None:
    settings = Settings.from_env(environ)
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize(("environ", "message"), BAD)
def test_from_env_bad_environment_refuses_naming_the_variable(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environ)
    assert str(raised.value) == message


@pytest.mark.parametrize(("environ", "message"), BAD)
@pytest.mark.parametrize(
    "argv",
    [["serve"], ["db", "upgrade"], ["seed", "--demo"], ["token", "service"], ["outbox", "list"]],
    ids=" ".join,
)
def test_cli_bad_environment_prints_one_line_and_exits_2(
    argv: list[str],
    environ: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in [name for name in os.environ if name.startswith("DESKGRAPH_")]:
        monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", f"deskgraph: {message}\n")


def test_cli_serve_bad_port_variable_prints_no_traceback(tmp_path: Path) -> None:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DESKGRAPH_")},
        "DESKGRAPH_PORT": "eighty",
    }
    done = subprocess.run(
        [sys.executable, "-m", "deskgraph.cli", "serve"],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "deskgraph: DESKGRAPH_PORT='eighty': input should be a valid integer, "
        "unable to parse string as an integer\n"
    )


@pytest.mark.parametrize("port", ["70000", "0", "eighty"])
def test_cli_serve_bad_port_option_is_refused(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", port])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "deskgraph serve: error: argument --port: "
        + (
            "must be a port number from 1 to 65535"
            if port == "70000"
            else "must be a whole number of at least 1"
        )
    )


def test_settings_built_in_code_are_validated_too() -> None:
    assert dataclasses.replace(Settings(), port=9000).port == 9000
    with pytest.raises(ValueError, match="less than or equal to 65535"):
        dataclasses.replace(Settings(), port=70_000)
    with pytest.raises(ValueError, match="must be development or production"):
        Settings(env="prod")
    assert Settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"
    # The compiler switch was a boolean: code that still passes one gets on or off.
    assert dataclasses.replace(Settings(), compiler=True).compiler == "on"  # type: ignore[arg-type]
    assert Settings(compiler="verify").compiler == "verify"


def test_settings_repr_leaves_the_secrets_out() -> None:
    settings = Settings.from_env(
        {
            "DESKGRAPH_TOKEN_SECRET": "token-secret-1234",
            "DESKGRAPH_DATABASE_URL": "postgresql://desk:db-secret-3456@127.0.0.1/desk",
            "DESKGRAPH_SMTP_USERNAME": "desk",
            "DESKGRAPH_SMTP_PASSWORD": "smtp-secret-5678",
            "DESKGRAPH_JDLINK_URL": "http://127.0.0.1:9/",
            "DESKGRAPH_JDLINK_CLIENT_ID": "id",
            "DESKGRAPH_JDLINK_CLIENT_SECRET": "jdlink-secret-9012",
        }
    )
    shown = repr(settings)
    assert "smtp_username='desk'" in shown
    for secret in ("token-secret-1234", "db-secret-3456", "smtp-secret-5678", "jdlink-secret-9012"):
        assert secret not in shown
    assert (settings.token_secret, settings.smtp_password) == (
        "token-secret-1234",
        "smtp-secret-5678",
    )


@pytest.mark.postgresql_only  # SQLite's file pool is SQLAlchemy's own, not sized here
async def test_database_pool_settings_size_the_apps_pool(database_url: str) -> None:
    settings = Settings(database_url=database_url, database_pool_size=3, database_max_overflow=1)
    app = create_app(settings)
    try:
        pool = app.state.engine.pool
        assert (pool.size(), pool._max_overflow) == (3, 1)
        async with asyncio.timeout(10):
            # Four at once (3 kept and 1 beyond), then all returned: the 3 stay open.
            connections = [await app.state.engine.connect() for _ in range(4)]
            for connection in connections:
                await connection.close()
        assert pool.checkedin() == 3
    finally:
        await app.state.engine.dispose()
