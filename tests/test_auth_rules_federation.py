"""The federation rule, as a table over hand-built viewers (no database)."""

from __future__ import annotations

from typing import Any

import pytest

from deskgraph.auth import federation as rules
from tests.rule_tables import Case, check, forbid, permit, table_params

IN_PRODUCTION = {"production": True, "public_sdl": False}
OPENED = {"production": True, "public_sdl": True}
IN_DEVELOPMENT = {"production": False, "public_sdl": False}

TABLES: dict[Any, list[Case]] = {
    rules.may_read_subgraph_sdl: [
        permit("service_read", production=True, public_sdl=False, note="the router"),
        permit("service_no_scope", production=True, public_sdl=False, note="any service token"),
        forbid("host_admin", production=True, public_sdl=False, note="not even an ADMIN"),
        forbid("external_advisor", production=True, public_sdl=False),
        forbid("customer_user", production=True, public_sdl=False),
        permit("customer_user", production=True, public_sdl=True, note="DESKGRAPH_PUBLIC_SDL"),
        permit("host_viewer", production=False, public_sdl=False),
    ],
}


@pytest.mark.parametrize(("rule", "row"), table_params(TABLES))
def test_federation_rule_table(rule: Any, row: Case) -> None:
    check(rule, row)


@pytest.mark.parametrize(
    ("settings", "allowed"), [(IN_PRODUCTION, False), (OPENED, True), (IN_DEVELOPMENT, True)]
)
def test_may_read_subgraph_sdl_anonymous(settings: dict[str, bool], allowed: bool) -> None:
    assert rules.may_read_subgraph_sdl(None, **settings) is allowed
