"""deskgraph served for real (uvicorn on 127.0.0.1, in this process or another) and the local
SMTP server the mail tests read. The fixtures that hand them out are in ``tests/conftest.py``."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP as SMTPServer, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine

from deskgraph.server.events import LocalHub

SERVED_WAIT = 10.0  # seconds a served app gets for one answer, or its subscriptions to listen


@dataclass
class Served:
    """deskgraph served by uvicorn (with its lifespan) on 127.0.0.1, as a client meets it:
    HTTP for queries and writes, WebSocket for subscriptions; a bearer token per persona."""

    url: str
    tokens: dict[str, str]
    # For the test's own SQL: the app's engine belongs to the server's event loop.
    engine: AsyncEngine
    database_url: str = ""
    app: Any = None

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql.replace("http://", "ws://")

    async def post(self, query: str, variables: dict[str, Any], persona: str) -> dict[str, Any]:
        """The ``data`` of a request over HTTP that must succeed without errors."""
        async with httpx.AsyncClient(base_url=self.url, timeout=SERVED_WAIT) as client:
            response = await client.post(
                "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.tokens[persona]}"},
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def scalar(self, statement: Any) -> Any:
        async with self.engine.connect() as connection:
            return await connection.scalar(statement)

    async def listening(self, count: int = 1) -> None:
        """Until ``count`` subscriptions of the served app listen (it runs in this process)."""
        hub = LocalHub.of(self.database_url)
        for _ in range(int(SERVED_WAIT / 0.01)):
            if hub.subscriber_count >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{hub.subscriber_count} subscriptions listen, not {count}")


class Inbox:
    """An aiosmtpd handler that keeps what it accepted; ``refuse`` makes it answer the next
    deliveries (DATA) with an error instead."""

    def __init__(self) -> None:
        self.port = 0
        self.deliveries = 0
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str | None, list[str]]] = []
        self._answers: list[str] = []

    def refuse(self, times: int, answer: str) -> None:
        self._answers.extend([answer] * times)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.deliveries += 1
        if self._answers:
            return self._answers.pop(0)
        assert isinstance(envelope.content, bytes)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [str(message["Message-ID"]) for message in self.messages]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_process(
    database_url: str,
    environment: Mapping[str, str] | None = None,
    stderr: IO[str] | int = subprocess.PIPE,
) -> Iterator[str]:
    """``deskgraph serve`` in a process of its own, on a free port of 127.0.0.1, with these
    further variables; its stderr goes to ``stderr``."""
    port = free_port()
    variables = {
        **os.environ,
        "DESKGRAPH_DATABASE_URL": database_url,
        "DESKGRAPH_PORT": str(port),
        "DESKGRAPH_HOST": "127.0.0.1",
        **(environment or {}),
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "deskgraph"), "serve"],
        env=variables,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("deskgraph serve did not start in 30 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
