"""Helpers for the IO client tests: a scripted mock transport and a fast, fake-clock Pacer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from dispatcher.clock import FakeClock
from dispatcher.ioapi import Client, RetryPolicy
from dispatcher.pacing import Pacer
from dispatcher.settings import RateSpec

KEY = "k3y-THAT-must-NEVER-leak-0123456789"
FC = "RSSMRA85T10A562S"
MASKED_FC = "RSSMRA*******62S"
BASE = "https://io.test/api/v1"
MESSAGE_ID = "01HZX5V6J1Q8Y2N3M4P5R6S7T8"

Step = httpx.Response | Exception | Callable[[httpx.Request], Any]


def problem(status: int, title: str, detail: str = "") -> httpx.Response:
    return httpx.Response(
        status,
        json={"status": status, "title": title, "detail": detail},
        headers={"content-type": "application/problem+json"},
    )


def apim(status: int, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"statusCode": status, "message": message},
                          headers=headers)


class Script:
    """Answers requests with the given steps in order (the last one repeats)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    @property
    def call_count(self) -> int:
        return len(self.requests)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if callable(step) and not isinstance(step, httpx.Response):
            result = step(request)
            if hasattr(result, "__await__"):
                result = await result
            return result  # type: ignore[no-any-return]
        return step


def no_jitter(**overrides: Any) -> RetryPolicy:
    options: dict[str, Any] = {"wait_jitter": 0.0, "wait_initial": 0.1, "wait_max": 1.0}
    options.update(overrides)
    return RetryPolicy(**options)


@asynccontextmanager
async def client_for(script: Script, **options: Any) -> AsyncIterator[Client]:
    """A client over ``script``, paced by a Pacer whose waits jump a fake clock."""
    pacer = options.pop("pacer", None) or Pacer(RateSpec(10_000, 1), clock=FakeClock())
    options.setdefault("retry", no_jitter())
    async with Client(
        base_url=BASE, api_key=KEY, pacer=pacer, transport=httpx.MockTransport(script),
        **options,
    ) as client:
        yield client
