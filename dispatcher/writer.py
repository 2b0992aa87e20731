"""The one task that writes a database while an operation talks to IO: batched commits.

Why one writer: SQLite has one writer at a time, and a commit costs an fsync. Workers queue
what they learned; the writer takes whatever is queued (up to ``batch`` items) and commits it
in one go, so sixteen workers cost one fsync, not sixteen. Each kind of item has its own
commit function (outcomes, intents, status observations...), called on one worker thread.

Why acknowledged items: intent before send. A submit worker must not let its
``POST /messages`` leave before the row is committed as ``sending``;
:meth:`BatchWriter.put_and_wait` returns only after the item's batch is committed.

Why :meth:`BatchWriter.call`: anything else that touches the same database during the
operation (recording a campaign chunk, a test send's intent, a timeline checkpoint) runs on
the same thread, in turn with the commits, never beside them.

Cancelled mid-way, the writer still commits what is queued (shielded); an item whose
``put`` was cut off by the cancellation is kept in :attr:`BatchWriter.late` for the caller
to commit after the event loop ends (committing an outcome twice is harmless).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import anyio

__all__ = ["BatchWriter", "Commit"]

T = TypeVar("T")
Commit = Callable[[Sequence[Any]], None]
"""Commits a batch of items of one type, in one transaction (runs on the writer's thread)."""


class BatchWriter:
    """Queue items of the registered types; :meth:`run` commits them in batches."""

    def __init__(self, commits: Mapping[type, Commit], *, batch: int = 512) -> None:
        self._commits = dict(commits)
        self.batch = batch
        self._send, self._receive = anyio.create_memory_object_stream[
            tuple[object, anyio.Event | None]
        ](max_buffer_size=batch * 4)
        self.thread = anyio.CapacityLimiter(1)
        """The one thread allowed to touch the database while the operation runs."""
        self.late: list[object] = []

    async def put(self, item: object) -> None:
        """Queue ``item`` for the next commit."""
        await self._queue(item, None)

    async def put_and_wait(self, item: object) -> None:
        """Queue ``item`` and return once it is committed (intent before send)."""
        committed = anyio.Event()
        await self._queue(item, committed)
        await committed.wait()

    async def call(self, work: Callable[..., T], *args: Any) -> T:
        """Run a synchronous database call on the writer's thread, in turn with commits."""
        return await anyio.to_thread.run_sync(work, *args, limiter=self.thread)

    def close(self) -> None:
        """No more items: :meth:`run` returns once the queue is committed."""
        self._send.close()

    def commit_late(self) -> None:
        """Commit, synchronously, the items whose ``put`` a cancellation cut off."""
        late, self.late = self.late, []
        self._commit_now([(item, None) for item in late])

    async def run(self) -> None:
        async with self._receive:
            try:
                while True:
                    try:
                        first = await self._receive.receive()
                    except anyio.EndOfStream:
                        return
                    await self._commit(self._drain([first]))
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    while batch := self._drain([]):
                        await self._commit(batch)
                raise

    async def _queue(self, item: object, committed: anyio.Event | None) -> None:
        if type(item) not in self._commits:
            raise TypeError(f"no commit registered for {type(item).__name__}")
        try:
            await self._send.send((item, committed))
        except (anyio.get_cancelled_exc_class(), anyio.BrokenResourceError,
                anyio.ClosedResourceError):
            if committed is None:
                self.late.append(item)
            raise

    def _drain(self, items: list[tuple[object, anyio.Event | None]]
               ) -> list[tuple[object, anyio.Event | None]]:
        while len(items) < self.batch:
            try:
                items.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        return items

    async def _commit(self, items: list[tuple[object, anyio.Event | None]]) -> None:
        if not items:
            return
        await anyio.to_thread.run_sync(self._commit_now, items, limiter=self.thread)
        for _, committed in items:
            if committed is not None:
                committed.set()

    def _commit_now(self, items: list[tuple[object, anyio.Event | None]]) -> None:
        """One commit call per item type, in the order the types were registered."""
        by_type: dict[type, list[object]] = defaultdict(list)
        for item, _ in items:
            by_type[type(item)].append(item)
        for kind, commit in self._commits.items():
            if by_type.get(kind):
                commit(by_type[kind])
