"""Public messages mailed through the outbox to a ticket's requesters and its project's
followers (seed 002): past messages reach a newly added requester once, each person gets one
mail per message, the author none, private notes nobody; automatic replies to portal tickets."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select, update

from deskgraph.store import models
from tests import factories
from tests.conftest import Api, gid
from tests.test_ticket_sharing import ADD, ANNA, NORTH, PER, TOM, sharing, ticket_of

REPLY = """
mutation ADD_TICKET_MESSAGE($input: AddTicketMessageInput!) {
  addTicketMessage(input: $input) { message { id } }
}
"""
CREATE = """
mutation CREATE_TICKET($input: CreateTicketInput!) {
  createTicket(input: $input) { ticket { id number title
    messages(first: 5) { edges { node {
      isPublic isAutomatic channel body author { __typename } } } }
  } }
}
"""
ANNA_MAIL = "anna.berg@meadow-farms.example"
PER_MAIL = "per.olsen@meadow-farms.example"
TOM_MAIL = "tom.eriksen@riverbend-construction.example"
INGRID_MAIL = "ingrid.moe@riverbend-construction.example"
RIVERBEND = 2


def reply(ticket: int, body: str, channel: str = "EMAIL") -> dict[str, Any]:
    return {"input": {"ticketId": gid("Ticket", ticket), "channel": channel, "body": body}}


async def mails(api: Api, after: int = 0) -> list[tuple[str, str]]:
    """(to, body) of every queued mail above ``after``, in order."""
    m = models.OutboxMail
    async with api.app.state.engine.connect() as connection:
        rows = await connection.execute(
            select(m.to_address, m.body).where(m.id > after).order_by(m.id)
        )
        return [(row[0], row[1]) for row in rows]


async def newest_mail(api: Api) -> int:
    m = models.OutboxMail
    return int(await api.scalar(select(m.id).order_by(m.id.desc()).limit(1)) or 0)


def to(queued: list[tuple[str, str]]) -> list[str]:
    return sorted(address for address, _ in queued)


async def test_add_ticket_message_new_requester_receives_the_past_public_messages_once(
    api: Api,
) -> None:
    """The issue's outbox test: 3 public messages and a private note, a requester added (warned
    of 3), one reply: their mail holds the 3 and the reply, never the note; the next reply
    does not send them again."""
    pk = await ticket_of(api, public=3, notes=1)
    added = await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    assert added["addTicketRequester"]["warnings"][0]["count"] == 3
    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "Reply one"), as_="host-advisor")
    first = await mails(api, start)
    assert to(first) == [ANNA_MAIL, TOM_MAIL]
    tom = next(body for address, body in first if address == TOM_MAIL)
    for text in ("Public 1", "Public 2", "Public 3", "Reply one", "Hello Tom Eriksen"):
        assert text in tom
    assert "Note 1" not in tom
    assert tom.index("Reply one") < tom.index("Public 1") < tom.index("Public 3")
    anna = next(body for address, body in first if address == ANNA_MAIL)
    assert "Reply one" in anna
    assert "Public 1" not in anna  # the primary requester received them when they were sent

    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "Reply two"), as_="host-advisor")
    second = await mails(api, start)
    assert to(second) == [ANNA_MAIL, TOM_MAIL]
    for _, body in second:
        assert "Reply two" in body
        assert "Public 1" not in body
        assert "Reply one" not in body


async def test_add_ticket_message_private_note_mails_nobody(api: Api) -> None:
    pk = await ticket_of(api, public=1)
    await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "Internal only", "NOTE"), as_="host-advisor")
    assert await mails(api, start) == []
    r = models.TicketRequester
    owed = await api.scalar(select(r.past_messages_through_id).where(r.ticket_id == pk))
    assert owed is not None  # still owed: a note is no public message


async def test_add_ticket_message_project_followers_each_receive_one_mail(api: Api) -> None:
    """Per follows the project himself, Riverbend as a whole company (Tom, Ingrid, and a person
    created after the share); Tom is also a further requester; a person without an e-mail
    address gets nothing. Anna (the customer-user persona) writes: everyone else gets one mail."""
    pk = await ticket_of(api)
    async with api.app.state.engine.begin() as connection:
        project = await factories.project(connection, NORTH)
        await factories.project_follower(connection, project, customer_user_id=PER)
        await factories.project_follower(connection, project, customer_id=RIVERBEND)
        newcomer = await factories.customer_user(connection, RIVERBEND, name="Nora Vik")
        await connection.execute(
            update(models.CustomerUser)
            .where(models.CustomerUser.id == newcomer)
            .values(email="nora.vik@riverbend-construction.example")
        )
        await factories.customer_user(connection, RIVERBEND, name="No Address")
        await connection.execute(
            update(models.Ticket).where(models.Ticket.id == pk).values(project_id=project)
        )
    await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    everyone = [
        ANNA_MAIL,
        INGRID_MAIL,
        "nora.vik@riverbend-construction.example",
        PER_MAIL,
        TOM_MAIL,
    ]

    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "From the desk"), as_="host-advisor")
    assert to(await mails(api, start)) == everyone

    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "From Anna", "CHAT"), as_="customer-user")
    queued = await mails(api, start)
    assert to(queued) == [address for address in everyone if address != ANNA_MAIL]
    assert all("From Anna" in body for _, body in queued)
    # Her colleague Per meets her by name; Riverbend's people never meet another company's
    for address, body in queued:
        signed = "Anna Berg wrote" if address == PER_MAIL else "A customer wrote"
        assert signed in body, (address, body)
        assert address == PER_MAIL or "Anna Berg" not in body

    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "Internal", "NOTE"), as_="host-advisor")
    assert await mails(api, start) == []


async def test_add_ticket_message_two_replies_at_once_send_the_past_messages_once(
    api: Api,
) -> None:
    pk = await ticket_of(api, public=3)
    await api.data(ADD, sharing(pk, TOM), as_="host-advisor")
    start = await newest_mail(api)
    await asyncio.gather(
        api.data(REPLY, reply(pk, "Reply A"), as_="host-advisor"),
        api.data(REPLY, reply(pk, "Reply B"), as_="host-admin"),
    )
    tom = [body for address, body in await mails(api, start) if address == TOM_MAIL]
    assert len(tom) == 2
    assert sorted("Public 1" in body for body in tom) == [False, True]
    assert all(body.count("Public 2") <= 1 for body in tom)


async def test_create_ticket_customer_user_gets_the_automatic_reply_when_acknowledged(
    api: Api,
) -> None:
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(connection, NORTH, acknowledge_new_tickets=True)
    start = await newest_mail(api)
    data = await api.data(
        CREATE,
        {"input": {"title": "Baler jams", "teamId": gid("Team", 1)}},
        as_="customer-user",
    )
    ticket = data["createTicket"]["ticket"]
    text = (
        f"Thank you: we received your request #{ticket['number']} (Baler jams). We will answer "
        "here as soon as we can; every reply also reaches you by e-mail."
    )
    assert ticket["messages"]["edges"] == [
        {
            "node": {
                "isPublic": True,
                "isAutomatic": True,
                "channel": "EMAIL",
                "body": text,
                "author": None,
            }
        }
    ]
    queued = await mails(api, start)
    assert to(queued) == [ANNA_MAIL]
    assert "North Dealers (automatic reply) wrote" in queued[0][1]
    assert text in queued[0][1]


async def test_create_ticket_no_automatic_reply_by_default_or_for_advisors(api: Api) -> None:
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(connection, NORTH)  # the defaults (the demo acknowledges)
    start = await newest_mail(api)
    data = await api.data(
        CREATE, {"input": {"title": "Quiet", "teamId": gid("Team", 1)}}, as_="customer-user"
    )
    assert data["createTicket"]["ticket"]["messages"]["edges"] == []
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(connection, NORTH, acknowledge_new_tickets=True)
    data = await api.data(
        CREATE,
        {
            "input": {
                "title": "By phone",
                "teamId": gid("Team", 1),
                "requesterId": gid("CustomerUser", ANNA),
            }
        },
        as_="host-advisor",
    )
    assert data["createTicket"]["ticket"]["messages"]["edges"] == []
    assert await mails(api, start) == []


async def test_create_ticket_customer_user_in_the_demo_project_reaches_every_follower_once(
    api: Api,
) -> None:
    """The demo as it is: North acknowledges portal tickets and shows followed projects; Meadow
    Farms (Anna's and Per's company) follows "Spring service campaign" as a whole customer. Anna
    opens a ticket in it: the automatic reply reaches each of Meadow Farms' people once (Anna
    is requester and follower: one mail), and nobody else."""
    start = await newest_mail(api)
    data = await api.data(
        CREATE,
        {
            "input": {
                "title": "Spring check for the baler",
                "teamId": gid("Team", 1),
                "projectId": gid("Project", 1),
            }
        },
        as_="customer-user",
    )
    [automatic] = data["createTicket"]["ticket"]["messages"]["edges"]
    assert automatic["node"]["isAutomatic"] is True
    people = models.CustomerUser
    async with api.app.state.engine.connect() as connection:
        meadow = await connection.scalars(
            select(people.email).where(people.customer_id == 1, people.email.is_not(None))
        )
        expected = sorted(str(address) for address in meadow)
    assert {ANNA_MAIL, PER_MAIL} <= set(expected)
    assert to(await mails(api, start)) == expected


async def test_add_ticket_message_followers_get_nothing_while_the_portal_hides_projects(
    api: Api,
) -> None:
    """North's portal stops showing followed projects' tickets: the project's followers no
    longer receive its messages (the mail would carry what the portal hides); requesters do."""
    pk = await ticket_of(api)
    async with api.app.state.engine.begin() as connection:
        project = await factories.project(connection, NORTH)
        await factories.project_follower(connection, project, customer_id=RIVERBEND)
        await connection.execute(
            update(models.Ticket).where(models.Ticket.id == pk).values(project_id=project)
        )
    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "Shown"), as_="host-advisor")
    assert to(await mails(api, start)) == [ANNA_MAIL, INGRID_MAIL, TOM_MAIL]
    async with api.app.state.engine.begin() as connection:
        await factories.portal_settings(connection, NORTH, followed_project_tickets=False)
    start = await newest_mail(api)
    await api.data(REPLY, reply(pk, "Hidden"), as_="host-advisor")
    assert to(await mails(api, start)) == [ANNA_MAIL]
