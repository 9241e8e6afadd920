"""Per-request loaders: every relation the schema serves is read through one of these."""

from __future__ import annotations

from typing import Any

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
from deskgraph.loaders.ticket import MessageCountLoader, MessagePageLoader, TagsByTicketIdLoader
from deskgraph.loaders.ticket_sharing import RequestersByTicketIdLoader
from deskgraph.loaders.viewer_dashboard import DashboardSettingsLoader
from deskgraph.sources import Sources
from deskgraph.store import models
from deskgraph.store.models import utcnow


class Loaders:
    """Created per request; caches live as long as the request (or until a mutation commits)."""

    def __init__(self, reader: Reader, sources: Sources) -> None:
        self.reader = reader
        self.sources = sources

        def by_id(model: type[models.Base], rows: Select[Any] | None = None) -> RowByIdLoader:
            return RowByIdLoader(reader, table_of(model), rows)

        def by_column(
            model: type[models.Base], column: str, rows: Select[Any] | None = None
        ) -> RowsByColumnLoader:
            return RowsByColumnLoader(reader, table_of(model).c[column], rows)

        self.organization_by_id = by_id(models.Organization)
        self.team_by_id = by_id(models.Team)
        self.advisor_by_id = by_id(models.Advisor)
        self.customer_by_id = by_id(models.Customer)
        # People and machines carry ``organization_id``, their customer's organization.
        self.customer_user_by_id = by_id(models.CustomerUser, owned_rows(models.CustomerUser))
        self.machine_by_id = by_id(models.Machine, owned_rows(models.Machine))
        self.tag_by_id = by_id(models.Tag)
        self.ticket_by_id = by_id(models.Ticket)
        self.message_by_id = by_id(models.Message)
        self.time_entry_by_id = by_id(models.TimeEntry)
        self.notification_by_id = by_id(models.Notification)
        self.project_by_id = by_id(models.Project)
        self.followers_by_project_id = by_column(models.ProjectFollower, "project_id")
        self.project_page = ProjectPageLoader(reader)
        self.project_ticket_page = ProjectTicketPageLoader(reader)
        self.shared_projects = SharedProjectsLoader(reader)

        self.teams_by_organization_id = by_column(models.Team, "organization_id")
        self.advisors_by_phone = by_column(models.Advisor, "phone")
        self.tags_by_organization_id = by_column(models.Tag, "organization_id")
        self.customer_users_by_customer_id = by_column(
            models.CustomerUser, "customer_id", owned_rows(models.CustomerUser)
        )
        self.machines_by_customer_id = by_column(
            models.Machine, "customer_id", owned_rows(models.Machine)
        )
        self.time_entries_by_ticket_id = by_column(models.TimeEntry, "ticket_id")
        self.teams_by_advisor_id = ThroughMembershipLoader(
            reader, "advisor_id", table_of(models.Team)
        )
        self.advisors_by_team_id = ThroughMembershipLoader(
            reader, "team_id", table_of(models.Advisor)
        )
        self.tags_by_ticket_id = TagsByTicketIdLoader(reader)
        self.message_page = MessagePageLoader(reader)
        self.message_count = MessageCountLoader(reader)
        self.customer_in_teams = CustomerInTeamsLoader(reader)
        self.customer_history = CustomerHistoryLoader(reader)
        self.search_page = SearchPageLoader(reader)
        self.notification_page = NotificationPageLoader(reader)
        self.unread_notification_count = UnreadNotificationCountLoader(reader)
        self.teams_by_notification_id = TeamsByNotificationIdLoader(reader)
        self.member_organizations = MemberOrganizationsLoader(reader)
        self.my_queues = MyQueuesLoader(reader)
        self.portal_settings_by_organization_id = PortalSettingsByOrganizationIdLoader(reader)
        # One "now" per request (and per re-read after a mutation), ``Context.now``: every
        # escalated and reminder-reached list, count and flag of a response reads at it.
        self.now = utcnow()
        self.widget_counts = WidgetCountsLoader(reader)
        self.widget_page = WidgetPageLoader(reader)
        self.company_status = CompanyStatusLoader(reader)
        self.person_ticket_counts = PersonTicketCountsLoader(reader)
        self.people_page = PeoplePageLoader(reader)
        self.people_count = PeopleCountLoader(reader)
        self.dashboard_settings = DashboardSettingsLoader(reader)
        self.jdlink_by_serial = JdlinkBySerialLoader(sources.jdlink)
        self.crm_config = CrmConfigLoader(reader)
        self.crm_people = CrmPeopleLoader(reader, sources.crm, self.crm_config)
        self.crm_related = CrmRelatedLoader(reader, sources.crm, self.crm_config)
        self.crm_record = CrmRecordLoader(reader, sources.crm, self.crm_config)
        self.crm_links_by_interaction_id = by_column(models.CrmLink, "interaction_id")
        self.requesters_by_ticket_id = RequestersByTicketIdLoader(reader)
        # Cards (seed 004): a merged card's id answers its live target.
        self.card_by_id = CardByIdLoader(reader)
        self.card_seen_externally = CardSeenExternallyLoader(reader)
        self.card_page = CardPageLoader(reader)
        self.identities_by_card_id = by_column(models.CardIdentity, "card_id")
        self.field_values_by_card_id = by_column(models.CardFieldValue, "card_id")
        self.card_fields_by_organization_id = by_column(
            models.CardFieldDefinition, "organization_id"
        )
        self.merges_by_target_id = by_column(models.CardMerge, "target_id")
        self.interaction_by_id = by_id(models.Interaction, interaction_rows())
        self.interaction_page = InteractionPageLoader(reader)
        self.open_interactions_by_card = OpenInteractionsByCardLoader(reader)
        self.active_interactions = ActiveInteractionsLoader(reader)
        self.interaction_message_page = InteractionMessagePageLoader(reader)
        self.merge_candidates = MergeCandidatesLoader(reader)

    def release(self) -> None:
        """Forget every cached read once the request is answered: the rows and futures are
        freed now, even while graphql-core's execution context (which holds the request's
        context, and so these loaders) waits in a reference cycle for the cyclic collector."""
        for loader in vars(self).values():
            if isinstance(loader, aiodataloader.DataLoader):
                loader.clear_all()
