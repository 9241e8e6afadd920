"""The demo personas as principals: what `deskgraph token`, the development GraphiQL page and
the tests sign tokens for."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from deskgraph.auth.tokens import Principal, PrincipalKind
from deskgraph.store import models
from deskgraph.store.seed import PERSONAS

SERVICE_NAME = "Service token"


@dataclass(frozen=True)
class DemoPrincipal:
    persona: str  # the name `deskgraph token` takes
    principal: Principal
    name: str  # as the database names them


async def demo_principals(database: AsyncConnection | AsyncSession) -> dict[str, DemoPrincipal]:
    """Each demo persona this database holds (services always), in the order of ``PERSONAS``;
    one query per kind of person."""
    people: dict[str, tuple[Principal, str]] = {}  # e-mail: (principal, name)
    kinds: tuple[tuple[PrincipalKind, type[models.Advisor | models.CustomerUser]], ...] = (
        ("advisor", models.Advisor),
        ("customer_user", models.CustomerUser),
    )
    for kind, model in kinds:
        emails = [p.key for p in PERSONAS.values() if p.kind == kind]
        rows = await database.execute(
            select(model.email, model.id, model.name).where(model.email.in_(emails))
        )
        for email, pk, name in rows:
            if email is not None:
                people[email] = (Principal(kind=kind, id=int(pk)), name)
    found = {}
    for persona_name, persona in PERSONAS.items():
        if persona.kind == "service":
            principal = Principal(kind="service", service=persona.key, scopes=persona.scopes)
            found[persona_name] = DemoPrincipal(persona_name, principal, SERVICE_NAME)
        elif persona.key in people:
            principal, name = people[persona.key]
            found[persona_name] = DemoPrincipal(persona_name, principal, name)
    return found
