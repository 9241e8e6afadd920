"""JDLink telematics, read through its ISO 15143-3 (AEMP 2.0) fleet API.

``client`` is the adapter deskgraph uses; ``simulator`` serves the same API on loopback for the
tests and the demo.
"""

from __future__ import annotations

from deskgraph.sources.jdlink.client import (
    FaultReading,
    JdlinkClient,
    JdlinkUnavailable,
    MachineReading,
)

__all__ = ["FaultReading", "JdlinkClient", "JdlinkUnavailable", "MachineReading"]
