"""The e-mails a ticket's public messages send its customers, and their wording (seed 002).

Every public message (never a private note) is mailed through the outbox, in the writing
transaction, to the ticket's audience: its primary requester, its further requesters and the
followers of its project (customer users followed directly, and every person of a followed
customer, those created after the share too). Each person once per message, never the
message's own author, only people with an e-mail address. :func:`audience` is the one
statement that says who they are.

A further requester added to a ticket that had public messages is owed them
(``ticket_requesters.past_messages_through_id``): the next public message's mail to them
carries every earlier public message up to their addition, and the debt is cleared in the same
transaction under the row's lock (SELECT ... FOR UPDATE), so of two replies at once only one
sends it (the other waits for the lock and then finds nothing owed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from deskgraph.auth.ticket_portal import mail_names_author
from deskgraph.store import models
from deskgraph.store.outbox import enqueue_mail

SUBJECT_MAX = 300  # mail_outbox.subject


def audience(
    ticket_id: int, author_customer_user_id: int | None
) -> Select[int, str, str | None, int]:
    """Who receives a public message of the ticket: (id, name, email, customer_id) of every
    person once,
    with an e-mail address, but the author. One statement: a UNION of the four ways a person
    is on a ticket (the two through the project only when the organization's portal shows
    customer users the tickets of the projects they follow)."""
    t, r, f = models.Ticket, models.TicketRequester, models.ProjectFollower
    cu, ps = models.CustomerUser, models.PortalSettings
    # Followers hear of the project's tickets only while the portal shows them those tickets
    # (settings never saved: it does not); else the mail would carry what the portal hides.
    shows_followed = ps.show_followed_project_tickets.is_(True)
    colleague = models.CustomerUser.__table__.alias("colleague")
    people = union(
        select(t.requester_id.label("person_id")).where(
            t.id == ticket_id, t.requester_id.is_not(None)
        ),
        select(r.customer_user_id).where(r.ticket_id == ticket_id),
        select(f.customer_user_id)
        .join(t, t.project_id == f.project_id)
        .join(ps, ps.organization_id == t.organization_id)
        .where(t.id == ticket_id, f.customer_user_id.is_not(None), shows_followed),
        select(colleague.c.id)
        .join(f, f.customer_id == colleague.c.customer_id)
        .join(t, t.project_id == f.project_id)
        .join(ps, ps.organization_id == t.organization_id)
        .where(t.id == ticket_id, shows_followed),
    ).subquery()
    return (
        select(cu.id, cu.name, cu.email, cu.customer_id)
        .join(people, people.c.person_id == cu.id)
        .where(cu.email.is_not(None), cu.id.is_distinct_from(author_customer_user_id))
        .order_by(cu.id)
    )


async def mail_public_message(
    session: AsyncSession, *, ticket_id: int, message_id: int, mail_domain: str, now: datetime
) -> int:
    """Queue the message's mails (with the past messages owed to further requesters); answers
    how many. Runs after the message is written, inside its transaction."""
    author = await session.scalar(
        select(models.Message.author_customer_user_id).where(models.Message.id == message_id)
    )
    owed = await _claim_past_messages(session, ticket_id, author)
    messages = await _messages(session, ticket_id, message_id, max(owed.values(), default=None))
    current = messages[-1]
    assert current.id == message_id
    recipients = (await session.execute(audience(ticket_id, author))).all()
    for person in recipients:
        through = owed.get(person.id)
        past = [m for m in messages if through is not None and m.id <= through]
        await enqueue_mail(
            session,
            to_address=person.email,
            subject=_subject(current),
            body=_body(person, current, past),
            sender_domain=mail_domain,
            now=now,
        )
    return len(recipients)


async def _claim_past_messages(
    session: AsyncSession, ticket_id: int, author_customer_user_id: int | None
) -> dict[int, int]:
    """The further requesters owed past messages (who have an address and did not write this
    one), with the newest message owed; cleared here, under the rows' lock."""
    r, cu = models.TicketRequester, models.CustomerUser
    # FOR UPDATE: a concurrent reply that cleared them first makes this one wait, then
    # re-read the rows as it left them (nothing owed any more). SQLite has one writer at a time.
    owed = (
        await session.execute(
            select(r.id, r.customer_user_id, r.past_messages_through_id)
            .where(
                r.ticket_id == ticket_id,
                r.past_messages_through_id.is_not(None),
                r.customer_user_id.is_distinct_from(author_customer_user_id),
                r.customer_user_id.in_(select(cu.id).where(cu.email.is_not(None))),
            )
            .with_for_update(of=r)
        )
    ).all()
    if not owed:
        return {}
    await session.execute(
        update(r).where(r.id.in_([row.id for row in owed])).values(past_messages_through_id=None)
    )
    return {
        int(row.customer_user_id): int(row.past_messages_through_id)
        for row in owed
        if row.past_messages_through_id is not None
    }


async def _messages(
    session: AsyncSession, ticket_id: int, message_id: int, past_through: int | None
) -> Sequence[Any]:
    """The message being sent and, when some are owed, the public messages up to
    ``past_through``, oldest first, each with its author's name and the ticket's header."""
    m, t, o = models.Message, models.Ticket, models.Organization
    a, cu = models.Advisor, models.CustomerUser
    wanted = m.id == message_id
    if past_through is not None:
        wanted = or_(wanted, and_(m.is_public.is_(True), m.id <= past_through))
    statement = (
        select(
            m.id,
            m.body,
            m.is_automatic,
            m.created_at,
            func.coalesce(a.name, cu.name).label("author"),
            cu.customer_id.label("author_customer_id"),
            t.number,
            t.title,
            o.name.label("organization"),
        )
        .join(t, t.id == m.ticket_id)
        .join(o, o.id == t.organization_id)
        .outerjoin(a, a.id == m.author_advisor_id)
        .outerjoin(cu, cu.id == m.author_customer_user_id)
        .where(m.ticket_id == ticket_id, wanted)
        .order_by(m.id)
    )
    return (await session.execute(statement)).all()


# Wording -----------------------------------------------------------------------------------


def _subject(message: Any) -> str:
    subject = f"[{message.organization} #{message.number}] {message.title}"
    return subject if len(subject) <= SUBJECT_MAX else subject[: SUBJECT_MAX - 1] + "…"


def _signed(message: Any, reader: Any) -> str:
    if message.author is None:
        return f"{message.organization} (automatic reply)"
    if not mail_names_author(reader.customer_id, message.author_customer_id):
        return "A customer"  # of another company: the reader never meets them by name
    return str(message.author)


def _body(reader: Any, message: Any, past: Sequence[Any]) -> str:
    lines = [
        f"Hello {reader.name},",
        "",
        f"{_signed(message, reader)} wrote on ticket #{message.number} ({message.title}):",
        "",
        message.body,
        "",
    ]
    if past:
        lines += [
            "You were added to this ticket. Its earlier messages, oldest first:",
            "",
        ]
        for earlier in past:
            when = earlier.created_at.strftime("%Y-%m-%d %H:%M UTC")
            lines += [f"On {when}, {_signed(earlier, reader)} wrote:", earlier.body, ""]
    lines += [
        "Reply to this e-mail or in the customer portal to answer.",
        "",
        f"-- {message.organization}",
        "",
    ]
    return "\n".join(lines)


def acknowledgement_text(number: int, title: str) -> str:
    """The automatic reply to a ticket a customer user opened in the portal."""
    return (
        f"Thank you: we received your request #{number} ({title}). We will answer here as "
        "soon as we can; every reply also reaches you by e-mail."
    )


async def acknowledgement(session: AsyncSession, ticket_id: int) -> str | None:
    """The automatic reply for a ticket just opened in the portal, when its organization's
    portal settings acknowledge new tickets; None when they do not."""
    t, ps = models.Ticket, models.PortalSettings
    row = (
        await session.execute(
            select(t.number, t.title)
            .join(ps, ps.organization_id == t.organization_id)
            .where(t.id == ticket_id, ps.acknowledge_new_tickets.is_(True))
        )
    ).one_or_none()
    return None if row is None else acknowledgement_text(row.number, row.title)
