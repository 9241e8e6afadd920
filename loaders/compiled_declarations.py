"""Every GraphQL type issue 17's compiler compiles (``COMPILED``), collected from the domains'
declarations: each domain declares its types (``DECLARED``, in the forms of
``loaders.compiled_types``) next to its loaders, in ``loaders/<domain>.py``: their tables, the
column behind each plain field, their relations and the rows each relation holds for a parent
row, with the viewer's rules on them (docs/compiler.md §3). A new domain is compiled by
declaring its types there and naming its module here.
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType

from deskgraph.loaders import (
    customer,
    organization,
    project,
    ticket,
    ticket_message,
)
from deskgraph.loaders.compiled_types import CompiledType

DOMAINS: tuple[ModuleType, ...] = (customer, organization, project, ticket, ticket_message)


def _collected(domains: tuple[ModuleType, ...]) -> dict[str, CompiledType]:
    names = Counter(name for domain in domains for name in domain.DECLARED)
    twice = sorted(name for name, count in names.items() if count > 1)
    if twice:
        raise RuntimeError(f"compiled types declared by two domains: {', '.join(twice)}")
    return {name: declared for domain in domains for name, declared in domain.DECLARED.items()}


COMPILED: dict[str, CompiledType] = _collected(DOMAINS)
