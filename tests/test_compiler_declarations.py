"""The compiler's declarations (docs/compiler.md §3): each domain declares its types beside its
loaders, and the registry collects them. Fast checks that need no database."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from graphql import GraphQLObjectType, GraphQLUnionType, get_named_type

from deskgraph.loaders.base import table_of
from deskgraph.loaders.compiled_declarations import COMPILED, DOMAINS, _collected
from deskgraph.loaders.compiled_types import CompiledType, OneOf, Related, declared
from deskgraph.schema import build_schema
from deskgraph.store import models

GRAPHQL = build_schema()._schema


def test_the_registry_holds_every_domains_declarations_and_nothing_else() -> None:
    from_domains = {name for domain in DOMAINS for name in domain.DECLARED}
    assert set(COMPILED) == from_domains
    for domain in DOMAINS:
        for name, declaration in domain.DECLARED.items():
            assert COMPILED[name] is declaration, name
            assert declaration.name == name


def test_a_type_two_domains_declare_is_refused() -> None:
    tag = CompiledType("Tag", table_of(models.Tag), {"name": "name"})
    one = SimpleNamespace(DECLARED=declared(tag))
    other = SimpleNamespace(DECLARED=declared(tag))
    with pytest.raises(RuntimeError, match="declared by two domains: Tag"):
        _collected(cast(Any, (one, other)))
    assert set(_collected(cast(Any, (one,)))) == {"Tag"}


def _targets(relation: Related | OneOf) -> list[Related]:
    return list(relation.members) if isinstance(relation, OneOf) else [relation]


@pytest.mark.parametrize("name", sorted(COMPILED))
def test_every_declared_name_is_a_field_of_its_graphql_type(name: str) -> None:
    declaration = COMPILED[name]
    graphql_type = GRAPHQL.get_type(name)
    assert isinstance(graphql_type, GraphQLObjectType), name
    fields = graphql_type.fields
    declared_names = [
        *declaration.columns,
        *declaration.related,
        *declaration.executed,
        *declaration.built,
    ]
    assert len(declared_names) == len(set(declared_names)), f"{name}: a field declared twice"
    for field in declared_names:
        assert field in fields, f"{name}.{field} is no field of the schema"
    for field, relation in declaration.related.items():
        answered = get_named_type(fields[field].type)
        if any(target.page for target in _targets(relation)):  # a connection: its edges' nodes
            edges = get_named_type(cast(GraphQLObjectType, answered).fields["edges"].type)
            answered = get_named_type(cast(GraphQLObjectType, edges).fields["node"].type)
        members = (
            {member.name for member in answered.types}
            if isinstance(answered, GraphQLUnionType)
            else {answered.name}
        )
        for target in _targets(relation):
            assert target.target in COMPILED, f"{name}.{field}: {target.target} is not declared"
            assert target.target in members, f"{name}.{field} answers {members}"
    for column in declaration.columns.values():
        if isinstance(column, str):
            assert column in declaration.table.c, f"{name}: no column {column}"
