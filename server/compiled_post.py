"""The post-pass of a compiled root field (docs/compiler.md §2.3): the FORBIDDEN errors of the
restricted fields its plan answered null for the viewer (``Plan.denied``); for a rule on the
row, at the instances the statement marked denied (``"!f:<key>"``, popped here).

It walks only the plan's recorded paths, never the whole answer, stepping through lists, and
makes at each instance the error the executor's ``@restricted`` check makes: the policy's
message and code, located at the field's node and path. Errors come in the executor's order:
object by object (a list's items in order), each object's denied fields in document order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import GraphQLError, located_error
from graphql.pyutils import Path

from deskgraph.loaders.compiled_restricted import DENIED_MARK, Sites


def forbidden_errors(value: Any, denied: Sites, path: Path) -> Iterator[tuple[GraphQLError, Path]]:
    """The FORBIDDEN errors of ``value`` (a compiled root field's, at ``path``), each with
    its position (for ``CollectedErrors.add``)."""
    for holder, key, site, at in placed(value, denied, path):
        if site.row and not holder.pop(DENIED_MARK + key):
            continue  # the row's rule let this instance through
        error = located_error(site.error(site.message), [site.node], at.as_list())
        yield error, at


def placed(
    value: Any, sites: Mapping[str, Any], path: Path
) -> Iterator[tuple[dict[str, Any], str, Any, Path]]:
    """Each instance in ``value`` (at ``path``) of the fields ``sites`` place (denied fields,
    holes): the object holding it, its key, its site and its path; object by object (a list's
    items in order), each object's in document order."""
    if not sites:
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from placed(item, sites, path.add_key(index))
        return
    if not isinstance(value, dict):  # null: the object, and its fields, are not there
        return
    for key, site in sites.items():
        at = path.add_key(key)
        if isinstance(site, Mapping):
            yield from placed(value.get(key), site, at)
        else:
            yield value, key, site, at


def on_listed_rows(denied: Sites) -> bool:
    """Whether every denied field stands on the connection's rows themselves (``edges``'
    ``node``), not below a relation: there the FORBIDDEN errors come in the executor's order
    (ticket by ticket, each ticket's in document order); below a relation the executor's
    come as its loaders answer, a list's after a to-one's of every ticket."""
    return all(
        isinstance(edge, Mapping)
        and all(
            isinstance(node, Mapping) and not any(isinstance(s, Mapping) for s in node.values())
            for node in edge.values()
        )
        for edge in denied.values()
    )


def on_the_object(denied: Sites) -> bool:
    """Whether every denied field of a root by ID stands on its object itself, not below a
    relation (where the executor's errors come as its loaders answer: ``on_listed_rows``)."""
    return not any(isinstance(site, Mapping) for site in denied.values())
