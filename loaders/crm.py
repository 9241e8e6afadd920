"""CRM records for a request: each level of a query (the cards' person-level records, then
their related records, or records by id) costs one call per CRM, whatever the number of cards.

Keys carry the organization; a batch groups its keys by organization and asks each
organization's CRM once, all CRMs at the same time. Answers are kept per process for
``Settings.crm_cache_seconds`` (``CrmSources.cache``), except when the field asked for a
``refresh``: that call asks the CRM and refreshes what is kept. A CRM that fails makes every
key of its organization fail with UPSTREAM_UNAVAILABLE (the cause goes to the log); another
organization's keys answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from deskgraph.errors import UpstreamUnavailable
from deskgraph.loaders.base import DataLoader, Reader
from deskgraph.server import tracing
from deskgraph.sources.crm.base import (
    CrmError,
    CrmKind,
    CrmRecord,
    CrmRecordType,
    CrmSource,
    PersonQuery,
)
from deskgraph.sources.crm.registry import CrmConfig, CrmSources
from deskgraph.store.crm import configurations

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Key(Hashable, Protocol):
    """What a CRM loader's key says besides its question: whose CRM, and whether to ask it
    now rather than answer what is kept."""

    @property
    def organization_id(self) -> int: ...

    @property
    def refresh(self) -> bool: ...


K = TypeVar("K", bound=_Key)

_MISSING = object()
UNAVAILABLE_MESSAGE = "The CRM is not answering; its records are unavailable for now."


class CrmConfigLoader(DataLoader[int, CrmConfig | None]):
    """An organization's CRM configuration, or ``None`` when it has connected none."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[CrmConfig | None]:
        rows = await self.reader.rows(configurations(keys))
        found = {r.organization_id: CrmConfig.from_row(r) for r in rows}
        return [found.get(key) for key in keys]


@dataclass(frozen=True)
class PeopleKey:
    organization_id: int
    query: PersonQuery
    refresh: bool = False


@dataclass(frozen=True)
class RecordKey:
    """A record by type and CRM id (``parent_id``: its account, which ``related`` needs)."""

    organization_id: int
    type: CrmRecordType
    record_id: str
    parent_id: str | None = None
    refresh: bool = False

    def record(self) -> CrmRecord:
        return CrmRecord(self.type, self.record_id, None, "", parent_id=self.parent_id)


class _CrmLoader(DataLoader[K, Any]):
    """Groups keys by organization; ``ask`` answers one organization's keys in one call."""

    what = ""

    def __init__(self, reader: Reader, sources: CrmSources, configs: CrmConfigLoader) -> None:
        super().__init__()
        self.reader = reader
        self.sources = sources
        self.configs = configs

    async def batch_load_fn(self, keys: Sequence[K]) -> list[Any]:
        by_organization: dict[int, list[int]] = {}
        for n, key in enumerate(keys):
            by_organization.setdefault(key.organization_id, []).append(n)
        answers: list[Any] = [None] * len(keys)
        organizations = list(by_organization)
        results = await asyncio.gather(
            *(self._organization(o, [keys[n] for n in by_organization[o]]) for o in organizations),
            return_exceptions=True,
        )
        for organization, result in zip(organizations, results, strict=True):
            for position, n in enumerate(by_organization[organization]):
                answers[n] = result if isinstance(result, BaseException) else result[position]
        return answers

    async def _organization(self, organization_id: int, keys: list[K]) -> list[Any]:
        config = await self.configs.load(organization_id)
        if config is None:
            return [None for _ in keys]  # the fields say CRM_NOT_CONFIGURED before asking
        # The built-in CRM's answers are the store's own rows, read with one statement:
        # never kept, so what was just written (a new record, synced fields) shows at once.
        cache = self.sources.cache if config.kind is not CrmKind.BUILTIN else {}
        answers: dict[Any, Any] = {}
        for key in keys:
            if not key.refresh:
                kept = cache.get(self._cached(config, key), _MISSING)
                if kept is not _MISSING:
                    answers[key] = kept
        wanted = [key for key in keys if key not in answers]
        if wanted:
            with tracing.span(f"crm {self.what}", {tracing.KEYS: len(wanted)}):
                fresh = await _asked(
                    # Made inside: an adapter that cannot be made (its secret is not set) is
                    # a CRM that cannot be asked.
                    lambda: self.ask(self.sources.reader(config, self.reader.rows), wanted),
                    organization_id,
                )
            for key, value in zip(wanted, fresh, strict=True):
                answers[key] = value
                cache[self._cached(config, key)] = value
        return [answers[key] for key in keys]

    def _cached(self, config: CrmConfig, key: Any) -> Hashable:
        plain = {**key.__dict__, "refresh": False}
        return (self.what, config.organization_id, config.version, tuple(sorted(plain.items())))

    async def ask(self, source: CrmSource, keys: list[K]) -> Sequence[Any]:
        raise NotImplementedError


async def _asked(call: Callable[[], Awaitable[Sequence[T]]], organization_id: int) -> Sequence[T]:
    try:
        return await call()
    except CrmError as error:
        log.warning("CRM read failed for organization %s: %s", organization_id, error)
        raise UpstreamUnavailable(UNAVAILABLE_MESSAGE) from None


class CrmPeopleLoader(_CrmLoader[PeopleKey]):
    """A card's person-level records (accounts, contacts, leads its addresses match)."""

    what = "people"

    async def ask(self, source: CrmSource, keys: list[PeopleKey]) -> Sequence[Any]:
        return await source.people([key.query for key in keys])


class CrmRelatedLoader(_CrmLoader[RecordKey]):
    """The records related to one (a contact's household and its cases, ...)."""

    what = "related"

    async def ask(self, source: CrmSource, keys: list[RecordKey]) -> Sequence[Any]:
        return await source.related([key.record() for key in keys])


class CrmRecordLoader(_CrmLoader[RecordKey]):
    """A record by type and id, ``None`` when the CRM has no such record."""

    what = "records"

    async def ask(self, source: CrmSource, keys: list[RecordKey]) -> Sequence[Any]:
        return await source.records([(key.type, key.record_id) for key in keys])
