"""Portal settings reads: an organization's saved settings, by organization; and
``Organization.portalSettings`` as the compiler reads it (:func:`portal_settings`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from graphql import FieldNode
from sqlalchemy import FromClause, case, false, func, literal
from sqlalchemy.engine import Row

from deskgraph.loaders.base import DataLoader, Reader, select_all, table_of
from deskgraph.loaders.compiled_fields import NotCompiled
from deskgraph.loaders.compiled_json import Attached, Joins
from deskgraph.store import models

if TYPE_CHECKING:
    from deskgraph.loaders.compiled import Compiler

_SETTINGS = table_of(models.PortalSettings)


class PortalSettingsByOrganizationIdLoader(DataLoader[int, Row[Any] | None]):
    """``PortalSettingsByOrganizationId``: the organization's saved portal settings, or
    ``None`` when it never saved (the defaults apply)."""

    def __init__(self, reader: Reader) -> None:
        super().__init__()
        self.reader = reader

    async def batch_load_fn(self, keys: Sequence[int]) -> list[Row[Any] | None]:
        column = _SETTINGS.c.organization_id
        rows = await self.reader.rows(select_all(_SETTINGS).where(column.in_(keys)))
        by_organization = {row.organization_id: row for row in rows}
        return [by_organization.get(key) for key in keys]


# What Organization.portalSettings answers of the saved row, by field: a flag's column (false
# when the organization never saved, as PortalSettings.of answers).
_FLAGS = {
    "companyTickets": "show_company_tickets",
    "followedProjectTickets": "show_followed_project_tickets",
    "acknowledgeNewTickets": "acknowledge_new_tickets",
}
# The defaults' properties, sorted as PortalSettings.of sorts them (by name).
_DEFAULT_PROPERTIES = sorted(p.value for p in models.DEFAULT_PORTAL_PROPERTIES)


def portal_settings(
    compiler: Compiler, organization: FromClause, node: FieldNode, laterals: Joins
) -> Any:
    """``Organization.portalSettings`` compiled (``resolvers.organization_portal``): the
    organization's saved row, joined to the organization's (none: the defaults, at version 0),
    built as ``schema.organization_portal.PortalSettings.of`` builds it. Who may read it is
    the field's rule (PORTAL_SETTINGS), answered around this value by its twin."""
    from deskgraph.loaders.compiled_declarations import COMPILED

    if node.selection_set is None:
        raise NotCompiled("Organization.portalSettings without fields")
    # Joined to the organization's row (at most one: its key), not read in a subquery of
    # its own: on SQLite a level less for its parser, which deep selections reach.
    saved = compiler.alias(_SETTINGS)
    laterals.append(Attached(saved, saved.c.organization_id == organization.c.id))
    pairs: list[Any] = []
    for field in compiler.collector.fields(node.selection_set, "PortalSettings"):
        name = field.name.value
        if field.arguments or (field.selection_set is not None and name != "updatedBy"):
            raise NotCompiled(f"PortalSettings.{name}")
        if name == "__typename":
            value: Any = literal("PortalSettings")
        elif name in _FLAGS:
            value = compiler.sql.boolean(func.coalesce(saved.c[_FLAGS[name]], false()))
        elif name == "version":
            value = func.coalesce(saved.c.version, 0)
        elif name == "updatedAt":
            value = case(
                (saved.c.updated_at.is_not(None), compiler.sql.iso_utc(saved.c.updated_at))
            )
        elif name == "visibleProperties":
            default = compiler.sql.items([literal(p) for p in _DEFAULT_PROPERTIES])
            value = case(
                (
                    saved.c.organization_id.is_not(None),
                    compiler.sql.sorted_texts(
                        saved.c.visible_properties, f"{saved.description}_properties"
                    ),
                ),
                else_=default,
            )
        elif name == "updatedBy":
            advisor = COMPILED["Advisor"]
            by = compiler.alias(advisor.table)
            if field.selection_set is None:
                raise NotCompiled("PortalSettings.updatedBy without fields")
            where = [by.c.id == saved.c.updated_by_id]
            value = compiler.to_one(advisor, by, where, field.selection_set, laterals)
        else:
            raise NotCompiled(f"PortalSettings.{name}")
        pairs += [literal(field.alias.value if field.alias else name), value]
    return compiler.sql.object(pairs)
