"""HTTP batching (Apollo's BatchHttpLink): a POST body that is a JSON array of operations. At
most ``Settings.max_batch_size`` of them, together costing at most ``Settings.batch_cost_limit``
(each is also bounded by ``max_query_cost`` alone, as a single request is)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError, parse

from deskgraph.schema.cost import operation_cost
from deskgraph.server.operation import Prepared, RequestError
from deskgraph.settings import Settings

BATCH_TOO_LARGE = "BATCH_TOO_LARGE"


def batch_entries(raw: list[Any], settings: Settings) -> list[Any]:
    """A batch's entries, refused as a whole when there are none or too many."""
    most = settings.max_batch_size
    if not raw:
        raise RequestError(400, "The batch is empty: send at least one operation.")
    if len(raw) > most:
        raise RequestError(
            400,
            f"A batch holds at most {most} operations; this one has {len(raw)}: "
            "send the rest in another request.",
            code=BATCH_TOO_LARGE,
        )
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise RequestError(
                400,
                f"Each operation of a batch must be a JSON object: operation {index + 1} is not.",
            )
    return raw


def batch_cost(schema: strawberry.Schema, settings: Settings, batch: list[Prepared]) -> int:
    """What a batch's operations cost together, in schema.cost's model (each is also refused
    alone above ``max_query_cost``, as a single request is)."""
    return sum(prepared_cost(schema, settings, prepared) for prepared in batch)


def prepared_cost(schema: strawberry.Schema, settings: Settings, prepared: Prepared) -> int:
    """What one operation costs in schema.cost's model, before it runs (the batch's limit, the
    rate limits)."""
    operation = prepared.operation
    return document_cost(
        schema, settings, prepared.document.query, operation.operation_name, operation.variables
    )


def document_cost(
    schema: strawberry.Schema,
    settings: Settings,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int:
    """What an operation of ``query`` costs in schema.cost's model, before it runs. Documents
    are only parsed here: the model reads unvalidated documents safely (unknown fields cost
    nothing, a fragment cycle costs nothing while in progress), and graphql-core's validation
    took 17 ms an operation on this schema. A document that does not parse (graphql-core also
    refuses one nested too deeply) counts 0: it fails by itself when it runs."""
    try:
        document = parse(query, no_location=True, max_tokens=settings.max_query_tokens)
        return operation_cost(
            schema._schema,
            document,
            operation_name,
            variables,
            max_page_size=settings.max_page_size,
        )
    except GraphQLError:
        return 0
