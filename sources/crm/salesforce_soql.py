"""The subset of SOQL and SOSL the Salesforce simulator understands, parsed properly.

The simulator must refuse what Salesforce refuses, or a query the adapter builds wrongly (an
unescaped quote, a clause Salesforce does not have) would pass here and fail in production.
So this is a tokenizer and a recursive-descent parser, not pattern matching:

- SOQL: ``SELECT f, Rel.f FROM Object [WHERE cond] [ORDER BY f [ASC|DESC]] [LIMIT n]``, where
  ``cond`` combines ``f = lit``, ``f != lit`` and ``f [NOT] IN (lit, ...)`` with ``AND``, ``OR``
  and parentheses; literals are quoted strings (with Salesforce's backslash escapes), numbers,
  ``true``, ``false`` and ``null``.
- SOSL: ``FIND {terms} [IN ALL|PHONE|EMAIL|NAME FIELDS] RETURNING Object(f, ... [ORDER BY f]
  [LIMIT n]), ... [LIMIT n]``, where ``terms`` are words or ``"phrases"`` joined by ``OR``, and
  every reserved character inside them is escaped with a backslash.

Anything else raises :class:`MalformedQuery`, which the simulator answers as Salesforce does
(HTTP 400, ``MALFORMED_QUERY`` or ``MALFORMED_SEARCH``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The escapes Salesforce allows inside a SOQL string literal.
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ESCAPES |= {"_": "\\_", "%": "\\%"}  # kept escaped: they only mean something to LIKE
SOSL_RESERVED = frozenset("?&|!{}[]()^~*:\\\"'+-")
MAX_SEARCH_TERM_LENGTH = 4000

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)
    | (?P<op>!=|=)
    | (?P<punct>[(),])
    """,
    re.VERBOSE | re.DOTALL,
)

Literal = str | int | float | bool | None


class MalformedQuery(ValueError):
    """The text is not in the subset (or not SOQL/SOSL at all)."""


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str  # "=", "!=", "IN", "NOT IN"
    values: tuple[Literal, ...]


@dataclass(frozen=True)
class Junction:
    op: str  # "AND", "OR"
    parts: tuple[Condition, ...]


Condition = Comparison | Junction


@dataclass(frozen=True)
class Select:
    fields: tuple[str, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[str, bool] | None = None  # the field, and whether descending
    limit: int | None = None


@dataclass(frozen=True)
class Returning:
    sobject: str
    fields: tuple[str, ...]
    order_by: tuple[str, bool] | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Search:
    terms: tuple[str, ...]
    scope: str  # "ALL", "PHONE", "EMAIL", "NAME"
    returning: tuple[Returning, ...]
    limit: int | None = None


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    value: Literal = None


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise MalformedQuery(f"unexpected token: '{text[position : position + 10]}'")
        position = match.end()
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "space":
            continue
        if kind == "string":
            tokens.append(_Token("literal", raw, _unescape(raw[1:-1])))
        elif kind == "number":
            tokens.append(_Token("literal", raw, float(raw) if "." in raw else int(raw)))
        elif kind == "name" and raw.lower() in ("true", "false", "null"):
            tokens.append(_Token("literal", raw, None if raw.lower() == "null" else raw == "true"))
        else:
            tokens.append(_Token(kind, raw))
    return tokens


def _unescape(body: str) -> str:
    out: list[str] = []
    characters = iter(body)
    for character in characters:
        if character != "\\":
            out.append(character)
            continue
        escaped = next(characters, "")
        if escaped not in _ESCAPES:
            raise MalformedQuery(f"Invalid string literal '{body}': illegal escape sequence")
        out.append(_ESCAPES[escaped])
    return "".join(out)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise MalformedQuery("unexpected end of query")
        self.position += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or token.kind != "name" or token.text.upper() != word:
                return False
        return True

    def keyword(self, *words: str) -> None:
        if not self.at_keyword(*words):
            token = self.peek()
            found = "end of query" if token is None else f"'{token.text}'"
            raise MalformedQuery(f"expecting '{' '.join(words)}', unexpected token: {found}")
        self.position += len(words)

    def punct(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise MalformedQuery(f"expecting '{text}', unexpected token: '{token.text}'")

    def name(self) -> str:
        token = self.next()
        if token.kind != "name":
            raise MalformedQuery(f"unexpected token: '{token.text}'")
        return token.text

    def end(self) -> None:
        token = self.peek()
        if token is not None:
            raise MalformedQuery(f"unexpected token: '{token.text}'")

    def fields(self) -> tuple[str, ...]:
        fields = [self.name()]
        while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
            self.next()
            fields.append(self.name())
        if len({field.lower() for field in fields}) != len(fields):
            raise MalformedQuery("duplicate field selected")
        return tuple(fields)

    def order_and_limit(self) -> tuple[tuple[str, bool] | None, int | None]:
        order_by: tuple[str, bool] | None = None
        limit: int | None = None
        if self.at_keyword("ORDER", "BY"):
            self.keyword("ORDER", "BY")
            field = self.name()
            descending = False
            if self.at_keyword("DESC") or self.at_keyword("ASC"):
                descending = self.next().text.upper() == "DESC"
            order_by = (field, descending)
        if self.at_keyword("LIMIT"):
            self.keyword("LIMIT")
            token = self.next()
            if not isinstance(token.value, int) or isinstance(token.value, bool):
                raise MalformedQuery(f"unexpected token: '{token.text}'")
            limit = token.value
        return order_by, limit

    def condition(self) -> Condition:
        parts = [self.conjunction()]
        while self.at_keyword("OR"):
            self.next()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Junction("OR", tuple(parts))

    def conjunction(self) -> Condition:
        parts = [self.comparison()]
        while self.at_keyword("AND"):
            self.next()
            parts.append(self.comparison())
        return parts[0] if len(parts) == 1 else Junction("AND", tuple(parts))

    def comparison(self) -> Condition:
        token = self.peek()
        if token is not None and token.text == "(":
            self.next()
            inner = self.condition()
            self.punct(")")
            return inner
        field = self.name()
        if self.at_keyword("NOT", "IN") or self.at_keyword("IN"):
            op = "NOT IN" if self.at_keyword("NOT") else "IN"
            self.position += len(op.split())
            self.punct("(")
            values = [self.literal()]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                values.append(self.literal())
            self.punct(")")
            return Comparison(field, op, tuple(values))
        operator = self.next()
        if operator.kind != "op":
            raise MalformedQuery(f"unexpected token: '{operator.text}'")
        return Comparison(field, operator.text, (self.literal(),))

    def literal(self) -> Literal:
        token = self.next()
        if token.kind != "literal":
            raise MalformedQuery(f"unexpected token: '{token.text}'")
        return token.value


def parse_soql(text: str) -> Select:
    parser = _Parser(_tokens(text))
    parser.keyword("SELECT")
    fields = parser.fields()
    parser.keyword("FROM")
    sobject = parser.name()
    where = None
    if parser.at_keyword("WHERE"):
        parser.next()
        where = parser.condition()
    order_by, limit = parser.order_and_limit()
    parser.end()
    return Select(fields, sobject, where, order_by, limit)


def parse_sosl(text: str) -> Search:
    stripped = text.lstrip()
    if stripped[:4].upper() != "FIND" or not stripped[4:].lstrip().startswith("{"):
        raise MalformedQuery("expecting 'FIND {'")
    body_start = stripped.index("{") + 1
    terms, body_end = _search_terms(stripped, body_start)
    if body_end - body_start > MAX_SEARCH_TERM_LENGTH:
        raise MalformedQuery(f"search term longer than {MAX_SEARCH_TERM_LENGTH} characters")
    parser = _Parser(_tokens(stripped[body_end + 1 :]))
    scope = "ALL"
    if parser.at_keyword("IN"):
        parser.next()
        scope = parser.name().upper()
        if scope not in ("ALL", "PHONE", "EMAIL", "NAME"):
            raise MalformedQuery(f"unexpected token: '{scope}'")
        parser.keyword("FIELDS")
    parser.keyword("RETURNING")
    returning = [_returning(parser)]
    while parser.peek() is not None and parser.peek().text == ",":  # type: ignore[union-attr]
        parser.next()
        returning.append(_returning(parser))
    limit = None
    if parser.at_keyword("LIMIT"):
        _, limit = parser.order_and_limit()
    parser.end()
    return Search(terms, scope, tuple(returning), limit)


def _returning(parser: _Parser) -> Returning:
    sobject = parser.name()
    token = parser.peek()
    if token is None or token.text != "(":
        return Returning(sobject, ("Id",))
    parser.next()
    fields = parser.fields()
    order_by, limit = parser.order_and_limit()
    parser.punct(")")
    return Returning(sobject, fields, order_by, limit)


def _search_terms(text: str, start: int) -> tuple[tuple[str, ...], int]:
    """The terms between ``FIND {`` and its closing brace, and where that brace is."""
    terms: list[str] = []
    current: list[str] = []
    quoted = False
    position = start
    while position < len(text):
        character = text[position]
        position += 1
        if character == "\\":
            if position >= len(text):
                break
            current.append(text[position])
            position += 1
        elif character == '"':
            quoted = not quoted
        elif quoted:
            current.append(character)
        elif character == "}":
            _add_term(terms, "".join(current))
            return _or_terms(terms), position - 1
        elif character in SOSL_RESERVED:
            raise MalformedQuery(f"unescaped reserved character '{character}' in the search")
        elif character.isspace():
            _add_term(terms, "".join(current))
            current = []
        else:
            current.append(character)
    raise MalformedQuery("missing '}' after the search term")


def _add_term(terms: list[str], term: str) -> None:
    if term:
        terms.append(term)


def _or_terms(words: list[str]) -> tuple[str, ...]:
    """Terms joined by ``OR`` (the only operator of the subset)."""
    if not words or len(words) % 2 == 0:
        raise MalformedQuery("a search needs terms joined by OR")
    terms = words[0::2]
    if any(word != "OR" for word in words[1::2]):
        raise MalformedQuery("only OR may join search terms")
    return tuple(terms)
