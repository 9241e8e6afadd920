"""Who may read what deskgraph serves a federation router."""

from __future__ import annotations

from deskgraph.auth.viewer import Actor


def may_read_subgraph_sdl(actor: Actor | None, *, production: bool, public_sdl: bool) -> bool:
    """``_service { sdl }``: anyone in development (tools compose against a local server);
    in production a service (the router) only, unless ``DESKGRAPH_PUBLIC_SDL`` opens it: with
    introspection off, the SDL is the schema a stranger must not browse."""
    if not production or public_sdl:
        return True
    return actor is not None and actor.is_service
