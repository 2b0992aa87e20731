"""How many requests per second the IO simulator serves on this machine, against baselines.

The server runs in a child process (this script with ``--serve NAME``) so the load generator
does not share its GIL. The load generator is a small raw-asyncio HTTP/1.1 keep-alive client:
httpx itself tops out well below the server (see LIBRARY-NOTES §2/§6), so one extra row shows
what an ``httpx.AsyncClient`` alone can drive. Every run is bounded by a request count and a
time budget. The script prints numbers only; it never asserts on them.

Usage: ``python bench/bench_simulator.py [--seconds 3] [--requests 20000] [--connections 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from benchtools import start_child, stop_child

CF = "RSSMRA85T10A562S"
KEY = "demo-key"
MESSAGE = orjson.dumps({
    "fiscal_code": CF,
    "content": {"subject": "Promemoria scadenza TARI",
                "markdown": "Gentile cittadino, le ricordiamo la scadenza del pagamento. " * 3},
})
PROFILE = orjson.dumps({"fiscal_code": CF})
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


# --- servers (child process) ------------------------------------------------------------------


async def _raw_asgi(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]],
                    send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
    """The floor: no framework, a fixed JSON answer."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    body = b'{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}'
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _plain_starlette() -> object:
    """Starlette with one handler that parses the JSON and answers JSON: no simulator logic."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def handler(request: Request) -> Response:
        payload = orjson.loads(await request.body())
        return Response(orjson.dumps({"id": payload["fiscal_code"]}), 201,
                        media_type="application/json")

    return Starlette(routes=[Route("/api/v1/messages", handler, methods=["POST"])])


def serve(name: str) -> None:
    import uvicorn

    from dispatcher.simulator import RatePolicy, SimulatorConfig, create_app
    from dispatcher.simulator.server import bind_socket, uvicorn_config

    if name == "raw":
        app: object = _raw_asgi
    elif name == "starlette":
        app = _plain_starlette()
    else:  # the real thing, with the gateway window off so every request does full work
        app = create_app(SimulatorConfig(rate=RatePolicy(limit=0), processing_delay_s=0.0))
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn_config(app)  # type: ignore[arg-type]  # any ASGI app will do
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(config).run(sockets=[sock])


# --- load generator (parent process) -------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    total: int
    seconds: float
    connections: int


Measured = tuple[int, float, Counter[int]]
Load = Callable[[int, Bounds], Awaitable[Measured]]


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    statuses: Counter[int]

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nOcp-Apim-Subscription-Key: {KEY}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


async def raw_load(port: int, request: bytes, bounds: Bounds) -> Measured:
    """Keep-alive connections, one request in flight each, until the count or time runs out."""
    statuses: Counter[int] = Counter()
    budget = [bounds.total]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bounds.seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while budget[0] > 0 and loop.time() < deadline:
                budget[0] -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                match = _LENGTH.search(head)
                await reader.readexactly(int(match.group(1)) if match else 0)
                statuses[int(head[9:12])] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(bounds.connections)))
    return sum(statuses.values()), time.perf_counter() - started, statuses


async def httpx_load(port: int, bounds: Bounds) -> Measured:
    import httpx

    statuses: Counter[int] = Counter()
    budget = [bounds.total]
    connections = bounds.connections
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1", limits=limits,
                                 headers={"Ocp-Apim-Subscription-Key": KEY}) as client:
        deadline = asyncio.get_running_loop().time() + bounds.seconds

        async def worker() -> None:
            while budget[0] > 0 and asyncio.get_running_loop().time() < deadline:
                budget[0] -= 1
                response = await client.post("/messages", content=MESSAGE,
                                             headers={"Content-Type": "application/json"})
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
    return sum(statuses.values()), time.perf_counter() - started, statuses


def _start(name: str) -> tuple[subprocess.Popen[str], int]:
    return start_child(__file__, "--serve", name)


def _stop(child: subprocess.Popen[str]) -> None:
    stop_child(child)


async def _message_id(port: int) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_request("POST", "/api/v1/messages", MESSAGE))
    head = await reader.readuntil(b"\r\n\r\n")
    match = _LENGTH.search(head)
    body = await reader.readexactly(int(match.group(1)) if match else 0)
    writer.close()
    message_id: str = orjson.loads(body)["id"]
    return message_id


def run(args: argparse.Namespace) -> list[Result]:
    bounds = Bounds(args.requests, args.seconds, args.connections)
    warmup = Bounds(300, 1.0, args.connections)
    results: list[Result] = []

    def measure(name: str, server: str, load: Load) -> None:
        child, port = _start(server)
        try:
            asyncio.run(load(port, warmup))
            count, seconds, statuses = asyncio.run(load(port, bounds))
        finally:
            _stop(child)
        results.append(Result(name, count, seconds, statuses))

    def sending(request: bytes) -> Load:
        return lambda port, b: raw_load(port, request, b)

    async def reading_status(port: int, b: Bounds) -> Measured:
        path = f"/api/v1/messages/{CF}/{await _message_id(port)}"
        return await raw_load(port, _request("GET", path), b)

    post = _request("POST", "/api/v1/messages", MESSAGE)
    measure("baseline: raw ASGI, fixed answer", "raw", sending(post))
    measure("baseline: Starlette, parse + answer JSON", "starlette", sending(post))
    measure("simulator: POST /profiles", "simulator",
            sending(_request("POST", "/api/v1/profiles", PROFILE)))
    measure("simulator: POST /messages (stores each)", "simulator", sending(post))
    measure("simulator: GET /messages/{cf}/{id}", "simulator", reading_status)
    measure("simulator: POST /messages, httpx client", "simulator", httpx_load)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per run")
    parser.add_argument("--requests", type=int, default=20_000, help="request budget per run")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(f"IO simulator throughput, loopback, {args.connections} keep-alive connections, "
          f"at most {args.requests} requests or {args.seconds:g} s per row")
    print(f"{'scenario':<46} {'requests':>9} {'seconds':>8} {'req/s':>9}  statuses")
    for r in run(args):
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(r.statuses.items()))
        print(f"{r.name:<46} {r.requests:>9} {r.seconds:>8.2f} {r.per_second:>9.0f}  {codes}")


if __name__ == "__main__":
    main()
