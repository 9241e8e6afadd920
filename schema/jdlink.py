"""JDLink machine data as the schema serves it (``Machine.jdlink``)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from deskgraph.sources import jdlink as source


@strawberry.type(description="A point on the map (WGS 84 degrees).")
class GeoPoint:
    latitude: float = strawberry.field(description="Degrees north (negative: south).")
    longitude: float = strawberry.field(description="Degrees east (negative: west).")


@strawberry.type(description="A diagnostic trouble code the machine reported.")
class FaultCode:
    code: str = strawberry.field(description="The code, e.g. `000100.01` (SPN.FMI).")
    description: str | None = strawberry.field(description="What the code means.")
    severity: str | None = strawberry.field(description="As JDLink grades it: HIGH, MEDIUM, LOW.")
    occurred_at: datetime | None = strawberry.field(description="When the machine raised it.")


@strawberry.type(description="What JDLink last reported about a machine.")
class JdlinkReport:
    engine_hours: float | None = strawberry.field(description="Cumulative operating hours.")
    location: GeoPoint | None = strawberry.field(description="Last reported position.")
    reported_at: datetime | None = strawberry.field(
        description="When hours and position were read."
    )
    fault_codes: list[FaultCode] = strawberry.field(
        description="Fault codes of the last 30 days, newest first."
    )

    @classmethod
    def from_report(cls, report: source.MachineReading) -> JdlinkReport:
        location = None
        if report.latitude is not None and report.longitude is not None:
            location = GeoPoint(latitude=report.latitude, longitude=report.longitude)
        return cls(
            engine_hours=report.engine_hours,
            location=location,
            reported_at=report.reported_at,
            fault_codes=[
                FaultCode(
                    code=fault.code,
                    description=fault.description,
                    severity=fault.severity,
                    occurred_at=fault.occurred_at,
                )
                for fault in report.fault_codes
            ],
        )
