"""Seeded fault injection, and the one fault no status code can express: silence.

Every draw comes from one ``random.Random(seed)``, so a given seed and request order give the
same faults on every run. The injector only *plans* (which fault, how much latency); the
request handlers decide where in their flow each fault strikes (see ``FaultConfig``).

A dropped connection is real, not a 500 in disguise. Under uvicorn the response object finds
the connection's transport and closes it (``drop``: FIN, the client reads "server
disconnected") or aborts it with SO_LINGER 0 (``reset``: RST, "connection reset"). Without
uvicorn (``httpx.ASGITransport`` in tests) there is no socket to close, so it raises the
httpx error a client would have seen, which ``ASGITransport`` passes to the caller.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from dataclasses import dataclass
from enum import StrEnum

import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dispatcher.simulator.config import RESPONSE_FAULT_SHARES, FaultConfig

RAW_SEND = "dispatcher.simulator.raw_send"
"""Scope key where the app keeps the server's own ``send`` (to reach the transport)."""


class FaultKind(StrEnum):
    RESET_BEFORE = "reset_before"
    GATEWAY_ERROR = "gateway_error"
    ERROR_500 = "error_500"
    GATEWAY_ERROR_AFTER_STORE = "gateway_error_after_store"
    DROP_AFTER_STORE = "drop_after_store"
    PROCESSING_FAILURE = "processing_failure"


# Same order as RESPONSE_FAULT_SHARES: one uniform draw walks the cumulative shares.
_SHARE_KINDS = tuple(FaultKind(name.removesuffix("_share")) for name in RESPONSE_FAULT_SHARES)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    kind: FaultKind | None = None
    delay_s: float = 0.0
    gateway_status: int = 504


NO_FAULT = FaultPlan()


class FaultInjector:
    """Turns a ``FaultConfig`` into per-request plans, deterministically from its seed."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self._shares = tuple(getattr(config, name) for name in RESPONSE_FAULT_SHARES)
        self._active = config.any_response_fault or config.latency_ms > 0 or config.jitter_ms > 0

    def plan(self, endpoint: str) -> FaultPlan:
        config = self.config
        if not self._active or endpoint not in config.endpoints:
            return NO_FAULT
        rng = self._rng
        delay_ms = config.latency_ms
        if config.jitter_ms > 0:
            delay_ms += (rng.expovariate(1 / config.jitter_ms) if config.jitter == "exponential"
                         else rng.uniform(0, config.jitter_ms))
        kind: FaultKind | None = None
        if config.any_response_fault:
            u, edge = rng.random(), 0.0
            for share, candidate in zip(self._shares, _SHARE_KINDS, strict=True):
                edge += share
                if u < edge:
                    kind = candidate
                    break
        status = 504
        if kind is FaultKind.GATEWAY_ERROR:
            status = 502 if rng.random() < 0.5 else 504
        return FaultPlan(kind=kind, delay_s=delay_ms / 1000, gateway_status=status)

    def processing_fails(self) -> bool:
        """Whether a newly stored message will end FAILED (drawn at submit time)."""
        share = self.config.processing_failure_share
        return share > 0 and self._rng.random() < share


class SimulatedDisconnect(httpx.RemoteProtocolError):
    """Raised in-process (no socket) where a real server would have closed the connection."""


class SimulatedReset(httpx.ReadError):
    """Raised in-process (no socket) where a real server would have reset the connection."""


class DroppedConnection(Response):
    """A "response" that sends nothing and ends the connection."""

    def __init__(self, *, reset: bool) -> None:
        super().__init__(status_code=0)
        self.reset = reset

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_send = scope.get(RAW_SEND)
        cycle = getattr(raw_send, "__self__", None)  # uvicorn's RequestResponseCycle
        transport = getattr(cycle, "transport", None)
        if transport is None or not hasattr(transport, "abort"):  # uvloop's is no BaseTransport
            if self.reset:
                raise SimulatedReset("simulated connection reset (no response)")
            raise SimulatedDisconnect("simulated dropped connection (no response)")
        if self.reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        # Let the loop deliver connection_lost, so uvicorn sees a disconnected client and
        # does not try to answer "500: returned without starting response" on our behalf.
        for _ in range(10):
            if getattr(cycle, "disconnected", True):
                break
            await asyncio.sleep(0)
