"""Clients for the control surface, one blocking and one async, with the same methods.

They talk HTTP even when the simulator runs in the same process: the server's state belongs
to the server's event loop (see ``state.py``), and going through ``/__sim__/`` keeps a test
thread from touching it mid-request.
"""

from __future__ import annotations

from typing import Any

import httpx

Call = tuple[str, str, dict[str, Any] | None]


def _drop_none(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _Calls:
    """The requests behind each helper, shared by both clients."""

    @staticmethod
    def citizen(fiscal_code: str, **changes: Any) -> Call:
        body = _drop_none(**changes)
        return ("POST" if body else "GET", f"/citizens/{fiscal_code}", body or None)

    @staticmethod
    def mark(message_id: str, read_status: str | None, payment_status: str | None) -> Call:
        body = _drop_none(read_status=read_status, payment_status=payment_status)
        return ("POST", f"/messages/{message_id}", body)

    @staticmethod
    def feed(events: list[dict[str, Any]], date: str | None) -> Call:
        return ("POST", "/feed", _drop_none(events=events, date=date))


class SimulatorControl:
    """Blocking helpers over ``/__sim__/`` (for tests running the server in a thread)."""

    def __init__(self, control_url: str, *, timeout: float = 10.0) -> None:
        self.control_url = control_url
        self._http = httpx.Client(base_url=control_url, timeout=timeout)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def inbox(self) -> dict[str, list[dict[str, Any]]]:
        """Every stored message, by fiscal code: id, created_at, subject, content_hash, ..."""
        inbox: dict[str, list[dict[str, Any]]] = self._call("GET", "/inbox")["inbox"]
        return inbox

    def messages_for(self, fiscal_code: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._call("GET", f"/inbox/{fiscal_code}")["messages"]
        return messages

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._call("GET", "/stats")
        return stats

    def reset(self) -> None:
        """Back to the startup config, with nothing stored and nothing counted."""
        self._call("POST", "/reset")

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self._call("GET", "/config")
        return config

    def configure(self, **changes: Any) -> dict[str, Any]:
        """E.g. ``configure(rate="10/1s", faults={"drop_after_store_share": 1.0})``."""
        config: dict[str, Any] = self._call("PATCH", "/config", changes)
        return config

    def citizen(self, fiscal_code: str, *, has_profile: bool | None = None,
                sender_allowed: bool | None = None, service_id: str | None = None,
                date: str | None = None) -> dict[str, Any]:
        """Read (no changes given) or change a citizen; changes go to the feed of ``date``."""
        view: dict[str, Any] = self._call(*_Calls.citizen(
            fiscal_code, has_profile=has_profile, sender_allowed=sender_allowed,
            service_id=service_id, date=date))
        return view

    def mark_message(self, message_id: str, *, read_status: str | None = None,
                     payment_status: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = self._call(*_Calls.mark(message_id, read_status, payment_status))
        return entry

    def record_feed(self, events: list[dict[str, Any]], *, date: str | None = None) -> None:
        """Write feed rows: ``[{"fiscal_code", "subscribed", "service_id"?}]``."""
        self._call(*_Calls.feed(events, date))

    def advance_clock(self, seconds: float) -> float:
        offset: float = self._call("POST", "/clock/advance", {"seconds": seconds})["offset_s"]
        return offset

    def open_message(self, message_id: str, *, fiscal_code: str | None = None,
                     timeout: float = 60.0) -> tuple[int, dict[str, Any]]:
        """Open a message as the app does (``/__sim__/open``): IO's status and its answer."""
        response = self._http.post("/open", json=_drop_none(message_id=message_id,
                                                            fiscal_code=fiscal_code),
                                   timeout=timeout)
        answer: dict[str, Any] = response.json()
        return response.status_code, answer

    def close(self) -> None:
        self._http.close()


class AsyncSimulatorControl:
    """The same helpers, awaitable (for a simulator served in the caller's own event loop)."""

    def __init__(self, control_url: str, *, timeout: float = 10.0) -> None:
        self.control_url = control_url
        self._http = httpx.AsyncClient(base_url=control_url, timeout=timeout)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = await self._http.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    async def inbox(self) -> dict[str, list[dict[str, Any]]]:
        inbox: dict[str, list[dict[str, Any]]] = (await self._call("GET", "/inbox"))["inbox"]
        return inbox

    async def messages_for(self, fiscal_code: str) -> list[dict[str, Any]]:
        body = await self._call("GET", f"/inbox/{fiscal_code}")
        messages: list[dict[str, Any]] = body["messages"]
        return messages

    async def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = await self._call("GET", "/stats")
        return stats

    async def reset(self) -> None:
        await self._call("POST", "/reset")

    async def config(self) -> dict[str, Any]:
        config: dict[str, Any] = await self._call("GET", "/config")
        return config

    async def configure(self, **changes: Any) -> dict[str, Any]:
        config: dict[str, Any] = await self._call("PATCH", "/config", changes)
        return config

    async def citizen(self, fiscal_code: str, *, has_profile: bool | None = None,
                      sender_allowed: bool | None = None, service_id: str | None = None,
                      date: str | None = None) -> dict[str, Any]:
        view: dict[str, Any] = await self._call(*_Calls.citizen(
            fiscal_code, has_profile=has_profile, sender_allowed=sender_allowed,
            service_id=service_id, date=date))
        return view

    async def mark_message(self, message_id: str, *, read_status: str | None = None,
                           payment_status: str | None = None) -> dict[str, Any]:
        call = _Calls.mark(message_id, read_status, payment_status)
        entry: dict[str, Any] = await self._call(*call)
        return entry

    async def record_feed(self, events: list[dict[str, Any]], *, date: str | None = None) -> None:
        await self._call(*_Calls.feed(events, date))

    async def advance_clock(self, seconds: float) -> float:
        body = await self._call("POST", "/clock/advance", {"seconds": seconds})
        offset: float = body["offset_s"]
        return offset

    async def aclose(self) -> None:
        await self._http.aclose()
