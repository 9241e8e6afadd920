"""The deskgraph schema: every domain's types and root fields, composed."""

from __future__ import annotations

import logging
from functools import lru_cache, partial
from typing import Any

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.federation.schema import FederationAny
from strawberry.types import ExecutionContext

from deskgraph.auth.directive import check_restricted_fields
from deskgraph.errors import BadUserInput, is_unexpected
from deskgraph.schema.card import CustomerCard, Interaction
from deskgraph.schema.card_mutations import CardMutation
from deskgraph.schema.card_operations import CardQuery
from deskgraph.schema.cost import QueryCost
from deskgraph.schema.crm_operations import CrmMutation
from deskgraph.schema.customer import Customer, CustomerUser, Machine
from deskgraph.schema.customer_center_operations import InformationCenterQuery
from deskgraph.schema.customer_operations import CustomerMutation
from deskgraph.schema.customer_search import CustomerSearchQuery
from deskgraph.schema.federation import FederationQuery
from deskgraph.schema.invitation_operations import InvitationMutation, InvitationQuery
from deskgraph.schema.limits import (
    CheckedValidationCache,
    HideSuggestions,
    NoLongIntegers,
    NoNulCharacters,
    ValidationErrorCodes,
    limits_rule,
)
from deskgraph.schema.notification import Notification
from deskgraph.schema.notification_operations import NotificationMutation
from deskgraph.schema.organization import Advisor, Organization, Tag, Team
from deskgraph.schema.organization_operations import OrganizationMutation
from deskgraph.schema.parsing import IndexedParserCache
from deskgraph.schema.project import Project
from deskgraph.schema.project_operations import ProjectMutation, ProjectQuery
from deskgraph.schema.subscription import Subscription
from deskgraph.schema.ticket import Ticket
from deskgraph.schema.ticket_message import Message, TimeEntry
from deskgraph.schema.ticket_operations import TicketMutation, TicketQuery
from deskgraph.schema.ticket_sharing_operations import TicketSharingMutation
from deskgraph.schema.viewer import ViewerQuery
from deskgraph.schema.viewer_dashboard_operations import DashboardMutation
from deskgraph.server.compiled_execution import CompilingExecutor
from deskgraph.server.context import Info, ViewerLookup
from deskgraph.server.tracing_operation import OperationTrace
from deskgraph.settings import Settings

logger = logging.getLogger("deskgraph")


@strawberry.type(description="Everything a viewer can read.")
class Query(
    FederationQuery,
    ViewerQuery,
    TicketQuery,
    InvitationQuery,
    CustomerSearchQuery,
    InformationCenterQuery,
    ProjectQuery,
    CardQuery,
):
    pass


@strawberry.type(description="Everything a viewer can change.")
class Mutation(
    TicketMutation,
    TicketSharingMutation,
    CustomerMutation,
    OrganizationMutation,
    InvitationMutation,
    NotificationMutation,
    DashboardMutation,
    ProjectMutation,
    CardMutation,
    CrmMutation,
):
    pass


NODE_TYPES = [
    Organization,
    Team,
    Advisor,
    Tag,
    Customer,
    CustomerUser,
    Machine,
    Ticket,
    Message,
    TimeEntry,
    Notification,
    Project,
    CustomerCard,
    Interaction,
]


MAX_REPRESENTATIONS = 1_000


class DeskgraphSchema(strawberry.federation.Schema):
    """The schema, an Apollo Federation v2 subgraph: every node type is an entity keyed by
    ``id``; ``_service { sdl }`` and ``_entities`` serve a router."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check_restricted_fields(self._schema)

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """``_entities``: each representation resolved by its type's ``resolve_reference``
        (loaders batch them: one statement per type for many), or an error at its index."""
        if len(representations) > MAX_REPRESENTATIONS:
            raise BadUserInput(
                f"`representations` takes at most {MAX_REPRESENTATIONS}.",
                fields={"representations": f"at most {MAX_REPRESENTATIONS}"},
            )
        results: list[Any] = []
        for representation in representations:
            entity = None
            fields: Any = representation
            if (
                isinstance(fields, dict)
                and isinstance(fields.get("id"), str)
                and isinstance(fields.get("__typename"), str)
            ):
                entity = ENTITY_TYPES.get(fields["__typename"])
            if entity is None:
                results.append(
                    BadUserInput(
                        "A representation is `{__typename, id}` with the name of a node type "
                        "and its global ID.",
                        fields={"representations": "{__typename, id} of a node type"},
                    )
                )
                continue
            results.append(entity.resolve_reference(info, fields["id"]))
        # Errors and awaitables: GraphQL places each at its index.
        return results

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Errors raised on purpose (NOT_FOUND, FORBIDDEN, ...) are answers, not incidents.
        for error in errors:
            if is_unexpected(error):
                logger.error("unexpected error at %s", error.path, exc_info=error.original_error)


ENTITY_TYPES: dict[str, Any] = {cls.__name__: cls for cls in NODE_TYPES}

# Documents parsed and validated once, then served from these LRU caches (shared by every
# request of the process); the benchmark reads their hit counts.
PARSE_CACHE_SIZE = 512
VALIDATION_CACHE_SIZE = 512


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema for ``settings``: built once per process for each set of the limits it
    reads (an app per test made it again and again, 25 ms each)."""
    settings = settings or Settings()
    return _built(
        settings.is_production,
        settings.max_query_tokens,
        settings.max_query_depth,
        settings.max_query_fields,
        settings.max_query_cost,
        settings.max_page_size,
        settings.compiler,
    )


@lru_cache(maxsize=16)
def _built(
    production: bool,
    tokens: int,
    depth: int,
    fields: int,
    cost: int,
    page_size: int,
    compiler: str = "off",
) -> strawberry.Schema:
    production_only: list[Any] = [HideSuggestions] if production else []
    return DeskgraphSchema(
        execution_context_class=CompilingExecutor if compiler != "off" else None,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=NODE_TYPES,
        # Factories: extensions are made per request; the parse and validation caches are
        # module-level in Strawberry, so they persist across requests.
        extensions=[
            *production_only,
            NoLongIntegers,
            ValidationErrorCodes,
            partial(MaxTokensLimiter, max_token_count=tokens),
            partial(IndexedParserCache, maxsize=PARSE_CACHE_SIZE),
            partial(CheckedValidationCache, maxsize=VALIDATION_CACHE_SIZE),
            partial(AddValidationRules, _validation_rules(production, depth, fields)),
            NoNulCharacters,
            partial(QueryCost, limit=cost, max_page_size=page_size),
            ViewerLookup,  # after QueryCost: a refused operation reads no viewer
            OperationTrace,  # the operation on the request's span (tracing on: server.tracing)
        ],
    )


def _validation_rules(production: bool, depth: int, fields: int) -> list[type[ASTValidationRule]]:
    rules: list[type[ASTValidationRule]] = [limits_rule(depth, fields)]
    if production:
        # No schema browsing in production (`__typename` still answers); a federation router
        # reads the SDL from `_service`, which stays.
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


def export_sdl() -> str:
    return build_schema().as_str() + "\n"
