"""One Settings object, read from DESKGRAPH_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from typing import TypedDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./deskgraph.db"
DEVELOPMENT_TOKEN_SECRET = "deskgraph-development-secret-change-me-in-production"
DEFAULT_MAIL_FROM = "deskgraph <no-reply@deskgraph.localhost>"
SMTP_TLS_MODES = ("none", "starttls", "tls")
# The usual port of each SMTP_TLS mode, used when DESKGRAPH_SMTP_PORT is not set.
SMTP_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


def normalize_database_url(url: str) -> str:
    """Accept the URLs operators write and pick the async driver deskgraph uses."""
    for prefix in (
        "postgres://",
        "postgresql://",
        "postgresql+psycopg2://",
        "postgresql+psycopg://",
    ):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _whole_number(env: Mapping[str, str], name: str, default: int, *, least: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = least - 1
    if value < least:
        raise ValueError(f"{name} must be a whole number of at least {least}, not {raw!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a number of seconds above 0, not {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    log_sql: bool = False
    env: str = "development"
    token_secret: str = DEVELOPMENT_TOKEN_SECRET
    token_issuer: str = "deskgraph"
    token_audience: str = "deskgraph"
    # RS256 / ES256 instead of the shared secret: a PEM public key (inline or a file path),
    # or the URL of a JWKS document. Either one turns HS256 off.
    token_public_key: str | None = None
    token_jwks_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_page_size: int = 100
    max_query_depth: int = 12
    max_query_fields: int = 2_000
    max_query_tokens: int = 10_000
    max_body_bytes: int = 1_000_000
    # Hostile requests: the cost of an operation (object fields, times the page size of each
    # connection above them) is refused above max_query_cost before execution; a request runs
    # at most request_timeout_seconds; a response over max_response_bytes is not sent.
    max_query_cost: int = 10_000
    request_timeout_seconds: float = 30.0
    max_response_bytes: int = 10_000_000
    # Production: `_service { sdl }` answers service tokens only, unless this opens it to all.
    public_sdl: bool = False
    # JDLink (ISO 15143-3 fleet API with OAuth2 client credentials). Unset: in development
    # `deskgraph serve` starts the local simulator; in production `Machine.jdlink` is null.
    jdlink_url: str | None = None
    jdlink_token_url: str | None = None  # default: {jdlink_url}/oauth/token
    jdlink_client_id: str = ""
    jdlink_client_secret: str = ""
    jdlink_cache_seconds: float = 300.0
    # Mail: written to the outbox table with the change that causes it, delivered over SMTP
    # by the outbox sender. Without a host, mail waits in the outbox.
    mail_from: str = DEFAULT_MAIL_FROM
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_tls: str = "none"  # none | starttls | tls
    outbox_poll_seconds: float = 5.0
    outbox_max_attempts: int = 8

    @property
    def mail_domain(self) -> str:
        """The domain of ``mail_from``: Message-IDs are made in it."""
        address = self.mail_from.rpartition("<")[2].rstrip(">").strip()
        return address.rpartition("@")[2] or "deskgraph.localhost"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls(
            database_url=normalize_database_url(
                env.get("DESKGRAPH_DATABASE_URL", DEFAULT_DATABASE_URL)
            ),
            log_sql=_flag(env.get("DESKGRAPH_LOG_SQL")),
            env=env.get("DESKGRAPH_ENV", "development"),
            token_secret=env.get("DESKGRAPH_TOKEN_SECRET", DEVELOPMENT_TOKEN_SECRET),
            token_issuer=env.get("DESKGRAPH_TOKEN_ISSUER", "deskgraph"),
            token_audience=env.get("DESKGRAPH_TOKEN_AUDIENCE", "deskgraph"),
            token_public_key=env.get("DESKGRAPH_TOKEN_PUBLIC_KEY") or None,
            token_jwks_url=env.get("DESKGRAPH_TOKEN_JWKS_URL") or None,
            host=env.get("DESKGRAPH_HOST", "127.0.0.1"),
            port=int(env.get("DESKGRAPH_PORT", "8000")),
            jdlink_url=env.get("DESKGRAPH_JDLINK_URL") or None,
            jdlink_token_url=env.get("DESKGRAPH_JDLINK_TOKEN_URL") or None,
            jdlink_client_id=env.get("DESKGRAPH_JDLINK_CLIENT_ID", ""),
            jdlink_client_secret=env.get("DESKGRAPH_JDLINK_CLIENT_SECRET", ""),
            jdlink_cache_seconds=float(env.get("DESKGRAPH_JDLINK_CACHE_SECONDS", "300")),
            **_mail_settings(env),
            # Guards against hostile requests (see schema/cost.py and server/http.py).
            max_query_cost=_whole_number(env, "DESKGRAPH_MAX_QUERY_COST", 10_000, least=1),
            request_timeout_seconds=_seconds(env, "DESKGRAPH_REQUEST_TIMEOUT_SECONDS", 30.0),
            max_response_bytes=_whole_number(
                env, "DESKGRAPH_MAX_RESPONSE_BYTES", 10_000_000, least=1_000
            ),
            # Who reads the subgraph's SDL in production (see auth/federation.py).
            public_sdl=_flag(env.get("DESKGRAPH_PUBLIC_SDL")),
        )
        if settings.token_public_key and settings.token_jwks_url:
            raise ValueError("set DESKGRAPH_TOKEN_PUBLIC_KEY or DESKGRAPH_TOKEN_JWKS_URL, not both")
        if (
            settings.is_production
            and settings.token_secret == DEVELOPMENT_TOKEN_SECRET
            and not (settings.token_public_key or settings.token_jwks_url)
        ):
            raise ValueError(
                "DESKGRAPH_ENV=production needs DESKGRAPH_TOKEN_SECRET, "
                "DESKGRAPH_TOKEN_PUBLIC_KEY or DESKGRAPH_TOKEN_JWKS_URL"
            )
        if settings.jdlink_url and not (
            settings.jdlink_client_id and settings.jdlink_client_secret
        ):
            raise ValueError(
                "DESKGRAPH_JDLINK_URL needs DESKGRAPH_JDLINK_CLIENT_ID and "
                "DESKGRAPH_JDLINK_CLIENT_SECRET"
            )
        return settings


class _MailSettings(TypedDict):
    mail_from: str
    smtp_host: str | None
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_tls: str
    outbox_poll_seconds: float
    outbox_max_attempts: int


def _mail_settings(env: Mapping[str, str]) -> _MailSettings:
    mail_from = env.get("DESKGRAPH_MAIL_FROM", "").strip() or DEFAULT_MAIL_FROM
    if "@" not in parseaddr(mail_from)[1]:
        raise ValueError(
            "DESKGRAPH_MAIL_FROM must be an e-mail address, e.g. "
            f"'Service Desk <desk@example.com>', not {mail_from!r}"
        )
    tls = env.get("DESKGRAPH_SMTP_TLS", "").strip().lower() or "none"
    if tls not in SMTP_TLS_MODES:
        raise ValueError(f"DESKGRAPH_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}")
    port = _whole_number(env, "DESKGRAPH_SMTP_PORT", SMTP_DEFAULT_PORTS[tls], least=1)
    if port > 65_535:
        raise ValueError(f"DESKGRAPH_SMTP_PORT must be a port number, not {port}")
    username = env.get("DESKGRAPH_SMTP_USERNAME", "")
    password = env.get("DESKGRAPH_SMTP_PASSWORD", "")
    if bool(username) != bool(password):
        raise ValueError("set both DESKGRAPH_SMTP_USERNAME and DESKGRAPH_SMTP_PASSWORD, or neither")
    return {
        "mail_from": mail_from,
        "smtp_host": env.get("DESKGRAPH_SMTP_HOST", "").strip() or None,
        "smtp_port": port,
        "smtp_username": username,
        "smtp_password": password,
        "smtp_tls": tls,
        "outbox_poll_seconds": _seconds(env, "DESKGRAPH_OUTBOX_POLL_SECONDS", 5.0),
        "outbox_max_attempts": _whole_number(env, "DESKGRAPH_OUTBOX_MAX_ATTEMPTS", 8, least=1),
    }
