"""The demo personas as principals: what `deskgraph token`, the development GraphiQL page and
the tests sign tokens for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from deskgraph.auth.tokens import Principal, PrincipalKind
from deskgraph.store.seed import PERSONAS, demo_people

SERVICE_NAME = "Service token"


@dataclass(frozen=True)
class DemoPrincipal:
    persona: str  # the name `deskgraph token` takes
    principal: Principal
    name: str  # as the database names them


async def demo_principals(database: AsyncConnection | AsyncSession) -> dict[str, DemoPrincipal]:
    """Each demo persona this database holds (services always), in the order of ``PERSONAS``."""
    people = await demo_people(database)
    found = {}
    for persona_name, persona in PERSONAS.items():
        if persona.kind == "service":
            principal = Principal(kind="service", service=persona.key, scopes=persona.scopes)
            found[persona_name] = DemoPrincipal(persona_name, principal, SERVICE_NAME)
        elif persona.key in people:
            kind, pk, name = people[persona.key]
            principal = Principal(kind=cast(PrincipalKind, kind), id=pk)
            found[persona_name] = DemoPrincipal(persona_name, principal, name)
    return found
