"""Persisted queries over HTTP: Apollo's automatic persisted queries protocol, and an allow-list.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": …}`` (the sha256 of
the document's text, in hex) without the query; an unknown hash answers
``PersistedQueryNotFound`` (``PERSISTED_QUERY_NOT_FOUND``, as Apollo Server does), and the client
sends hash and query once, which registers the document once it ran valid (parsed, validated,
within its cost). From then on the hash alone runs it, by GET too (a CDN can cache that URL).

``Settings.persisted_queries`` picks the mode: ``auto`` (the above), ``only`` (the allow-list:
the documents of the clients' manifest run, by hash or in full, and nothing else; clients
register nothing), ``off`` (a hash answers ``PERSISTED_QUERY_NOT_SUPPORTED``: Apollo's link
then sends full queries). The documents are in the store (``store.persisted_query``), shared by
every process; each process keeps the ones it used in a bounded LRU cache, so a hit runs no SQL.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import orjson
from cachetools import LRUCache
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLFormattedError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from deskgraph.server.operation import Document, RequestError
from deskgraph.settings import Settings
from deskgraph.store import persisted_query
from deskgraph.store.persisted_query import Source, Stored
from deskgraph.store.persisted_query_models import NAME_LENGTH

logger = logging.getLogger("deskgraph")

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"
# Apollo's clients recognise these two by message as well as by code: they must be exact.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
NOT_SUPPORTED_MESSAGE = "PersistedQueryNotSupported"
NOT_ALLOWED_MESSAGE = (
    "This server runs only the operations of its clients' manifest (persisted queries), and "
    "this one is not among them: add it to the manifest and import it with "
    "`deskgraph persisted-queries import`."
)
# As Apollo Server: a miss must not be cached (a CDN would keep answering it after the
# client registered the document).
NO_CACHE = {"Cache-Control": "private, no-cache, must-revalidate"}
VERSION = 1
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
MANIFEST_FORMAT = "apollo-persisted-query-manifest"


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


class PersistedQueries:
    """The persisted queries of one process: the protocol, over the store and an LRU cache."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.mode = settings.persisted_queries
        self.max_count = settings.persisted_query_max_count
        self.sessionmaker = sessionmaker
        self.cache: LRUCache[str, Stored] = LRUCache(settings.persisted_query_cache_size)

    async def document(self, query: str | None, extensions: dict[str, Any] | None) -> Document:
        """The document to run for a request's ``query`` and ``extensions`` (a query is a
        non-empty string or None, and None only with ``extensions.persistedQuery``)."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            assert query is not None
            if self.mode == "only" and not await self._allowed(sha256_of(query)):
                raise _not_allowed()
            return Document(query)
        if self.mode == "off":
            raise RequestError(
                200, NOT_SUPPORTED_MESSAGE, NO_CACHE, code=PERSISTED_QUERY_NOT_SUPPORTED
            )
        sha256 = _hash_of(persisted)
        if query is None:
            stored = await self._find(sha256, manifest_only=self.mode == "only")
            if stored is not None:
                return Document(stored.document)
            if self.mode == "only":
                raise _not_allowed()
            raise RequestError(200, NOT_FOUND_MESSAGE, NO_CACHE, code=PERSISTED_QUERY_NOT_FOUND)
        if sha256_of(query) != sha256:
            raise RequestError(
                400,
                "`extensions.persistedQuery.sha256Hash` is not the sha256 of `query`: hash the "
                "query's text exactly as sent (UTF-8), in hexadecimal.",
            )
        if self.mode == "only":
            if not await self._allowed(sha256):
                raise _not_allowed()  # clients register nothing: the manifest says what runs
            return Document(query)
        return Document(query, register=None if sha256 in self.cache else sha256)

    async def register(self, document: Document, operation_name: str | None) -> None:
        """Store a client's document that ran valid (``Document.register`` set)."""
        if document.register is None:
            return
        name = operation_name or _single_name(parse(document.query))  # it ran: it parses
        name = name if name and len(name) <= NAME_LENGTH else None
        async with self.sessionmaker() as session:
            stored = await persisted_query.register(
                session, document.register, document.query, name, max_count=self.max_count
            )
        if stored:
            self.cache[document.register] = Stored(
                document.register, document.query, name, Source.CLIENT
            )
        else:
            logger.warning(
                "persisted queries: %d documents registered by clients already "
                "(DESKGRAPH_PERSISTED_QUERY_MAX_COUNT): %s not stored",
                self.max_count,
                document.register,
            )

    async def refusal_over_websocket(self, query: object) -> GraphQLFormattedError | None:
        """The GraphQL error refusing an operation sent over the WebSocket, or None when it may
        run. Only ``only`` mode refuses: there every document must be the manifest's, on the
        WebSocket as over HTTP (subscriptions take no hashes: the text is checked)."""
        if self.mode != "only":
            return None
        if isinstance(query, str) and await self._allowed(sha256_of(query)):
            return None
        refused = GraphQLError(
            NOT_ALLOWED_MESSAGE, extensions={"code": PERSISTED_QUERY_NOT_ALLOWED}
        )
        return refused.formatted

    async def _allowed(self, sha256: str) -> bool:
        return await self._find(sha256, manifest_only=True) is not None

    async def _find(self, sha256: str, *, manifest_only: bool) -> Stored | None:
        stored = self.cache.get(sha256)
        # A client's document the manifest names since: the store says so, not the cache.
        if stored is None or (manifest_only and stored.source is not Source.MANIFEST):
            async with self.sessionmaker() as session:
                stored = await persisted_query.find(session, sha256)
            if stored is not None:
                self.cache[sha256] = stored
        if stored is not None and manifest_only and stored.source is not Source.MANIFEST:
            return None
        return stored


def _hash_of(persisted: object) -> str:
    if not isinstance(persisted, dict):
        raise _bad("`extensions.persistedQuery` must be an object with `version` and `sha256Hash`.")
    version = persisted.get("version")
    if isinstance(version, bool) or version != VERSION:
        raise _bad(f"Unsupported persisted query version: send `version: {VERSION}`.")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256.lower()):
        raise _bad("`extensions.persistedQuery.sha256Hash` must be a sha256 in hexadecimal.")
    return sha256.lower()


def _bad(message: str) -> RequestError:
    return RequestError(400, message)


def _not_allowed() -> RequestError:
    return RequestError(403, NOT_ALLOWED_MESSAGE, code=PERSISTED_QUERY_NOT_ALLOWED)


def valid_document(schema: GraphQLSchema, query: str, *, max_tokens: int) -> DocumentNode:
    """The document parsed and validated against ``schema`` (graphql-core's rules); raises the
    first GraphQLError found."""
    document = parse(query, max_tokens=max_tokens)
    errors = validate(schema, document)
    if errors:
        raise errors[0]
    return document


def read_manifest(text: str, schema: GraphQLSchema, *, max_tokens: int) -> list[Stored]:
    """The operations of an Apollo persisted-query manifest
    (``@apollo/generate-persisted-query-manifest``: ``{"format":
    "apollo-persisted-query-manifest", "version": 1, "operations": [{id, name, type, body}]}``),
    each checked: its body valid against ``schema``, its id the sha256 of its body. Raises
    ValueError naming the first operation that is not."""
    try:
        manifest = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"the manifest is not valid JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f'the manifest must be a JSON object with "format": "{MANIFEST_FORMAT}"')
    if manifest.get("version") != 1:
        raise ValueError('the manifest\'s "version" must be 1')
    operations = manifest.get("operations")
    if not isinstance(operations, list):
        raise ValueError('the manifest must have a list of "operations"')
    read: dict[str, Stored] = {}
    for index, operation in enumerate(operations):
        stored = _manifest_operation(index, operation, schema, max_tokens)
        read[stored.sha256] = stored
    return list(read.values())


def _manifest_operation(
    index: int, operation: object, schema: GraphQLSchema, max_tokens: int
) -> Stored:
    where = f"operation {index + 1}"
    if not isinstance(operation, dict):
        raise ValueError(f"{where} of the manifest is not an object")
    name = operation.get("name")
    if isinstance(name, str) and name:
        where = f"operation {name!r} ({where})"
    body, sha256 = operation.get("body"), operation.get("id")
    if not isinstance(body, str) or not body.strip():
        raise ValueError(f"{where}: `body` must be the operation's document")
    if not isinstance(sha256, str) or sha256.lower() != sha256_of(body):
        raise ValueError(f"{where}: `id` is not the sha256 of its body ({sha256_of(body)})")
    try:
        document = valid_document(schema, body, max_tokens=max_tokens)
    except GraphQLError as error:
        raise ValueError(f"{where} does not validate against the schema: {error.message}") from None
    if not (isinstance(name, str) and name):
        name = _single_name(document)
    return Stored(sha256.lower(), body, name[:NAME_LENGTH] if name else None, Source.MANIFEST)


def manifest_text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(
            f"cannot read {path}: {getattr(error, 'strerror', None) or error}"
        ) from None


async def import_manifest(settings: Settings, text: str, path: str) -> str:
    """`deskgraph persisted-queries import MANIFEST`: what it did, in one line."""
    from deskgraph.schema import build_schema
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    schema = build_schema(settings)._schema
    operations = read_manifest(text, schema, max_tokens=settings.max_query_tokens)
    engine = create_nullpool_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            added, known = await persisted_query.import_manifest(session, operations)
    finally:
        await engine.dispose()
    return f"imported {len(operations)} operations from {path}: {added} new, {known} stored already"


async def listing(settings: Settings, limit: int) -> list[str]:
    """`deskgraph persisted-queries list`: one line per stored document."""
    from deskgraph.store.session import create_nullpool_engine, create_sessionmaker

    engine = create_nullpool_engine(settings.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            stored = await persisted_query.list_all(session, limit=limit)
    finally:
        await engine.dispose()
    if not stored:
        return ["no persisted query"]
    lines = [f"{'sha256':<64}  {'source':<8}  name"]
    lines += [f"{s.sha256}  {s.source.value:<8}  {s.name or '-'}" for s in stored]
    return lines


def _single_name(document: DocumentNode) -> str | None:
    """The name of the document's operation, where it has one named operation."""
    names = [
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    ]
    return names[0] if len(names) == 1 else None
