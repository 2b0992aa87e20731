"""A 429's `x-rate-limit-retry-after` is honoured: measured on the wire, over loopback."""

from __future__ import annotations

import time

import anyio
import httpx
import pytest
from enginetools import fast_config

from dispatcher.ioapi import Client
from dispatcher.pacing import Pacer
from dispatcher.settings import RateSpec
from dispatcher.simulator import DEFAULT_KEY, RatePolicy, running_simulator
from dispatcher.vocabulary import ProfileKind

pytestmark = pytest.mark.anyio

CODES = [f"AAAAAA00A00A{n:03d}A" for n in range(40)]  # IO's pattern; the simulator draws them


class RecordingTransport(httpx.AsyncBaseTransport):
    """Notes when each request left and when its answer came back, with the hint."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent: list[float] = []
        self.throttles: list[tuple[float, float]] = []  # (answered at, retry after)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(time.monotonic())
        response = await self.inner.handle_async_request(request)
        if response.status_code == 429:
            hint = float(response.headers["x-rate-limit-retry-after"])
            self.throttles.append((time.monotonic(), hint))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_no_request_leaves_before_the_retry_hint_has_passed() -> None:
    transport = RecordingTransport()
    with running_simulator(fast_config(rate=RatePolicy(limit=8, period_s=1.0))) as sim:
        pacer = Pacer(RateSpec.parse("40/s"))  # five times what the gateway allows
        async with Client(base_url=sim.base_url, api_key=DEFAULT_KEY, pacer=pacer,
                          transport=transport) as client:
            answers = []

            async def check(code: str) -> None:
                answers.append(await client.check_profile(code))

            async with anyio.create_task_group() as tg:
                for code in CODES:
                    tg.start_soon(check, code)
        stats = sim.stats()
    assert len(answers) == len(CODES)
    assert all(a.kind is not ProfileKind.FAILED for a in answers)
    assert transport.throttles, "the gateway never answered 429: the test proves nothing"
    assert stats["throttled"] == len(transport.throttles)
    for answered_at, hint in transport.throttles:
        # Requests already on the wire may cross the 429; none may start after it and
        # before the hint has passed (5 ms for the answer to reach the pacer).
        early = [t - answered_at for t in transport.sent if answered_at + 0.005 < t
                 < answered_at + hint - 0.02]
        assert early == [], f"{len(early)} request(s) left inside a {hint}s retry window"
    gaps = [min((t - at for t in transport.sent if t > at + 0.005), default=None)
            for at, _ in transport.throttles]
    measured = [g for g in gaps if g is not None]
    assert measured and min(measured) >= min(h for _, h in transport.throttles) - 0.02
    print(f"429s: {len(transport.throttles)}, hints {sorted({h for _, h in transport.throttles})},"
          f" shortest gap after a 429: {min(measured):.3f}s")
