"""The committed SDL and the schema's documentation."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from deskgraph.schema import build_schema, export_sdl

ROOT = Path(__file__).resolve().parent.parent


def test_schema_graphql_is_up_to_date() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == export_sdl(), "schema.graphql is stale: run `deskgraph export-schema`"


def test_every_type_and_field_is_described() -> None:
    schema = build_schema()._schema
    missing = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if name not in {"Query", "Mutation"} and not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, field in type_.fields.items() if not field.description]
        if isinstance(type_, GraphQLEnumType) and not type_.description:
            missing.append(name)
    assert missing == []


def test_every_node_type_implements_node() -> None:
    schema = build_schema()._schema
    node = schema.type_map["Node"]
    implementations = {t.name for t in schema.get_possible_types(node)}  # type: ignore[arg-type]
    assert implementations == {
        "Organization", "Team", "Advisor", "Tag", "Customer", "CustomerUser",
        "Machine", "Ticket", "Message", "TimeEntry",
    }  # fmt: skip
