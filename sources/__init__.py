"""Upstream connectors: JDLink telematics now; the CRMs (builtin, Salesforce, Dynamics) later.

Each connector speaks its service's real HTTP API with httpx and is made once per process;
``Sources`` carries them to the per-request loaders.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskgraph.settings import Settings
from deskgraph.sources.jdlink import JdlinkClient


@dataclass
class Sources:
    jdlink: JdlinkClient | None = None  # None: JDLink is not configured

    @classmethod
    def from_settings(cls, settings: Settings) -> Sources:
        jdlink = None
        if settings.jdlink_url:
            jdlink = JdlinkClient(
                settings.jdlink_url,
                token_url=settings.jdlink_token_url or f"{settings.jdlink_url}/oauth/token",
                client_id=settings.jdlink_client_id,
                client_secret=settings.jdlink_client_secret,
                cache_seconds=settings.jdlink_cache_seconds,
                connect_timeout_seconds=settings.jdlink_connect_timeout_seconds,
                read_timeout_seconds=settings.jdlink_read_timeout_seconds,
                failure_seconds=settings.jdlink_failure_seconds,
            )
        return cls(jdlink=jdlink)

    async def aclose(self) -> None:
        if self.jdlink is not None:
            await self.jdlink.aclose()
