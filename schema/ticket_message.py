"""A ticket's messages and time entries (``Ticket.messages``, ``Ticket.timeEntries``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from deskgraph.auth import ticket_portal as portal_rules
from deskgraph.auth.viewer import Actor
from deskgraph.schema.customer import CustomerUser
from deskgraph.schema.node import Node, RowBacked, entity, from_rows
from deskgraph.schema.organization import Advisor, advisor_of_row
from deskgraph.schema.pagination import PageInfo
from deskgraph.schema.prefetch import Answer, Load, Relations
from deskgraph.server.context import Info
from deskgraph.store import models

if TYPE_CHECKING:
    from deskgraph.schema.ticket import Ticket

MessageChannel = strawberry.enum(
    models.MessageChannel,
    description="How a message reached or left the desk. NOTE is a private note, never public.",
)

MessageAuthor = Annotated[
    Advisor | CustomerUser,
    strawberry.union("MessageAuthor", description="Who wrote a message."),
]


@entity(description="A message on a ticket: to or from the customer, or a private note.")
class Message(Node, RowBacked):
    pk: strawberry.Private[int]
    ticket_id: strawberry.Private[int]
    author_advisor_id: strawberry.Private[int | None]
    author_customer_user_id: strawberry.Private[int | None]
    channel: MessageChannel = strawberry.field(description="How it was sent.")  # type: ignore[valid-type]
    is_public: bool = strawberry.field(
        description="Public messages reach the customer; private notes stay in the desk."
    )
    body: str = strawberry.field(description="The text (for calls, the call record).")
    is_automatic: bool = strawberry.field(
        description="Sent by the desk itself (an automatic reply): no author."
    )
    created_at: datetime = strawberry.field(description="When it was written.")

    @strawberry.field(
        graphql_type=MessageAuthor | None,
        description=(
            "Who wrote it; null for messages the system wrote, and for a customer user when "
            "the writer is a person of another company."
        ),
    )
    def author(self, info: Info) -> Answer[Advisor | CustomerUser | None]:
        if self.author_advisor_id is not None:
            return self._author(info).then(advisor_of_row)
        viewer = info.context.require_viewer()

        def person(row: Any) -> CustomerUser | None:
            if row is None or not portal_rules.can_see_message_author(viewer, row):
                return None  # another company's person, for a customer user
            return CustomerUser.from_row(row)

        return self._author(info).then(person)

    def _author(self, info: Info) -> Load[Any]:
        loaders = info.context.loaders
        if self.author_advisor_id is not None:
            return Load(loaders.advisor_by_id, self.author_advisor_id)
        return Load(loaders.customer_user_by_id, self.author_customer_user_id)

    @staticmethod
    def of_page(page: tuple[list[Any], bool]) -> list[Message]:
        """The messages of a loaded page (``message_page``'s rows and whether more follow)."""
        return from_rows(Message, page[0])

    @strawberry.field(description="The ticket it belongs to.")
    async def ticket(
        self, info: Info
    ) -> Annotated[Ticket, strawberry.lazy("deskgraph.schema.ticket")]:
        from deskgraph.schema.ticket import Ticket

        return Ticket.from_row(await info.context.loaders.ticket_by_id.load(self.ticket_id))


@entity(description="Time an advisor worked on a ticket.")
class TimeEntry(Node, RowBacked):
    pk: strawberry.Private[int]
    ticket_id: strawberry.Private[int]
    advisor_id: strawberry.Private[int]
    minutes: int = strawberry.field(description="Minutes worked.")
    note: str | None = strawberry.field(description="What was done.")
    created_at: datetime = strawberry.field(description="When it was recorded.")

    @strawberry.field(graphql_type=Advisor, description="Who worked.")
    def advisor(self, info: Info) -> Answer[Advisor | None]:
        return self._advisor(info).then(Advisor.from_row)

    def _advisor(self, info: Info) -> Load[Any]:
        return Load(info.context.loaders.advisor_by_id, self.advisor_id)


@strawberry.type(description="A message and its cursor.")
class MessageEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this message.")
    node: Message = strawberry.field(description="The message.")


@strawberry.type(description="A page of a ticket's messages, newest first.")
class MessageConnection:
    ticket_id: strawberry.Private[int]
    viewer: strawberry.Private[Actor]
    edges: list[MessageEdge] = strawberry.field(description="The messages of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page stands.")

    @strawberry.field(description="How many messages the ticket has for this viewer.")
    async def total_count(self, info: Info) -> int:
        count: int = await info.context.loaders.message_count.load((self.ticket_id, self.viewer))
        return count


# What is loaded ahead for the messages of a page and for time entries (schema.prefetch).
MESSAGE_RELATIONS: Relations = {"author": Message._author}
TIME_ENTRY_RELATIONS: Relations = {"advisor": TimeEntry._advisor}
