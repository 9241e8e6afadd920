"""The schema fuzzer: operations generated from the schema (hypothesis-graphql: queries and
mutations, valid and invalid, with any strings, NUL characters included) sent through the
HTTP app as every kind of viewer. Whatever they ask, the answer is JSON whose every error has
a known ``extensions.code``, and never INTERNAL_SERVER_ERROR.

The operations are generated once, deterministically (``derandomize``), and every one is
sent, so a failure lists every operation that failed rather than a shrunk one."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from deskgraph.schema import NODE_TYPES, build_schema
from tests.conftest import EVERY_VIEWER, Api, gid

pytestmark = pytest.mark.compiler_verified  # CI's differential run: see tests/compiler_counts.py

# Operations per kind and mode, sent as every persona (about 20 s on SQLite);
# DESKGRAPH_FUZZ_SCALE=50 runs fifty times as many (the 13,500-operation kind of run).
SCALE = float(os.environ.get("DESKGRAPH_FUZZ_SCALE", "1"))
EXAMPLES = {
    (queries, Mode.POSITIVE): round(40 * SCALE),
    (mutations, Mode.POSITIVE): round(25 * SCALE),
    (queries, Mode.NEGATIVE): round(15 * SCALE),
    (mutations, Mode.NEGATIVE): round(10 * SCALE),
}
KNOWN_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "UPSTREAM_UNAVAILABLE",
    "QUERY_TOO_COMPLEX",
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_REQUEST",
}
TYPE_NAMES = [cls.__name__ for cls in NODE_TYPES]


def _field(name: str, value: graphql.ValueNode) -> graphql.ObjectFieldNode:
    return graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)


# IDs that name demo rows as often as strings that name nothing.
GLOBAL_IDS = st.one_of(
    st.builds(
        gid,
        st.sampled_from(TYPE_NAMES),
        st.integers(min_value=-1, max_value=200),
    ),
    st.text(max_size=12),
)
REPRESENTATIONS = st.one_of(
    st.builds(
        lambda typename, node_id: nodes.Object(
            [_field("__typename", typename), _field("id", node_id)]
        ),
        st.one_of(
            st.sampled_from(TYPE_NAMES).map(nodes.String),
            st.integers().map(nodes.Int),
            st.just(nodes.List([])),
        ),
        GLOBAL_IDS.map(nodes.String),
    ),
    st.text(max_size=8).map(nodes.String),
    st.integers().map(nodes.Int),
)
CUSTOM_SCALARS = {
    "DateTime": st.one_of(
        st.datetimes().map(lambda moment: moment.isoformat()), st.text(max_size=12)
    ).map(nodes.String),
    "_Any": REPRESENTATIONS,
}


def generate(make: Any, mode: Mode, count: int) -> list[str]:
    strategy = make(build_schema()._schema, custom_scalars=CUSTOM_SCALARS, mode=mode)
    found: list[str] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(operation: str) -> None:
        found.append(operation)

    collect()
    return found


@cache
def operations() -> list[str]:
    return [
        operation
        for (make, mode), count in EXAMPLES.items()
        for operation in generate(make, mode, count)
    ]


def problems_of(status: int, content_type: str, body: Any) -> list[str]:
    if not content_type.startswith("application/json"):
        return [f"answered {content_type} ({status})"]
    if not isinstance(body, dict) or not ({"data", "errors"} & set(body)):
        return [f"answered {body!r} ({status})"]
    problems = []
    for error in body.get("errors", ()):
        code = (error.get("extensions") or {}).get("code")
        if code not in KNOWN_CODES:
            problems.append(f"{code}: {error.get('message')} at {error.get('path')}")
    return problems


@pytest.mark.parametrize("persona", EVERY_VIEWER)
async def test_generated_operations_every_viewer_answer_json_with_known_codes(
    api: Api, persona: str | None
) -> None:
    failures = []
    for operation in operations():
        response = await api.http.post(
            "/graphql", json={"query": operation}, headers=api.headers(persona)
        )
        content_type = response.headers.get("content-type", "")
        body = response.json() if content_type.startswith("application/json") else None
        problems = problems_of(response.status_code, content_type, body)
        if problems:
            failures.append(f"{operation}\n  -> {'; '.join(problems)}")
    assert failures == [], f"{len(failures)} operations failed:\n" + "\n".join(failures)
