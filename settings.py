"""One Settings object, read from DESKGRAPH_* environment variables and validated.

``Settings`` is a frozen pydantic dataclass: built with keyword arguments (tests, the benchmarks)
or copied with ``dataclasses.replace``, every value is validated. ``Settings.from_env`` reads the
variables with pydantic-settings and answers every bad value with a :class:`SettingsError` whose
one line names the variable, e.g. ``DESKGRAPH_PORT='eighty': input should be a valid integer``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, create_model, field_validator
from pydantic.dataclasses import dataclass
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

ENV_PREFIX = "DESKGRAPH_"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./deskgraph.db"
DEVELOPMENT_TOKEN_SECRET = "deskgraph-development-secret-change-me-in-production"
DEFAULT_MAIL_FROM = "deskgraph <no-reply@deskgraph.localhost>"
ENVIRONMENTS = ("development", "production")
SMTP_TLS_MODES = ("none", "starttls", "tls")
# The usual port of each SMTP_TLS mode, used when DESKGRAPH_SMTP_PORT is not set.
SMTP_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}

Port = Annotated[int, Field(ge=1, le=65_535)]
AtLeastOne = Annotated[int, Field(ge=1)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
SecondsOrNone = Annotated[float, Field(ge=0, allow_inf_nan=False)]  # 0: keep nothing


# The spellings of DESKGRAPH_COMPILER from when it was a boolean (pydantic's bool words).
# DESKGRAPH_COMPILER: the query compiler (issue 17) off, on, or checked against the executor.
CompilerMode = Literal["off", "on", "verify"]

_COMPILER_SYNONYMS = {
    **dict.fromkeys(("true", "1", "yes", "y", "t"), "on"),
    **dict.fromkeys(("false", "0", "no", "n", "f"), "off"),
}

# The hosts a CRM configuration may name unless DESKGRAPH_CRM_ALLOWED_HOSTS says otherwise.
CRM_CLOUD_HOSTS = ("*.salesforce.com", "*.force.com", "*.dynamics.com")

# The usual origins of a web SPA's dev server (Vite, then Create React App / Next.js).
DEVELOPMENT_CORS_ORIGINS = (
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
)


class SettingsError(ValueError):
    """A setting the process cannot start with; the message is one line naming the variable."""


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


@dataclass(frozen=True)
class Settings:
    # Out of repr() as the secrets are: a PostgreSQL URL may carry a password.
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)
    # Each process's PostgreSQL connections: this many kept open, and up to max_overflow more
    # under load, each closed as soon as it is returned. A request holds one while it reads, so
    # a pool smaller than the concurrent requests opens and closes a connection for most of
    # them (a new backend, and every prepared statement prepared again).
    database_pool_size: AtLeastOne = 16
    database_max_overflow: Annotated[int, Field(ge=0)] = 4
    # A pooled PostgreSQL connection idle longer than this is pinged before use, and replaced if
    # the server dropped it; 0 pings on every checkout (store.session.create_engine).
    database_ping_idle_seconds: Annotated[float, Field(ge=0)] = 1.0
    log_sql: bool = False
    # Anything but these two refuses to start: a typo must never run development in production.
    env: str = "development"  # development | production
    # Secrets stay out of repr(), and so out of logs and tracebacks that print the settings.
    token_secret: str = Field(default=DEVELOPMENT_TOKEN_SECRET, repr=False)
    token_issuer: str = "deskgraph"
    token_audience: str = "deskgraph"
    # RS256 / ES256 instead of the shared secret: a PEM public key (inline or a file path),
    # or the URL of a JWKS document. Either one turns HS256 off.
    token_public_key: str | None = None
    token_jwks_url: str | None = None
    # How long a fetched JWKS is trusted: a key removed from the set stops working after this.
    token_jwks_cache_seconds: Seconds = 300.0
    host: str = "127.0.0.1"
    port: Port = 8000
    # `serve`'s worker processes (each with its own app, engine and pool), and the proxies whose
    # X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks, comma-separated;
    # `*` any): none by default, so a client cannot pass for another address.
    workers: AtLeastOne = 1
    trusted_proxies: tuple[str, ...] = ()
    max_page_size: AtLeastOne = 100
    # Issue 17's query compiler (server.compiled_execution): `on` answers the root fields it
    # covers from one SQL statement; `verify` runs both the statement and the executor for
    # each of them and fails the field (a masked internal error, both answers logged) when
    # they differ; `off` runs everything on the executor.
    compiler: CompilerMode = "on"
    max_query_depth: AtLeastOne = 12
    max_query_fields: AtLeastOne = 2_000
    max_query_tokens: AtLeastOne = 10_000
    max_body_bytes: AtLeastOne = 1_000_000
    # Hostile requests: the cost of an operation (object fields, times the page size of each
    # connection above them) is refused above max_query_cost before execution; a request runs
    # at most request_timeout_seconds; a response over max_response_bytes is not sent.
    max_query_cost: AtLeastOne = 10_000
    request_timeout_seconds: Seconds = 30.0
    max_response_bytes: AtLeastOne = 10_000_000
    # Persisted queries (Apollo's automatic persisted queries, server.persisted): `auto` runs a
    # document sent by its sha256 once a client registered it; `only` runs the documents of the
    # clients' manifest (`deskgraph persisted-queries import`) and nothing else; `off` refuses
    # hashes (PERSISTED_QUERY_NOT_SUPPORTED: Apollo's link sends full queries). Not `only` by
    # default in production: it refuses every other document (a federation router's too).
    persisted_queries: Literal["off", "auto", "only"] = "auto"
    # At most this many documents registered by clients (the manifest's are not counted).
    persisted_query_max_count: AtLeastOne = 10_000
    # Documents each process keeps in memory (least recently used out first): a hit runs no SQL.
    persisted_query_cache_size: AtLeastOne = 1_000
    # HTTP batching (a JSON array of operations, Apollo's BatchHttpLink): at most this many,
    # and together costing at most max_batch_cost (None: max_query_cost).
    max_batch_size: AtLeastOne = 10
    max_batch_cost: AtLeastOne | None = None
    # Rate limits (server.rate_limit), per viewer and minute: the cost of the operations run
    # (0: off), and advisorInviteLookup calls (0: off). Shared across processes in Redis when
    # redis_url is set, else in PostgreSQL; in process on SQLite.
    rate_limit_cost_per_minute: Annotated[int, Field(ge=0)] = 100_000
    invite_lookup_per_minute: Annotated[int, Field(ge=0)] = 10
    redis_url: str | None = Field(default=None, repr=False)
    # Production: `_service { sdl }` answers service tokens only, unless this opens it to all.
    public_sdl: bool = False
    # JDLink (ISO 15143-3 fleet API with OAuth2 client credentials). Unset: in development
    # `deskgraph serve` starts the local simulator; in production `Machine.jdlink` is null.
    jdlink_url: str | None = None
    jdlink_token_url: str | None = None  # default: {jdlink_url}/oauth/token
    jdlink_client_id: str = ""
    jdlink_client_secret: str = Field(default="", repr=False)
    jdlink_cache_seconds: SecondsOrNone = 300.0
    # JDLink that hangs or fails: bounded waits, and a failure remembered for a while (a small
    # circuit breaker: until then Machine.jdlink answers UPSTREAM_UNAVAILABLE without asking).
    jdlink_connect_timeout_seconds: Seconds = 2.0
    jdlink_read_timeout_seconds: Seconds = 3.0
    jdlink_failure_seconds: Seconds = 30.0
    # The loopback port of the development JDLink simulator; 0 picks a free one.
    jdlink_simulator_port: Annotated[int, Field(ge=0, le=65_535)] = 0
    # CRMs (per organization, set by its ADMINs through `configureCrm`). A configuration names
    # where its secret is read, never the secret: `env:NAME` reads DESKGRAPH_CRM_SECRET_<NAME>,
    # `file:NAME` the file NAME in DESKGRAPH_CRM_SECRETS_DIR. Base URLs must be on a host this
    # list allows (`*.` matches subdomains); None: Salesforce's and Dynamics' cloud hosts, and in
    # development loopback too (the local simulators).
    crm_allowed_hosts: tuple[str, ...] | None = None
    crm_secrets_dir: str | None = None
    # Reads of CRM records are kept this long per process (`crmRecords(refresh: true)` skips it).
    crm_cache_seconds: SecondsOrNone = 60.0
    crm_connect_timeout_seconds: Seconds = 2.0
    crm_read_timeout_seconds: Seconds = 5.0
    crm_failure_seconds: Seconds = 30.0
    # The CRM sync worker: interaction data passed to linked records, retried with backoff.
    crm_sync_poll_seconds: Seconds = 5.0
    crm_sync_max_attempts: AtLeastOne = 8
    # Mail: written to the outbox table with the change that causes it, delivered over SMTP
    # by the outbox sender. Without a host, mail waits in the outbox.
    mail_from: str = DEFAULT_MAIL_FROM
    smtp_host: str | None = None
    smtp_port: Port = 25
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    outbox_poll_seconds: Seconds = 5.0
    outbox_max_attempts: AtLeastOne = 8
    # The viewer behind a token, kept per process (loaders.viewer.ViewerCache): dropped at the
    # first commit, in any process, that changes the rows it is read from; this long at most
    # (a backstop for writes made by hand outside deskgraph). 0: read on every request.
    viewer_cache_seconds: SecondsOrNone = 60.0
    # Subscription events: how long a row of the event log is kept before it is pruned.
    event_retention_seconds: Seconds = 3600.0
    # CORS: the origins (scheme://host[:port]) whose pages may call the API from a browser, with
    # credentials and an Authorization header; DESKGRAPH_CORS_ORIGINS is comma-separated, and
    # `none` allows no origin. None: the env's default (the usual dev servers in development,
    # none in production).
    cors_origins: tuple[str, ...] | None = None
    # /metrics (Prometheus): None is the env's default (on in development, off in production);
    # with a token, a scrape must send `Authorization: Bearer <token>` (required in production).
    metrics_enabled: bool | None = None
    metrics_token: str | None = Field(default=None, repr=False)

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        if value not in ENVIRONMENTS:
            raise ValueError(f"must be {' or '.join(ENVIRONMENTS)}")
        return value

    @field_validator("smtp_tls", mode="before")
    @classmethod
    def _tls_mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("persisted_queries", mode="before")
    @classmethod
    def _persisted_mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("compiler", mode="before")
    @classmethod
    def _compiler_mode(cls, value: object) -> object:
        # It was a boolean: `true`/`1`/`yes` (and True) still mean on, `false`/`0`/`no` off.
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, str):
            mode = value.strip().lower()
            return _COMPILER_SYNONYMS.get(mode, mode)
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError("must be an e-mail address, e.g. 'Service Desk <desk@example.com>'")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.strip().lower() == "none":
            return ()
        origins = []
        for part in value.split(","):
            origin = part.strip().rstrip("/")
            if not origin:
                continue
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path
                or parts.query
                or parts.fragment
            ):
                raise ValueError(
                    "takes origins such as https://desk.example.com or http://localhost:5173, "
                    f"comma-separated, not {part.strip()!r}"
                )
            origins.append(origin)
        return tuple(origins)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        proxies = tuple(part.strip() for part in value.split(",") if part.strip())
        for proxy in proxies:
            try:
                if proxy != "*":
                    ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    "takes IP addresses or networks such as 10.0.0.5 or 10.0.0.0/8, or *, "
                    f"comma-separated, not {proxy!r}"
                ) from None
        return proxies

    @field_validator("crm_allowed_hosts", mode="before")
    @classmethod
    def _crm_hosts(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        hosts = tuple(part.strip().lower() for part in value.split(",") if part.strip())
        for host in hosts:
            name = host.removeprefix("*.")
            if not name or "/" in name or ":" in name or "*" in name:
                raise ValueError(
                    "takes host names such as crm.example.com or *.my.salesforce.com, "
                    f"comma-separated, not {host!r}"
                )
        return hosts

    @property
    def crm_hosts(self) -> tuple[str, ...]:
        if self.crm_allowed_hosts is not None:
            return self.crm_allowed_hosts
        cloud = CRM_CLOUD_HOSTS
        return cloud if self.is_production else (*cloud, "127.0.0.1", "localhost")

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        if self.cors_origins is not None:
            return self.cors_origins
        return () if self.is_production else DEVELOPMENT_CORS_ORIGINS

    @property
    def metrics_on(self) -> bool:
        if self.metrics_enabled is not None:
            return self.metrics_enabled
        return not self.is_production

    @property
    def mail_domain(self) -> str:
        """The domain of ``mail_from``: Message-IDs are made in it."""
        address = self.mail_from.rpartition("<")[2].rstrip(">").strip()
        return address.rpartition("@")[2] or "deskgraph.localhost"

    @property
    def batch_cost_limit(self) -> int:
        return self.max_query_cost if self.max_batch_cost is None else self.max_batch_cost

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of ``environ`` (default ``os.environ``); :class:`SettingsError` names
        the variable of every value that is not valid."""
        values = _read_environment(os.environ if environ is None else environ)
        if "smtp_port" not in values:
            tls = _tls_mode_of(values.get("smtp_tls"))
            values["smtp_port"] = SMTP_DEFAULT_PORTS.get(tls, SMTP_DEFAULT_PORTS["none"])
        try:
            settings = cls(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, values)) from None
        _check_combinations(settings)
        return settings


class _EnvironmentBase(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore")


# The DESKGRAPH_* variables as pydantic-settings finds them: a string field per setting (an
# empty variable counts as unset). Only their names come from here: Settings validates them.
_VARIABLES: dict[str, Any] = {
    field.name: (str | None, None) for field in dataclasses.fields(Settings)
}
_Environment = create_model("_Environment", __base__=_EnvironmentBase, **_VARIABLES)


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping (``from_env(environ)``)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(_Environment)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # The hook DotEnvSettingsSource overrides too; names match as EnvSettingsSource's do.
        if self.case_sensitive:
            return dict(self._environ)
        return {name.lower(): value for name, value in self._environ.items()}


_SECRETS = frozenset({"token_secret", "jdlink_client_secret", "smtp_password", "metrics_token"})


def _read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {
        name: value if name in _SECRETS else value.strip()
        for name, value in _MappingSource(environ)().items()
        if isinstance(value, str)
    }
    # Surrounding blanks are a copy-and-paste accident; a value of blanks only is unset.
    return {name: value for name, value in values.items() if value.strip()}


def _tls_mode_of(value: object) -> str:
    return value.strip().lower() if isinstance(value, str) else "none"


def variable_of(field_name: str) -> str:
    return f"{ENV_PREFIX}{field_name.upper()}"


def _describe(error: ValidationError, values: Mapping[str, Any]) -> str:
    """One line for all the bad values: ``DESKGRAPH_PORT='eighty': input should be …``."""
    parts = []
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        if field in values:
            parts.append(f"{variable_of(field)}={values[field]!r}: {message}")
        else:
            parts.append(f"{variable_of(field)}: {message}")
    return "; ".join(parts)


def _check_combinations(settings: Settings) -> None:
    budget = settings.rate_limit_cost_per_minute
    if 0 < budget < settings.max_query_cost:
        raise SettingsError(
            f"DESKGRAPH_RATE_LIMIT_COST_PER_MINUTE={budget} is below DESKGRAPH_MAX_QUERY_COST="
            f"{settings.max_query_cost}: an operation allowed alone could never run"
        )
    if settings.token_public_key and settings.token_jwks_url:
        raise SettingsError("set DESKGRAPH_TOKEN_PUBLIC_KEY or DESKGRAPH_TOKEN_JWKS_URL, not both")
    if (
        settings.is_production
        and settings.token_secret == DEVELOPMENT_TOKEN_SECRET
        and not (settings.token_public_key or settings.token_jwks_url)
    ):
        raise SettingsError(
            "DESKGRAPH_ENV=production needs DESKGRAPH_TOKEN_SECRET, "
            "DESKGRAPH_TOKEN_PUBLIC_KEY or DESKGRAPH_TOKEN_JWKS_URL"
        )
    if settings.jdlink_url and not (settings.jdlink_client_id and settings.jdlink_client_secret):
        raise SettingsError(
            "DESKGRAPH_JDLINK_URL needs DESKGRAPH_JDLINK_CLIENT_ID and "
            "DESKGRAPH_JDLINK_CLIENT_SECRET"
        )
    if settings.is_production and settings.metrics_on and not settings.metrics_token:
        raise SettingsError(
            "DESKGRAPH_METRICS_ENABLED in production needs DESKGRAPH_METRICS_TOKEN "
            "(the bearer token Prometheus sends)"
        )
    if bool(settings.smtp_username) != bool(settings.smtp_password):
        raise SettingsError(
            "set both DESKGRAPH_SMTP_USERNAME and DESKGRAPH_SMTP_PASSWORD, or neither"
        )
