"""The schema-change check (schema/changes.py): breaking changes fail unless marked intended,
dangerous ones are reported, and the base is found on a branch, on main and in a working tree,
never skipped for want of git or history."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from deskgraph.cli import main
from deskgraph.schema.changes import (
    BASE_VARIABLE,
    Intended,
    SchemaCheckError,
    check,
    compare,
    read_intended,
)

ROOT = Path(__file__).resolve().parent.parent

BEFORE = """
type Query { ticket(id: ID!, note: String): Ticket }
type Ticket { id: ID! title: String! code: String status: TicketStatus! }
enum TicketStatus { OPEN CLOSED }
"""


def test_the_repository_schema_has_no_unintended_breaking_change() -> None:
    """The real check, as CI runs it: on a branch, against where it left main; on main,
    against the schema before its latest change (DESKGRAPH_SCHEMA_BASE overrides)."""
    report = check(ROOT)
    assert report.ok, "\n".join(report.lines())


def test_a_removed_field_is_breaking() -> None:
    after = BEFORE.replace(" code: String", "")
    report = compare(BEFORE, after, [])
    assert report.breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]
    assert not report.ok


def test_a_nullable_argument_made_non_null_is_breaking() -> None:
    after = BEFORE.replace("note: String)", "note: String!)")
    report = compare(BEFORE, after, [])
    assert report.breaking == [
        "ARG_CHANGED_KIND: Argument Query.ticket(note:) has changed type from String to String!."
    ]


def test_an_added_enum_value_is_dangerous_not_breaking() -> None:
    after = BEFORE.replace("OPEN CLOSED", "OPEN ON_HOLD CLOSED")
    report = compare(BEFORE, after, [])
    assert report.ok
    assert report.breaking == []
    assert report.dangerous == ["VALUE_ADDED_TO_ENUM: Enum value TicketStatus.ON_HOLD was added."]


def test_an_added_field_is_neither() -> None:
    after = BEFORE.replace("code: String", "code: String summary: String")
    assert compare(BEFORE, after, []).lines()[-1] == "no breaking or dangerous change"


@pytest.mark.parametrize(
    "mark",
    [
        Intended(reason="replaced by Ticket.title", path="Ticket.code"),
        Intended(reason="replaced by Ticket.title", change="Field Ticket.code was removed."),
    ],
    ids=["by-path", "by-description"],
)
def test_a_change_marked_intended_passes(mark: Intended) -> None:
    after = BEFORE.replace(" code: String", "")
    report = compare(BEFORE, after, [mark])
    assert report.ok
    assert report.intended == ["FIELD_REMOVED: Field Ticket.code was removed."]
    assert report.unused == []


@pytest.mark.parametrize("path", ["Ticket", "Ticket.cod", "Query.ticket", "Ticket.code.x"])
def test_a_path_marks_only_the_coordinate_it_names(path: str) -> None:
    after = BEFORE.replace(" code: String", "")
    report = compare(BEFORE, after, [Intended(reason="r", path=path)])
    assert report.breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]
    assert report.unused == [Intended(reason="r", path=path)]


def test_an_intended_entry_needs_a_reason_and_one_key(tmp_path: Path) -> None:
    marks = tmp_path / "schema-changes.toml"
    marks.write_text('[[intended]]\npath = "Ticket.code"\nreason = "gone"\n', encoding="utf-8")
    assert read_intended(marks) == [Intended(reason="gone", path="Ticket.code")]
    marks.write_text('[[intended]]\npath = "Ticket.code"\n', encoding="utf-8")
    with pytest.raises(SchemaCheckError, match="needs `change` or `path`"):
        read_intended(marks)
    marks.write_text(
        '[[intended]]\npath = "Ticket.code"\nchange = "x"\nreason = "r"\n', encoding="utf-8"
    )
    with pytest.raises(SchemaCheckError, match="one of them"):
        read_intended(marks)


# The base, on the paths a change takes: a small repository of SDL commits per test.


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """main: a first schema, then a commit that adds a field (safe)."""
    monkeypatch.delenv(BASE_VARIABLE, raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "test")
    _commit(repo, BEFORE, "first")
    _commit(repo, BEFORE.replace("code: String", "code: String summary: String"), "summary")
    return repo


def _commit(repo: Path, sdl: str, message: str) -> None:
    (repo / "schema.graphql").write_text(sdl, encoding="utf-8")
    _git(repo, "add", "schema.graphql")
    _git(repo, "commit", "-q", "-m", message)


def _breaking_after(repo: Path) -> str:
    return (repo / "schema.graphql").read_text(encoding="utf-8").replace(" code: String", "")


def test_base_on_main_is_the_schema_before_its_latest_change(repo: Path) -> None:
    report = check(repo)
    assert report.ok
    assert report.base.startswith("the schema before main's latest change")
    _commit(repo, _breaking_after(repo), "remove code")
    assert check(repo).breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]


def test_base_of_uncommitted_changes_on_main(repo: Path) -> None:
    (repo / "schema.graphql").write_text(_breaking_after(repo), encoding="utf-8")
    assert check(repo).breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]


def test_base_of_a_branch_is_where_it_left_main_over_all_its_commits(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature")
    _commit(repo, _breaking_after(repo), "remove code")
    # A later safe schema commit on the branch does not hide the earlier breaking one.
    _commit(repo, _breaking_after(repo) + "\ntype Extra { id: ID! }\n", "extra")
    report = check(repo)
    assert report.base.startswith("where this branch left main")
    assert report.breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]
    (repo / "schema-changes.toml").write_text(
        '[[intended]]\npath = "Ticket.code"\nreason = "replaced by title"\n', encoding="utf-8"
    )
    assert check(repo).ok


def test_a_merged_branch_is_checked_whole_on_main(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature")
    _commit(repo, _breaking_after(repo), "remove code")
    _commit(repo, _breaking_after(repo) + "\ntype Extra { id: ID! }\n", "extra")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    assert check(repo).breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]


def test_a_clean_clone_at_main_still_fails_on_the_latest_breaking_change(
    repo: Path, tmp_path: Path
) -> None:
    _commit(repo, _breaking_after(repo), "remove code")
    clone = tmp_path / "clone"
    subprocess.run(
        ["git", "clone", "-q", str(repo), str(clone)], check=True, capture_output=True, timeout=30
    )
    report = check(clone)
    assert report.breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]


def test_a_shallow_clone_fails_and_says_so(repo: Path, tmp_path: Path) -> None:
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(clone)],
        check=True,
        capture_output=True,
        timeout=30,
    )
    with pytest.raises(SchemaCheckError, match="shallow clone"):
        check(clone)


def test_without_git_the_check_fails_and_says_so(repo: Path) -> None:
    with pytest.raises(SchemaCheckError, match="git is not installed"):
        check(repo, git="no-such-git-here")


def test_outside_a_checkout_the_check_fails_unless_given_a_base_file(tmp_path: Path) -> None:
    (tmp_path / "schema.graphql").write_text(BEFORE.replace(" code: String", ""), "utf-8")
    with pytest.raises(SchemaCheckError, match="not a git checkout"):
        check(tmp_path)
    (tmp_path / "released.graphql").write_text(BEFORE, encoding="utf-8")
    for base in ("released.graphql", str(tmp_path / "released.graphql")):
        assert check(tmp_path, base).breaking == ["FIELD_REMOVED: Field Ticket.code was removed."]


def test_the_base_variable_overrides(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _git(repo, "rev-list", "--max-parents=0", "HEAD")
    _commit(repo, _breaking_after(repo), "remove code")
    _commit(repo, BEFORE.replace("code: String", "code: String summary: String"), "restore")
    assert check(repo).ok  # the latest change restored the field
    monkeypatch.setenv(BASE_VARIABLE, "HEAD~1")
    assert check(repo).dangerous == []
    assert check(repo).breaking == []
    monkeypatch.setenv(BASE_VARIABLE, first)
    assert check(repo).ok
    monkeypatch.setenv(BASE_VARIABLE, "no-such-revision")
    with pytest.raises(SchemaCheckError, match="no git revision"):
        check(repo)


def test_cli_schema_check_prints_the_changes(capsys: pytest.CaptureFixture[str]) -> None:
    assert shutil.which("git"), "the schema check needs git on this machine"
    assert main(["schema-check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("schema.graphql compared with ")
    # A base before Project.tickets became nullable (a breaking change the history holds).
    assert main(["schema-check", "--base", "f2c1f21"]) == 1
    out = capsys.readouterr().out
    assert (
        "BREAKING: FIELD_CHANGED_KIND: Field Project.tickets changed type from "
        "TicketConnection! to TicketConnection." in out
    )
    assert main(["schema-check", "--base", "no-such-revision"]) == 1
    assert "no git revision 'no-such-revision'" in capsys.readouterr().err
