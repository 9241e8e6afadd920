"""Who may see customers, customer users and machines."""

from __future__ import annotations

from typing import Any

from deskgraph.auth.organization import can_see_organization
from deskgraph.auth.viewer import Viewer


def can_see_customer(viewer: Viewer, customer: Any) -> bool:
    if viewer.is_customer_user:
        return bool(customer.id == viewer.customer_id)
    return can_see_organization(viewer, customer.organization_id)


def can_see_customer_user(viewer: Viewer, customer_user: Any, customer: Any) -> bool:
    if viewer.is_customer_user:
        return bool(customer_user.id == viewer.customer_user_id)
    return can_see_customer(viewer, customer)


def can_see_machine(viewer: Viewer, customer: Any) -> bool:
    """A machine is seen by those who may see its owning customer."""
    return can_see_customer(viewer, customer)
