"""The local simulators ``deskgraph serve`` starts in development, so the demo's upstream
sources answer as they would in production: JDLink's fleet API (unless DESKGRAPH_JDLINK_URL is
set), and a Salesforce and a Dataverse holding the Ferrars household, which an ADMIN can
connect with ``configureCrm`` (the demo itself uses the built-in CRM)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator

from deskgraph.settings import Settings
from deskgraph.sources.crm.dynamics_simulator import DynamicsSimulator
from deskgraph.sources.crm.dynamics_tables import demo_entities
from deskgraph.sources.crm.registry import SECRET_VARIABLE_PREFIX
from deskgraph.sources.crm.salesforce_simulator import SalesforceSimulator, demo_records
from deskgraph.sources.jdlink.simulator import JdlinkSimulator
from deskgraph.sources.loopback import LoopbackServer
from deskgraph.store.seed import demo_fleet

# The secrets' names a development configuration gives: `secret: "env:SALESFORCE_SIMULATOR"`.
SIMULATOR_SECRETS = {"SALESFORCE": "SALESFORCE_SIMULATOR", "DYNAMICS": "DYNAMICS_SIMULATOR"}


@contextlib.contextmanager
def jdlink_simulator(settings: Settings) -> Iterator[Settings]:
    """Development without DESKGRAPH_JDLINK_URL: serve the demo fleet from the local JDLink
    simulator on a loopback port, so ``Machine.jdlink`` answers as it would in production."""
    simulator = JdlinkSimulator(demo_fleet())
    port = settings.jdlink_simulator_port  # DESKGRAPH_JDLINK_SIMULATOR_PORT; 0: any free port
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(LoopbackServer(simulator.app, port=port))
        except RuntimeError:
            raise RuntimeError(
                f"the JDLink simulator cannot listen on 127.0.0.1:{port}: is the port taken? "
                "Set DESKGRAPH_JDLINK_SIMULATOR_PORT to a free port, or 0 for any."
            ) from None
        print(f"deskgraph: JDLink simulator (demo fleet) on {server.url}", file=sys.stderr)
        yield dataclasses.replace(
            settings,
            jdlink_url=server.url,
            jdlink_client_id=simulator.client_id,
            jdlink_client_secret=simulator.client_secret,
        )


@contextlib.contextmanager
def crm_simulators() -> Iterator[dict[str, str]]:
    """A local Salesforce and a local Dataverse on free loopback ports, their client secrets in
    the environment (for this process and its workers) under the names of SIMULATOR_SECRETS.
    Answers their base URLs by kind."""
    simulators: dict[str, SalesforceSimulator | DynamicsSimulator] = {
        "SALESFORCE": SalesforceSimulator(records=demo_records()),
        "DYNAMICS": DynamicsSimulator(demo_entities()),
    }
    urls: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        for kind, simulator in simulators.items():
            server = stack.enter_context(LoopbackServer(simulator.app))
            urls[kind] = server.url
            os.environ[SECRET_VARIABLE_PREFIX + SIMULATOR_SECRETS[kind]] = simulator.client_secret
            print(
                f"deskgraph: {kind.title()} simulator on {server.url} (configureCrm: kind "
                f'{kind}, baseUrl "{server.url}", clientId "{simulator.client_id}", secret '
                f'"env:{SIMULATOR_SECRETS[kind]}")',
                file=sys.stderr,
            )
        yield urls
