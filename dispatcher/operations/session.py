"""What every operation that talks to IO opens, the same way: the session.

A session is: the settings and the API key (refused early when missing), the ledger with its
run lock (when the operation has one), and, while it runs, one event loop (anyio on asyncio:
aiolimiter is asyncio-only) with one :class:`~dispatcher.pacing.Pacer` spending the ente's
budget for every call, one :class:`~dispatcher.ioapi.Client`, one
:class:`~dispatcher.stopping.StopPolicy` and one :class:`~dispatcher.writer.BatchWriter`.

Operations differ only in the work they hand to :meth:`Session.run`; opening, locking,
pacing, stopping, writing and closing are written here once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import anyio
import httpx

from dispatcher.ioapi import Client
from dispatcher.ledger import Ledger, RunLock
from dispatcher.pacing import Pacer, PacerStatistics, SecondSample
from dispatcher.profilecache import (
    CachedProfiles,
    ProfileCache,
    ProfileCacheUse,
    service_fingerprint,
)
from dispatcher.settings import Settings
from dispatcher.stopping import StopOptions, StopPolicy
from dispatcher.writer import BatchWriter, Commit

__all__ = ["Live", "Ran", "Session", "open_profile_cache"]

T = TypeVar("T")


@dataclass
class Live:
    """What the work of a running session uses: all made inside the event loop."""

    pacer: Pacer
    client: Client
    stops: StopPolicy
    writer: BatchWriter


@dataclass(frozen=True)
class Ran(Generic[T]):
    """What the work returned, and what the session saw while it ran."""

    value: T | None  # None when the work was cancelled (grace period over, second signal)
    statistics: PacerStatistics
    timeline: list[SecondSample] = field(default_factory=list)
    stopped: str | None = None  # the stop reason, fatal or not
    fatal: str | None = None  # a stop that is a configuration error (the key refused)


class Session:
    """Settings + key + (ledger and lock) for one operation; open it with :meth:`open`."""

    def __init__(self, settings: Settings, api_key: str, ledger: Ledger | None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._api_key = api_key
        self._ledger = ledger
        self._transport = transport

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("this session was opened without a ledger")
        return self._ledger

    @classmethod
    @contextlib.contextmanager
    def open(cls, settings: Settings, ledger_path: Path | None = None, *,
             transport: httpx.AsyncBaseTransport | None = None) -> Iterator[Session]:
        """Check the key, then take the ledger's run lock and open it (when there is one).

        ``transport`` replaces the network (tests of how answers are handled, embedding).

        Raises :class:`~dispatcher.settings.ConfigError` (no key) before anything is
        opened, and :class:`~dispatcher.ledger.LedgerLocked` when another run holds it.
        """
        api_key = settings.require_api_key()
        if ledger_path is None:
            yield cls(settings, api_key, None, transport)
            return
        with RunLock(Path(ledger_path)), Ledger.open(Path(ledger_path)) as ledger:
            yield cls(settings, api_key, ledger, transport)

    def run(
        self,
        work: Callable[[Live], Awaitable[T]],
        *,
        commits: Mapping[type, Commit] | None = None,
        stops: StopOptions | None = None,
        batch: int = 512,
    ) -> Ran[T]:
        """Run ``work`` on one event loop with the session's Pacer, client, stops and writer.

        ``commits`` registers what the writer may queue (item type → batch commit). Items a
        cancellation cut off are committed after the loop, when nothing else writes.
        """
        holder: list[Live] = []
        result: list[T] = []

        async def main() -> None:
            pacer = Pacer(self.settings.rate)  # aiolimiter binds to the running loop
            writer = BatchWriter(commits or {}, batch=batch)
            async with Client.from_settings(self.settings, pacer, api_key=self._api_key,
                                            transport=self._transport) as client:
                live = Live(pacer, client, StopPolicy(stops or StopOptions()), writer)
                holder.append(live)
                await _supervise(live, work, result)

        anyio.run(main, backend="asyncio")
        live = holder[0]
        live.writer.commit_late()
        return Ran(result[0] if result else None, live.pacer.statistics(),
                   live.pacer.timeline(), live.stops.reason, live.stops.fatal)


async def _supervise(live: Live, work: Callable[[Live], Awaitable[T]], result: list[T]) -> None:
    """The work, the writer and the stop watchers in one task group; no orphan task."""
    async with anyio.create_task_group() as outer:
        with anyio.CancelScope() as work_scope:
            outer.start_soon(live.stops.watch, work_scope)
            async with anyio.create_task_group() as tg:
                tg.start_soon(live.writer.run)
                try:
                    result.append(await work(live))
                finally:
                    live.writer.close()
        outer.cancel_scope.cancel()


@contextlib.contextmanager
def open_profile_cache(
    use: ProfileCacheUse | None, settings: Settings
) -> Iterator[CachedProfiles | None]:
    """The run's view of the profile cache, opened for this service (or None without one).

    Raises :class:`~dispatcher.profilecache.ProfileCacheError` for a file that is not a
    cache or belongs to another service (base URL + key): consent is per service.
    """
    if use is None:
        yield None
        return
    fingerprint = service_fingerprint(settings.base_url, settings.require_api_key())
    with ProfileCache.open(use.path, service_fingerprint=fingerprint) as cache:
        yield CachedProfiles(cache, max_age_s=use.max_age_s, clock=use.clock)
