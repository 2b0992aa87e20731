"""uvicorn on a socket bound first, for good or from a background thread.

Two servers of the project run this way: the ente's content server and the embedded IO
simulator. Binding the socket before uvicorn starts means the port is known (port 0 = any
free one) and clients that connect early wait in the backlog instead of being refused. In a
thread, uvicorn must not install signal handlers: the embedding program owns the signals.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Generator, Iterator

import uvicorn

__all__ = ["EmbeddedServer", "listening_socket", "served_in_thread"]

BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port``; OSError names what went wrong."""
    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers (a thread cannot have them; the caller owns them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.contextmanager
def served_in_thread(config: uvicorn.Config, sock: socket.socket, *, name: str,
                     startup_timeout: float = 10.0) -> Iterator[int]:
    """Serve ``config``'s app on ``sock`` from a daemon thread until the block ends; the
    block gets the port. The socket is closed afterwards."""
    server = EmbeddedServer(config)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the starting thread
            failures.append(exc)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the {name} did not start: {failures!r}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {name} did not start in time")
            time.sleep(0.002)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
