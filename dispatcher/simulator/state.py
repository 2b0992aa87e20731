"""Everything the running simulator knows, in one object owned by the server's event loop.

Handlers touch this state only from the loop that serves them, and every helper used from
another thread goes through the HTTP control surface, so no lock is needed. That is also why
the handlers never ``await`` between reading and writing the state (only before, for latency).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from dispatcher.simulator.app_open import AppSide
from dispatcher.simulator.clock import SimClock
from dispatcher.simulator.config import SimulatorConfig
from dispatcher.simulator.configio import apply_changes, load_population_file
from dispatcher.simulator.faults import FaultInjector
from dispatcher.simulator.feed import SubscriptionsFeed
from dispatcher.simulator.gateway import Gateway
from dispatcher.simulator.population import Citizen, FeedEvent, Population
from dispatcher.simulator.rc_configurations import ConfigurationStore
from dispatcher.simulator.store import MessageStore, StoredMessage


class Stats:
    """Counters for ``GET /__sim__/stats``: what the gateway and backend answered."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.by_endpoint: dict[str, Counter[str]] = {}
        self.faults: Counter[str] = Counter()
        self.messages_stored = 0

    def answered(self, endpoint: str, status: int | None) -> None:
        """Count one request; ``status`` None means the connection ended without a response."""
        code = "no_response" if status is None else str(status)
        self.requests[endpoint] += 1
        self.statuses[code] += 1
        self.by_endpoint.setdefault(endpoint, Counter())[code] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "requests_total": sum(self.requests.values()),
            "status_codes": dict(self.statuses),
            "by_endpoint": {name: dict(c) for name, c in self.by_endpoint.items()},
            "throttled": self.statuses.get("429", 0),
            "unauthorized": self.statuses.get("401", 0),
            "faults": dict(self.faults),
            "messages_stored": self.messages_stored,
        }


class SimulatorState:
    """Config, gateway, population, messages, feed, faults, configurations and counters."""

    def __init__(self, config: SimulatorConfig, clock: SimClock | None = None) -> None:
        self.initial_config = config
        self.clock = clock or SimClock()
        self._install(config)

    def _install(self, config: SimulatorConfig) -> None:
        self.config = config
        self.population = Population(config.population, _listed(config))
        self.gateway = Gateway(config.keys, config.rate, dict(config.ente_rates))
        self.faults = FaultInjector(config.faults)
        self.rc_configurations = ConfigurationStore(config.configuration_owners)
        self.app_side = AppSide()  # the citizens' app: device keys, opens
        self.store = MessageStore()
        self.feed = SubscriptionsFeed()
        self.stats = Stats()

    # --- runtime control -------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the startup config with no messages, feed, overrides, counters or offset."""
        self.clock.reset()
        self._install(self.initial_config)

    def reconfigure(self, changes: Mapping[str, Any]) -> SimulatorConfig:
        """Apply a partial change; raises ``ConfigError`` and changes nothing if it is bad."""
        new = apply_changes(self.config, changes)
        if new.population != self.config.population:
            population = Population(new.population, _listed(new))
            self.store.settle_all(self.clock.now(), self.sender_allowed)  # decide with old rules
            population.inherit_overrides(self.population)
            self.population = population
        if new.faults != self.config.faults:
            self.faults = FaultInjector(new.faults)
        self.gateway.reconfigure(new.keys, new.rate, dict(new.ente_rates))
        self.rc_configurations.reseed(new.configuration_owners)
        self.config = new
        return new

    def update_citizen(
        self,
        fiscal_code: str,
        *,
        has_profile: bool | None = None,
        sender_allowed: bool | None = None,
        service_id: str | None = None,
        day: date | None = None,
    ) -> Citizen:
        """Change a citizen, first settling their due messages, and write the feed events."""
        self.store.settle_citizen(fiscal_code, self.clock.now(), self.sender_allowed)
        events = self.population.update(
            fiscal_code,
            services=self.config.services,
            has_profile=has_profile,
            sender_allowed=sender_allowed,
            service_id=service_id,
        )
        self.record_feed(events, day)
        return self.population.citizen(fiscal_code)

    def record_feed(self, events: Iterable[FeedEvent], day: date | None = None) -> None:
        when = day or self.today()
        for event in events:
            self.feed.record(event, when)

    # --- queries used by the handlers ------------------------------------------------------

    def sender_allowed(self, fiscal_code: str, service_id: str) -> bool:
        has_profile, allowed = self.population.lookup(fiscal_code, service_id)
        return has_profile and allowed

    def settled(self, message: StoredMessage) -> StoredMessage:
        message.settle(self.clock.now(), self.sender_allowed)
        return message

    def today(self) -> date:
        return self.clock.utcnow().date()

    def stats_dict(self) -> dict[str, Any]:
        out = self.stats.to_dict()
        out["messages_total"] = len(self.store)
        out["window"] = self.gateway.usage(self.clock.now())
        out["clock_offset_s"] = self.clock.offset
        return out


def _listed(config: SimulatorConfig) -> dict[str, str]:
    file = config.population.file
    return load_population_file(Path(file)) if file else {}
