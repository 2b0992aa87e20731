"""Helpers shared by the simulator tests: known citizens, sample bodies, an in-process client.

Most tests talk to the app through ``httpx.ASGITransport`` (no sockets, fast); the few that
need real connections (the window under load, dropped connections) use ``running_simulator``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from io_spec import SPEC_DIR as SPEC_DIR  # re-exported: the one definition is io_spec.py

from dispatcher.simulator import DEFAULT_KEY, SimulatorConfig, create_app, simulator_state
from dispatcher.simulator.state import SimulatorState

# Their states come from the population file written by the ``population_file`` fixture.
ALLOWED_CF = "RSSMRA85T10A562S"
BLOCKED_CF = "BNCLRA90A41F205X"
MISSING_CF = "VRDGPP80A01H501U"
SANDBOX_CF = "AAAAAA00A00A000A"
UNLISTED_CF = "PLLLCU75C12F839K"

MARKDOWN = "# Avviso\n\n" + "Gentile cittadino, le ricordiamo la scadenza del pagamento. " * 2
NOTICE_NUMBER = "302000100000019414"


def message_body(fiscal_code: str | None = ALLOWED_CF, **extra: Any) -> dict[str, Any]:
    """A valid ``NewMessage``; a ``content`` mapping in ``extra`` is merged into the content."""
    content = {"subject": "Promemoria scadenza TARI", "markdown": MARKDOWN}
    content.update(extra.pop("content", {}))
    body: dict[str, Any] = {"content": content, **extra}
    if fiscal_code is not None:
        body["fiscal_code"] = fiscal_code
    return body


class Sim:
    """An in-process simulator: an API client, a control client and the state."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.app = create_app(config)
        transport = httpx.ASGITransport(app=self.app)
        self.api = httpx.AsyncClient(transport=transport, base_url="http://sim/api/v1",
                                     headers={"Ocp-Apim-Subscription-Key": DEFAULT_KEY})
        self.control = httpx.AsyncClient(transport=transport, base_url="http://sim/__sim__")

    @property
    def state(self) -> SimulatorState:
        return simulator_state(self.app)

    async def send(self, body: dict[str, Any], key: str = DEFAULT_KEY) -> httpx.Response:
        return await self.api.post("/messages", json=body,
                                   headers={"Ocp-Apim-Subscription-Key": key})

    async def profile(self, fiscal_code: str, key: str = DEFAULT_KEY) -> httpx.Response:
        return await self.api.post("/profiles", json={"fiscal_code": fiscal_code},
                                   headers={"Ocp-Apim-Subscription-Key": key})

    async def status(self, location: str, key: str = DEFAULT_KEY) -> httpx.Response:
        return await self.api.get(location.removeprefix("/api/v1"),
                                  headers={"Ocp-Apim-Subscription-Key": key})

    async def inbox(self, fiscal_code: str) -> list[dict[str, Any]]:
        response = await self.control.get(f"/inbox/{fiscal_code}")
        messages: list[dict[str, Any]] = response.json()["messages"]
        return messages

    async def configure(self, **changes: Any) -> httpx.Response:
        response = await self.control.patch("/config", json=changes)
        assert response.status_code == 200, response.text
        return response


SimFactory = Callable[..., AbstractAsyncContextManager[Sim]]
"""``make_sim(config=None)``: an in-process simulator as an async context manager."""
