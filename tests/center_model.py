"""The Customer Information Center as the tests expect it, computed in plain Python over the
rows (not with the SQL the loaders use): who sees which ticket, each widget and filter, the
company status, each person's open and closed tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from deskgraph.store import models
from tests.conftest import Api

KINDS = ("REMINDER", "ESCALATED", "NEW", "OPEN")
FILTERS = ("MY_LOCKED", "MY_QUEUES", "ALL")
OPEN_STATES = ("NEW", "OPEN", "PENDING_REMINDER")


@dataclass
class World:
    tickets: list[Any]
    advisors: dict[int, Any]
    teams: dict[int, Any]
    memberships: list[Any]
    chosen_queues: list[Any]
    people: list[Any]

    def external_teams(self, advisor_id: int) -> set[int]:
        home = self.advisors[advisor_id].primary_organization_id
        return {
            m.team_id
            for m in self.memberships
            if m.advisor_id == advisor_id and self.teams[m.team_id].organization_id != home
        }

    def sees(self, advisor_id: int, ticket: Any) -> bool:
        advisor = self.advisors[advisor_id]
        return bool(
            ticket.organization_id == advisor.primary_organization_id
            or ticket.team_id in self.external_teams(advisor_id)
        )

    def queues(self, advisor_id: int) -> set[int]:
        if self.advisors[advisor_id].my_queues_set_at is not None:
            return {q.team_id for q in self.chosen_queues if q.advisor_id == advisor_id}
        return {m.team_id for m in self.memberships if m.advisor_id == advisor_id}

    def center_tickets(
        self, advisor_id: int, *, customer_id: int | None = None, requester_id: int | None = None
    ) -> list[Any]:
        return [
            t
            for t in self.tickets
            if self.sees(advisor_id, t)
            and (customer_id is None or t.customer_id == customer_id)
            and (requester_id is None or t.requester_id == requester_id)
        ]

    def widget(
        self, advisor_id: int, tickets: list[Any], kind: str, filter: str, now: datetime
    ) -> list[int]:
        """Ticket ids, newest first."""

        def in_kind(t: Any) -> bool:
            if kind == "REMINDER":
                return bool(
                    t.state.name == "PENDING_REMINDER"
                    and t.pending_until is not None
                    and t.pending_until <= now
                )
            if kind == "ESCALATED":
                return t.escalation_due_at is not None and t.escalation_due_at <= now
            return bool(t.state.name == kind)

        def in_filter(t: Any) -> bool:
            if filter == "MY_LOCKED":
                return bool(t.locked_by_id == advisor_id)
            if filter == "MY_QUEUES":
                return t.team_id in self.queues(advisor_id)
            return True

        return sorted((t.id for t in tickets if in_kind(t) and in_filter(t)), reverse=True)

    def status(self, tickets: list[Any], now: datetime) -> dict[str, Any]:
        by_state = {state.name: 0 for state in models.TicketState}
        for t in tickets:
            by_state[t.state.name] += 1
        return {
            "open": sum(by_state[s] for s in OPEN_STATES),
            "closed": by_state["CLOSED"],
            "escalated": sum(
                1 for t in tickets if t.escalation_due_at is not None and t.escalation_due_at <= now
            ),
            "all": len(tickets),
            "byState": [{"state": s, "count": n} for s, n in by_state.items()],
        }

    def people_of(self, customer_id: int) -> list[Any]:
        """By name case-insensitively, then id."""
        return sorted(
            (p for p in self.people if p.customer_id == customer_id),
            key=lambda p: (p.name.casefold(), p.id),
        )

    def person_counts(self, advisor_id: int, person_id: int) -> tuple[int, int]:
        mine = [t for t in self.tickets if t.requester_id == person_id and self.sees(advisor_id, t)]
        opened = sum(1 for t in mine if t.state.name in OPEN_STATES)
        return opened, len(mine) - opened


async def read_world(api: Api) -> World:
    async with api.app.state.engine.connect() as connection:

        async def rows(model: type[models.Base]) -> list[Any]:
            table = model.__table__
            result = await connection.execute(select(table))
            return list(result.all())

        return World(
            tickets=await rows(models.Ticket),
            advisors={a.id: a for a in await rows(models.Advisor)},
            teams={t.id: t for t in await rows(models.Team)},
            memberships=await rows(models.TeamMembership),
            chosen_queues=await rows(models.AdvisorQueue),
            people=await rows(models.CustomerUser),
        )
