"""Serving the simulator on a real loopback socket: in a thread, or in the caller's loop.

* :func:`running_simulator` (blocking tests, benchmarks): uvicorn in a daemon thread with its
  own event loop. The caller talks to it over HTTP only.
* :func:`serve_simulator` (``dispatcher demo``): uvicorn as a task in the caller's anyio task
  group (asyncio backend), sharing the loop with the dispatcher.

Both bind the socket themselves first (port 0 = any free port), so the port is known before
the server starts and there is no race on "which port did it get". Both refuse non-loopback
addresses: the simulator has fixed, public demo keys. uvicorn's own signal handling is turned
off: in a thread it would not work, and in the caller's loop the caller owns the signals.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator

import anyio
import uvicorn

from dispatcher.serving import EmbeddedServer, listening_socket, served_in_thread
from dispatcher.simulator.app import API_PREFIX, CONTROL_PREFIX, SimulatorApp, create_app
from dispatcher.simulator.client import AsyncSimulatorControl, SimulatorControl
from dispatcher.simulator.config import SimulatorConfig
from dispatcher.simulator.state import SimulatorState


class _Urls:
    """Addresses of a served simulator."""

    def __init__(self, app: SimulatorApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}"
        self.base_url = self.url + API_PREFIX
        """What the dispatcher uses as ``IO_BASE_URL``."""
        self.control_url = self.url + CONTROL_PREFIX

    @property
    def state(self) -> SimulatorState:
        """The live state. It belongs to the server's loop: read it, from there, at most."""
        state: SimulatorState = self.app.state.simulator
        return state


class RunningSimulator(_Urls, SimulatorControl):
    """A simulator served from a background thread, with blocking control helpers."""

    def __init__(self, app: SimulatorApp, host: str, port: int) -> None:
        _Urls.__init__(self, app, host, port)
        SimulatorControl.__init__(self, self.control_url)


class AsyncRunningSimulator(_Urls, AsyncSimulatorControl):
    """A simulator served in the caller's event loop, with awaitable control helpers."""

    def __init__(self, app: SimulatorApp, host: str, port: int) -> None:
        _Urls.__init__(self, app, host, port)
        AsyncSimulatorControl.__init__(self, self.control_url)


def uvicorn_config(app: SimulatorApp, *, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn settings for speed and quiet: uvloop/httptools when installed, no access log.

    ``log_config=None`` leaves the host program's logging setup alone.
    """
    return uvicorn.Config(
        app,
        loop="auto",
        http="auto",
        ws="none",
        lifespan="off",
        access_log=False,
        log_config=None,
        log_level=log_level,
        timeout_graceful_shutdown=2,
    )


def bind_socket(host: str, port: int, *, allow_non_loopback: bool = False) -> socket.socket:
    """A listening TCP socket; loopback only unless explicitly allowed.

    Listening at once means clients that connect before uvicorn has started wait in the
    backlog instead of being refused.
    """
    address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4]
    if not allow_non_loopback and not ipaddress.ip_address(address[0]).is_loopback:
        raise ValueError(f"refusing to serve the simulator on non-loopback address {host!r}")
    return listening_socket(host, port)


@contextlib.contextmanager
def running_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
) -> Iterator[RunningSimulator]:
    """Serve a fresh simulator from a background thread until the block ends.

    >>> with running_simulator() as sim:          # doctest: +SKIP
    ...     httpx.post(sim.base_url + "/profiles", headers={...}, json={...})
    """
    app = create_app(config)
    sock = bind_socket(host, port)
    with served_in_thread(uvicorn_config(app), sock, name="IO simulator",
                          startup_timeout=startup_timeout) as bound:
        sim = RunningSimulator(app, host, bound)
        try:
            yield sim
        finally:
            sim.close()


@contextlib.asynccontextmanager
async def serve_simulator(
    config: SimulatorConfig | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
) -> AsyncIterator[AsyncRunningSimulator]:
    """Serve a fresh simulator in the current event loop (asyncio backend) until the block ends.

    >>> async with serve_simulator() as sim:      # doctest: +SKIP
    ...     await run_campaign(base_url=sim.base_url, api_key="demo-key")
    """
    app = create_app(config)
    sock = bind_socket(host, port)
    server = EmbeddedServer(uvicorn_config(app))
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve, [sock])
            with anyio.fail_after(startup_timeout):
                while not server.started:
                    await anyio.sleep(0.002)
            sim = AsyncRunningSimulator(app, host, sock.getsockname()[1])
            try:
                yield sim
            finally:
                await sim.aclose()
                server.should_exit = True
    finally:
        sock.close()
