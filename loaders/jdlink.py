"""JDLink machine data by serial number: one upstream call for all of a request's machines."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from deskgraph.errors import UpstreamUnavailable
from deskgraph.loaders.base import DataLoader
from deskgraph.sources.jdlink import JdlinkClient, JdlinkUnavailable, MachineReading

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "JDLink is not answering; machine data is unavailable for now."


class JdlinkBySerialLoader(DataLoader[str, MachineReading | None]):
    """``None`` for a machine JDLink does not know, or when JDLink is not configured."""

    def __init__(self, client: JdlinkClient | None) -> None:
        super().__init__()
        self.client = client

    async def batch_load_fn(self, keys: Sequence[str]) -> list[MachineReading | None]:
        if self.client is None:
            return [None for _ in keys]
        try:
            reports = await self.client.reports(keys)
        except JdlinkUnavailable as error:
            # The cause goes to the operator's log, not to the client: one line when JDLink
            # fails, none while it is not asked again (the client remembers the failure).
            if error.asked:
                log.warning("JDLink read failed: %s", error)
            raise UpstreamUnavailable(UNAVAILABLE_MESSAGE) from None  # fails every key
        return [reports[key] for key in keys]
