"""How fast the content server answers IO, side by side with a bare Starlette handler.

Rows, measured in one run with the same load generator:

* ``GET /messages/{id}`` (details) from our server: key check, fiscal-code check, SQLite
  lookup with the keyed recipient hash, JSON, open recorded, over a store of
  ``--messages`` messages, each request for another message and citizen;
* the same JSON bytes from a bare Starlette handler (one route, a fixed answer): the floor.
  Both servers run under the same uvicorn settings (``serving.uvicorn_config``, which
  ``dispatcher content serve`` uses too) and are loaded by the same client;
* attachment downloads (1 MiB, in one piece; 8 MiB, streamed), in MB/s, and the bare
  handler sending the same 1 MiB from memory.

Each server runs in a child process (this script with ``--serve``) so the load generator
does not share its GIL; the generator is a small raw-asyncio HTTP/1.1 keep-alive client
(httpx itself tops out below these servers; see bench_simulator.py). Rounds alternate
between the servers to even out noise from other work on the machine: compare the ratio and
the CPU per request of one run, not rates of different runs. Numbers only.

Usage: ``python bench/bench_content.py [--seconds 3] [--connections 32] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from benchtools import start_child, stop_child

KEY = "bench-content-key-0123456789"
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
SMALL, LARGE = 1024 * 1024, 8 * 1024 * 1024


def citizen(n: int) -> str:
    return f"RSSMRA80A01H{n % 1000:03d}U"


# --- servers (child process) ------------------------------------------------------------------


def serve(kind: str, store: Path) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from dispatcher.content.documents import details_document
    from dispatcher.content.server import ServerOptions, create_app
    from dispatcher.content.serving import Listen, bind, uvicorn_config
    from dispatcher.content.store import ContentStore
    from dispatcher.settings import Secret

    if kind == "ours":
        app = create_app(ServerOptions(store_path=store, key=Secret(KEY)))
    else:
        with ContentStore.open(store) as opened:
            found = opened.lookup("M-0", citizen(0))
            assert found is not None
            body = details_document(found.content)
            pdf = b"".join(opened.attachment_chunks(found.content.attachments[0].sha256))

        async def details(request: Request) -> Response:
            return Response(body, media_type="application/json")

        async def attachment(request: Request) -> Response:
            return Response(pdf, media_type="application/octet-stream")

        app = Starlette(routes=[Route("/messages/{id}", details),
                                Route("/messages/{id}/{url:path}", attachment)])
    sock = bind("127.0.0.1", 0)
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn_config(app, Listen(port=0))).run(sockets=[sock])


def prepare(folder: Path, messages: int) -> Path:
    """A store of ``messages`` messages; M-0 and M-1 carry a 1 MiB and an 8 MiB attachment."""
    from dispatcher.content.model import Attachment, RemoteContent
    from dispatcher.content.store import ContentStore

    def pdf(name: str, size: int) -> Attachment:
        path = folder / name
        path.write_bytes(b"%PDF-1.7\n" + bytes(i % 251 for i in range(size - 9)))
        data = path.read_bytes()
        return Attachment(id=name.removesuffix(".pdf"), name=name, url=name, size=len(data),
                          sha256=hashlib.sha256(data).hexdigest(), source=path)

    small, large = pdf("small.pdf", SMALL), pdf("large.pdf", LARGE)
    markdown = "Gentile contribuente, in allegato l'avviso di pagamento della TARI 2027. " * 4
    store = folder / "content.sqlite"
    with ContentStore.open(store) as opened:
        opened.register(
            [(citizen(n), RemoteContent(f"M-{n}", "Avviso TARI 2027", markdown, None,
                                        (small,) if n != 1 else (large,)))
             for n in range(messages)], registered_at=datetime.now(UTC))
    return store


# --- load generator (parent process) ---------------------------------------------------------


@dataclass
class Measured:
    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    bytes_read: int = 0
    server_cpu: float = 0.0  # seconds of CPU the server process spent on these requests
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if len(self.latencies) < 2:
            return 0.0
        return statistics.quantiles(self.latencies, n=1000)[int(p * 10) - 1] * 1000

    def add(self, other: Measured) -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.bytes_read += other.bytes_read
        self.server_cpu += other.server_cpu
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n


def request(path: str, fiscal_code: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Functions-Key: {KEY}\r\n"
            f"fiscal_code: {fiscal_code}\r\n\r\n").encode()


async def load(name: str, port: int, requests: list[bytes], seconds: float,
               connections: int) -> Measured:
    """Keep-alive connections, one request in flight each, until the time runs out."""
    result = Measured(name)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def worker(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        n = offset
        try:
            while loop.time() < deadline:
                started = time.perf_counter()
                writer.write(requests[n % len(requests)])
                head = await reader.readuntil(b"\r\n\r\n")
                match = _LENGTH.search(head)
                body = await reader.readexactly(int(match.group(1)) if match else 0)
                result.latencies.append(time.perf_counter() - started)
                result.bytes_read += len(body)
                status = int(head[9:12])
                result.statuses[status] = result.statuses.get(status, 0) + 1
                n += connections
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(kind: str, store: Path) -> tuple[subprocess.Popen[str], int]:
    return start_child(__file__, "--serve", kind, "--store", str(store))


def stop(child: subprocess.Popen[str]) -> None:
    stop_child(child)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per row and round")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--messages", type=int, default=20_000, help="messages in the store")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.store)
        return
    with tempfile.TemporaryDirectory() as folder:
        store = prepare(Path(folder), args.messages)
        ours, our_port = start("ours", store)
        bare, bare_port = start("bare", store)
        try:
            rows = run(args, {our_port: ours.pid, bare_port: bare.pid})
        finally:
            stop(ours)
            stop(bare)
    report(args, rows)


def run(args: argparse.Namespace, servers: dict[int, int]) -> list[Measured]:
    """``servers``: port → pid, to charge each row the CPU its server spent."""
    our_port, bare_port = list(servers)
    ids = range(min(args.messages, 5000))
    details = [request(f"/messages/M-{n}", citizen(n)) for n in ids if n != 1]
    small = [request("/messages/M-0/small.pdf", citizen(0))]
    large = [request("/messages/M-1/large.pdf", citizen(1))]
    scenarios = [
        ("bare Starlette: details JSON", bare_port, details, args.connections),
        ("content server: GET /messages/{id}", our_port, details, args.connections),
        ("bare Starlette: 1 MiB from memory", bare_port, small, 8),
        ("content server: 1 MiB attachment", our_port, small, 8),
        ("content server: 8 MiB attachment (streamed)", our_port, large, 4),
    ]
    totals = {name: Measured(name) for name, *_ in scenarios}
    for name, port, requests, connections in scenarios:  # warm-up: caches, code paths
        asyncio.run(load(name, port, requests, 0.5, connections))
    for _ in range(args.rounds):
        for name, port, requests, connections in scenarios:
            before = cpu_seconds(servers[port])
            measured = asyncio.run(load(name, port, requests, args.seconds, connections))
            measured.server_cpu = cpu_seconds(servers[port]) - before
            totals[name].add(measured)
    return list(totals.values())


def implementations() -> str:
    """What uvicorn's ``auto`` picks here: the numbers mean little without it."""
    import uvicorn

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn {uvicorn.__version__} ({loop}, {http}), Python {sys.version.split()[0]}"


def report(args: argparse.Namespace, rows: list[Measured]) -> None:
    print(f"content server, loopback, {args.connections} keep-alive connections for details, "
          f"{args.rounds} round(s) of {args.seconds:g} s per row, {args.messages} messages")
    print(f"both servers: {implementations()}, {os.cpu_count()} CPU(s)")
    print(f"{'scenario':<46} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'MB/s':>8} {'CPU µs/req':>10}  statuses")
    for r in rows:
        mb_s = r.bytes_read / r.seconds / 1e6 if r.seconds else 0.0
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(r.statuses.items()))
        cpu = 1e6 * r.server_cpu / len(r.latencies) if r.latencies else 0.0
        print(f"{r.name:<46} {len(r.latencies):>9} {r.per_second:>8.0f} "
              f"{r.percentile(50):>7.2f} {r.percentile(99):>7.2f} {mb_s:>8.1f} {cpu:>10.0f}"
              f"  {codes}")
    bare, ours = rows[0], rows[1]
    if bare.per_second:
        print(f"details: content server at {100 * ours.per_second / bare.per_second:.0f} % of "
              "the bare handler's rate (target: at least 50 %)")
    if ours.server_cpu and bare.server_cpu:
        per = [r.server_cpu / len(r.latencies) for r in (bare, ours)]
        print(f"details: server CPU per request {1e6 * per[1]:.0f} µs (ours) vs "
              f"{1e6 * per[0]:.0f} µs (bare): with a core each, ours would reach "
              f"{100 * per[0] / per[1]:.0f} % of the bare rate")


if __name__ == "__main__":
    main()
