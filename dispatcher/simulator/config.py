"""What the simulator pretends to be: keys, entes, rate policy, population and faults.

Everything is a frozen dataclass so one ``SimulatorConfig`` value describes a whole simulator;
runtime changes (``POST /__sim__/config``) build a new value with :func:`apply_changes` instead
of mutating the old one, which keeps "reset to the startup config" trivial.

Defaults follow FACTS.md: a plain key has the groups a Backoffice account gets by default
(profile check, send to any CF, read its messages) and ``max_allowed_payment_amount`` 0, like
the real service. The demo key (:data:`DEMO_KEY`) has every permission instead, so ``make demo``
can exercise Premium, payments, remote content and the subscriptions feed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

SANDBOX_FISCAL_CODE = "AAAAAA00A00A000A"
"""IO's documented test citizen: always has a profile and allows every service."""

DEFAULT_ENTE = "demo"
DEFAULT_KEY = "demo-key"
DEFAULT_SERVICE_ID = "demo-service"
DEFAULT_ORGANIZATION_FISCAL_CODE = "00000000000"
DEMO_CONFIGURATION_ID = "01J0000000000000000000DEM0"
"""A remote-content configuration owned by the demo ente (a valid ULID string)."""

MAX_PAYMENT_AMOUNT = 9_999_999_999
"""pagoPA's own cap in euro cents; the demo key may ask for anything up to it."""

FAULT_ENDPOINTS = frozenset({"profiles", "messages", "message_status", "subscriptions_feed"})
"""Endpoint names, as used by ``FaultConfig.endpoints`` and by the stats counters."""

_ULID = re.compile(r"[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}")


class ConfigError(ValueError):
    """A simulator setting is malformed; the message names the setting."""


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """The gateway's sliding window: ``limit`` requests per ``period_s`` seconds (0 = none)."""

    limit: int = 150
    period_s: float = 5.0

    def __post_init__(self) -> None:
        if self.limit < 0 or not (self.period_s > 0 and math.isfinite(self.period_s)):
            raise ConfigError(f"rate {self.limit}/{self.period_s}s: limit >= 0, period > 0")

    @property
    def unlimited(self) -> bool:
        return self.limit == 0

    @classmethod
    def parse(cls, text: str) -> RatePolicy:
        """``150/5s``, ``10/1s``, ``30/s``, or ``0``/``unlimited`` for no limit."""
        text = text.strip().lower()
        if text in ("0", "unlimited", "none"):
            return cls(limit=0)
        match = re.fullmatch(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*s?", text)
        if not match:
            raise ConfigError(f"rate {text!r} is not like '150/5s' (requests / seconds)")
        return cls(limit=int(match.group(1)), period_s=float(match.group(2) or 1))

    def __str__(self) -> str:
        return "unlimited" if self.unlimited else f"{self.limit}/{self.period_s:g}s"


@dataclass(frozen=True, slots=True)
class KeyConfig:
    """One subscription key: which ente pays its rate budget, which service it speaks for.

    Several keys may share an ``ente`` (they share one window, as APIM counts per user) and
    several keys may share a ``service_id`` (primary and secondary key of one service).
    """

    key: str
    ente: str = DEFAULT_ENTE
    service_id: str = DEFAULT_SERVICE_ID
    organization_fiscal_code: str = DEFAULT_ORGANIZATION_FISCAL_CODE
    """The payee filled in when a payment message names none."""
    sandbox: bool = False
    """``ApiLimitedMessageWrite``: profiles and sends only for ``authorized_recipients``."""
    authorized_recipients: frozenset[str] = frozenset({SANDBOX_FISCAL_CODE})
    premium_write: bool = False
    """``ApiMessageWriteAdvanced``: may send ``feature_level_type: ADVANCED``."""
    premium_read: bool = False
    """``ApiMessageReadAdvanced``: sees ``read_status``/``payment_status`` of ADVANCED messages."""
    third_party: bool = False
    """``ApiThirdPartyMessageWrite``: may send ``third_party_data`` with STANDARD messages."""
    payee: bool = False
    """``ApiMessageWriteWithPayee``: may name ``payment_data.payee``."""
    feed_read: bool = False
    """``ApiSubscriptionsFeedRead``: may read the subscriptions feed."""
    max_allowed_payment_amount: int = 0
    remote_configurations: frozenset[str] = frozenset()
    """Remote-content configuration ids (ULIDs) owned by this key's ente."""
    manage: bool = False
    """A MANAGE subscription with ``ApiRemoteContentConfigurationWrite``: may use the
    remote-content configuration API (create, list, read, update)."""

    def __post_init__(self) -> None:
        if not self.key or not self.ente or not self.service_id:
            raise ConfigError("a key needs non-empty 'key', 'ente' and 'service_id'")
        if not re.fullmatch(r"[0-9]{11}", self.organization_fiscal_code):
            raise ConfigError(f"key {_mask(self.key)}: organization_fiscal_code is 11 digits")
        if not 0 <= self.max_allowed_payment_amount <= MAX_PAYMENT_AMOUNT:
            raise ConfigError(f"key {_mask(self.key)}: max_allowed_payment_amount out of range")
        bad = [c for c in self.remote_configurations if not _ULID.fullmatch(c)]
        if bad:
            raise ConfigError(f"key {_mask(self.key)}: configuration ids are ULIDs: {bad}")


DEMO_KEY = KeyConfig(
    key=DEFAULT_KEY,
    premium_write=True,
    premium_read=True,
    third_party=True,
    payee=True,
    feed_read=True,
    max_allowed_payment_amount=MAX_PAYMENT_AMOUNT,
    remote_configurations=frozenset({DEMO_CONFIGURATION_ID}),
    manage=True,
)


@dataclass(frozen=True, slots=True)
class PopulationConfig:
    """Who has IO: a deterministic draw per fiscal code from ``seed``, or a file's verdict.

    ``share_missing`` of citizens have no profile (404, later REJECTED), ``share_blocked``
    have one but blocked every service (``sender_allowed: false``), the rest allow it.
    Citizens listed in ``file`` (CSV or JSON of ``fiscal_code,state``) get the listed state;
    everyone else still gets the seeded draw.
    """

    seed: int = 0
    share_missing: float = 0.1
    share_blocked: float = 0.05
    file: str | None = None

    def __post_init__(self) -> None:
        _check_share("population.share_missing", self.share_missing)
        _check_share("population.share_blocked", self.share_blocked)
        if self.share_missing + self.share_blocked > 1 + 1e-9:
            raise ConfigError("population shares add up to more than 1")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Seeded fault injection. The five response shares are exclusive and add up to <= 1.

    Where each fault strikes, and what it leaves behind:

    * ``reset_before_share``: the connection is reset (RST) before the backend sees the
      request. Nothing is stored; the client cannot know that.
    * ``gateway_error_share``: the gateway answers 502 or 504 without reaching the backend.
      Nothing is stored.
    * ``error_500_share``: the backend fails (ProblemJson 500) where it first touches
      storage: after validation and permission checks (a 400 or 403 stays one), before the
      write or the lookup. Nothing is stored.
    * ``gateway_error_after_store_share``: the backend stored the message, then the gateway
      timed out: 504. The message exists: the real ambiguity of a gateway error.
    * ``drop_after_store_share``: the message is stored, then the connection is closed without
      any response (the client sees a protocol/read error, not a status code).

    ``processing_failure_share`` of stored messages end FAILED instead of PROCESSED/REJECTED.
    Latency (``latency_ms`` plus ``jitter`` of mean/width ``jitter_ms``) applies to every
    request of the listed ``endpoints``.
    """

    seed: int = 0
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    jitter: str = "exponential"
    reset_before_share: float = 0.0
    gateway_error_share: float = 0.0
    error_500_share: float = 0.0
    gateway_error_after_store_share: float = 0.0
    drop_after_store_share: float = 0.0
    processing_failure_share: float = 0.0
    endpoints: frozenset[str] = frozenset({"messages"})

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ConfigError("faults: latency_ms and jitter_ms must be >= 0")
        if self.jitter not in ("exponential", "uniform"):
            raise ConfigError("faults.jitter is 'exponential' or 'uniform'")
        for name in (*RESPONSE_FAULT_SHARES, "processing_failure_share"):
            _check_share(f"faults.{name}", getattr(self, name))
        if sum(getattr(self, name) for name in RESPONSE_FAULT_SHARES) > 1 + 1e-9:
            raise ConfigError("faults: the response fault shares add up to more than 1")
        unknown = set(self.endpoints) - FAULT_ENDPOINTS
        if unknown:
            raise ConfigError(f"faults.endpoints: unknown {sorted(unknown)}; "
                              f"known: {sorted(FAULT_ENDPOINTS)}")

    @property
    def any_response_fault(self) -> bool:
        return any(getattr(self, name) > 0 for name in RESPONSE_FAULT_SHARES)


RESPONSE_FAULT_SHARES = (
    "reset_before_share",
    "gateway_error_share",
    "error_500_share",
    "gateway_error_after_store_share",
    "drop_after_store_share",
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """The whole simulator. The default is one ente ``demo`` with the all-powerful ``demo-key``."""

    keys: tuple[KeyConfig, ...] = (DEMO_KEY,)
    rate: RatePolicy = field(default_factory=RatePolicy)
    ente_rates: Mapping[str, RatePolicy] = field(default_factory=dict)
    """Per-ente overrides of ``rate`` (e.g. the ``ApiRateLimit250`` tier: 250/5 s)."""
    population: PopulationConfig = field(default_factory=PopulationConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    processing_delay_s: float = 0.2
    """Time from 201 to the final status (PROCESSED/REJECTED/FAILED); 0 = immediate."""

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("at least one key is needed")
        names = [k.key for k in self.keys]
        if len(set(names)) != len(names):
            raise ConfigError("keys must be unique")
        if not (self.processing_delay_s >= 0 and math.isfinite(self.processing_delay_s)):
            raise ConfigError("processing_delay_s must be >= 0")
        owners: dict[str, str] = {}
        for key in self.keys:
            for conf in key.remote_configurations:
                if owners.setdefault(conf, key.ente) != key.ente:
                    raise ConfigError(f"configuration {conf} is claimed by two entes")

    def rate_for(self, ente: str) -> RatePolicy:
        return self.ente_rates.get(ente, self.rate)

    @property
    def services(self) -> frozenset[str]:
        return frozenset(k.service_id for k in self.keys)

    @property
    def configuration_owners(self) -> dict[str, str]:
        """Remote-content configuration id → owning ente."""
        return {c: k.ente for k in self.keys for c in k.remote_configurations}


def _check_share(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} must be between 0 and 1, got {value}")


def _mask(key: str) -> str:
    return key[:4] + "…" if len(key) > 4 else "…"
