"""Every test gives back the pooled connections it took: each one checked out while the test
ran is back in its pool (or detached from it) once the test and its fixtures have ended.

A connection left checked out is what a request, subscription event or worker would leak in
production. The garbage collector finds it later, under whichever test is running then
(SQLAlchemy's "The garbage collector is trying to clean up non-checked-in connection"), and
only when it happens to run; this check names the test that left it, every time. It costs a
dictionary entry per checkout. With ``DESKGRAPH_TEST_CHECKOUT_STACKS=1`` each connection also
records where it was checked out (slower), which the failure then shows.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from sqlalchemy import event
from sqlalchemy.pool import Pool

STACKS = os.environ.get("DESKGRAPH_TEST_CHECKOUT_STACKS") == "1"


class CheckedOut:
    """The connections of every pool of this process that are checked out now."""

    def __init__(self) -> None:
        self.records: dict[Any, str] = {}  # connection record -> where it was checked out

    def listen(self) -> None:
        event.listen(Pool, "checkout", self._checked_out)
        event.listen(Pool, "checkin", self._returned)
        event.listen(Pool, "detach", self._returned)

    def _checked_out(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        self.records[record] = "".join(traceback.format_stack(limit=40)[:-1]) if STACKS else ""

    def _returned(self, _dbapi_connection: Any, record: Any) -> None:
        self.records.pop(record, None)

    def take_leaks(self) -> list[str]:
        """The connections still checked out, forgotten once said (a test fails once)."""
        leaks = [f"{record.dbapi_connection!r}\n{where}" for record, where in self.records.items()]
        self.records.clear()
        return leaks


CHECKED_OUT = CheckedOut()
CHECKED_OUT.listen()


def assert_all_returned(test: str) -> None:
    leaks = CHECKED_OUT.take_leaks()
    assert not leaks, (
        f"{test} left {len(leaks)} pooled connection(s) checked out (rerun it with "
        "DESKGRAPH_TEST_CHECKOUT_STACKS=1 to see where each was checked out):\n" + "\n".join(leaks)
    )
