"""The citizens: who has an IO profile and which services they let write to them.

A citizen's starting state is a pure function of ``(seed, fiscal code)`` (or of a population
file), so two simulators with the same seed agree on everyone without storing anyone, and a
test can predict the answer for any fiscal code. Runtime changes (consent withdrawn or
granted, profile created or deleted) are kept as overrides and reported as feed events, the
way IO's app backend writes the subscriptions feed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dispatcher.simulator.config import SANDBOX_FISCAL_CODE, PopulationConfig

ALLOWED, BLOCKED, MISSING = "allowed", "blocked", "missing"


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One change for the subscriptions feed: a profile or a service (un)subscription."""

    fiscal_code: str
    subscribed: bool
    service_id: str | None = None
    """None for a profile event (created/deleted), else the service concerned."""


@dataclass(slots=True)
class Citizen:
    """A citizen's current state; ``services`` holds explicit per-service choices."""

    has_profile: bool
    default_allowed: bool
    services: dict[str, bool] = field(default_factory=dict)

    def sender_allowed(self, service_id: str) -> bool:
        return self.has_profile and self.services.get(service_id, self.default_allowed)

    def to_dict(self, service_ids: Iterable[str]) -> dict[str, object]:
        return {
            "has_profile": self.has_profile,
            "default_allowed": self.default_allowed,
            "services": dict(self.services),
            "sender_allowed": {s: self.sender_allowed(s) for s in sorted(service_ids)},
        }


def draw(seed: int, fiscal_code: str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the fiscal code."""
    digest = hashlib.blake2b(f"{seed}:{fiscal_code}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Population:
    """Starting states from the seed or file, plus the runtime overrides."""

    def __init__(self, config: PopulationConfig, listed: Mapping[str, str] | None = None) -> None:
        self._config = config
        self._listed = dict(listed or {})
        self._overrides: dict[str, Citizen] = {}

    def initial_state(self, fiscal_code: str) -> str:
        """``allowed``, ``blocked`` or ``missing``, before any runtime change."""
        if fiscal_code == SANDBOX_FISCAL_CODE:
            return ALLOWED
        listed = self._listed.get(fiscal_code)
        if listed is not None:
            return listed
        u = draw(self._config.seed, fiscal_code)
        if u < self._config.share_missing:
            return MISSING
        if u < self._config.share_missing + self._config.share_blocked:
            return BLOCKED
        return ALLOWED

    def lookup(self, fiscal_code: str, service_id: str) -> tuple[bool, bool]:
        """``(has_profile, sender_allowed)`` for this service: the hot path, no allocation."""
        citizen = self._overrides.get(fiscal_code)
        if citizen is not None:
            return citizen.has_profile, citizen.sender_allowed(service_id)
        state = self.initial_state(fiscal_code)
        return state != MISSING, state == ALLOWED

    def citizen(self, fiscal_code: str) -> Citizen:
        """A copy of the citizen's current state."""
        current = self._overrides.get(fiscal_code)
        if current is not None:
            return Citizen(current.has_profile, current.default_allowed, dict(current.services))
        state = self.initial_state(fiscal_code)
        # A citizen without a profile who later signs up starts in AUTO mode: allows all.
        return Citizen(has_profile=state != MISSING, default_allowed=state != BLOCKED)

    def update(
        self,
        fiscal_code: str,
        *,
        services: Iterable[str],
        has_profile: bool | None = None,
        sender_allowed: bool | None = None,
        service_id: str | None = None,
    ) -> list[FeedEvent]:
        """Apply a change and return the feed events it causes (none if nothing changed).

        ``sender_allowed`` with a ``service_id`` is a choice for that service; without one it
        becomes the citizen's default and clears per-service choices. ``services`` are the
        services that exist, whose feeds may need an event.
        """
        before = self.citizen(fiscal_code)
        after = self.citizen(fiscal_code)
        if has_profile is not None:
            after.has_profile = has_profile
        if sender_allowed is not None:
            if service_id is None:
                after.default_allowed = sender_allowed
                after.services.clear()
            else:
                after.services[service_id] = sender_allowed
        self._overrides[fiscal_code] = after
        events: list[FeedEvent] = []
        if before.has_profile != after.has_profile:
            events.append(FeedEvent(fiscal_code, subscribed=after.has_profile))
        elif after.has_profile:
            scope = set(services) | ({service_id} if service_id else set())
            for sid in sorted(scope):
                now_allowed = after.sender_allowed(sid)
                if before.sender_allowed(sid) != now_allowed:
                    events.append(FeedEvent(fiscal_code, subscribed=now_allowed, service_id=sid))
        return events

    def overrides(self) -> dict[str, Citizen]:
        return dict(self._overrides)

    def inherit_overrides(self, previous: Population) -> None:
        """Keep the runtime changes made under an earlier population config."""
        self._overrides.update(previous._overrides)
