"""Parsing a document once per process, with error locations found in O(log n).

graphql-core finds the line and column of every error by scanning the document from its start
(``Source.get_location``): on a large document with many errors that is quadratic, and a
response with a few thousand FORBIDDEN fields spent more time locating them than resolving
them. :class:`IndexedSource` indexes the line starts once, on the first error."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from functools import cache, cached_property, lru_cache
from typing import Any, Generic, TypeVar

from cachetools import LRUCache
from graphql import DocumentNode, Source, SourceLocation, parse
from strawberry.extensions import ParserCache

T = TypeVar("T")

_NEWLINE = re.compile(r"\r\n|[\n\r]")  # GraphQL's line terminators, as graphql-core reads them


class IndexedSource(Source):
    @cached_property
    def _newlines(self) -> tuple[list[int], list[int]]:
        """Where each line terminator starts, and where the line after it starts."""
        found = list(_NEWLINE.finditer(self.body))
        return [match.start() for match in found], [match.end() for match in found]

    def get_location(self, position: int) -> SourceLocation:
        # graphql-core's answer: the line after every terminator that starts before
        # ``position``.
        starts, line_starts = self._newlines
        passed = bisect_left(starts, position)
        line_start = line_starts[passed - 1] if passed else 0
        return SourceLocation(passed + 1, position + 1 - line_start)


def parse_indexed(query: str, **options: Any) -> DocumentNode:
    return parse(IndexedSource(query), **options)


@cache
def parse_cache(maxsize: int) -> Callable[..., DocumentNode]:
    """The process's LRU of parsed documents of that size (its ``cache_info`` is read by the
    benchmark)."""
    return lru_cache(maxsize=maxsize)(parse_indexed)


class IndexedParserCache(ParserCache):
    """Strawberry's ``ParserCache``, parsing into an :class:`IndexedSource`."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.cached_parse_document = parse_cache(maxsize)


class PerDocument(Generic[T]):
    """``compute(document)`` worked out once per parsed document: the parse cache hands the
    same document object to every request of the same text, so a check that depends on the
    document alone need not walk it again. Keyed by identity, each entry keeping its
    document (an id is never reused while it is kept); as many as the parse cache holds."""

    def __init__(self, compute: Callable[[DocumentNode], T], maxsize: int = 512) -> None:
        self.compute = compute
        self._cache: LRUCache[int, tuple[DocumentNode, T]] = LRUCache(maxsize=maxsize)

    def __call__(self, document: DocumentNode) -> T:
        cached = self._cache.get(id(document))
        if cached is None or cached[0] is not document:
            cached = self._cache[id(document)] = (document, self.compute(document))
        return cached[1]
