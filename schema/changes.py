"""The schema-change check: ``schema.graphql`` against a base version of it, failing on a
breaking change (graphql-core's ``find_breaking_changes``) that ``schema-changes.toml`` does not
mark intended; dangerous changes are reported, never failed.

The base, first that applies:

1. ``--base REV`` or ``DESKGRAPH_SCHEMA_BASE=REV``: a git revision, or the path of an SDL file.
2. A branch ahead of main (``origin/main``, else ``main``): the schema where it left main
   (``git merge-base HEAD main``), so every commit of the branch and the working tree count.
3. Main itself (a clean clone at main, or a branch not ahead of it): the schema before main's
   latest change to it (the first parent of the last first-parent commit that changed
   ``schema.graphql``), so the change that landed last fails on main until marked intended,
   also after a branch was merged.

The working tree's file is compared, uncommitted edits included. Without git, in a shallow
clone, or when a base cannot be read, the check fails and says how to give it a base: it never
passes for want of history.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from graphql import (
    BreakingChange,
    DangerousChange,
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
)

BASE_VARIABLE = "DESKGRAPH_SCHEMA_BASE"
SCHEMA_NAME = "schema.graphql"
INTENDED_NAME = "schema-changes.toml"
MAIN_REFS = ("refs/remotes/origin/main", "refs/heads/main")
GIT_SECONDS = 30.0


class SchemaCheckError(RuntimeError):
    """No base to compare with: the message says why and what to do."""


@dataclass(frozen=True)
class Intended:
    """A breaking change marked intended: graphql-core's description of it, or a schema
    coordinate (``Ticket.title``, ``Query.tickets(first:)``, ``TicketStatus.OPEN``,
    ``Ticket``) that the description names."""

    reason: str
    change: str = ""
    path: str = ""

    def covers(self, description: str) -> bool:
        if self.change:
            return description == self.change
        # The coordinate as a whole name: `Ticket.title` is not `Ticket.titleHtml`, and
        # `Ticket` alone is the type, not its fields.
        return re.search(rf"(?<![\w.@]){re.escape(self.path)}(?![\w.(])", description) is not None


@dataclass
class Report:
    base: str  # what was compared with, in words
    breaking: list[str] = field(default_factory=list)  # not marked intended: these fail
    intended: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)
    unused: list[Intended] = field(default_factory=list)  # entries that cover no change

    @property
    def ok(self) -> bool:
        return not self.breaking

    def lines(self) -> list[str]:
        out = [f"schema.graphql compared with {self.base}"]
        out += [f"BREAKING: {text}" for text in self.breaking]
        out += [f"breaking, intended: {text}" for text in self.intended]
        out += [f"dangerous: {text}" for text in self.dangerous]
        out += [
            f"{INTENDED_NAME}: no change matches {entry.change or entry.path!r} (remove it)"
            for entry in self.unused
        ]
        if self.breaking:
            out.append(
                f"{len(self.breaking)} breaking change(s): restore what clients use, or mark "
                f"each intended in {INTENDED_NAME} (change or path, and reason)"
            )
        elif not (self.intended or self.dangerous):
            out.append("no breaking or dangerous change")
        return out


def compare(
    old_sdl: str | None, new_sdl: str, intended: list[Intended], *, base: str = "the base"
) -> Report:
    """The changes from ``old_sdl`` to ``new_sdl``; ``None``: there was no schema before."""
    if old_sdl is None:
        return Report(base=f"{base} (no schema there: nothing to compare)")
    old, new = _schema(old_sdl), _schema(new_sdl)
    report = Report(base=base)
    used: set[Intended] = set()
    for change in find_breaking_changes(old, new):
        marks = [entry for entry in intended if entry.covers(change.description)]
        used.update(marks)
        (report.intended if marks else report.breaking).append(_text(change))
    report.dangerous = [_text(change) for change in find_dangerous_changes(old, new)]
    report.unused = [entry for entry in intended if entry not in used]
    return report


def _text(change: BreakingChange | DangerousChange) -> str:
    return f"{change.type.name}: {change.description}"


def _schema(sdl: str) -> GraphQLSchema:
    # The federation directives (@link, @key) are the router's: the SDL does not define them.
    return build_schema(sdl, assume_valid_sdl=True)


def read_intended(path: Path) -> list[Intended]:
    """``[[intended]]`` entries, each with ``change`` or ``path``, and a ``reason``."""
    if not path.exists():
        return []
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise SchemaCheckError(f"{path.name}: {error}") from None
    entries = []
    for number, item in enumerate(document.get("intended", []), start=1):
        change, where, reason = (
            str(item.get(key, "")).strip() for key in ("change", "path", "reason")
        )
        if bool(change) == bool(where) or not reason:
            raise SchemaCheckError(
                f"{path.name}: [[intended]] number {number} needs `change` or `path` "
                "(one of them) and a `reason`"
            )
        entries.append(Intended(reason=reason, change=change, path=where))
    return entries


def check(root: Path, base: str | None = None, *, git: str = "git") -> Report:
    """``root``'s ``schema.graphql`` against its base (module docstring); ``base`` defaults to
    ``DESKGRAPH_SCHEMA_BASE``."""
    base = base or os.environ.get(BASE_VARIABLE) or None
    new_sdl = (root / SCHEMA_NAME).read_text(encoding="utf-8")
    intended = read_intended(root / INTENDED_NAME)
    if base is not None and (sdl_file := _file(root, base)) is not None:
        return compare(sdl_file.read_text(encoding="utf-8"), new_sdl, intended, base=base)
    repository = _Git(root, git)
    if base is not None:
        sdl = repository.schema_at(base)
        if sdl is None:
            raise SchemaCheckError(f"{base} has no {SCHEMA_NAME}")
        return compare(sdl, new_sdl, intended, base=f"{base} ({BASE_VARIABLE} or --base)")
    revision, label = repository.default_base()
    old = repository.schema_at(revision) if revision else None
    return compare(old, new_sdl, intended, base=label)


def run(root: Path, base: str | None) -> int:
    """`deskgraph schema-check`: the report on stdout; 1 on a breaking change or no base."""
    try:
        report = check(root, base)
    except SchemaCheckError as error:
        print(f"deskgraph: schema-check: {error}", file=sys.stderr)
        return 1
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


def _file(root: Path, base: str) -> Path | None:
    """``base`` as an SDL file: relative to the working directory or to ``root``."""
    for candidate in (Path(base), root / base):
        if candidate.suffix in (".graphql", ".graphqls", ".sdl") and candidate.is_file():
            return candidate
    return None


class _Git:
    def __init__(self, root: Path, executable: str) -> None:
        self.root = root
        self.executable = shutil.which(executable)
        if self.executable is None:
            raise SchemaCheckError(
                f"git is not installed, so there is no base to compare {SCHEMA_NAME} with: "
                f"set {BASE_VARIABLE} to an SDL file (or install git)"
            )
        if self.run("rev-parse", "--is-inside-work-tree", check=False) != "true":
            raise SchemaCheckError(
                f"{root} is not a git checkout, so there is no base to compare {SCHEMA_NAME} "
                f"with: set {BASE_VARIABLE} to an SDL file"
            )

    def run(self, *args: str, check: bool = True) -> str | None:
        assert self.executable is not None
        done = subprocess.run(
            [self.executable, "-C", str(self.root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_SECONDS,
            check=False,
        )
        if done.returncode != 0:
            if check:
                raise SchemaCheckError(f"git {' '.join(args)}: {done.stderr.strip()}")
            return None
        return done.stdout.strip()

    def schema_at(self, revision: str) -> str | None:
        if (
            self.run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False)
            is None
        ):
            raise SchemaCheckError(f"no git revision {revision!r} here (a shallow clone?)")
        done = subprocess.run(
            [str(self.executable), "-C", str(self.root), "show", f"{revision}:./{SCHEMA_NAME}"],
            capture_output=True,
            text=True,
            timeout=GIT_SECONDS,
            check=False,
        )
        return done.stdout if done.returncode == 0 else None

    def default_base(self) -> tuple[str | None, str]:
        """The revision to compare with (``None``: no earlier schema), and what it is in
        words."""
        if self.run("rev-parse", "--is-shallow-repository") == "true":
            raise SchemaCheckError(
                "a shallow clone has not the history to compare schema.graphql with: "
                f"`git fetch --unshallow`, or set {BASE_VARIABLE} to a revision or an SDL file"
            )
        head = self.run("rev-parse", "HEAD", check=False)
        if head is None:
            return None, "no commit yet"
        for ref in MAIN_REFS:
            if self.run("rev-parse", "--verify", "--quiet", ref, check=False) is None:
                continue
            fork = self.run("merge-base", "HEAD", ref)
            if fork and fork != head:
                name = ref.removeprefix("refs/remotes/").removeprefix("refs/heads/")
                return fork, f"where this branch left {name} ({fork[:12]}, git merge-base)"
            break
        last = self.run("log", "-1", "--first-parent", "--format=%H", "HEAD", "--", SCHEMA_NAME)
        if not last:
            return None, "no commit of schema.graphql yet"
        parent = self.run("rev-parse", "--verify", "--quiet", f"{last}^1", check=False)
        if parent is None:
            return None, f"{last[:12]}, the first commit of schema.graphql"
        return parent, f"the schema before main's latest change to it ({last[:12]}^1)"
