"""Running the content server under uvicorn: for good (the command) or in a thread (tests).

It runs behind the ente's HTTPS reverse proxy (nginx, Caddy). The proxy's path prefix is
the server's own option (``ServerOptions.root_path``); the proxy's ``X-Forwarded-For`` /
``-Proto`` headers are believed only from ``forwarded_allow_ips`` (uvicorn's rule; default:
a proxy on loopback). The socket is bound before uvicorn starts, so the port is known (port
0 = any free one) and clients that connect early wait in the backlog instead of being
refused.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from dispatcher.content.server import ServerOptions, create_app
from dispatcher.serving import listening_socket, served_in_thread

__all__ = ["Listen", "RunningContentServer", "bind", "running_content_server", "serve"]


@dataclass(frozen=True)
class Listen:
    """Where and how the server listens."""

    host: str = "127.0.0.1"
    port: int = 8788
    forwarded_allow_ips: str = "127.0.0.1"
    log_level: str = "warning"


@dataclass(frozen=True)
class RunningContentServer:
    """A served content server: its address, for clients and tests."""

    app: ASGIApp
    host: str
    port: int

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; OSError names what went wrong."""
    return listening_socket(host, port)


def uvicorn_config(app: ASGIApp, listen: Listen) -> uvicorn.Config:
    """uvloop/httptools when installed, no access log, the host program's logging left alone."""
    return uvicorn.Config(
        app, loop="auto", http="auto", ws="none", lifespan="on", access_log=False,
        log_config=None, log_level=listen.log_level, proxy_headers=True,
        forwarded_allow_ips=listen.forwarded_allow_ips,
        server_header=False, timeout_graceful_shutdown=5,
    )


def serve(options: ServerOptions, listen: Listen, sock: socket.socket | None = None) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn's handlers: in-flight answers finish first).

    uvicorn re-raises the signal it handled once it has stopped; a SIGTERM would then kill
    the process (exit -15) after a clean stop. The handler in place around it turns that
    into a normal return, so systemd and cron see exit 0.
    """
    app = create_app(options)
    sock = sock or bind(listen.host, listen.port)
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        with contextlib.suppress(KeyboardInterrupt, _Stopped):  # the re-raised signal
            uvicorn.Server(uvicorn_config(app, listen)).run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Stopped(Exception):
    """SIGTERM arrived (again, after uvicorn's graceful stop)."""


def _stopped(signum: int, frame: object) -> None:
    raise _Stopped


@contextlib.contextmanager
def running_content_server(options: ServerOptions, listen: Listen | None = None, *,
                           startup_timeout: float = 10.0) -> Iterator[RunningContentServer]:
    """Serve from a background thread until the block ends (tests, benchmarks, the demo)."""
    listen = listen or Listen(port=0)
    app = create_app(options)
    sock = bind(listen.host, listen.port)
    with served_in_thread(uvicorn_config(app, listen), sock, name="content server",
                          startup_timeout=startup_timeout) as port:
        yield RunningContentServer(app, listen.host, port)
