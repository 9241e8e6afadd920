"""The Dockerfile and docker-compose.yml a reader runs: their structure, every command they run
is one the CLI has, their environment is settings deskgraph starts with, no secret is written
in them, and the image's build context keeps the package. `docker compose config` (or
docker-compose's) validates the file too where it is installed; docker's daemon is not needed."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML comes with uvicorn[standard]

from deskgraph.cli import _parser
from deskgraph.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
# What a reader sets before `docker compose up` (README, Docker Compose).
READER_ENVIRONMENT = {"POSTGRES_PASSWORD": "compose-test", "DESKGRAPH_TOKEN_SECRET": "s" * 32}


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def _interpolate(value: str, environment: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}`` and ``${NAME:?message}``, as a reader's shell has them."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.group(1), match.group(2), match.group(3)
        if environment.get(name):
            return environment[name]
        if kind == ":?":
            raise LookupError(f"{name}: {rest}")
        return rest or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def _dockerfile_instruction(name: str) -> list[str]:
    """The JSON (exec) form of a Dockerfile instruction, continuation lines joined."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    assert len(found) == 1, f"one {name} in the Dockerfile"
    value = found[0].removeprefix(f"{name} ")
    value = value[value.index("[") :]  # HEALTHCHECK's options come before CMD
    parsed: list[str] = json.loads(value)
    return parsed


def test_compose_runs_postgresql_15_migrations_once_then_two_workers() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "migrate", "deskgraph"}
    assert services["postgres"]["image"] == "postgres:15"
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert services["migrate"]["command"] == ["deskgraph", "db", "upgrade"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["migrate"]["restart"] == "no"
    assert services["deskgraph"]["command"] == ["deskgraph", "serve", "--workers", "2"]
    assert services["deskgraph"]["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"}
    }
    assert any("/readyz" in part for part in services["deskgraph"]["healthcheck"]["test"])
    assert services["deskgraph"]["image"] == services["migrate"]["image"]


def test_every_command_of_the_images_is_one_the_cli_has() -> None:
    commands = [
        service["command"] for service in _compose()["services"].values() if "build" in service
    ]
    commands.append(_dockerfile_instruction("CMD"))
    assert len(commands) == 3
    for command in commands:
        assert command[0] == "deskgraph"
        _parser().parse_args(command[1:])  # argparse exits on a command it does not have


def test_the_image_checks_readyz_and_serves_in_production() -> None:
    healthcheck = " ".join(_dockerfile_instruction("HEALTHCHECK"))
    assert "/readyz" in healthcheck
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    assert "DESKGRAPH_ENV=production" in dockerfile
    assert "DESKGRAPH_HOST=0.0.0.0" in dockerfile
    assert re.search(r"^USER deskgraph$", dockerfile, re.MULTILINE)


def test_compose_environment_is_settings_deskgraph_starts_with() -> None:
    environment = _compose()["services"]["deskgraph"]["environment"]
    values = {
        name: _interpolate(str(value), READER_ENVIRONMENT) for name, value in environment.items()
    }
    settings = Settings.from_env(values)
    assert settings.is_production
    assert settings.database_url == (
        "postgresql+asyncpg://deskgraph:compose-test@postgres:5432/deskgraph"
    )
    assert settings.token_secret == READER_ENVIRONMENT["DESKGRAPH_TOKEN_SECRET"]
    assert settings.trusted_proxies == ()
    with pytest.raises(LookupError, match="POSTGRES_PASSWORD"):
        _interpolate(environment["DESKGRAPH_DATABASE_URL"], {})


def test_compose_writes_no_secret() -> None:
    for service in _compose()["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if re.search(r"SECRET|PASSWORD", name):
                assert str(value).startswith("${"), f"{name} is written in the file"
    assert (
        "${POSTGRES_PASSWORD:?" in _compose()["x-deskgraph-environment"]["DESKGRAPH_DATABASE_URL"]
    )


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether a .dockerignore pattern leaves ``path`` out: the path or a folder above it
    matches (``**/name``: a folder or file of that name anywhere)."""
    parts = path.split("/")
    above = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern.removeprefix("**/")) for part in parts):
                return True
        elif any(fnmatch.fnmatch(prefix, pattern) for prefix in above):
            return True
    return False


def test_the_build_context_keeps_the_package() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.split()
    needed = [
        path
        for path in listed
        if path in ("pyproject.toml", "README.md", "schema.graphql")
        or (path.endswith((".py", ".html", ".mako")) and not path.startswith(("tests/", ".ci/")))
        or path.startswith("graphiql/static/")
    ]
    assert "store/migrations/versions/0001_initial_schema.py" in needed
    assert [path for path in needed if _ignored(path, patterns)] == []
    assert _ignored("tests/test_cli.py", patterns)
    assert _ignored(".venv/bin/python", patterns)
