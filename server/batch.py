"""HTTP batching (Apollo's BatchHttpLink): a POST body that is a JSON array of operations. At
most ``Settings.max_batch_size`` of them, together costing at most ``Settings.batch_cost_limit``
(each is also bounded by ``max_query_cost`` alone, as a single request is)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from deskgraph.schema.cost import operation_cost
from deskgraph.server.operation import Prepared, RequestError
from deskgraph.server.persisted import valid_document
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
    """What a batch's operations cost together (schema.cost's model, as each is refused by
    alone); a document that does not parse or validate counts 0 here: it fails by itself."""
    total = 0
    for prepared in batch:
        try:
            document = valid_document(
                schema._schema, prepared.document.query, max_tokens=settings.max_query_tokens
            )
        except GraphQLError:
            continue
        total += operation_cost(
            schema._schema,
            document,
            prepared.operation.operation_name,
            prepared.operation.variables,
            max_page_size=settings.max_page_size,
        )
    return total
