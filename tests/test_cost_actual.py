"""``extensions.cost.actual`` from a plan per document (``schema.cost_actual``) agrees with the
walk it replaced (``tests/cost_reference.py``, every value visited) on generated answers: to
tricky operations (aliases, fragments on interfaces and unions, ``__typename`` aliased or not
asked, @skip, nested connections, lists sized by a variable or its default) and to operations
generated from the schema; answers as execution gives them (nulls where nullable), and
mangled (nulls, missing keys, scalars and nested lists anywhere)."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest
from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    SelectionSetNode,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    parse,
)
from hypothesis_graphql import Mode, mutations, queries

from deskgraph.schema import build_schema, cost_actual
from deskgraph.schema.cost import find_operation, root_type
from deskgraph.schema.cost_actual import result_cost
from deskgraph.schema.cost_plan import PLANS
from tests.cost_reference import reference_actual
from tests.test_fuzz import generate

ANSWERS = 40  # generated answers per operation and variables

DASHBOARD = """
query DASHBOARD($first: Int) {
  tickets(first: $first) {
    pageInfo { hasNextPage }
    edges { node {
      title team { name } assignee { name } requester { name customer { name } }
      tags { name } machine { serial }
      messages(first: 3) { edges { node { body author { __typename } } } }
    } }
  }
}
"""
ALIASES = """
query ALIASES($skip: Boolean = false) {
  two: tickets(first: 2) { edges { node { team { name } } } }
  five: tickets(first: 5) { nodes: edges { ticket: node { id } } }
  none: tickets(first: 0) { totalCount }
  skipped: tickets(first: 4) @skip(if: $skip) { edges { node { customer { name } } } }
  included: tickets(first: 4) @include(if: true) { edges @skip(if: true) { cursor } }
}
"""
FRAGMENTS = """
query FRAGMENTS($id: ID!) {
  node(id: $id) {
    kind: __typename
    ...Teams
    ... on Ticket { team { name } messages(first: 10) { edges { node { body } } } }
    ... on Node { ... on Ticket { project { name } } }
    ... on Customer {
      history(first: 5) { edges { node { ticket { ...Teams customer { name } } } } }
    }
  }
}
fragment Teams on Advisor { teams { name } primaryOrganization { name } }
"""
UNTYPED_ITEMS = """
query UNTYPED_ITEMS($ids: [ID!]!) {
  nodes(ids: $ids) {
    id
    ... on Ticket { team { id } same: messages(first: 2) { edges { node { id } } } }
    ... on Advisor { primaryOrganization { id } teams { id } }
    ... on Customer { same: history(first: 3) { edges { node { ticket { id } } } } }
  }
}
"""
NESTED = """
query NESTED($representations: [_Any!]! = [{__typename: "Ticket", id: "VGlja2V0OjE="}]) {
  _entities(representations: $representations) {
    __typename
    ... on Ticket {
      customer { history(first: 3) {
        edges { node { ticket { messages(first: 4) { edges { node { author {
          ... on Advisor { teams { name } }
          ... on CustomerUser { customer { name } }
        } } } } } } }
      } }
    }
    ... on _Entity { ... on Message { ticket { team { name } } } }
  }
  viewer { __typename }
}
"""
OPERATIONS = [
    (DASHBOARD, {"first": 50}),
    (DASHBOARD, {}),
    (ALIASES, {}),
    (ALIASES, {"skip": True}),
    (FRAGMENTS, {"id": "x"}),
    (UNTYPED_ITEMS, {"ids": ["a", "b"]}),
    (UNTYPED_ITEMS, {"ids": None}),  # not a list: the list counts once
    (NESTED, {}),  # the default list sizes the entities
    (NESTED, {"representations": None}),
    (NESTED, {"representations": [{}, {}, {}]}),
]


@cache
def schema() -> GraphQLSchema:
    return build_schema()._schema


class Answers:
    """Answers to an operation shaped as execution gives them: the fields collected for each
    item's type (@skip and @include read), nulls where nullable, lists of 0 to 4 items. Where
    ``mangled``, also what no execution gives: any value null, a key left out, a scalar for an
    object, a list in a list."""

    def __init__(self, document: DocumentNode, variables: dict[str, Any], seed: int) -> None:
        self.schema = schema()
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.random = random.Random(seed)
        self.mangled = seed % 2 == 1

    def data(self, document: DocumentNode) -> dict[str, Any]:
        operation = find_operation(document, None)
        assert operation is not None
        root = root_type(self.schema, operation)
        assert root is not None
        data: dict[str, Any] = self.object(root, [operation.selection_set])
        return data

    def value(self, kind: GraphQLOutputType, nodes: list[FieldNode]) -> Any:
        chance = self.random.random()
        if self.mangled and chance < 0.05:
            if chance < 0.03:
                return [None, "x"][self.random.randrange(2)]
            return [[self.value(kind, nodes)], [], None]
        if isinstance(kind, GraphQLNonNull):
            kind = kind.of_type
        elif chance < 0.15:
            return None
        if isinstance(kind, GraphQLList):
            return [self.value(kind.of_type, nodes) for _ in range(self.random.randrange(5))]
        if is_leaf_type(kind):
            return "leaf"
        if is_abstract_type(kind):
            kind = self.random.choice(self.schema.get_possible_types(kind))
        assert isinstance(kind, GraphQLObjectType)
        inner = [n.selection_set for n in nodes if n.selection_set is not None]
        return self.object(kind, inner)

    def object(self, kind: GraphQLObjectType, selection_sets: list[SelectionSetNode]) -> Any:
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self.collect(kind, selection_set, fields, visited)
        answer: dict[str, Any] = {}
        for key, nodes in fields.items():
            if self.mangled and self.random.random() < 0.05:
                continue
            name = nodes[0].name.value
            if name == "__typename":
                answer[key] = kind.name
            elif name in kind.fields:
                answer[key] = self.value(kind.fields[name].type, nodes)
        return answer

    def collect(
        self,
        kind: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fields: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                if selection.name.value in visited:
                    continue
                visited.add(selection.name.value)
                fragment = self.fragments[selection.name.value]
                condition: NamedTypeNode | None = fragment.type_condition
                inner = fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, inner = selection.type_condition, selection.selection_set
            if condition is not None:
                applies = self.schema.get_type(condition.name.value)
                if applies is not kind and not (
                    is_abstract_type(applies) and self.schema.is_sub_type(applies, kind)
                ):
                    continue
            self.collect(kind, inner, fields, visited)

    def included(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            if directive.name.value not in ("skip", "include"):
                continue
            given = directive.arguments[0].value
            if isinstance(given, VariableNode):
                condition = bool(self.variables.get(given.name.value))
            else:
                assert isinstance(given, BooleanValueNode)
                condition = given.value
            if condition is (directive.name.value == "skip"):
                return False
        return True


def assert_agrees(query: str, variables: dict[str, Any]) -> None:
    document = parse(query)
    operation = find_operation(document, None)
    assert operation is not None
    answers = [Answers(document, variables, seed).data(document) for seed in range(ANSWERS)]
    for data in answers:
        expected = reference_actual(schema(), document, None, variables, data)
        actual = result_cost(schema(), document, operation, None, variables, data)
        assert actual == expected, data
    # Each answer read again, from the plan in the cache: the same costs.
    for data in answers:
        expected = reference_actual(schema(), document, None, variables, data)
        assert result_cost(schema(), document, operation, None, variables, data) == expected


@pytest.mark.parametrize(("query", "variables"), OPERATIONS)
def test_cost_actual_agrees_with_the_walk_on_tricky_operations(
    query: str, variables: dict[str, Any]
) -> None:
    assert_agrees(query, variables)


@cache
def generated() -> list[str]:
    return generate(queries, Mode.POSITIVE, 30) + generate(mutations, Mode.POSITIVE, 15)


def test_cost_actual_agrees_with_the_walk_on_generated_operations() -> None:
    for query in generated():
        assert_agrees(query, {})


def test_cost_actual_plans_once_per_document_and_list_variables() -> None:
    document = parse(UNTYPED_ITEMS)
    operation = find_operation(document, None)
    assert operation is not None
    data = {"nodes": [{"id": "a"}, {"id": "b"}, None]}
    costs = [
        result_cost(schema(), document, operation, None, variables, data)
        for variables in ({"ids": ["a"]}, {"ids": ["b", "c"]}, {"ids": None})
    ]
    # sized by the list sent: 1 + 3 items x (1 + 0); sent null: a list counted once
    assert costs == [4, 4, 1]
    keys = [key for key in PLANS.entries if key[1] == id(document)]
    assert [key[3] for key in keys] == [("ids",), ()]


def dashboard_answer(tickets: int, tags: int) -> dict[str, Any]:
    message = {"node": {"body": "b", "author": {"__typename": "Advisor"}}}
    node = {
        "title": "t",
        "team": {"name": "n"},
        "assignee": None,
        "requester": {"name": "n", "customer": {"name": "n"}},
        "tags": [{"name": "n"}] * tags,
        "machine": {"serial": "s"},
        "messages": {"edges": [message] * 3},
    }
    edges = [{"node": node}] * tickets
    return {"tickets": {"pageInfo": {"hasNextPage": False}, "edges": edges}}


@pytest.mark.parametrize("tags", [0, 5])
def test_cost_actual_visits_only_objects_with_something_costed_below(
    monkeypatch: pytest.MonkeyPatch, tags: int
) -> None:
    """An object is visited only where something costed is below it: a ticket's edge, node,
    requester (its customer), messages, and each message's edge and node (its author); its
    team, tags, machine, the requester's customer or a message's author are counted, never
    visited, however many."""
    document = parse(DASHBOARD)
    operation = find_operation(document, None)
    assert operation is not None
    visited: list[Any] = []
    counted = cost_actual.object_cost

    def object_cost(selection: Any, value: Any) -> int:
        visited.append(value)
        return counted(selection, value)

    monkeypatch.setattr(cost_actual, "object_cost", object_cost)
    data = dashboard_answer(50, tags)
    cost = result_cost(schema(), document, operation, None, {"first": 50}, data)
    assert cost == reference_actual(schema(), document, None, {"first": 50}, data)
    assert len(visited) == 2 + 50 * (4 + 3 * 2)  # the answer and the page, then per ticket
