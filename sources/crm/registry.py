"""From an organization's stored CRM configuration to the adapter that talks to its CRM.

An HTTP adapter (Salesforce, Dynamics) holds a connection pool, an OAuth2 token and a circuit
breaker, so it is made once per configuration and kept for the process: a new version of the
configuration replaces it (and closes the old one). The built-in CRM is made per use, on the
request's reader or the caller's transaction.

Secrets are never stored with the configuration, only where to read them (``secret_ref``):
``env:NAME`` is the variable ``DESKGRAPH_CRM_SECRET_NAME``, ``file:NAME`` the file ``NAME`` in
``DESKGRAPH_CRM_SECRETS_DIR``. An ADMIN of an organization can so name only secrets the
operator put there, never any variable or file of the process; and a base URL must be on a
host the operator allows (``DESKGRAPH_CRM_ALLOWED_HOSTS``), so a configuration cannot send a
secret, or a request, anywhere else.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Hashable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cachetools import TTLCache
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.settings import Settings
from deskgraph.sources.crm.base import (
    CrmFields,
    CrmKind,
    CrmRecordType,
    CrmSource,
    CrmUnavailable,
)
from deskgraph.sources.crm.builtin import BuiltinCrm
from deskgraph.store.crm_builtin import Rows, session_rows
from deskgraph.store.crm_models import InteractionValue

SECRET_VARIABLE_PREFIX = "DESKGRAPH_CRM_SECRET_"
SECRET_REF = re.compile(r"(env|file):([A-Za-z0-9_][A-Za-z0-9_.-]{0,99})")
SECRET_FILE_LIMIT = 64 * 1024
CACHE_SIZE = 10_000  # answers kept per process, the least recently used dropped first


class CrmConfigurationError(ValueError):
    """A configuration the process cannot use; the message names what is wrong, never a
    secret."""


@dataclass(frozen=True)
class CrmConfig:
    """An organization's CRM configuration as stored (``models.CrmConfiguration``)."""

    organization_id: int
    kind: CrmKind
    version: int
    base_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    secret_ref: str | None = None
    creatable_types: frozenset[CrmRecordType] = frozenset()
    # Per record type: (the card's label, the CRM field), in the card's order.
    card_fields: Mapping[CrmRecordType, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # Per record type: CRM field -> what of the interaction is written there.
    interaction_fields: Mapping[CrmRecordType, Mapping[str, InteractionValue]] = field(
        default_factory=dict
    )

    @classmethod
    def from_row(cls, row: Any) -> CrmConfig:
        return cls(
            organization_id=row.organization_id,
            kind=CrmKind(row.kind),
            version=row.version,
            base_url=row.base_url,
            token_url=row.token_url,
            client_id=row.client_id,
            secret_ref=row.secret_ref,
            creatable_types=frozenset(CrmRecordType(t) for t in row.creatable_types),
            card_fields={
                CrmRecordType(t): tuple((label, name) for label, name in pairs)
                for t, pairs in row.card_fields.items()
            },
            interaction_fields={
                CrmRecordType(t): {name: InteractionValue(v) for name, v in mapping.items()}
                for t, mapping in row.interaction_fields.items()
            },
        )

    @property
    def creatable_in_order(self) -> list[CrmRecordType]:
        return sorted(self.creatable_types, key=lambda t: t.value)

    @property
    def fields(self) -> CrmFields:
        """The CRM fields the card mapping reads, per type."""
        return CrmFields(
            {t: tuple(name for _, name in pairs) for t, pairs in self.card_fields.items()}
        )


def check_secret_ref(ref: str) -> str:
    if not SECRET_REF.fullmatch(ref):
        raise CrmConfigurationError(
            "the secret is named env:NAME (the variable DESKGRAPH_CRM_SECRET_NAME) or "
            "file:NAME (a file in DESKGRAPH_CRM_SECRETS_DIR)"
        )
    return ref


def read_secret(
    ref: str | None, settings: Settings, environ: Mapping[str, str] | None = None
) -> str:
    """The secret ``ref`` names; :class:`CrmUnavailable` (naming the reference, not a value)
    when it is not there."""
    match = SECRET_REF.fullmatch(ref or "")
    if match is None:
        raise CrmUnavailable("the CRM configuration names no usable secret")
    where, name = match.groups()
    if where == "env":
        variable = SECRET_VARIABLE_PREFIX + name
        value = (os.environ if environ is None else environ).get(variable, "")
        if not value:
            raise CrmUnavailable(f"the CRM secret {ref} is not set (variable {variable})")
        return value
    if settings.crm_secrets_dir is None:
        raise CrmUnavailable(f"the CRM secret {ref} needs DESKGRAPH_CRM_SECRETS_DIR")
    path = Path(settings.crm_secrets_dir) / name
    try:
        with path.open("rb") as file:
            value = file.read(SECRET_FILE_LIMIT).decode("utf-8").strip()
    except (OSError, UnicodeError):
        raise CrmUnavailable(f"the CRM secret {ref} cannot be read") from None
    if not value:
        raise CrmUnavailable(f"the CRM secret {ref} is empty")
    return value


def check_url(url: str, settings: Settings, *, what: str) -> str:
    """A CRM URL a configuration may name: http(s) (https in production) on an allowed host,
    without credentials, query or fragment."""
    parts = urlsplit(url)
    scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and not settings.is_production)
    host = (parts.hostname or "").lower()
    if (
        not scheme_ok
        or not host
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
    ):
        raise CrmConfigurationError(
            f"{what} must be an {'https' if settings.is_production else 'http(s)'} URL "
            "without credentials, query or fragment"
        )
    if not any(_host_matches(host, allowed) for allowed in settings.crm_hosts):
        raise CrmConfigurationError(
            f"{what}: the host {host} is not one this deskgraph may call "
            "(DESKGRAPH_CRM_ALLOWED_HOSTS)"
        )
    return url.rstrip("/")


def _host_matches(host: str, allowed: str) -> bool:
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed


class _Forgetful(dict[Hashable, Any]):
    """The cache when ``crm_cache_seconds`` is 0: keeps nothing."""

    def __setitem__(self, key: Hashable, value: Any) -> None:
        return None


class CrmSources:
    """The process's CRM adapters, one per organization configuration."""

    def __init__(self, settings: Settings, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self._environ = environ
        self._adapters: dict[int, tuple[int, CrmSource]] = {}
        # Replaced by a newer configuration; a request may still be using one, so they are
        # closed with the process (one per change of a configuration).
        self._retired: list[CrmSource] = []
        # What the CRMs answered, per (call, organization, configuration version, question).
        self.cache: MutableMapping[Hashable, Any] = (
            TTLCache(maxsize=CACHE_SIZE, ttl=settings.crm_cache_seconds, timer=time.monotonic)
            if settings.crm_cache_seconds > 0
            else _Forgetful()
        )

    def forget(self, organization_id: int) -> None:
        """Drop what this process keeps of an organization's CRM (it just wrote there)."""
        for key in [
            k for k in list(self.cache) if isinstance(k, tuple) and k[1] == organization_id
        ]:
            self.cache.pop(key, None)

    def reader(self, config: CrmConfig, rows: Rows) -> CrmSource:
        """The adapter for reads in a request (the built-in CRM reads on ``rows``)."""
        if config.kind is CrmKind.BUILTIN:
            return BuiltinCrm(config.organization_id, rows=rows)
        return self.external(config)

    def writer(self, config: CrmConfig, session: AsyncSession) -> CrmSource:
        """The adapter for writes (the built-in CRM reads and writes in ``session``'s
        transaction)."""
        if config.kind is CrmKind.BUILTIN:
            return BuiltinCrm(config.organization_id, rows=session_rows(session), session=session)
        return self.external(config)

    def external(self, config: CrmConfig) -> CrmSource:
        """The kept HTTP adapter of a SALESFORCE or DYNAMICS configuration."""
        kept = self._adapters.get(config.organization_id)
        if kept is not None and kept[0] == config.version:
            return kept[1]
        adapter = self._make(config)
        if kept is not None:
            self._retired.append(kept[1])
        self._adapters[config.organization_id] = (config.version, adapter)
        return adapter

    def _make(self, config: CrmConfig) -> CrmSource:
        """The adapter of a configuration; CrmUnavailable (the reason for the log) when the
        process cannot use it: a URL on a host no longer allowed, a field name the adapter
        cannot read, a secret that is not there."""
        try:
            return self._adapter(config)
        except ValueError as error:  # CrmConfigurationError, or the adapter's own refusal
            raise CrmUnavailable(f"the CRM configuration cannot be used: {error}") from None

    def _adapter(self, config: CrmConfig) -> CrmSource:
        settings = self.settings
        if config.base_url is None or config.client_id is None:
            raise CrmUnavailable("the CRM configuration has no base URL or client id")
        check_url(config.base_url, settings, what="baseUrl")
        if config.token_url is not None:
            check_url(config.token_url, settings, what="tokenUrl")
        secret = read_secret(config.secret_ref, settings, self._environ)
        common: dict[str, Any] = {
            "client_id": config.client_id,
            "client_secret": secret,
            "token_url": config.token_url,
            "fields": config.fields,
            "connect_timeout_seconds": settings.crm_connect_timeout_seconds,
            "read_timeout_seconds": settings.crm_read_timeout_seconds,
            "failure_seconds": settings.crm_failure_seconds,
        }
        if config.kind is CrmKind.SALESFORCE:
            from deskgraph.sources.crm.salesforce import SalesforceSource

            return SalesforceSource(config.base_url, **common)
        from deskgraph.sources.crm.dynamics import DynamicsSource

        return DynamicsSource(config.base_url, **common)

    async def aclose(self) -> None:
        adapters = [adapter for _, adapter in self._adapters.values()] + self._retired
        self._adapters.clear()
        self._retired = []
        for adapter in adapters:
            await adapter.aclose()
