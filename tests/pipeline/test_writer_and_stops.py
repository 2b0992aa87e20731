"""The batched writer and the stop policy: what every operation shares."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import pytest

from dispatcher.ioapi import ErrorRateExceeded, ProfileAnswer
from dispatcher.stopping import StopPolicy
from dispatcher.vocabulary import ProfileKind
from dispatcher.writer import BatchWriter


@dataclass(frozen=True)
class Note:
    n: int


@dataclass(frozen=True)
class Mark:
    n: int


def test_queued_items_are_committed_in_batches_on_one_thread() -> None:
    batches: list[list[int]] = []
    threads: set[int] = set()

    def commit(items: Sequence[Note]) -> None:
        threads.add(threading.get_ident())
        batches.append([i.n for i in items])

    async def main() -> None:
        writer = BatchWriter({Note: commit}, batch=10)
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run)
            for n in range(35):
                await writer.put(Note(n))
            writer.close()

    anyio.run(main, backend="asyncio")
    assert sorted(n for batch in batches for n in batch) == list(range(35))
    assert max(len(b) for b in batches) <= 10 and len(threads) == 1


def test_put_and_wait_returns_only_after_the_commit() -> None:
    committed: list[int] = []
    seen_after_wait: list[bool] = []

    async def main() -> None:
        writer = BatchWriter({Mark: lambda items: committed.extend(i.n for i in items)})
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer.run)
            await writer.put_and_wait(Mark(7))
            seen_after_wait.append(7 in committed)
            writer.close()

    anyio.run(main, backend="asyncio")
    assert seen_after_wait == [True]


def test_an_unregistered_item_is_refused() -> None:
    async def main() -> None:
        writer = BatchWriter({Note: lambda items: None})
        with pytest.raises(TypeError, match="Mark"):
            await writer.put(Mark(1))

    anyio.run(main, backend="asyncio")


def test_a_cancelled_writer_still_commits_what_was_queued() -> None:
    committed: list[int] = []

    async def main() -> None:
        writer = BatchWriter({Note: lambda items: committed.extend(i.n for i in items)},
                             batch=4)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                for n in range(12):
                    await writer.put(Note(n))  # queued before the writer ever runs
                tg.start_soon(writer.run)
                await anyio.sleep(0)
                scope.cancel()

    anyio.run(main, backend="asyncio")
    assert sorted(committed) == list(range(12))


def _answer(status: int) -> ProfileAnswer:
    kind = ProfileKind.ALLOWED if status == 200 else ProfileKind.REJECTED
    return ProfileAnswer(kind=kind, http_status=status, attempts=1, detail="Access denied")


def test_a_401_is_a_fatal_stop_and_the_breaker_a_plain_one() -> None:
    async def main() -> tuple[StopPolicy, StopPolicy, ProfileAnswer | None]:
        refused, tripped = StopPolicy(), StopPolicy()

        async def ok() -> ProfileAnswer:
            return _answer(200)

        async def denied() -> ProfileAnswer:
            return _answer(401)

        async def breaker() -> ProfileAnswer:
            raise ErrorRateExceeded(30, 50, 0.5, "ServerError")

        good = await refused.ask(ok())
        assert await refused.ask(denied()) is None
        assert await tripped.ask(breaker()) is None
        return refused, tripped, good

    refused, tripped, good = anyio.run(main, backend="asyncio")
    assert good is not None and good.http_status == 200
    assert refused.is_set and refused.fatal and "API key" in refused.fatal
    assert tripped.is_set and tripped.fatal is None and tripped.reason is not None
