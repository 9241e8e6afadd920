"""Serve an ASGI app with uvicorn on 127.0.0.1 in a background thread: the upstream
simulators of the demo (`deskgraph serve`) and of the tests, and JWKS endpoints in tests."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

START_TIMEOUT_SECONDS = 10.0


class LoopbackServer:
    """Runs an ASGI app with uvicorn on 127.0.0.1 (``port``, 0 for a free one) in a background
    thread; with ``lifespan`` its start-up and shutdown run too (deskgraph's own app, in tests)."""

    def __init__(self, app: Any, *, lifespan: bool = False, port: int = 0) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on" if lifespan else "off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._socket = socket.socket()
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoopbackServer:
        # Bound here, not in uvicorn's thread: a port that is taken is said in this one.
        try:
            self._socket.bind(("127.0.0.1", self.port))
        except OSError as error:
            self._socket.close()
            raise RuntimeError(
                f"cannot listen on 127.0.0.1:{self.port}: {error.strerror}"
            ) from None
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_SECONDS)
        self._socket.close()
        if self._thread.is_alive():
            raise RuntimeError("the loopback server did not shut down")
