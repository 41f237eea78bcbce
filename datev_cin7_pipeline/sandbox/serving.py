"""Serve an ASGI app on loopback in a background thread, for the simulators and the tests that use them.

The simulators must be reachable over real HTTP (the pipeline's clients use `requests`), yet a test must
start and stop one in milliseconds without a subprocess. `serve_in_thread` runs uvicorn in a daemon
thread on a socket it binds itself, so port 0 gives a free port that is known before the first request.

Simulating a dropped connection needs something ASGI cannot express: closing the socket without any
response. The server therefore runs uvicorn's h11 protocol with one addition, a scope extension under
`DROP_CONNECTION_EXTENSION` that closes the transport, and `DropConnection` is the Starlette response
that uses it. A client then sees the connection end before a status line (a ConnectionError in requests).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any, cast

import uvicorn
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

DROP_CONNECTION_EXTENSION = "datev_cin7_pipeline.sandbox.drop_connection"
_STARTUP_TIMEOUT_SECONDS = 10.0
_SHUTDOWN_TIMEOUT_SECONDS = 10.0


class _DroppableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, plus a scope extension that lets the app close the connection unanswered."""

    def handle_events(self) -> None:
        super().handle_events()
        # A new request's task is created inside handle_events but only starts on the next loop turn,
        # so the scope can still be extended here before the app sees it.
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            scope = cast(dict[str, Any], cycle.scope)
            scope.setdefault("extensions", {})[DROP_CONNECTION_EXTENSION] = cycle.transport.close


class DropConnection(Response):
    """A response that sends nothing and closes the socket, as a crashed proxy or a reset would."""

    def __init__(self) -> None:
        super().__init__(content=b"", status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        close = scope.get("extensions", {}).get(DROP_CONNECTION_EXTENSION)
        if close is None:
            raise RuntimeError("dropping a connection needs the server started by serve_in_thread")
        close()
        # Wait until the server has noticed the closed socket, so it does not answer on our behalf.
        async with asyncio.timeout(_SHUTDOWN_TIMEOUT_SECONDS):
            while (await receive())["type"] != "http.disconnect":
                pass


class RunningServer:
    """A uvicorn server running in a background thread; stop it with `stop()` or a `with` block."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, host: str, port: int) -> None:
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """The root URL without a trailing slash, e.g. `http://127.0.0.1:54321`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Ask uvicorn to shut down (closing idle keep-alive connections) and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(_SHUTDOWN_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(_SHUTDOWN_TIMEOUT_SECONDS)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start `app` on `host:port` (0 = any free port) and return once it accepts connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        http=_DroppableH11Protocol,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{bound_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive():
            sock.close()
            raise RuntimeError(f"the server on {host}:{bound_port} stopped during startup (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"the server on {host}:{bound_port} did not start within {_STARTUP_TIMEOUT_SECONDS}s")
        time.sleep(0.005)
    return RunningServer(server, thread, host, bound_port)
