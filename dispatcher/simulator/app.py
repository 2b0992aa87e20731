"""``create_app``: the Starlette application, its routes and its state.

The state is built here, not in a lifespan hook, so the app works unchanged under
``httpx.ASGITransport`` (which runs no lifespan) and under uvicorn.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from dispatcher.simulator import api, control, rc_api
from dispatcher.simulator.clock import SimClock
from dispatcher.simulator.config import SimulatorConfig
from dispatcher.simulator.faults import RAW_SEND
from dispatcher.simulator.state import SimulatorState

API_PREFIX = "/api/v1"
CONTROL_PREFIX = "/__sim__"
_ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]  # the handler says 404 to the rest


class SimulatorApp(Starlette):
    """Starlette, plus one thing: it remembers the server's own ``send`` in the scope.

    Starlette's middleware wraps ``send``; a dropped-connection fault needs the original to
    reach the socket (see ``faults.DroppedConnection``).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[RAW_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(config: SimulatorConfig | None = None, *, clock: SimClock | None = None
               ) -> SimulatorApp:
    """A fresh simulator. ``config`` defaults to one ente ``demo`` with key ``demo-key``.

    Raises ``ConfigError`` if the population file cannot be read.
    """
    state = SimulatorState(config or SimulatorConfig(), clock)
    routes = [
        Route(f"{API_PREFIX}/profiles", api.post_profile, methods=["POST"]),
        Route(f"{API_PREFIX}/messages", api.post_message, methods=["POST"]),
        Route(f"{API_PREFIX}/messages/", api.post_message, methods=["POST"]),
        Route(f"{API_PREFIX}/messages/{{fiscal_code}}", api.post_message, methods=["POST"]),
        Route(f"{API_PREFIX}/messages/{{fiscal_code}}/{{message_id}}", api.get_message,
              methods=["GET"]),
        Route(f"{API_PREFIX}/subscriptions-feed/{{date}}", api.get_subscriptions_feed,
              methods=["GET"]),
        Route(f"{API_PREFIX}{rc_api.PATH}", rc_api.collection, methods=_ANY_METHOD),
        Route(f"{API_PREFIX}{rc_api.PATH}/{{configuration_id}}", rc_api.item,
              methods=_ANY_METHOD),
        Route(f"{API_PREFIX}/{{rest:path}}", api.unknown_route),
        Route(f"{CONTROL_PREFIX}/health", control.health, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/inbox", control.inbox, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/inbox/{{fiscal_code}}", control.inbox_for, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/stats", control.stats, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/reset", control.reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/config", control.config, methods=["GET", "PATCH", "POST"]),
        Route(f"{CONTROL_PREFIX}/citizens/{{fiscal_code}}", control.citizen,
              methods=["GET", "POST"]),
        Route(f"{CONTROL_PREFIX}/messages/{{message_id}}", control.mark_message,
              methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/feed", control.feed, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/feed/{{date}}", control.feed_for_day, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/clock/advance", control.advance_clock, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/open", control.open_as_app, methods=["POST"]),
    ]
    app = SimulatorApp(routes=routes)
    app.state.simulator = state
    return app


def simulator_state(app: Starlette) -> SimulatorState:
    """The state behind an app made by :func:`create_app` (use only from its event loop)."""
    state: SimulatorState = app.state.simulator
    return state
