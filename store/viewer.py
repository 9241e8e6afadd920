"""Which writes change a viewer, seen where every write passes: the engine.

The viewer of a token (``loaders.viewer``) is read from a handful of tables and cached per
process (``loaders.viewer.ViewerCache``). A cached viewer must die with the first commit that
changes one of those rows, whatever wrote it: a mutation, a CLI command, a background worker, a
test's factory. Asking every write path to say so would make one forgotten path an access leak,
so the engine says it instead:

- ``before_execute``: an INSERT, UPDATE or DELETE of a ``VIEWER_TABLES`` table (or a DELETE of
  a table whose deletion reaches one through an ``ON DELETE`` foreign key) marks the
  connection's transaction, and the first such statement of a transaction also writes a
  ``viewers`` event into it (``store.event_log``): every other process's listener reads it
  once the transaction commits and drops its cached viewers (``LocalHub.deliver``).
- ``commit``: this process drops its cached viewers before the commit is sent, and again once
  it is done (at the connection's next statement or its return to the pool, whichever comes
  first): a viewer read while the commit was in flight may have seen the rows before it, and
  the second drop ends it. Both drops are the hub's generation moving on
  (``LocalHub.access_changed``), which a cached viewer is checked against on every request.

What the engine cannot see: SQL written as text (``text("UPDATE advisors ...")``: the
migrations only) and writes made by hand outside deskgraph. The cache's TTL
(``Settings.viewer_cache_seconds``) bounds those.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Insert, Update, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

from deskgraph.server.events import LocalHub
from deskgraph.store import event_log, models
from deskgraph.store.event_log import VIEWERS_EVENT

# The tables the viewer read (``loaders.viewer``) reads: keep in step with its statements
# (tests/test_viewer_cache.py checks that every table they name is here).
VIEWER_TABLES = frozenset(
    {
        models.Advisor.__tablename__,
        models.TeamMembership.__tablename__,
        models.Team.__tablename__,
        models.CustomerUser.__tablename__,
        models.Customer.__tablename__,
        models.PortalSettings.__tablename__,
        models.ProjectFollower.__tablename__,
        models.Project.__tablename__,
        models.TicketRequester.__tablename__,
    }
)
# connection.info keys: this transaction wrote viewer rows; its event is written; the hub whose
# viewers to drop again once the commit is done.
_WROTE = "deskgraph_viewers_wrote"
_EMITTED = "deskgraph_viewers_emitted"
_SETTLE = "deskgraph_viewers_settle"


def _deletion_reaches(tables: frozenset[str]) -> frozenset[str]:
    """The tables whose DELETE deletes or changes rows of ``tables`` through a foreign key's
    ``ON DELETE`` (followed transitively), ``tables`` included."""
    reached = set(tables)
    changed = True
    while changed:
        changed = False
        for table in models.Base.metadata.tables.values():
            if table.name not in reached:
                continue
            for key in table.foreign_keys:
                parent = key.column.table.name
                if key.ondelete and parent not in reached:
                    reached.add(parent)
                    changed = True
    return frozenset(reached)


DELETES_REACHING = _deletion_reaches(VIEWER_TABLES)


def changes_viewers(statement: Any) -> bool:
    """Whether ``statement`` writes rows a viewer is read from."""
    if isinstance(statement, Delete):
        return _name(statement.table) in DELETES_REACHING
    if isinstance(statement, Insert | Update):
        return _name(statement.table) in VIEWER_TABLES
    return False


def _name(table: Any) -> str | None:
    return getattr(table, "name", None)  # a Table, or an ORM entity's annotated one


def _hub(connection: Connection) -> LocalHub:
    return LocalHub.of(connection.engine.url)


def _settle(info: dict[Any, Any]) -> None:
    hub = info.pop(_SETTLE, None)
    if hub is not None:
        hub.access_changed()


def _before_execute(connection: Connection, statement: Any, *_args: Any) -> None:
    info = connection.info
    if _SETTLE in info:  # a statement after a commit: that commit is done
        _settle(info)
    if not changes_viewers(statement):
        return
    info[_WROTE] = True
    if not info.get(_EMITTED):
        info[_EMITTED] = True
        event_log.emit_on(connection, kind=VIEWERS_EVENT)


def _begin(connection: Connection) -> None:
    info = connection.info
    _settle(info)
    info.pop(_WROTE, None)
    info.pop(_EMITTED, None)


def _commit(connection: Connection) -> None:
    info = connection.info
    info.pop(_EMITTED, None)
    if info.pop(_WROTE, False):
        hub = _hub(connection)
        hub.access_changed()
        info[_SETTLE] = hub


def _rollback(connection: Connection) -> None:
    if connection.invalidated:  # see _rollback_savepoint
        return
    info = connection.info
    info.pop(_WROTE, None)
    info.pop(_EMITTED, None)


def _rollback_savepoint(connection: Connection, *_args: Any) -> None:
    # A connection that died (the server dropped it) is rolled back too: its info goes with it
    # (the pool clears a record's info when it connects anew), and reading it would raise
    # PendingRollbackError over the disconnect (a 500 for a SERVICE_UNAVAILABLE).
    if connection.invalidated:
        return
    # The event may have been written inside the savepoint: write it again if needed.
    connection.info.pop(_EMITTED, None)


def _checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        _settle(record.info)


_HOOKS: tuple[tuple[type[Any], str, Any], ...] = (
    (Engine, "before_execute", _before_execute),
    (Engine, "begin", _begin),
    (Engine, "commit", _commit),
    (Engine, "rollback", _rollback),
    (Engine, "rollback_savepoint", _rollback_savepoint),
    (Pool, "checkin", _checkin),
)


def watch() -> None:
    """Watch every engine and pool of the process (idempotent): those made before too."""
    for target, name, hook in _HOOKS:
        if not event.contains(target, name, hook):
            event.listen(target, name, hook)
