"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.auth.viewer import Viewer
from deskgraph.errors import Unauthenticated
from deskgraph.loaders import Loaders
from deskgraph.loaders.base import Reader
from deskgraph.settings import Settings


@dataclass
class Context:
    settings: Settings
    session: AsyncSession
    reader: Reader
    loaders: Loaders
    viewer: Viewer | None
    # Why the viewer is anonymous when a token was sent: said by UNAUTHENTICATED errors.
    auth_error: str | None = None
    # Tells the mail outbox sender that a committed mutation queued mail (no-op without SMTP).
    wake_outbox: Callable[[], None] = lambda: None

    def require_viewer(self) -> Viewer:
        if self.viewer is None:
            raise Unauthenticated(self.auth_error or "Sign in: this field needs a bearer token.")
        return self.viewer

    def reset_loaders(self) -> None:
        """Forget every cached read: called after a mutation commits."""
        self.loaders = type(self.loaders)(self.reader, self.loaders.sources)


Info = strawberry.Info[Context, None]
