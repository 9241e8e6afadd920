"""Federation's ``_service { sdl }``, guarded by ``auth.federation`` (Strawberry's own field
answers anyone): a router reads the subgraph's SDL with a service token."""

from __future__ import annotations

import strawberry
from strawberry.printer import print_schema

from deskgraph.auth.federation import may_read_subgraph_sdl
from deskgraph.errors import Forbidden, Unauthenticated
from deskgraph.server.context import Info


@strawberry.type(name="_Service")
class Service:
    sdl: str


@strawberry.type
class FederationQuery:
    @strawberry.field(name="_service")
    def subgraph_service(self, info: Info) -> Service:
        context = info.context
        settings = context.settings
        if not may_read_subgraph_sdl(
            context.viewer, production=settings.is_production, public_sdl=settings.public_sdl
        ):
            if context.viewer is None:
                raise Unauthenticated(
                    context.auth_error or "The subgraph's SDL needs a service token."
                )
            raise Forbidden("The subgraph's SDL is for a federation router's service token.")
        return Service(sdl=print_schema(info.schema))
