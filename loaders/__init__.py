"""Per-request loaders: every relation the schema serves is read through one of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

import aiodataloader
from sqlalchemy import Select

from deskgraph.loaders.base import Reader, RowByIdLoader, RowsByColumnLoader, table_of
from deskgraph.loaders.card import (
    ActiveInteractionsLoader,
    CardByIdLoader,
    CardPageLoader,
    CardSeenExternallyLoader,
    InteractionMessagePageLoader,
    InteractionPageLoader,
    OpenInteractionsByCardLoader,
    interaction_rows,
)
from deskgraph.loaders.card_merge import MergeCandidatesLoader
from deskgraph.loaders.crm import (
    CrmConfigLoader,
    CrmPeopleLoader,
    CrmRecordLoader,
    CrmRelatedLoader,
)
from deskgraph.loaders.customer import CustomerHistoryLoader, CustomerInTeamsLoader, owned_rows
from deskgraph.loaders.customer_center import (
    CompanyStatusLoader,
    PeopleCountLoader,
    PeoplePageLoader,
    PersonTicketCountsLoader,
    WidgetCountsLoader,
    WidgetPageLoader,
)
from deskgraph.loaders.customer_search import SearchPageLoader
from deskgraph.loaders.jdlink import JdlinkBySerialLoader
from deskgraph.loaders.notification import (
    NotificationPageLoader,
    TeamsByNotificationIdLoader,
    UnreadNotificationCountLoader,
)
from deskgraph.loaders.organization import (
    MemberOrganizationsLoader,
    MyQueuesLoader,
    ThroughMembershipLoader,
)
from deskgraph.loaders.organization_portal import PortalSettingsByOrganizationIdLoader
from deskgraph.loaders.project import (
    ProjectPageLoader,
    ProjectTicketPageLoader,
    SharedProjectsLoader,
)
from deskgraph.loaders.ticket import TagsByTicketIdLoader
from deskgraph.loaders.ticket_message import MessageCountLoader, MessagePageLoader
from deskgraph.loaders.ticket_sharing import RequestersByTicketIdLoader
from deskgraph.loaders.viewer_dashboard import DashboardSettingsLoader
from deskgraph.sources import Sources
from deskgraph.store import models
from deskgraph.store.models import utcnow

LoaderT = TypeVar("LoaderT", bound=aiodataloader.DataLoader[Any, Any])


class lazy(Generic[LoaderT]):
    """A loader of :class:`Loaders` made on first use, then an attribute of the instance like
    any other (a non-data descriptor: the instance's own attribute wins from then on)."""

    def __init__(self, make: Callable[[Loaders], LoaderT]) -> None:
        self.make = make
        self.name = ""

    def __set_name__(self, owner: type[Loaders], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, loaders: None, owner: type[Loaders]) -> lazy[LoaderT]: ...

    @overload
    def __get__(self, loaders: Loaders, owner: type[Loaders]) -> LoaderT: ...

    def __get__(self, loaders: Loaders | None, owner: type[Loaders]) -> LoaderT | lazy[LoaderT]:
        if loaders is None:
            return self
        loader = self.make(loaders)
        loaders.adopt(loader)
        loaders.__dict__[self.name] = loader
        return loader


class Loaders:
    """Created per request; caches live as long as the request (or until a mutation commits).

    Each loader is made on first use (:class:`lazy`): a request uses a few of the sixty, and
    making them all cost a third of a millisecond a request."""

    def __init__(self, reader: Reader, sources: Sources) -> None:
        self.reader = reader
        self.sources = sources
        # One "now" per request (and per re-read after a mutation), ``Context.now``: every
        # escalated and reminder-reached list, count and flag of a response reads at it.
        self.now = utcnow()

    def by_id(self, model: type[models.Base], rows: Select[Any] | None = None) -> RowByIdLoader:
        return RowByIdLoader(self.reader, table_of(model), rows)

    def by_column(
        self, model: type[models.Base], column: str, rows: Select[Any] | None = None
    ) -> RowsByColumnLoader:
        return RowsByColumnLoader(self.reader, table_of(model).c[column], rows)

    def adopt(self, loader: aiodataloader.DataLoader[Any, Any]) -> None:
        """Called with each loader as it is made (the benchmark's naive set turns batching
        off here)."""

    organization_by_id = lazy(lambda loaders: loaders.by_id(models.Organization))
    team_by_id = lazy(lambda loaders: loaders.by_id(models.Team))
    advisor_by_id = lazy(lambda loaders: loaders.by_id(models.Advisor))
    customer_by_id = lazy(lambda loaders: loaders.by_id(models.Customer))
    # People and machines carry ``organization_id``, their customer's organization.
    customer_user_by_id = lazy(
        lambda loaders: loaders.by_id(models.CustomerUser, owned_rows(models.CustomerUser))
    )
    machine_by_id = lazy(lambda loaders: loaders.by_id(models.Machine, owned_rows(models.Machine)))
    tag_by_id = lazy(lambda loaders: loaders.by_id(models.Tag))
    ticket_by_id = lazy(lambda loaders: loaders.by_id(models.Ticket))
    message_by_id = lazy(lambda loaders: loaders.by_id(models.Message))
    time_entry_by_id = lazy(lambda loaders: loaders.by_id(models.TimeEntry))
    notification_by_id = lazy(lambda loaders: loaders.by_id(models.Notification))
    project_by_id = lazy(lambda loaders: loaders.by_id(models.Project))
    followers_by_project_id = lazy(
        lambda loaders: loaders.by_column(models.ProjectFollower, "project_id")
    )
    project_page = lazy(lambda loaders: ProjectPageLoader(loaders.reader))
    project_ticket_page = lazy(lambda loaders: ProjectTicketPageLoader(loaders.reader))
    shared_projects = lazy(lambda loaders: SharedProjectsLoader(loaders.reader))

    teams_by_organization_id = lazy(
        lambda loaders: loaders.by_column(models.Team, "organization_id")
    )
    advisors_by_phone = lazy(lambda loaders: loaders.by_column(models.Advisor, "phone"))
    tags_by_organization_id = lazy(lambda loaders: loaders.by_column(models.Tag, "organization_id"))
    customer_users_by_customer_id = lazy(
        lambda loaders: loaders.by_column(
            models.CustomerUser, "customer_id", owned_rows(models.CustomerUser)
        )
    )
    machines_by_customer_id = lazy(
        lambda loaders: loaders.by_column(models.Machine, "customer_id", owned_rows(models.Machine))
    )
    time_entries_by_ticket_id = lazy(
        lambda loaders: loaders.by_column(models.TimeEntry, "ticket_id")
    )
    teams_by_advisor_id = lazy(
        lambda loaders: ThroughMembershipLoader(loaders.reader, "advisor_id", table_of(models.Team))
    )
    advisors_by_team_id = lazy(
        lambda loaders: ThroughMembershipLoader(loaders.reader, "team_id", table_of(models.Advisor))
    )
    tags_by_ticket_id = lazy(lambda loaders: TagsByTicketIdLoader(loaders.reader))
    message_page = lazy(lambda loaders: MessagePageLoader(loaders.reader))
    message_count = lazy(lambda loaders: MessageCountLoader(loaders.reader))
    customer_in_teams = lazy(lambda loaders: CustomerInTeamsLoader(loaders.reader))
    customer_history = lazy(lambda loaders: CustomerHistoryLoader(loaders.reader))
    search_page = lazy(lambda loaders: SearchPageLoader(loaders.reader))
    notification_page = lazy(lambda loaders: NotificationPageLoader(loaders.reader))
    unread_notification_count = lazy(lambda loaders: UnreadNotificationCountLoader(loaders.reader))
    teams_by_notification_id = lazy(lambda loaders: TeamsByNotificationIdLoader(loaders.reader))
    member_organizations = lazy(lambda loaders: MemberOrganizationsLoader(loaders.reader))
    my_queues = lazy(lambda loaders: MyQueuesLoader(loaders.reader))
    portal_settings_by_organization_id = lazy(
        lambda loaders: PortalSettingsByOrganizationIdLoader(loaders.reader)
    )
    widget_counts = lazy(lambda loaders: WidgetCountsLoader(loaders.reader))
    widget_page = lazy(lambda loaders: WidgetPageLoader(loaders.reader))
    company_status = lazy(lambda loaders: CompanyStatusLoader(loaders.reader))
    person_ticket_counts = lazy(lambda loaders: PersonTicketCountsLoader(loaders.reader))
    people_page = lazy(lambda loaders: PeoplePageLoader(loaders.reader))
    people_count = lazy(lambda loaders: PeopleCountLoader(loaders.reader))
    dashboard_settings = lazy(lambda loaders: DashboardSettingsLoader(loaders.reader))
    jdlink_by_serial = lazy(lambda loaders: JdlinkBySerialLoader(loaders.sources.jdlink))
    crm_config = lazy(lambda loaders: CrmConfigLoader(loaders.reader))
    crm_people = lazy(
        lambda loaders: CrmPeopleLoader(loaders.reader, loaders.sources.crm, loaders.crm_config)
    )
    crm_related = lazy(
        lambda loaders: CrmRelatedLoader(loaders.reader, loaders.sources.crm, loaders.crm_config)
    )
    crm_record = lazy(
        lambda loaders: CrmRecordLoader(loaders.reader, loaders.sources.crm, loaders.crm_config)
    )
    crm_links_by_interaction_id = lazy(
        lambda loaders: loaders.by_column(models.CrmLink, "interaction_id")
    )
    requesters_by_ticket_id = lazy(lambda loaders: RequestersByTicketIdLoader(loaders.reader))
    # Cards (seed 004): a merged card's id answers its live target.
    card_by_id = lazy(lambda loaders: CardByIdLoader(loaders.reader))
    card_seen_externally = lazy(lambda loaders: CardSeenExternallyLoader(loaders.reader))
    card_page = lazy(lambda loaders: CardPageLoader(loaders.reader))
    identities_by_card_id = lazy(lambda loaders: loaders.by_column(models.CardIdentity, "card_id"))
    field_values_by_card_id = lazy(
        lambda loaders: loaders.by_column(models.CardFieldValue, "card_id")
    )
    card_fields_by_organization_id = lazy(
        lambda loaders: loaders.by_column(models.CardFieldDefinition, "organization_id")
    )
    merges_by_target_id = lazy(lambda loaders: loaders.by_column(models.CardMerge, "target_id"))
    interaction_by_id = lazy(lambda loaders: loaders.by_id(models.Interaction, interaction_rows()))
    interaction_page = lazy(lambda loaders: InteractionPageLoader(loaders.reader))
    open_interactions_by_card = lazy(lambda loaders: OpenInteractionsByCardLoader(loaders.reader))
    active_interactions = lazy(lambda loaders: ActiveInteractionsLoader(loaders.reader))
    interaction_message_page = lazy(lambda loaders: InteractionMessagePageLoader(loaders.reader))
    merge_candidates = lazy(lambda loaders: MergeCandidatesLoader(loaders.reader))

    def release(self) -> None:
        """Forget every cached read once the request is answered: the rows and futures are
        freed now, even while graphql-core's execution context (which holds the request's
        context, and so these loaders) waits in a reference cycle for the cyclic collector."""
        for loader in vars(self).values():
            if isinstance(loader, aiodataloader.DataLoader):
                loader.clear_all()
