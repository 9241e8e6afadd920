"""Upstream connectors: JDLink telematics and the CRMs (built-in, Salesforce, Dynamics).

Each connector speaks its service's real HTTP API with httpx and is made once per process;
``Sources`` carries them to the per-request loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deskgraph.settings import Settings
from deskgraph.sources.jdlink import JdlinkClient

if TYPE_CHECKING:
    from deskgraph.sources.crm.registry import CrmSources


def _crm_sources(settings: Settings) -> CrmSources:
    # Imported here: the registry reads the store's CRM models, which read this package.
    from deskgraph.sources.crm.registry import CrmSources

    return CrmSources(settings)


@dataclass
class Sources:
    # Each organization's CRM, as its configuration says (made when first asked).
    crm: CrmSources
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
        return cls(jdlink=jdlink, crm=_crm_sources(settings))

    async def aclose(self) -> None:
        if self.jdlink is not None:
            await self.jdlink.aclose()
        await self.crm.aclose()
