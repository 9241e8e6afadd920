"""The pieces of OData v4 the Dataverse adapter and its simulator both speak.

- Literals and filters: a string literal is quoted with ``'`` and a ``'`` inside it doubled
  (``'o''brien'``); a GUID is written bare. :func:`parse_filter` reads the subset of ``$filter``
  the adapter sends (``eq``, ``ne``, ``and``, ``or``, ``not``, parentheses, ``contains``,
  ``startswith``, ``endswith``, string, GUID, number, ``true``/``false``/``null`` literals)
  into a predicate, for the simulator. As in Dataverse, the three functions take T-SQL LIKE
  wildcards in their value (``%``, ``_``, ``[...]``); ``eq`` compares literally.
- ``$batch`` (OData 4.0 section 11.7, multipart/mixed): every part is an ``application/http``
  message with ``Content-Transfer-Encoding: binary``; the request's parts hold a request line
  (``GET {url} HTTP/1.1``), headers and a body, the response's parts a status line. Lines end
  in CRLF; the boundary comes from the Content-Type.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

CRLF = b"\r\n"
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_FILTER_LENGTH = 65_536  # Dataverse's bound on a URL inside a $batch


def is_guid(value: str) -> bool:
    return GUID.fullmatch(value) is not None


def string_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# -- $filter -----------------------------------------------------------------------------------


class FilterError(ValueError):
    """The filter is not in the subset: the message is what Dataverse would say."""


Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<guid>"
    + GUID.pattern
    + r")(?![\w-])|(?P<number>-?\d+(?:\.\d+)?)(?![\w.])|(?P<name>[A-Za-z_][\w.]*)|(?P<punct>[(),]))"
)


@dataclass
class _Tokens:
    items: list[tuple[str, str]]
    position: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.position] if self.position < len(self.items) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise FilterError("Syntax error: the $filter expression ends too early.")
        self.position += 1
        return token

    def take_word(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] == word:
            self.position += 1
            return True
        return False


def _tokens(text: str) -> _Tokens:
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError("The $filter expression is too long.")
    items: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].isspace():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"Syntax error at position {position} in '{text}'.")
        kind = match.lastgroup
        assert kind is not None
        items.append((kind, match.group(kind)))
        position = match.end()
    return _Tokens(items)


def parse_filter(text: str, properties: frozenset[str], entity: str) -> Predicate:
    """A predicate over a row (attribute name -> value) for ``$filter=text``. Strings compare
    case-insensitively, as Dataverse's default collation does. Raises :class:`FilterError` for
    anything outside the subset or a property ``entity`` does not have."""
    tokens = _tokens(text)
    predicate = _or(tokens, properties, entity)
    if tokens.peek() is not None:
        raise FilterError(f"Syntax error: unexpected '{tokens.take()[1]}' in '{text}'.")
    return predicate


def _or(tokens: _Tokens, properties: frozenset[str], entity: str) -> Predicate:
    terms = [_and(tokens, properties, entity)]
    while tokens.take_word("or"):
        terms.append(_and(tokens, properties, entity))
    return terms[0] if len(terms) == 1 else (lambda row: any(term(row) for term in terms))


def _and(tokens: _Tokens, properties: frozenset[str], entity: str) -> Predicate:
    terms = [_unary(tokens, properties, entity)]
    while tokens.take_word("and"):
        terms.append(_unary(tokens, properties, entity))
    return terms[0] if len(terms) == 1 else (lambda row: all(term(row) for term in terms))


def _unary(tokens: _Tokens, properties: frozenset[str], entity: str) -> Predicate:
    if tokens.take_word("not"):
        inner = _unary(tokens, properties, entity)
        return lambda row: not inner(row)
    if tokens.peek() == ("punct", "("):
        tokens.take()
        inner = _or(tokens, properties, entity)
        if tokens.take() != ("punct", ")"):
            raise FilterError("Syntax error: ')' expected.")
        return inner
    if tokens.peek() in _FUNCTIONS and tokens.items[tokens.position + 1 :][:1] == [("punct", "(")]:
        return _function(tokens, properties, entity)
    return _comparison(tokens, properties, entity)


_FUNCTIONS = {("name", "contains"), ("name", "startswith"), ("name", "endswith")}


def _function(tokens: _Tokens, properties: frozenset[str], entity: str) -> Predicate:
    function = tokens.take()[1]
    tokens.take()
    name = _property(tokens, properties, entity)
    if tokens.take() != ("punct", ","):
        raise FilterError(f"Syntax error: ',' expected in {function}().")
    kind, text = tokens.take()
    if kind != "string" or tokens.take() != ("punct", ")"):
        raise FilterError(f"Syntax error: {function}() takes a property and a string.")
    pattern = _like(text[1:-1].replace("''", "'"))
    pattern = {"contains": f".*{pattern}.*", "startswith": f"{pattern}.*"}.get(
        function, f".*{pattern}"
    )
    compiled = re.compile(pattern, re.IGNORECASE | re.DOTALL)
    return lambda row: isinstance(row.get(name), str) and bool(compiled.fullmatch(row[name]))


def _like(value: str) -> str:
    """A T-SQL LIKE pattern as a regular expression."""
    out = []
    position = 0
    while position < len(value):
        char = value[position]
        if char == "[" and "]" in value[position + 1 :]:
            end = value.index("]", position + 1)
            inside = value[position + 1 : end]
            negated = inside.startswith("^")
            body = re.escape(inside[1:] if negated else inside).replace("\\-", "-")
            out.append(f"[{'^' if negated else ''}{body}]")
            position = end + 1
            continue
        out.append({"%": ".*", "_": "."}.get(char) or re.escape(char))
        position += 1
    return "".join(out)


def _property(tokens: _Tokens, properties: frozenset[str], entity: str) -> str:
    kind, name = tokens.take()
    if kind != "name":
        raise FilterError(f"Syntax error: a property name expected, not '{name}'.")
    if name not in properties:
        raise FilterError(
            f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{entity}'."
        )
    return name


def _comparison(tokens: _Tokens, properties: frozenset[str], entity: str) -> Predicate:
    name = _property(tokens, properties, entity)
    operator = tokens.take()
    if operator not in (("name", "eq"), ("name", "ne")):
        raise FilterError(f"Syntax error: the operator '{operator[1]}' is not supported here.")
    value = _literal(tokens.take())
    if operator[1] == "eq":
        return lambda row: _equal(row.get(name), value)
    return lambda row: not _equal(row.get(name), value)


def _literal(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "guid":
        return text.lower()
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "name" and text in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[text]
    raise FilterError(f"Syntax error: a literal expected, not '{text}'.")


def _equal(stored: Any, wanted: Any) -> bool:
    if isinstance(stored, str) and isinstance(wanted, str):
        return stored.casefold() == wanted.casefold()
    return bool(stored == wanted)


# -- $batch ------------------------------------------------------------------------------------


class BatchError(ValueError):
    """A multipart body deskgraph cannot read."""


@dataclass(frozen=True)
class HttpMessage:
    """One part of a batch: ``start`` is the request line or the status line."""

    start: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


def new_boundary(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4()}"


def boundary_of(content_type: str | None) -> str:
    """The boundary of a ``multipart/mixed`` Content-Type header."""
    kind, _, parameters = (content_type or "").partition(";")
    if kind.strip().lower() != "multipart/mixed":
        raise BatchError(f"not multipart/mixed but {kind.strip() or 'nothing'}")
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value.strip('"'):
            return value.strip('"')
    raise BatchError("multipart/mixed without a boundary")


def write_batch(boundary: str, messages: Sequence[HttpMessage]) -> bytes:
    """A multipart/mixed body of ``application/http`` parts."""
    out = bytearray()
    for message in messages:
        out += b"--" + boundary.encode() + CRLF
        out += b"Content-Type: application/http" + CRLF
        out += b"Content-Transfer-Encoding: binary" + CRLF + CRLF
        out += message.start.encode() + CRLF
        for name, value in message.headers.items():
            out += f"{name}: {value}".encode() + CRLF
        out += CRLF + message.body + CRLF
    out += b"--" + boundary.encode() + b"--" + CRLF
    return bytes(out)


def read_batch(content_type: str | None, body: bytes) -> list[HttpMessage]:
    """The ``application/http`` parts of a multipart/mixed body, in order. A part that is
    itself multipart (a change set) is refused: the adapter never sends one."""
    delimiter = b"--" + boundary_of(content_type).encode()
    chunks = body.split(delimiter)
    if len(chunks) < 2 or not chunks[-1].startswith(b"--"):
        raise BatchError("the multipart body has no closing delimiter")
    messages = []
    for chunk in chunks[1:-1]:
        part = chunk.removeprefix(CRLF).removesuffix(CRLF)
        _start, part_headers, content = _split_head(part)
        kind = part_headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/http":
            raise BatchError(f"a batch part of type {kind or 'nothing'}, not application/http")
        start, headers, message_body = _split_head(content, start_line=True)
        messages.append(HttpMessage(start, headers, message_body))
    return messages


def _split_head(data: bytes, *, start_line: bool = False) -> tuple[Any, dict[str, str], bytes]:
    head, separator, rest = data.partition(CRLF + CRLF)
    if not separator:
        head, rest = data.removesuffix(CRLF), b""
    lines = head.decode("utf-8", "replace").split("\r\n")
    start = lines.pop(0) if start_line else None
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise BatchError("a batch part has a header line without a colon")
        headers[name.strip() if start_line else name.strip().lower()] = value.strip()
    if start_line:
        return start, headers, rest
    return None, headers, rest


def status_of(message: HttpMessage) -> int:
    """The status code of a response part (``HTTP/1.1 200 OK``)."""
    parts = message.start.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise BatchError("a batch response part without a status line")
    return int(parts[1])
