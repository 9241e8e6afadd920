"""Strawberry permission classes: the declared form of the rules in this package."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from deskgraph.errors import Unauthenticated


class IsAuthenticated(BasePermission):
    """Every data field needs a viewer; only ``__typename`` and introspection are open."""

    message = "Sign in: this field needs a bearer token."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        # Raises UNAUTHENTICATED saying why (no token, expired, ...) when there is no viewer.
        info.context.require_viewer()
        return True

    def on_unauthorized(self) -> None:
        raise Unauthenticated(self.message)
